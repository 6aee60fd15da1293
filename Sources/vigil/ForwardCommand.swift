import Glibc
import VigilCore
import VigilPosix

let forwardHelp = """
    usage: vigil forward FILE... --to tcp://HOST:PORT [--state DIR] [--host NAME] [--from-start]
                         [--spool-max SIZE] [--stats-interval DURATION]

    Ships new lines of log files to a vigil collector's syslog port, losing none (docs/forward.md).
    Follows each FILE like `tail -F` (rename rotation, copytruncate, files that appear later are read
    from their start) and sends every line as RFC 5424, octet-counted over TCP. Syslog lines
    (auth.log) keep their program, pid and time, so sshd events are recognised as if rsyslog had
    sent them; access-log lines keep their time. Lines go through an on-disk spool in the state
    directory: while the collector is down they wait there and are sent in order when it is back;
    after a crash or kill, reading resumes where it was committed. SIGTERM or Ctrl-C sends what it
    can for a few seconds, saves and exits.

      --to tcp://HOST:PORT      the collector (HOST: IPv4, [IPv6] or a DNS name); UDP is refused
      --state DIR               positions and spool (default /var/lib/vigil-forward, created 0700)
      --host NAME               HOSTNAME of every message (default: this machine's name)
      --from-start              files without saved state are read from their start, not their end
      --spool-max SIZE          unsent bytes at which reading pauses (default 1GiB)
      --stats-interval D        the stats line on stderr every D (default 60s)

    """

func forward(_ args: [String]) -> ExitCode {
    var paths: [String] = []
    var target: ForwardTarget?
    var stateDirectory = "/var/lib/vigil-forward"
    var host: String?
    var fromStart = false
    var spoolMax = 1 << 30
    var statsInterval = TimeSpan.seconds(60)
    var arguments = Arguments(args, command: "forward")
    while let arg = arguments.next() {
        switch arg {
        case "--help", "-h":
            printOut(forwardHelp)
            return .ok
        case "--to":
            guard let v = arguments.value(for: arg) else { return .usage }
            switch ForwardTarget.parse(v) {
            case .success(let t): target = t
            case .failure(let e): logLine("vigil forward: \(e.message)"); return .usage
            }
        case "--state":
            guard let v = arguments.value(for: arg) else { return .usage }
            guard !v.isEmpty else { logLine("vigil forward: --state needs a directory"); return .usage }
            stateDirectory = v
        case "--host":
            guard let v = arguments.value(for: arg) else { return .usage }
            host = v
        case "--from-start": fromStart = true
        case "--spool-max":
            guard let v = arguments.value(for: arg) else { return .usage }
            switch ForwardTarget.parseSpoolSize(v) {
            case .success(let n): spoolMax = n
            case .failure(let e): logLine("vigil forward: --spool-max: \(e.message)"); return .usage
            }
        case "--stats-interval":
            guard let v = arguments.value(for: arg) else { return .usage }
            switch TimeSpan.parse(v) {
            case .success(let t) where t.microseconds >= 1_000_000: statsInterval = t
            case .success: logLine("vigil forward: --stats-interval must be at least 1s, got `\(v)`"); return .usage
            case .failure(let e): logLine("vigil forward: --stats-interval: \(e.message)"); return .usage
            }
        default:
            if arg.hasPrefix("--") { return arguments.unknown(arg) }
            paths.append(arg)
        }
    }
    guard !paths.isEmpty else { logLine("vigil forward: give at least one FILE; see `vigil forward --help`"); return .usage }
    guard let target else { logLine("vigil forward: --to tcp://HOST:PORT is required"); return .usage }
    for path in paths {
        if path.contains("\n") { logLine("vigil forward: a file name with a line break is not supported"); return .usage }
        if let reason = unfollowableReason(path) {
            logLine("vigil forward: \(reason)")
            return .usage
        }
    }
    if Set(paths).count != paths.count { logLine("vigil forward: a FILE is given twice"); return .usage }
    let options = Forwarder.Options(target: target, stateDirectory: stateDirectory, hostname: Posix.fileHost(host),
                                    fromStart: fromStart, spoolMaxBytes: spoolMax)
    // Before the sender thread starts, which inherits this mask (see ShutdownSignals.block).
    ShutdownSignals.block()
    do {
        let forwarder = try Forwarder(paths: paths, options: options)
        try forwarder.run(statsIntervalSeconds: statsInterval.microseconds / 1_000_000)
        return .ok
    } catch {
        logLine("vigil forward: \(error)")
        return .runtimeFailure
    }
}
