import Glibc
import VigilCore
import VigilPosix
import VigilDaemon

let analyzeHelp = """
    usage: vigil analyze FILE... [--format F] [--json] [--host NAME] [--config FILE] [--top N]
                         [--threads N]

    Reads log files (`-` = standard input) and prints one report over all of them: lines per
    format and host, ssh sessions and their 95th percentile, repeated access, brute-force and
    cross-host findings, HTTP hits, sections, status classes, bytes and clients, and the
    timeline of every alert the rules would have raised (driven by the logs' own timestamps).
    Several files are merged in time order. Invalid lines are skipped and counted.

      --format F       auto (default: detected per file), syslog, auth, sessions, clf, combined,
                       csv: the names `vigil generate --format` writes (the old names `sshd`
                       and `rfc5424` are accepted for auth and syslog)
      --json           the same report as one JSON document
      --host NAME      host of lines that name none (default: this machine's name, as in
                       follow and serve's [input.file])
      --config FILE    rule thresholds and windows from a vigil config file
      --top N          length of the top lists, 1 to 1000000 (default 10)
      --threads N      threads that read and analyze a single FILE's lines, 1 to 256; 0 (the default)
                       is the CPUs vigil may use; the report is the same at every count.
                       Several files are merged on one thread.

    An input that cannot be opened, or is gzip-compressed (`zcat FILE | vigil analyze -`), is
    skipped: the report covers the others and lists it; each bad input is one line on stderr.
    When no input can be read there is no report.

    Exit status: 0 every input was read to its end; 1 an input was skipped or cut short by a
    read error (the report, if any, covers the rest); 2 usage or config error.

    """

func analyze(_ args: [String]) -> ExitCode {
    var paths: [String] = []
    var format: LogFormat?
    var json = false
    var host: String?
    var configPath: String?
    var top = 10
    var threads = Posix.onlineCPUs()
    var arguments = Arguments(args, command: "analyze")
    while let arg = arguments.next() {
        switch arg {
        case "--help", "-h":
            printOut(analyzeHelp)
            return .ok
        case "--json": json = true
        case "--format":
            guard let v = arguments.value(for: arg) else { return .usage }
            if v == "auto" { format = nil } else if let f = LogFormat(name: v) { format = f } else {
                logLine("vigil analyze: --format must be auto, \(LogFormat.names); got `\(v)`")
                return .usage
            }
        case "--host":
            guard let v = arguments.value(for: arg) else { return .usage }
            host = v
        case "--config":
            guard let v = arguments.value(for: arg) else { return .usage }
            configPath = v
        case "--top":
            // The helper wants a bound; a million entries per list is more than any report needs.
            guard let n = arguments.integer(for: arg, in: 1...1_000_000) else { return .usage }
            top = n
        case "--threads":
            // Each thread keeps two chunks of lines (LogFiles.defaultChunkBytes) in flight.
            guard let n = arguments.integer(for: arg, in: 0...256) else { return .usage }
            threads = n == 0 ? Posix.onlineCPUs() : n
        default:
            if arg.hasPrefix("--") { return arguments.unknown(arg) }
            paths.append(arg)
        }
    }
    guard !paths.isEmpty else {
        logLine("vigil analyze: give at least one FILE (`-` for standard input); see `vigil analyze --help`")
        return .usage
    }
    guard let config = loadConfig(configPath, command: "analyze") else { return .usage }
    var analysis = LogAnalysis(settings: DetectionSettings(config: config),
                               options: .init(format: format, referenceTime: Posix.wallClock(), top: top),
                               parser: SyslogParser(utcOffsetSeconds: config.server.timezoneOffsetSeconds),
                               ssh: SSHExtractor(countFailedPublickey: config.detection.countPublickeyFailures))
    let failures = LogFiles.analyze(paths, host: Posix.fileHost(host), threads: threads, into: &analysis)
    let skipped = failures.filter(\.skipped)
    if skipped.count < paths.count {
        var report = analysis.report()
        report.skipped = skipped.map { AnalysisReport.SkippedInput(name: $0.path, reason: $0.why) }
        printOut(json ? report.json() : report.text())
    }
    for f in failures { logLine("vigil analyze: \(f)") }
    return failures.isEmpty ? .ok : .runtimeFailure
}

/// The configuration from `path` (defaults when nil); nil after printing its errors.
func loadConfig(_ path: String?, command: String) -> VigilConfig? {
    guard let path else { return VigilConfig.defaults }
    let text: String
    do {
        text = try TextFile.read(path)
    } catch {
        logLine("vigil \(command): --config: \(error)")
        return nil
    }
    switch VigilConfig.build(file: ConfigFile.parse(text, path: path), arguments: ServeArguments()) {
    case .success(let config): return config
    case .failure(let errors):
        logLines(errors.diagnostics.map { "vigil \(command): \($0)" })
        return nil
    }
}
