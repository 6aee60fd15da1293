import Glibc
import VigilCore
import VigilDaemon
import VigilPosix

/// Prints every diagnostic and returns the usage exit code.
func reportConfigErrors(_ errors: ConfigErrors) -> ExitCode {
    logLines(errors.diagnostics.map { "vigil: \($0)" })
    return .usage
}

/// What `serve` runs with: the configuration, and the secrets read for it.
struct ServeSetup {
    var config: VigilConfig
    /// The relay key, when the configuration makes this an edge or a central.
    var relayKey: RelayKey?
    /// The API token configured (`[api] token`, `VIGIL_API_TOKEN`, `api.token_file`); nil: none,
    /// and the API (loopback only) uses `DATA/api-token`.
    var apiToken: String?
}

/// The configuration `serve` runs with: the config file (if any) under the flags, checked the way
/// `check-config` checks it, with the relay key when it needs one and the API token. An API on
/// an address other than loopback needs a configured token. On failure, the lines to print.
func serveConfiguration(_ arguments: ServeArguments) -> Result<ServeSetup, ServeConfigProblem> {
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
    /// A problem with the setting `key`, prefixed with where the file sets it (`PATH:LINE: `).
    func problem(_ key: String, _ message: String) -> ServeConfigProblem {
        let place = file?.location(of: key).map { "\($0): " } ?? ""
        return ServeConfigProblem(lines: ["\(place)\(key): \(message)"])
    }
    for path in config.fileInput.paths {
        if let reason = unfollowableReason(path) { return .failure(problem("input.file.paths", reason)) }
    }
    // A token written in the config file is as secret as a token file: not in one every user reads.
    if let path = arguments.configPath, !config.api.token.isEmpty, file?.location(of: "api.token") != nil {
        var st = stat()
        if stat(path, &st) == 0 && st.st_mode & 0o004 != 0 {
            return .failure(problem("api.token", "\(path) can be read by every user (mode 0\(String(st.st_mode & 0o777, radix: 8))) and holds the API token; "
                                    + "run `chmod o-r \(path)`, or keep the token in api.token_file (mode 600) or VIGIL_API_TOKEN"))
        }
    }
    var setup = ServeSetup(config: config)
    if !config.server.http.isEmpty {
        var fileContents: String?
        if !config.api.tokenFile.isEmpty {
            do { fileContents = String(decoding: try SecretFile.read(config.api.tokenFile), as: UTF8.self) } catch {
                return .failure(problem("api.token_file", "\(error)"))
            }
        }
        let environment = getenv("VIGIL_API_TOKEN").map { String(cString: $0) }
        setup.apiToken = config.api.effectiveToken(environmentToken: environment, tokenFileContents: fileContents)
        if setup.apiToken == nil, let open = config.server.http.first(where: { !$0.ip.isLoopback }) {
            return .failure(problem("server.http",
                                    "\(open) is not a loopback address and no API token is set; set [api] token or token_file, or VIGIL_API_TOKEN"))
        }
    }
    guard config.relay.needsKey(config.server) else { return .success(setup) }
    do {
        setup.relayKey = try RelayKey(fileContents: try SecretFile.read(config.relay.keyFile))
        return .success(setup)
    } catch {
        return .failure(problem("relay.key_file", "\(error)"))
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
    // `args` is a copy of argv's last arguments: what other users see in `ps` is the C memory behind it.
    let argc = Int(CommandLine.argc)
    ArgumentMemory.hide(arguments.secretValues, firstArgument: argc - args.count, count: argc, argv: CommandLine.unsafeArgv)
    if arguments.showHelp {
        printOut(serveHelp)
        return .ok
    }
    let setup: ServeSetup
    switch serveConfiguration(arguments) {
    case .failure(let problem):
        logLines(problem.lines.map { "vigil: \($0)" })
        return .usage
    case .success(let loaded): setup = loaded
    }
    do {
        let server = try Server(config: setup.config, relayKey: setup.relayKey, apiToken: setup.apiToken, log: logLine)
        // SIGHUP: the file is read and checked again; a bad one is refused in one line and the
        // running configuration stays.
        try server.handleSignals {
            switch serveConfiguration(arguments) {
            case .failure(let problem):
                let more = problem.lines.count > 1 ? " (and \(problem.lines.count - 1) more problems)" : ""
                logLine("vigil: reload refused: \(problem.lines.first ?? "invalid configuration")\(more); the running configuration stays")
            case .success(let reloaded):
                server.reload(reloaded.config)
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
