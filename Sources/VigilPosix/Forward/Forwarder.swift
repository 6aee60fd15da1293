import CVigilShim
import Glibc
public import VigilCore

/// The engine of `vigil forward` (docs/forward.md): tails files with `tail -F` semantics, turns
/// each new line into an RFC 5424 message (`ForwardMessage`), appends it to the on-disk spool of
/// the state directory, saves every file's position with the spool's length (the commit), and a
/// sender thread (`ForwardSender`) sends committed records to the collector over TCP, octet-counted.
///
/// A restart (also after SIGKILL) cuts the spool back to the committed length and resumes each file
/// at its saved position and the sender at its saved sent offset: lines are never lost, and only
/// what was written to the socket but not yet recorded as sent can arrive twice.
///
/// `check(now:)` does all the reading, so tests drive it directly; `run` wires it to inotify, a
/// one-second fallback poll, the stats timer and SIGTERM/SIGINT.
public final class Forwarder {
    /// How to forward; the defaults suit production, tests shorten the timings.
    public struct Options: Sendable {
        public var target: ForwardTarget
        /// The state directory (`--state`): `state` and `spool/`.
        public var stateDirectory: String
        /// HOSTNAME of every message (`--host`).
        public var hostname: String
        /// Files without saved state are read from their start (`--from-start`), not their end.
        public var fromStart: Bool
        /// Unsent bytes in the spool at which reading pauses (`--spool-max`).
        public var spoolMaxBytes: Int
        /// The reconnect schedule.
        public var backoff: RetryBackoff
        /// Connect and write timeout, in milliseconds.
        public var timeoutMillis: Int32
        /// Bytes read from one file before the lines are committed.
        public var readChunkBytes: Int
        /// Most bytes one check reads from one file: a backlog (`--from-start` on a large file, a
        /// catch-up) is read over several checks, so that signals and the stats line are not held
        /// up behind it (`run` checks again at once while a file is behind).
        public var checkBytes: Int

        public init(target: ForwardTarget, stateDirectory: String, hostname: String, fromStart: Bool = false,
                    spoolMaxBytes: Int = 1 << 30, backoff: RetryBackoff = RetryBackoff(baseMicros: 500_000, maximumMicros: 30_000_000),
                    timeoutMillis: Int32 = 5_000, readChunkBytes: Int = 4 << 20, checkBytes: Int = 64 << 20) {
            self.target = target
            self.stateDirectory = stateDirectory
            self.hostname = hostname
            self.fromStart = fromStart
            self.spoolMaxBytes = spoolMaxBytes
            self.backoff = backoff
            self.timeoutMillis = timeoutMillis
            self.readChunkBytes = readChunkBytes
            self.checkBytes = checkBytes
        }
    }

    /// The forwarder's counters, as printed on the stats line.
    public struct Counters: Sendable, Equatable {
        public var linesRead = 0
        public var linesSent = 0
        /// Bytes in the spool not sent yet.
        public var spooledBytes = 0
        public var reconnects = 0
        /// Times reading paused because the spool held `spoolMaxBytes`.
        public var spoolFullPauses = 0
        public var truncations = 0
        public var rotations = 0

        /// `lines_read=N lines_sent=N ...`, for the stats line.
        public var summary: String {
            "lines_read=\(linesRead) lines_sent=\(linesSent) spooled_bytes=\(spooledBytes) reconnects=\(reconnects) "
                + "spool_full_pauses=\(spoolFullPauses) truncations=\(truncations) rotations=\(rotations)"
        }
    }

    public let options: Options
    private let sources: [ForwardSource]
    let channel: ForwardChannel
    /// Writes the state file (`ForwardStateFile.save`); tests replace it to watch a save.
    var writeStateFile: ([UInt8], String) throws(SystemError) -> Void = ForwardStateFile.save
    private var thread: pthread_t?
    private let log: @Sendable (String) -> Void
    private let statePath: String
    private var lastSaved: [UInt8] = []
    private var savedSpoolLength: Int
    /// Every file's position before the records in `records` were read.
    private var positionsBeforeRecords: [String: ForwardState.Position] = [:]
    private var records: [UInt8] = []
    /// Records read but refused by the disk: appended before anything else is read.
    private var unwritten = false
    private var memo = TimestampMemo()
    private var paused = false
    private var counts = Counters()
    private var failureLog = LogLimiter(intervalMicroseconds: 10_000_000)

    /// Opens the state directory (creating it, mode 0700), cuts the spool back to the committed
    /// length, places every file at its saved position and starts the sender, which begins with
    /// whatever an earlier run left unsent. Throws when the state cannot be read or created.
    public init(paths: [String], options: Options,
                log: @escaping @Sendable (String) -> Void = NetworkSink.logToStderr) throws(SystemError) {
        self.options = options
        self.log = log
        let directory = options.stateDirectory
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            if errno != ENOENT { throw SystemError("mkdir \(directory)", errno: errno) }
            try SinkSpool.makeDirectories(DirectoryWatcher.directory(of: directory))
            if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw SystemError("mkdir \(directory)", errno: errno) }
        }
        // This user's, and no one else may write into it, or another user could have planted links
        // there (its files are created 0600, so a 0755 directory shows no log line).
        try OwnDirectory.check(directory, deniedModeBits: 0o022)
        statePath = directory + "/state"
        let state = try ForwardStateFile.load(statePath)
        let spool = try SinkSpool(directory: directory + "/spool")
        spool.truncate(to: state?.spoolLength ?? 0)
        channel = try ForwardChannel(spool: spool)
        savedSpoolLength = spool.end
        sources = paths.map { path in
            ForwardSource(path: path, saved: state?.files[path], fromStart: options.fromStart,
                          message: ForwardMessage(hostname: options.hostname, path: path), log: log)
        }
        let sender = ForwardSender(channel: channel, target: options.target, backoff: options.backoff,
                                   timeoutMillis: options.timeoutMillis, log: log)
        thread = try startThread(named: "vigil-forward") { sender.run() }
        if spool.hasPending { log("vigil forward: \(spool.end - spool.deliveredOffset) spooled bytes to send first") }
    }

    /// Stops the sender without sending more or saving anything (as a crash would, tests use it);
    /// `close` is the orderly way.
    deinit {
        if let t = thread {
            channel.stop(drainMicros: 0)
            pthread_join(t, nil)
        }
    }

    /// A snapshot of the counters.
    public var counters: Counters {
        var c = counts
        channel.lock.withLock {
            c.linesSent = channel.linesSent
            c.reconnects = channel.reconnects
            c.spooledBytes = channel.spool.end - channel.spool.deliveredOffset
        }
        return c
    }

    /// The last check stopped at `checkBytes` in a file with more to read.
    public private(set) var behind = false

    /// Reads what is new in every file (at most `checkBytes` of each) into the spool and commits
    /// it; pauses while the spool holds `spoolMaxBytes` unsent.
    public func check(now: Timestamp) {
        behind = false
        let parser = SyslogParser(utcOffsetSeconds: Self.localUTCOffset(at: now))
        if unwritten {
            guard writeRecords() else { return }
            // What the retry wrote is committed now: left uncommitted, it could hold the spool
            // over `--spool-max` and keep reading paused for good.
            if saveState(spoolLength: channel.end) { channel.commit() }
        }
        for source in sources {
            var readNow = 0
            repeat {
                if channel.pendingBytes >= options.spoolMaxBytes {
                    if !paused {
                        paused = true
                        counts.spoolFullPauses += 1
                        log("vigil forward: the spool holds \(options.spoolMaxBytes) unsent bytes (--spool-max); reading paused")
                    }
                    return
                }
                if paused {
                    paused = false
                    log("vigil forward: the spool has room again; reading resumed")
                }
                // Where the files stood before the records not yet in the spool were read.
                if records.isEmpty { positionsBeforeRecords = positions() }
                let notices = source.read(maxBytes: options.readChunkBytes) { line, truncated in
                    source.message.append(line: line, truncated: truncated, now: now, parser: parser, memo: &memo, to: &records)
                    records.append(UInt8(ascii: "\n"))
                    readNow += line.count + 1
                    counts.linesRead += 1
                }
                if !source.formatReported && source.message.fileIsSyslog == false {
                    source.formatReported = true
                    log("vigil forward: \(source.path): its first line is not a syslog line; each of its lines is sent whole, as the text of a message of its own (docs/forward.md)")
                }
                for n in notices {
                    switch n {
                    case .rotated: counts.rotations += 1
                    case .truncated: counts.truncations += 1
                    default: break
                    }
                    log("vigil forward: \(n)")
                }
                if !records.isEmpty && !writeRecords() { return }
                // Lines whose positions could not be saved are not sent: a restart reads them again.
                if saveState(spoolLength: channel.end) { channel.commit() }
            } while !source.caughtUp && readNow < options.checkBytes
            if !source.caughtUp { behind = true }
        }
    }

    /// Appends the records read to the spool; false (logged, kept for the next check) when the disk
    /// refuses. If the sender emptied the spool since the state was saved, the state is first saved
    /// with the spool's length now and the positions before these records were read: a restart then
    /// neither keeps the new records as committed nor cuts one in half. That save runs outside the
    /// channel's lock; the append then happens only if the spool is still as long as saved (checked
    /// under the lock), else it is saved again. If the save fails nothing is appended.
    private func writeRecords() -> Bool {
        do throws(SystemError) {
            while try !channel.append(records, ifEndIsAtLeast: savedSpoolLength) {
                guard saveState(spoolLength: channel.end, positions: positionsBeforeRecords) else {
                    unwritten = true
                    return false
                }
            }
            records.removeAll(keepingCapacity: true)
            unwritten = false
            return true
        } catch {
            unwritten = true
            logFailure("cannot append to the spool: \(error); reading paused until it can")
            return false
        }
    }

    /// Saves every file's position with the spool length (write `state.tmp`, rename), when changed.
    /// True when the state on disk says this now.
    @discardableResult
    private func saveState(spoolLength: Int, positions files: [String: ForwardState.Position]? = nil) -> Bool {
        var state = ForwardState(spoolLength: spoolLength)
        state.files = files ?? positions()
        let bytes = state.encoded()
        guard bytes != lastSaved else { return true }
        do throws(SystemError) {
            try writeStateFile(bytes, statePath)
            lastSaved = bytes
            savedSpoolLength = spoolLength
            return true
        } catch {
            logFailure("cannot save the state: \(error)")
            return false
        }
    }

    /// Every file's position now.
    private func positions() -> [String: ForwardState.Position] {
        var files: [String: ForwardState.Position] = [:]
        for source in sources {
            if let p = source.position { files[source.path] = p }
        }
        return files
    }

    private func logFailure(_ text: String) {
        let (allowed, held) = failureLog.allow(now: Posix.monotonicMicros())
        if allowed { log("vigil forward: " + text + (held > 0 ? " (\(held) more such since the last report)" : "")) }
    }

    /// Lets the sender send what is spooled for up to `drainMicros` (unless the collector is down),
    /// stops it and saves the state. Idempotent.
    public func close(drainMicros: Int64 = 3_000_000) {
        guard let t = thread else { return }
        thread = nil
        channel.stop(drainMicros: drainMicros)
        pthread_join(t, nil)
        saveState(spoolLength: channel.end)
    }

    /// The stats line.
    public var statsLine: String { "vigil forward: stats " + counters.summary }

    /// Runs until SIGINT or SIGTERM: inotify and a 1 s poll read the files, the stats line every
    /// `statsIntervalSeconds`; then sends what it can within `drainMicros`, saves and prints the stats.
    /// Call `ShutdownSignals.block()` before `init`, so the sender thread does not take the signals.
    public func run(statsIntervalSeconds: Int64, drainMicros: Int64 = 3_000_000) throws(SystemError) {
        let loop = try EventLoop()
        let watcher = try DirectoryWatcher(paths: sources.flatMap(\.watchedPaths), loop: loop) { [unowned self] now in self.check(now: now) }
        let signals = try ShutdownSignals(loop: loop) { _ in loop.stop() }
        check(now: Posix.wallClock())
        loop.every(microseconds: 1_000_000) { [unowned self] now in self.check(now: now) }
        loop.every(microseconds: statsIntervalSeconds * 1_000_000) { [unowned self] _ in self.log(self.statsLine) }
        while !loop.stopping {
            loop.runOnce(timeoutMilliseconds: behind ? 0 : -1)
            if behind && !loop.stopping { check(now: Posix.wallClock()) }
        }
        withExtendedLifetime((watcher, signals)) {}
        close(drainMicros: drainMicros)
        log(statsLine)
    }

    /// Seconds east of UTC of local time at `now` (the TZ rules; RFC 3164 times carry no zone).
    static func localUTCOffset(at now: Timestamp) -> Int {
        var t = time_t(now.seconds)
        var parts = tm()
        guard localtime_r(&t, &parts) != nil else { return 0 }
        return parts.tm_gmtoff
    }
}

/// One followed path: its tailer, and while a file rotated away during a stop is finished, a
/// tailer of that file (found by its inode in the same directory) read first.
final class ForwardSource {
    let path: String
    var message: ForwardMessage
    /// Whether the log said that the file is not syslog (once).
    var formatReported = false
    private var leftover: FileTailer?
    private let tailer: FileTailer
    /// The saved position, kept until the tailer has one of its own; `.new` once a rotated-away
    /// file is finished (the path's file is then read from its start).
    private var saved: ForwardState.Position?

    init(path: String, saved: ForwardState.Position?, fromStart: Bool, message: ForwardMessage,
         log: @Sendable (String) -> Void) {
        self.path = path
        self.message = message
        var st = stat()
        let exists = stat(path, &st) == 0
        let current = FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        switch saved {
        case .file(let device, let inode, let offset):
            let id = FileIdentity(device: device, inode: inode)
            if exists && id == current {
                tailer = FileTailer(path: path, start: .saved(id, offset: offset))
            } else if let old = ForwardStateFile.file(with: id, nextTo: path) {
                log("vigil forward: \(path) was rotated while forward was stopped; finishing \(old) from byte \(offset)")
                leftover = FileTailer(path: old, start: .saved(id, offset: offset))
                tailer = FileTailer(path: path, start: .beginning)
            } else {
                if exists { log("vigil forward: \(path) was replaced while forward was stopped and the old file is gone; reading the new one from its start") }
                tailer = FileTailer(path: path, start: .beginning)
            }
            self.saved = saved
        case .new:
            tailer = FileTailer(path: path, start: .beginning)
            self.saved = saved
        case nil:
            // A file that does not exist yet is read from its start once it appears.
            tailer = FileTailer(path: path, start: fromStart || !exists ? .beginning : .end)
            self.saved = exists ? nil : .new
        }
    }

    /// Every path whose directory inotify should watch.
    var watchedPaths: [String] { [path] + (leftover.map { [$0.path] } ?? []) }

    /// The last read reached the end of the current file.
    var caughtUp: Bool { leftover == nil && tailer.caughtUp }

    /// Where to resume: the file being read and the first byte not yet delivered as a line.
    var position: ForwardState.Position? {
        if let (id, offset) = (leftover ?? tailer).position {
            return .file(device: id.device, inode: id.inode, offset: offset)
        }
        return saved
    }

    /// Reads up to about `maxBytes`: the rotated-away file to its end first, then the path.
    func read(maxBytes: Int, onLine: (UnsafeRawBufferPointer, Bool) -> Void) -> [TailNotice] {
        guard let old = leftover else { return tailer.check(maxBytes: maxBytes, onLine: onLine) }
        let notices = old.check(maxBytes: maxBytes, onLine: onLine)
        if old.caughtUp {
            old.finish(onLine: onLine)
            leftover = nil
            // Not the old file's position: a stop before the path's file is opened would read
            // the old one again after a restart.
            saved = .new
        }
        return notices
    }
}
