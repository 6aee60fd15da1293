/// The parsed command line of `vigil serve`, ready to merge over a config file
/// with `VigilConfig.build(file:arguments:)`.
///
/// Every config key is a flag `--SECTION.KEY VALUE` (`--rule.http_scan.threshold 30`,
/// `--sink.ops.url alertmanager://am:9093`); a few common keys also have a short
/// flag (`--udp`, `--data-dir`, ...). `--flag=value` and `--flag value` both work.
/// List keys take one item per occurrence, and the flags' list replaces the
/// file's. `--sink SPEC` adds one sink per occurrence and replaces the file's sinks.
public struct ServeArguments: Sendable {
    /// `--help` or `-h` was given.
    public var showHelp: Bool = false
    /// `--config FILE`; nil means no file (built-in defaults plus flags).
    public var configPath: String?
    /// `--sink SPEC` occurrences, in order.
    var sinks: [FlagSink] = []
    /// Checked values for `SECTION.KEY` paths, in the order each path was first given.
    var overrides: [FlagOverride] = []
    /// Where the values of secret keys (`ConfigKeySpec.isSecret`) and of `--sink SPEC` lie in the
    /// arguments parsed, for `serve` to hide them from `ps`.
    public var secretValues: [ArgumentSpan] = []

    /// No flags: the built-in defaults.
    public init() {}
}

/// A flag's value within the arguments parsed: argument number `argument` (0 is the first one
/// given to the parser) from its byte `offset` to its end (`--api.token=VALUE` starts at 12).
public struct ArgumentSpan: Hashable, Sendable {
    public var argument: Int
    public var offset: Int

    public init(argument: Int, offset: Int) {
        self.argument = argument
        self.offset = offset
    }
}

/// One `--sink SPEC`.
struct FlagSink: Sendable {
    var spec: SinkSpec
    var flag: String
}

/// One checked `SECTION.KEY` value from a flag.
struct FlagOverride: Sendable {
    var path: String
    var value: TypedValue
    var flag: String
    /// For `--sink.NAME.KEY`, the sink's name.
    var sinkName: String?
}

/// The parsed command line of `vigil check-config`.
public struct CheckConfigArguments: Hashable, Sendable {
    public var showHelp: Bool
    /// The file to check (empty with `--help`).
    public var path: String
}

/// What a flag sets.
private enum FlagTarget {
    case help
    case config
    case sink
    case key(path: String, spec: ConfigKeySpec, sinkName: String?)
}

/// Resolves a flag name (without `=value`) to what it sets.
private func flagTarget(_ name: String) -> FlagTarget? {
    switch name {
    case "--help", "-h": return .help
    case "--config": return .config
    case "--sink": return .sink
    default: break
    }
    for section in ConfigSchema.sections {
        for key in section.keys where key.flagAlias == name {
            return .key(path: section.name + "." + key.name, spec: key, sinkName: nil)
        }
    }
    guard name.hasPrefix("--"), let dot = name.lastIndex(of: ".") else { return nil }
    let sectionName = String(name[name.index(name.startIndex, offsetBy: 2)..<dot])
    let keyName = String(name[name.index(after: dot)...])
    guard case .success(let section) = ConfigSchema.section(named: sectionName), let key = section.key(keyName) else {
        return nil
    }
    let sinkName = section.isTemplate ? String(sectionName.dropFirst(section.name.count + 1)) : nil
    if let sinkName, sinkName.isEmpty || !sinkName.utf8.allSatisfy(isConfigNameByte) { return nil }
    return .key(path: sectionName + "." + keyName, spec: key, sinkName: sinkName)
}

/// Every flag name, for did-you-mean suggestions.
private func allFlagNames() -> [String] {
    var names = ["--help", "--config", "--sink"]
    for section in ConfigSchema.sections {
        for key in section.keys {
            if let alias = key.flagAlias { names.append(alias) }
            names.append("--" + section.name + (section.isTemplate ? ".NAME." : ".") + key.name)
        }
    }
    return names
}

/// Turns a flag's text into the config value the file would hold, so flags and
/// file share one decoder.
private func configValue(from texts: [String], kind: ConfigKind) -> Result<ConfigValue, ConfigValueError> {
    if kind.isRepeatable { return .success(.array(texts.map(ConfigValue.string))) }
    let text = texts.last ?? ""
    switch kind {
    case .boolean:
        if text == "true" { return .success(.boolean(true)) }
        if text == "false" { return .success(.boolean(false)) }
        return .failure(ConfigValueError("expected true or false, found `\(text)`"))
    case .integer:
        guard let v = parseInteger(text) else { return .failure(ConfigValueError("expected an integer, found `\(text)`")) }
        return .success(.integer(v))
    case .decimal:
        if let v = parseInteger(text) { return .success(.integer(v)) }
        guard let d = Double(text), d.isFinite else { return .failure(ConfigValueError("expected a number, found `\(text)`")) }
        return .success(.decimal(d))
    case .size:
        return .success(parseInteger(text).map(ConfigValue.integer) ?? .string(text))
    default:
        return .success(.string(text))
    }
}

/// Parses the arguments after `vigil serve`. Fails with one diagnostic per bad
/// flag, each naming the flag.
public func parseServeArguments(_ args: [String]) -> Result<ServeArguments, ConfigErrors> {
    var result = ServeArguments()
    var diagnostics: [ConfigDiagnostic] = []
    // Raw texts per path, in first-seen order; the flag recorded is the last one used.
    var raw: [(path: String, spec: ConfigKeySpec, sinkName: String?, flag: String, texts: [String])] = []
    var sinkTexts: [(flag: String, text: String)] = []
    var k = 0
    while k < args.count {
        let arg = args[k]
        k += 1
        guard arg.hasPrefix("-") else {
            diagnostics.append(ConfigDiagnostic(.flag(arg), "unexpected argument (serve takes only flags; see --help)"))
            continue
        }
        var name = arg
        var inline: String?
        // Split at the first "=" byte, not Character: "=" followed by a combining mark is one
        // Character, and the whole argument (a secret with it) would otherwise be the flag's name.
        if let eq = arg.utf8.firstIndex(of: 0x3D) {
            name = String(decoding: arg.utf8[..<eq], as: UTF8.self)
            inline = String(decoding: arg.utf8[arg.utf8.index(after: eq)...], as: UTF8.self)
        }
        guard let target = flagTarget(name) else {
            diagnostics.append(ConfigDiagnostic(.flag(name), "unknown flag" + suggestion(for: name, among: allFlagNames())))
            // Its value, if it has one, is not a second mistake.
            if inline == nil, k < args.count, !args[k].hasPrefix("-") { k += 1 }
            continue
        }
        if case .help = target {
            if inline != nil { diagnostics.append(ConfigDiagnostic(.flag(name), "takes no value")) }
            result.showHelp = true
            continue
        }
        var value: String
        var span = ArgumentSpan(argument: k - 1, offset: name.utf8.count + 1)
        if let inline {
            value = inline
        } else if case .key(_, let spec, _) = target, spec.kind == .boolean {
            // A bare boolean flag means true; an explicit true/false may follow.
            value = "true"
            if k < args.count, args[k] == "true" || args[k] == "false" {
                value = args[k]
                span = ArgumentSpan(argument: k, offset: 0)
                k += 1
            }
        } else if k < args.count, !args[k].hasPrefix("--") {
            value = args[k]
            span = ArgumentSpan(argument: k, offset: 0)
            k += 1
        } else {
            diagnostics.append(ConfigDiagnostic(.flag(name), "missing value"))
            continue
        }
        switch target {
        case .help: break
        case .config: result.configPath = value
        case .sink:
            sinkTexts.append((name, value))
            result.secretValues.append(span)  // a sink's URL, as `sink.NAME.url` is secret
        case .key(let path, let spec, let sinkName):
            if spec.isSecret { result.secretValues.append(span) }
            if let index = raw.firstIndex(where: { $0.path == path }) {
                raw[index].flag = name
                raw[index].texts = spec.kind.isRepeatable ? raw[index].texts + [value] : [value]
            } else {
                raw.append((path, spec, sinkName, name, [value]))
            }
        }
    }
    for (flag, text) in sinkTexts {
        switch SinkSpec.parse(text) {
        case .success(let spec): result.sinks.append(FlagSink(spec: spec, flag: flag))
        case .failure(let e): diagnostics.append(ConfigDiagnostic(.flag(flag), e.message))
        }
    }
    for entry in raw {
        let decoded = configValue(from: entry.texts, kind: entry.spec.kind).flatMap { decode($0, as: entry.spec.kind) }
        switch decoded {
        case .success(let typed):
            result.overrides.append(FlagOverride(path: entry.path, value: typed, flag: entry.flag, sinkName: entry.sinkName))
        case .failure(let e):
            diagnostics.append(ConfigDiagnostic(.flag(entry.flag), e.message))
        }
    }
    return diagnostics.isEmpty ? .success(result) : .failure(ConfigErrors(diagnostics))
}

/// Parses the arguments after `vigil check-config`: one FILE, or `--help`.
public func parseCheckConfigArguments(_ args: [String]) -> Result<CheckConfigArguments, ConfigErrors> {
    if args.contains("--help") || args.contains("-h") { return .success(CheckConfigArguments(showHelp: true, path: "")) }
    var diagnostics: [ConfigDiagnostic] = []
    var files: [String] = []
    for arg in args {
        if arg.hasPrefix("-") && arg != "-" {
            diagnostics.append(ConfigDiagnostic(.flag(arg), "unknown flag (check-config takes FILE and --help)"))
        } else {
            files.append(arg)
        }
    }
    if files.count != 1 {
        diagnostics.append(ConfigDiagnostic(.flag("check-config"), files.isEmpty ? "missing FILE" : "expects exactly one FILE"))
    }
    return diagnostics.isEmpty ? .success(CheckConfigArguments(showHelp: false, path: files[0])) : .failure(ConfigErrors(diagnostics))
}

/// A default as shown in `--help`: unquoted, lists comma-separated.
private func helpDefault(_ value: ConfigValue) -> String {
    switch value {
    case .string(let s): return s.isEmpty ? "\"\"" : s
    case .array(let items):
        return items.isEmpty ? "none" : items.map { item in
            if case .string(let s) = item { return s }
            return item.description
        }.joined(separator: ",")
    default: return value.description
    }
}

/// Pads `left` to a column and appends `right`.
private func helpLine(_ left: String, _ right: String) -> String {
    let column = 46
    let pad = left.count + 2 <= column ? String(repeating: " ", count: column - left.count) : "  "
    return "  " + left + pad + right + "\n"
}

/// `vigil serve --help`: usage, the short flags, and every `--SECTION.KEY` flag, each with its default.
public let serveHelp: String = {
    var out = """
    usage: vigil serve [--config FILE] [flags]

    Run the collector: syslog listeners, storage, detection, alert sinks and the relay.
    Flags win over the config file. Every flag also accepts --flag=value.
    Repeatable flags (marked *) take one item each and replace the file's list.

    Flags:

    """
    out += helpLine("-h, --help", "show this help")
    out += helpLine("--config FILE", "config file to read (default: none, built-in defaults)")
    out += helpLine("--sink SPEC *", "alert sink: stdout, file:PATH, syslog+udp://HOST:PORT,")
    out += helpLine("", "syslog+tcp://HOST:PORT, http://HOST:PORT/PATH, alertmanager://HOST:PORT")
    out += helpLine("", "(default: stdout; DATA/alerts.jsonl is always written)")
    var generic = ""
    for section in ConfigSchema.sections {
        let prefix = "--" + section.name + (section.isTemplate ? ".NAME." : ".")
        for key in section.keys {
            let star = key.kind.isRepeatable ? " *" : ""
            let range = key.kind.rangeText.map { "; \($0)" } ?? ""
            let doc = key.doc + (key.defaultValue.map { " (default: \(helpDefault($0))\(range))" } ?? " (required)")
            if let alias = key.flagAlias {
                out += helpLine("\(alias) \(key.kind.placeholder)\(star)", doc)
            }
            generic += helpLine("\(prefix)\(key.name) \(key.kind.placeholder)\(star)", doc)
        }
    }
    out += """

    Every config key is also a flag, --SECTION.KEY VALUE (the short flags above
    are aliases of server.udp, server.tcp, server.http, server.data_dir,
    server.max_message_bytes, server.stats_interval and server.relay).
    Durations take a unit (500ms, 10s, 2m, 1h, 7d); sizes take bytes or a unit
    (64KiB, 10MiB, 1GiB). The API token may also come from env VIGIL_API_TOKEN.


    """
    out += generic
    return out
}()

/// `vigil check-config --help`.
public let checkConfigHelp: String = """
    usage: vigil check-config FILE

    Validate a vigil config file without starting anything. Prints every error
    as FILE:LINE: MESSAGE and exits 2 if there is any, else exits 0.

      -h, --help    show this help

    """
