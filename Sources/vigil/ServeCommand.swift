import Glibc
import VigilCore
import VigilDaemon
import VigilPosix

/// Prints every diagnostic and returns the usage exit code.
func reportConfigErrors(_ errors: ConfigErrors) -> ExitCode {
    logLines(errors.diagnostics.map { "vigil: \($0)" })
    return .usage
}

/// The configuration `serve` runs with: the config file (if any) under the flags, checked the way
/// `check-config` checks it, and the relay key when it needs one. On failure, the lines to print.
func serveConfiguration(_ arguments: ServeArguments) -> Result<(VigilConfig, RelayKey?), ServeConfigProblem> {
    var file: ConfigFile?
    if let path = arguments.configPath {
        do {
            file = ConfigFile.parse(try TextFile.read(path), path: path)
        } catch {
            return .failure(ServeConfigProblem(lines: ["config file: \(error)"]))
        }
    }
    let config: VigilConfig
    switch VigilConfig.build(file: file, arguments: arguments) {
    case .failure(let errors): return .failure(ServeConfigProblem(lines: errors.diagnostics.map { "\($0)" }))
    case .success(let built): config = built
    }
    for path in config.fileInput.paths {
        if let reason = unfollowableReason(path) { return .failure(ServeConfigProblem(lines: ["input.file: \(reason)"])) }
    }
    guard config.relay.needsKey(config.server) else { return .success((config, nil)) }
    do {
        return .success((config, try RelayKey(fileContents: try SecretFile.read(config.relay.keyFile))))
    } catch {
        return .failure(ServeConfigProblem(lines: ["relay.key_file: \(error)"]))
    }
}

/// Why a configuration cannot be used: one line per problem (without the `vigil: ` prefix).
struct ServeConfigProblem: Error {
    var lines: [String]
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
    let config: VigilConfig, relayKey: RelayKey?
    switch serveConfiguration(arguments) {
    case .failure(let problem):
        logLines(problem.lines.map { "vigil: \($0)" })
        return .usage
    case .success(let loaded): (config, relayKey) = loaded
    }
    if !config.server.http.isEmpty {
        logLine("vigil: the HTTP API is not in this build yet; server.http is ignored")
    }
    do {
        let server = try Server(config: config, relayKey: relayKey, log: logLine)
        // SIGHUP: the file is read and checked again; a bad one is refused in one line and the
        // running configuration stays.
        try server.handleSignals {
            switch serveConfiguration(arguments) {
            case .failure(let problem):
                let more = problem.lines.count > 1 ? " (and \(problem.lines.count - 1) more problems)" : ""
                logLine("vigil: reload refused: \(problem.lines.first ?? "invalid configuration")\(more); the running configuration stays")
            case .success(let (reloaded, _)):
                server.reload(reloaded)
            }
        }
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
    // The very checks `serve` makes at start and on SIGHUP: a file that passes here starts.
    var serveArguments = ServeArguments()
    serveArguments.configPath = arguments.path
    switch serveConfiguration(serveArguments) {
    case .failure(let problem):
        logLines(problem.lines)
        return .usage
    case .success:
        printOut(TerminalText.escaped(arguments.path) + ": ok\n")
        return .ok
    }
}
