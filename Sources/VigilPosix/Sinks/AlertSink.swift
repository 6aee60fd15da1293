import CVigilShim
import Glibc
public import VigilCore

/// Somewhere alerts go (docs/sinks.md). A sink must never block the event loop.
public protocol AlertSink: AnyObject {
    /// A short name for logs and counters (`stdout`, `file:/var/lib/vigil/alerts.jsonl`).
    var name: String { get }
    /// Takes one alert; delivery may complete later.
    func deliver(_ alert: Alert)
    /// Alerts this sink could not deliver and gave up on.
    var dropped: Int { get }
    /// Tries again what could not be delivered yet (called on the daemon's flush timer).
    func flush()
    /// What it did since it was opened, for `/metrics` and `/stats`.
    var metrics: SinkMetrics { get }
}

/// A sink's counts since it was opened (docs/api.md, `/metrics`).
public struct SinkMetrics: Sendable, Equatable {
    /// Alerts handed to the receiver (written, for files and standard output).
    public var delivered = 0
    /// Attempts that failed and will be retried.
    public var failed = 0
    /// Alerts put in the spool on disk while the receiver was down.
    public var spooled = 0
    /// Alerts given up on.
    public var dropped = 0
    public init(delivered: Int = 0, failed: Int = 0, spooled: Int = 0, dropped: Int = 0) {
        self.delivered = delivered; self.failed = failed; self.spooled = spooled; self.dropped = dropped
    }
}

extension AlertSink {
    /// Nothing to retry.
    public func flush() {}
}

/// One readable line per alert on standard output.
public final class StdoutSink: AlertSink {
    public let name = "stdout"
    private let console: ConsoleWriter

    public init(console: ConsoleWriter) { self.console = console }

    private var written = 0

    public func deliver(_ alert: Alert) {
        console.writeLine(alert.stdoutLine())
        written += 1
    }
    public var dropped: Int { console.droppedLines }
    public var metrics: SinkMetrics { SinkMetrics(delivered: written - min(written, dropped), dropped: dropped) }
}

/// Alerts as JSON lines appended to a file (`alerts.jsonl`, `file:PATH` sinks), written through at
/// once: one `write` per alert, so a reader never sees half an alert and a crash loses none that was
/// delivered.
///
/// When a write fails (a full disk) nothing is glued or lost silently: a line written in part is
/// cut back (the file is truncated to its last whole line), and the alerts not written wait in
/// memory, in order, up to `maxPendingBytes`, to be written on the next alert or `flush()`; past
/// that bound new alerts are dropped and counted. One line is logged when writing fails and one
/// when it works again.
public final class FileSink: AlertSink {
    public let name: String
    public let path: String
    /// Most bytes of alerts kept in memory while the file cannot be written.
    public let maxPendingBytes: Int
    /// The open file, nil while closed (after a failed write, or `reopenFile()`).
    private var file: FileDescriptor?
    /// Whole JSON lines not written yet, oldest first.
    private var pending: [UInt8] = []
    private var line: [UInt8] = []
    /// Alerts written to the file.
    public private(set) var written = 0
    /// Alerts dropped because `maxPendingBytes` were waiting.
    public private(set) var dropped = 0
    /// The last error writing the file, for the log.
    public private(set) var lastError: SystemError?
    private let log: (String) -> Void
    /// Whether the drops of the current failure were already logged.
    private var dropsNoted = false

    /// Opens (creating) `path` for appending; throws naming the path when it cannot. `log` gets the
    /// lines about failing and recovering writes.
    public init(path: String, maxPendingBytes: Int = 4 << 20, log: @escaping (String) -> Void = { _ in }) throws(SystemError) {
        self.path = path
        self.maxPendingBytes = maxPendingBytes
        self.log = log
        name = "file:" + path
        try reopen()
    }

    /// Bytes of alerts waiting to be written.
    public var pendingBytes: Int { pending.count }

    public var metrics: SinkMetrics { SinkMetrics(delivered: written, dropped: dropped) }

    /// `written=N pending=N dropped=N` (pending in alerts), for the stats line.
    public var summary: String {
        "written=\(written) pending=\(pending.lazy.filter { $0 == UInt8(ascii: "\n") }.count) dropped=\(dropped)"
    }

    /// Created readable by its owner and group only, as the store's files: alerts name hosts,
    /// addresses and user names.
    private func reopen() throws(SystemError) {
        file = try FileDescriptor(opening: path, flags: O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode: 0o640)
    }

    public func deliver(_ alert: Alert) {
        line.removeAll(keepingCapacity: true)
        alert.appendJSON(to: &line)
        line.append(UInt8(ascii: "\n"))
        if pending.count + line.count > maxPendingBytes {
            if !dropsNoted { note("\(maxPendingBytes >> 10) KiB of alerts wait to be written; dropping new ones (counted)") }
            dropsNoted = true
            dropped += 1
            return
        }
        pending += line
        writePending()
    }

    public func flush() { writePending() }

    /// Closes the file, so the next alert opens its path again (a file renamed away by logrotate
    /// is followed by a new one).
    public func reopenFile() {
        file = nil
    }

    /// Writes what waits; on failure cuts a partly written line back out of the file and keeps the rest.
    private func writePending() {
        guard !pending.isEmpty else { return }
        var failure: SystemError?
        if file == nil {
            do { try reopen() } catch { failure = error }
        }
        var done = 0
        if let fd = file?.rawValue {
            let sizeBefore = lseek(fd, 0, SEEK_END)
            let error: Int32? = pending.withUnsafeBytes { raw in
                while done < raw.count {
                    let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                    if n > 0 {
                        done += n
                    } else if !(n < 0 && errno == EINTR) {
                        return n < 0 ? errno : EIO
                    }
                }
                return nil
            }
            if let error {
                let whole = pending[..<done].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
                if whole < done && sizeBefore >= 0 && ftruncate(fd, sizeBefore + off_t(whole)) == 0 { done = whole }
                failure = SystemError("write \(path)", errno: error)
            }
        }
        written += pending[..<done].lazy.filter { $0 == UInt8(ascii: "\n") }.count
        pending.removeFirst(done)
        if let failure {
            if lastError == nil { note("cannot write alerts to \(path) (\(failure)); keeping them in memory and retrying") }
            lastError = failure
            file = nil  // reopen next time: the file may be replaced or the disk freed
        } else if lastError != nil {
            lastError = nil
            dropsNoted = false
            note("writing alerts to \(path) again (\(dropped) dropped since start)")
        }
    }

    private func note(_ text: String) { log("vigil: sink \(name): " + text) }
}
