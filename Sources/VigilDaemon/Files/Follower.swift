public import VigilCore
public import VigilPosix

/// The engine of `vigil follow`: tails files with `tail -F` semantics and runs every new
/// line through the shared `Analyzer` (syslog lines by their own host, access-log and summary
/// lines as the follower's host), printing alerts as they fire and recover and, on its
/// timer, the stats block.
///
/// `check(now:)` does all the reading, so tests drive it directly; `run` wires it to inotify,
/// a one-second fallback poll, the stats timer and Ctrl-C.
public final class Follower {

    private let tailers: [FileTailer]
    private let names = HostDirectory()
    private var analyzer: Analyzer
    /// The line being analyzed: a batch of one (a followed line lives only while it is read).
    private var batch = Analyzer.Batch()
    private let parser: SyslogParser
    /// The date of the last RFC 3339 timestamp parsed (followed lines share it, as in `serve`).
    private var timestampMemo = TimestampMemo()
    private let host: HostID
    private let output: (String) -> Void
    private let notice: (String) -> Void
    private var intervalStart: Timestamp?

    /// Follows `paths` from `start`; `host` names lines that carry none; `output` gets alerts and
    /// stats blocks as whole lines with every text from the files escaped (`TerminalText.escaped`),
    /// `notice` one line per file event (waiting, opened, rotated, truncated) that names the
    /// path as given, for the receiver to escape.
    public init(paths: [String], settings: DetectionSettings, host: String, start: TailStart = .end,
                parser: SyslogParser = SyslogParser(), output: @escaping (String) -> Void, notice: @escaping (String) -> Void) {
        // A file that does not exist yet is read from its start once it appears.
        tailers = paths.map { path in
            FileTailer(path: path, start: start == .end && Posix.status(path) == nil ? .beginning : start)
        }
        analyzer = Analyzer(settings: settings, hashSeed: Posix.randomSeed())
        self.parser = parser
        self.host = names.table.intern(host)
        self.output = output
        self.notice = notice
    }

    /// What the analyzer recognised so far.
    public var counters: Analyzer.Counters { analyzer.counters }

    /// Reads what is new in every file, analyses it, and prints the alerts it raised.
    public func check(now: Timestamp) {
        for tailer in tailers {
            let notices = tailer.check { line, _ in self.observe(line, now: now) }
            for n in notices { notice("vigil follow: \(n)") }
        }
        emitAlerts()
    }

    /// Moves detection time to `now` (resolutions happen even when the files are quiet).
    public func tick(now: Timestamp) {
        analyzer.advance(now: now)
        emitAlerts()
    }

    /// Prints the stats block for the interval ending at `now` and starts the next one.
    public func printStats(now: Timestamp) {
        let seconds = intervalStart.map { max(1, (now.microseconds - $0.microseconds + 500_000) / 1_000_000) } ?? 10
        output(analyzer.stats.render(at: now, intervalSeconds: seconds, hostName: { names.table.name(of: $0) }))
        analyzer.stats.reset()
        intervalStart = now
    }

    /// Runs until SIGINT or SIGTERM: inotify and a 1 s poll read the files, the stats block
    /// is printed every `statsIntervalSeconds`.
    public func run(statsIntervalSeconds: Int64) throws(SystemError) {
        let loop = try EventLoop()
        let watcher = try DirectoryWatcher(paths: tailers.map(\.path), loop: loop) { [unowned self] now in self.check(now: now) }
        let signals = try ShutdownSignals(loop: loop) { _ in loop.stop() }
        let now = Posix.wallClock()
        intervalStart = now
        check(now: now)
        loop.every(microseconds: 1_000_000) { [unowned self] now in
            self.check(now: now)
            self.tick(now: now)
        }
        loop.every(microseconds: statsIntervalSeconds * 1_000_000) { [unowned self] now in self.printStats(now: now) }
        loop.run()
        withExtendedLifetime((watcher, signals)) {}
    }

    /// A line that is no syslog message (`.unparsed`, the whole line its text, no host of its
    /// own) is taken as one of the follower's host, received now.
    private func observe(_ line: UnsafeRawBufferPointer, now: Timestamp) {
        let fields = parser.parse(line, receivedAt: now, memo: &timestampMemo)
        let h = fields.hostname.isEmpty ? host : names.table.intern(UnsafeRawBufferPointer(rebasing: line[fields.hostname]))
        batch.append(frame: line, fields: fields, host: h, receivedAt: now)
        analyzer.analyze(&batch)
    }

    private func emitAlerts() {
        for alert in analyzer.engine.takeAlerts() { output(alert.named(by: names.table.name(of:)).stdoutLine() + "\n") }
    }
}
