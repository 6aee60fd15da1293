import Glibc
import VigilCore
import VigilPosix

let generateHelp = """
    usage: vigil generate ssh|http|sessions [--count N] [--rate N] [--hosts N] [--attack SCENARIO]...
                          [--format F] [--seed N] [--start TIME] [--to udp://H:P|tcp://H:P]
                          [--connections N] [--out FILE]

    Writes realistic traffic (normal users plus attack scenarios) as log lines, to standard
    output, a file, or a syslog collector. The same options and seed give the same lines.

      --count N        lines to write (default 1000; scenario lines are always written in full)
      --rate N         lines per second (default 0: as fast as possible; with --to and a
                       rate scenario, spike or errors: each line at its event time)
      --hosts N        hosts host-01... to spread the traffic over (default 3)
      --attack S       add a scenario (repeatable or comma-separated):
                         ssh: bruteforce, distributed, long-session, repeat
                         http: spike, scan, errors      sessions: repeat, long-session
      --format F       ssh: auth (default), syslog; http: combined (default), clf, csv, syslog;
                       sessions: sessions (default), syslog. syslog is one RFC 5424 message per
                       line, the only format with --to. The names of `vigil analyze --format`
                       (the old names `rfc5424` and `sshd` are accepted for syslog and auth).
      --seed N         random seed (default 1)
      --start TIME     event time of the first line: RFC 3339 (2026-01-01T00:00:00Z), a UTC day
                       (2026-01-01) or Unix seconds (default 2026-01-01T00:00:00Z; with --to, now)
      --to URL         send each line as one syslog message: udp://HOST:PORT or tcp://HOST:PORT
                       (octet-counted); HOST is an IP address or localhost
      --connections N  parallel connections for --to (default 4 for tcp, 1 for udp)
      --out FILE       write to FILE instead of standard output

    """

func generate(_ args: [String]) -> ExitCode {
    if args.contains("--help") || args.contains("-h") {
        printOut(generateHelp)
        return .ok
    }
    guard let kindText = args.first, let kind = TrafficGenerator.Kind(rawValue: kindText) else {
        logLine("vigil generate: first argument must be ssh, http or sessions; see `vigil generate --help`")
        return .usage
    }
    var options = TrafficGenerator.Options(kind: kind)
    var format: LogFormat?
    var rate = 0
    var start: Timestamp?
    var target: SyslogSender.Target?
    var connections: Int?
    var outPath: String?
    var arguments = Arguments(args, command: "generate", skipping: 1)
    while let arg = arguments.next() {
        switch arg {
        case "--count":
            guard let n = arguments.integer(for: arg, in: 0...1_000_000_000) else { return .usage }
            options.count = n
        case "--rate":
            guard let n = arguments.integer(for: arg, in: 0...100_000_000) else { return .usage }
            rate = n
        case "--hosts":
            guard let n = arguments.integer(for: arg, in: 1...999) else { return .usage }
            options.hosts = n
        case "--seed":
            guard let v = arguments.value(for: arg) else { return .usage }
            guard let n = UInt64(v) else { logLine("vigil generate: --seed must be a non-negative integer, got `\(v)`"); return .usage }
            options.seed = n
        case "--start":
            guard let v = arguments.value(for: arg) else { return .usage }
            guard let t = TrafficGenerator.Options.startTime(v) else {
                logLine("vigil generate: --start must be an RFC 3339 time (2026-01-01T00:00:00Z), a day (2026-01-01) or Unix seconds, got `\(v)`")
                return .usage
            }
            start = t
        case "--attack":
            guard let v = arguments.value(for: arg) else { return .usage }
            for name in v.split(separator: ",") {
                guard let s = TrafficGenerator.Scenario(rawValue: String(name)) else {
                    logLine("vigil generate: --attack must be one of "
                        + TrafficGenerator.Scenario.allCases.map(\.rawValue).joined(separator: ", ") + "; got `\(name)`")
                    return .usage
                }
                if !options.scenarios.contains(s) { options.scenarios.append(s) }
            }
        case "--format":
            guard let v = arguments.value(for: arg) else { return .usage }
            guard let f = LogFormat(name: v) else {
                logLine("vigil generate: --format must be one of \(LogFormat.names); got `\(v)`")
                return .usage
            }
            format = f
        case "--to":
            guard let v = arguments.value(for: arg) else { return .usage }
            switch SyslogSender.Target.parse(v) {
            case .success(let t): target = t
            case .failure(let e): logLine("vigil generate: --to: \(e.message)"); return .usage
            }
        case "--connections":
            guard let n = arguments.integer(for: arg, in: 1...256) else { return .usage }
            connections = n
        case "--out":
            guard let v = arguments.value(for: arg) else { return .usage }
            outPath = v
        default:
            logLine("vigil generate: unknown argument \(arg); see `vigil generate --help`")
            return .usage
        }
    }
    if target != nil && outPath != nil {
        logLine("vigil generate: give --to or --out, not both")
        return .usage
    }
    options.format = format ?? (target != nil ? .syslog : TrafficGenerator.defaultFormat(for: kind))
    if target != nil && options.format != .syslog {
        logLine("vigil generate: --to sends syslog messages; use --format syslog (the default with --to)")
        return .usage
    }
    if let start { options.start = start } else if target != nil {
        options.start = Timestamp(seconds: Posix.wallClock().seconds)
    }
    if let problem = options.problem() {
        logLine("vigil generate: \(problem)")
        return .usage
    }
    var generator = TrafficGenerator(options: options)
    let pace = Pace(rate: rate)
    // A collector takes a line claiming a later time at its arrival: a rate scenario sent faster
    // than its event time passes would reach it as another rate (all lines in one second), so
    // then each line waits for its event time, and detection sees what `analyze` sees.
    let atEventTime = target != nil && rate == 0 && options.scenarios.contains { $0.measuresRate }
    var line: [UInt8] = []
    line.reserveCapacity(512)
    do {
        if let target {
            let sender = try SyslogSender(target: target, connections: connections ?? (target.transport == .tcp ? 4 : 1))
            while generator.next(into: &line) {
                if atEventTime { try waitForEventTime(generator.lastTime, flushing: sender) }
                var failure: SystemError?
                line.withUnsafeBytes { b in
                    do throws(SystemError) { try sender.send(b) } catch { failure = error }
                }
                if let failure { throw failure }
                line.removeAll(keepingCapacity: true)
                pace.tick()
            }
            try sender.flush()
            logLine("vigil generate: sent \(sender.messagesSent) messages (\(sender.bytesSent) bytes) to \(target)")
        } else {
            let writer = try OutputFile(path: outPath)
            var out: [UInt8] = []
            out.reserveCapacity(300_000)
            while generator.next(into: &out) {
                out.append(UInt8(ascii: "\n"))
                if out.count >= 256 * 1024 || rate > 0 {
                    try writer.write(out)
                    out.removeAll(keepingCapacity: true)
                }
                pace.tick()
            }
            try writer.write(out)
        }
        return .ok
    } catch {
        logLine("vigil generate: \(error)")
        return .runtimeFailure
    }
}

/// Standard output or a created file, written with retries on short writes.
final class OutputFile {
    private let fd: Int32
    init(path: String?) throws(SystemError) {
        guard let path else { fd = 1; return }
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw SystemError("open \(path)", errno: errno) }
    }
    deinit { if fd != 1 { close(fd) } }
    func write(_ bytes: [UInt8]) throws(SystemError) {
        var failure: SystemError?
        bytes.withUnsafeBytes { b in
            do throws(SystemError) { try Posix.writeAll(fd, b) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}

/// Sleeps until the wall clock reaches `time`, first sending what `sender` holds (lines already
/// due must not wait behind one that is not).
func waitForEventTime(_ time: Timestamp, flushing sender: SyslogSender) throws(SystemError) {
    var flushed = false
    while true {
        let ahead = time.microseconds - Posix.wallClock().microseconds
        if ahead <= 1_000 { return }
        if !flushed { try sender.flush(); flushed = true }
        usleep(UInt32(min(ahead, 1_000_000)))
    }
}

/// Keeps a loop at `rate` iterations per second (0: unlimited) by sleeping when ahead.
final class Pace {
    private let rate: Int
    private let started = Posix.monotonicMicros()
    private var done = 0
    init(rate: Int) { self.rate = rate }
    func tick() {
        guard rate > 0 else { return }
        done += 1
        let due = started + Int64(done) * 1_000_000 / Int64(rate)
        let ahead = due - Posix.monotonicMicros()
        if ahead > 1_000 { usleep(UInt32(min(ahead, 1_000_000))) }
    }
}
