import Glibc
import VigilCore
import VigilDaemon
import VigilPosix

/// Exit codes every command shares (SPEC §1).
enum ExitCode: Int32 {
    case ok = 0, runtimeFailure = 1, usage = 2
}

/// Writes one line to stderr.
func logLine(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
}

/// Writes text to stdout as is.
func printOut(_ text: String) {
    var copy = text
    copy.withUTF8 { _ = Glibc.write(1, $0.baseAddress, $0.count) }
}

let usage = """
    usage: vigil COMMAND [ARGS]

    Commands:
      serve [--config FILE] [flags]   run the collector (syslog over UDP and TCP, per-host storage)
      check-config FILE               validate a config file; print every error with its line
      help                            show this help

    Planned, not in this build yet: analyze, follow, forward, generate.
    Run `vigil COMMAND --help` for a command's flags.

    """

/// Prints every diagnostic and returns the usage exit code.
func reportConfigErrors(_ errors: ConfigErrors) -> ExitCode {
    for diagnostic in errors.diagnostics { logLine("vigil: \(diagnostic)") }
    return .usage
}

func serve(_ args: [String]) -> ExitCode {
    let arguments: ServeArguments
    switch parseServeArguments(args) {
    case .failure(let errors): return reportConfigErrors(errors)
    case .success(let parsed): arguments = parsed
    }
    if arguments.showHelp {
        printOut(serveHelp)
        return .ok
    }
    var file: ConfigFile?
    if let path = arguments.configPath {
        do {
            file = ConfigFile.parse(try TextFile.read(path), path: path)
        } catch {
            logLine("vigil: --config: \(error)")
            return .usage
        }
    }
    let config: VigilConfig
    switch VigilConfig.build(file: file, arguments: arguments) {
    case .failure(let errors): return reportConfigErrors(errors)
    case .success(let built): config = built
    }
    if !config.server.http.isEmpty {
        logLine("vigil: the HTTP API is not in this build yet; server.http is ignored")
    }
    do {
        let server = try Server(config: config, log: logLine)
        try server.stopOnSignals()
        server.run()
        return .ok
    } catch {
        logLine("vigil: \(error)")
        return .runtimeFailure
    }
}

func checkConfig(_ args: [String]) -> ExitCode {
    let arguments: CheckConfigArguments
    switch parseCheckConfigArguments(args) {
    case .failure(let errors): return reportConfigErrors(errors)
    case .success(let parsed): arguments = parsed
    }
    if arguments.showHelp {
        printOut(checkConfigHelp)
        return .ok
    }
    let text: String
    do {
        text = try TextFile.read(arguments.path)
    } catch {
        logLine("vigil: \(error)")
        return .usage
    }
    let diagnostics = VigilConfig.check(text: text, path: arguments.path)
    for diagnostic in diagnostics { logLine("\(diagnostic)") }
    if diagnostics.isEmpty { printOut("\(arguments.path): ok\n") }
    return diagnostics.isEmpty ? .ok : .usage
}

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
    case "help", "-h", "--help":
        printOut(usage)
        return .ok
    case "analyze", "follow", "forward", "generate":
        logLine("vigil: `\(command)` is not in this build yet")
        return .usage
    default:
        logLine("vigil: unknown command `\(command)`; run `vigil help`")
        return .usage
    }
}

exit(main().rawValue)
