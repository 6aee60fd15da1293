import CVigilShim
import Glibc
public import VigilCore

/// Somewhere alerts go (SPEC §7). A sink must never block the event loop.
public protocol AlertSink: AnyObject {
    /// A short name for logs and counters (`stdout`, `file:/var/lib/vigil/alerts.jsonl`).
    var name: String { get }
    /// Takes one alert; delivery may complete later.
    func deliver(_ alert: Alert)
    /// Alerts this sink could not deliver and gave up on.
    var dropped: Int { get }
}

/// One readable line per alert on standard output.
public final class StdoutSink: AlertSink {
    public let name = "stdout"
    private let console: ConsoleWriter

    public init(console: ConsoleWriter) { self.console = console }

    public func deliver(_ alert: Alert) { console.writeLine(alert.stdoutLine()) }
    public var dropped: Int { console.droppedLines }
}

/// Alerts as JSON lines appended to a file, written through at once (one `write` per alert,
/// so a reader never sees half an alert and a crash loses none that was delivered).
public final class FileSink: AlertSink {
    public let name: String
    public let path: String
    private var fd: Int32 = -1
    private var line: [UInt8] = []
    public private(set) var dropped = 0
    /// The last error writing the file, for the log.
    public private(set) var lastError: SystemError?

    /// Opens (creating) `path` for appending; throws naming the path when it cannot.
    public init(path: String) throws(SystemError) {
        self.path = path
        name = "file:" + path
        try reopen()
    }

    deinit { if fd >= 0 { Posix.close(fd) } }

    private func reopen() throws(SystemError) {
        let opened = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if opened < 0 { throw SystemError("open \(path)", errno: errno) }
        fd = opened
    }

    public func deliver(_ alert: Alert) {
        line.removeAll(keepingCapacity: true)
        alert.appendJSON(to: &line)
        line.append(UInt8(ascii: "\n"))
        var failure: SystemError?
        if fd < 0 {
            do { try reopen() } catch { failure = error }
        }
        if failure == nil {
            failure = line.withUnsafeBytes { bytes -> SystemError? in
                do throws(SystemError) { try Posix.writeAll(fd, bytes) } catch { return error }
                return nil
            }
        }
        if let failure {
            // Full disk, file removed from under us...: count it and retry the open on the next alert.
            lastError = failure
            dropped += 1
            if fd >= 0 { Posix.close(fd); fd = -1 }
        }
    }
}
