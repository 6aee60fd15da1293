import Glibc
import VigilCore
import VigilDaemon
import VigilPosix

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
    for path in config.fileInput.paths {
        if let reason = unfollowableReason(path) {
            logLine("vigil: input.file: \(reason)")
            return .usage
        }
    }
    var relayKey: RelayKey?
    if config.relay.needsKey(config.server) {
        do {
            relayKey = try RelayKey(fileContents: try SecretFile.read(config.relay.keyFile))
        } catch {
            logLine("vigil: relay.key_file: \(error)")
            return .usage
        }
    }
    do {
        let server = try Server(config: config, relayKey: relayKey, log: logLine)
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
    if diagnostics.isEmpty { printOut(TerminalText.escaped(arguments.path) + ": ok\n") }
    return diagnostics.isEmpty ? .ok : .usage
}
