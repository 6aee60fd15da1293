import Glibc
import VigilCore
import VigilPosix
import VigilDaemon

let followHelp = """
    usage: vigil follow [FILE...] [--threshold HITS_PER_S] [--window DURATION] [--interval DURATION]
                        [--host NAME] [--config FILE] [--from-start]

    Follows growing log files (default /var/log/nginx/access.log) like `tail -F`: survives rename
    rotation and copytruncate, waits for a file that does not exist yet. Prints alerts as they
    fire and recover, and a stats block (hits, sections, status classes, clients, ssh) every
    interval. Access logs, auth.log and any syslog file work. Ctrl-C stops it.

      --threshold N      http_high_traffic: average hits/s that fires (default 10)
      --window D         http_high_traffic: averaging window, e.g. 2m (default 2m)
      --interval D       stats block interval (default 10s)
      --host NAME        host of lines that name none (default: this machine's name)
      --config FILE      every other rule setting from a vigil config file (flags win)
      --from-start       read existing content first instead of starting at the end

    """

func follow(_ args: [String]) -> ExitCode {
    var paths: [String] = []
    var threshold: Double?
    var window: TimeSpan?
    var interval = TimeSpan.seconds(10)
    var host: String?
    var configPath: String?
    var fromStart = false
    var arguments = Arguments(args, command: "follow")
    func span(_ flag: String, _ text: String) -> TimeSpan? {
        switch TimeSpan.parse(text) {
        case .success(let t) where t.microseconds >= 1_000_000: return t
        case .success: logLine("vigil follow: \(flag) must be at least 1s, got `\(text)`"); return nil
        case .failure(let e): logLine("vigil follow: \(flag): \(e.message)"); return nil
        }
    }
    while let arg = arguments.next() {
        switch arg {
        case "--help", "-h":
            printOut(followHelp)
            return .ok
        case "--threshold":
            guard let v = arguments.value(for: arg) else { return .usage }
            guard let n = Double(v), n > 0 else { logLine("vigil follow: --threshold must be a positive number, got `\(v)`"); return .usage }
            threshold = n
        case "--window":
            guard let v = arguments.value(for: arg), let t = span(arg, v) else { return .usage }
            window = t
        case "--interval":
            guard let v = arguments.value(for: arg), let t = span(arg, v) else { return .usage }
            interval = t
        case "--host":
            guard let v = arguments.value(for: arg) else { return .usage }
            host = v
        case "--config":
            guard let v = arguments.value(for: arg) else { return .usage }
            configPath = v
        case "--from-start": fromStart = true
        default:
            if arg.hasPrefix("--") { return arguments.unknown(arg) }
            paths.append(arg)
        }
    }
    if paths.isEmpty { paths = ["/var/log/nginx/access.log"] }
    for path in paths {
        if let reason = unfollowableReason(path) {
            logLine("vigil follow: \(reason)")
            return .usage
        }
    }
    guard let config = loadConfig(configPath, command: "follow") else { return .usage }
    var settings = DetectionSettings(config: config)
    if let threshold { settings[.httpHighTraffic].threshold = threshold }
    if let window { settings[.httpHighTraffic].windowMicroseconds = window.microseconds }
    let follower = Follower(paths: paths, settings: settings, host: Posix.fileHost(host),
                            start: fromStart ? .beginning : .end,
                            parser: SyslogParser(utcOffsetSeconds: config.server.timezoneOffsetSeconds),
                            output: printOut, notice: logLine)
    do {
        try follower.run(statsIntervalSeconds: interval.microseconds / 1_000_000)
        return .ok
    } catch {
        logLine("vigil follow: \(error)")
        return .runtimeFailure
    }
}

