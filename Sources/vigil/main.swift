import Glibc
import VigilCore
import VigilDaemon
import VigilPosix

/// Exit codes every command shares (README, "Commands").
enum ExitCode: Int32 {
    case ok = 0, runtimeFailure = 1, usage = 2
}

// How the commands write text to the terminal (serve's stdout goes through ConsoleWriter,
// generate's OutputFile writes only the lines it generates): both escape what a terminal would
// obey (TerminalText), so text from the network or a file never prints raw.

/// Writes one line to stderr, escaped as a whole (`TerminalText.escaped`: a line feed in it
/// shows as `\n`, so it stays one line).
func logLine(_ line: String) {
    var text = TerminalText.escaped(line) + "\n"
    text.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
}

/// Writes at most `limit` of `lines` to stderr (each as `logLine` does), then one line saying how
/// many more there were: a file with 100,000 mistakes gives a readable answer, fast.
func logLines(_ lines: [String], limit: Int = 100) {
    for line in lines.prefix(limit) { logLine(line) }
    if lines.count > limit { logLine("... and \(lines.count - limit) more (fix the first ones and run again)") }
}

/// Writes text to stdout: lines whose untrusted fields the caller escaped
/// (`TerminalText.escaped`), each ended by a line feed; any other control character is
/// escaped here (`TerminalText.escapedBlock`).
func printOut(_ text: String) {
    var safe = TerminalText.escapedBlock(text)
    safe.withUTF8 { _ = Glibc.write(1, $0.baseAddress, $0.count) }
}

let usage = """
    usage: vigil COMMAND [ARGS]

    Commands:
      serve [--config FILE] [flags]   run the collector (syslog over UDP and TCP, per-host storage)
      check-config FILE               validate a config file; print every error with its line
      analyze FILE... [--json]        offline report over log files (`-` = stdin)
      follow [FILE...]                live monitor of growing files (default /var/log/nginx/access.log)
      generate ssh|http|sessions      realistic test traffic, to stdout, a file or --to a collector
      forward FILE... --to tcp://H:P  ship new lines of log files to a collector, losing none
      help                            show this help
      --version                       print the version (`vigil X.Y.Z`); also `vigil version`

    Run `vigil COMMAND --help` for a command's flags.

    """

func main() -> ExitCode {
    let args = Array(CommandLine.arguments.dropFirst())
    guard let command = args.first else {
        printOut(usage)
        return .usage
    }
    let rest = Array(args.dropFirst())
    switch command {
    case "serve": return serve(rest)
    case "check-config": return checkConfig(rest)
    case "analyze": return analyze(rest)
    case "follow": return follow(rest)
    case "generate": return generate(rest)
    case "help", "-h", "--help":
        printOut(usage)
        return .ok
    case "version", "--version":
        printOut("vigil \(vigilVersion)\n")
        return .ok
    case "forward": return forward(rest)
    default:
        logLine("vigil: unknown command `\(command)`; run `vigil help`")
        return .usage
    }
}

exit(main().rawValue)
