/// The complete, checked configuration of `vigil serve`: built-in defaults,
/// overridden by the config file, overridden by command-line flags.
public struct VigilConfig: Hashable, Sendable {
    public var server: Server
    public var storage: Storage
    public var api: API
    public var detection: Detection
    public var fileInput: FileInput
    public var relay: Relay
    public var rules: Rules
    /// Alert sinks in configuration order; `[stdout]` when none is configured.
    public var sinks: [Sink]

    /// `[server]`: listeners, limits and the data directory.
    public struct Server: Hashable, Sendable {
        /// Empty means the listener is off.
        public var udp: [ListenAddress]
        public var tcp: [ListenAddress]
        public var http: [ListenAddress]
        public var dataDirectory: String
        public var maxMessageBytes: Int
        /// Zero turns the stats block off.
        public var statsInterval: TimeSpan
        /// Seconds east of UTC assumed for RFC 3164 timestamps without a zone.
        public var timezoneOffsetSeconds: Int
        public var udpReceiveBufferBytes: Int
        public var maxConnections: Int
        /// Concurrent TCP connections one source (IPv4 address, IPv6 /64) may hold.
        public var maxConnectionsPerSource: Int
        /// Bytes all TCP connections' unfinished frames may hold together.
        public var maxPartialFrameBytes: Int
        /// Distinct host names kept before new ones go to `_overflow`.
        public var maxHosts: Int
        public var idleTimeout: TimeSpan
        public var flushInterval: TimeSpan
        /// Threads for ingest (`server.threads`); 0 means the CPUs this process may use.
        public var threads: Int
        /// Where normalised events are forwarded (`--relay`); nil = not a relay.
        public var relay: SinkSpec?
    }

    /// `[relay]`: authenticated relaying (docs/relay.md).
    public struct Relay: Hashable, Sendable {
        /// Where a central takes sealed relay events; empty = not a central.
        public var listen: [ListenAddress]
        /// The networks edges may connect from.
        public var allow: [CIDR]
        /// The shared key's file; required when `listen` or `server.relay` is set.
        public var keyFile: String
        /// The name an edge's messages carry; empty = the machine's name.
        public var edgeName: String

        /// Whether this collector needs the relay key: it is an edge or a central.
        public func needsKey(_ server: Server) -> Bool { !listen.isEmpty || server.relay != nil }
    }

    /// `[storage]`: retention.
    public struct Storage: Hashable, Sendable {
        /// Zero keeps day files forever.
        public var maxAgeDays: Int
        /// Zero means unlimited.
        public var maxTotalBytes: Int64
    }

    /// `[api]`: bearer-token authentication.
    public struct API: Hashable, Sendable {
        public var token: String
        public var tokenFile: String

        /// The token in force: `token` when set, else the `VIGIL_API_TOKEN`
        /// environment value, else the first line of the token file (the caller
        /// reads `tokenFile` and passes its contents). Nil when there is none.
        public func effectiveToken(environmentToken: String?, tokenFileContents: String?) -> String? {
            if !token.isEmpty { return token }
            if let env = environmentToken, !env.isEmpty { return env }
            guard let contents = tokenFileContents else { return nil }
            let firstLine = contents.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).first ?? ""
            let trimmed = firstLine.drop(while: { $0 == " " || $0 == "\t" })
            var end = trimmed.endIndex
            while end > trimmed.startIndex, [" ", "\t"].contains(trimmed[trimmed.index(before: end)]) {
                end = trimmed.index(before: end)
            }
            let token = String(trimmed[..<end])
            return token.isEmpty ? nil : token
        }
    }

    /// `[detection]`: settings shared by all rules.
    public struct Detection: Hashable, Sendable {
        public var lateness: TimeSpan
        /// How far ahead of its arrival an event may claim to be before it counts as future.
        public var clockTolerance: TimeSpan
        public var maxKeys: Int
        /// Bytes the detection state may take (estimated); `max_keys` and the per-host rate windows fit under it.
        public var maxMemory: Int64
        public var allowlist: [CIDR]
        public var countPublickeyFailures: Bool

        /// Whether `ip` is in the allowlist (never alerted on).
        public func isAllowed(_ ip: IPAddress) -> Bool { allowlist.contains { $0.contains(ip) } }
    }

    /// `[input.file]`: files tailed by `serve`.
    public struct FileInput: Hashable, Sendable {
        public var paths: [String]
        /// Host name recorded for these lines; empty = this machine's name.
        public var host: String
        public var fromBeginning: Bool
    }

    /// A rule that counts events per key within a window.
    public struct CountRule: Hashable, Sendable {
        public var enabled: Bool
        public var threshold: Int
        public var window: TimeSpan
    }

    /// `ssh_long_session`: fires when an open session outlasts `threshold`.
    public struct LongSessionRule: Hashable, Sendable {
        public var enabled: Bool
        public var threshold: TimeSpan
    }

    /// `http_high_traffic`: average hits/s over `window` above `threshold`; resolves once it has
    /// not been for `resolveAfter`.
    public struct RateRule: Hashable, Sendable {
        public var enabled: Bool
        public var threshold: Double
        public var window: TimeSpan
        public var resolveAfter: TimeSpan
    }

    /// `http_scan`: a count rule that resolves once fewer than `threshold` 404s lie within
    /// `window` plus `resolveAfter`.
    public struct ScanRule: Hashable, Sendable {
        public var enabled: Bool
        public var threshold: Int
        public var window: TimeSpan
        public var resolveAfter: TimeSpan

        /// The count rule it extends.
        public var counting: CountRule { CountRule(enabled: enabled, threshold: threshold, window: window) }
    }

    /// `http_error_burst`: 5xx fraction ≥ `threshold` among ≥ `minRequests` in `window`; resolves
    /// once it has not been for `resolveAfter`.
    public struct ErrorBurstRule: Hashable, Sendable {
        public var enabled: Bool
        public var threshold: Double
        public var minRequests: Int
        public var window: TimeSpan
        public var resolveAfter: TimeSpan
    }

    /// `[rule.NAME]` sections (README, "Detection").
    public struct Rules: Hashable, Sendable {
        public var sshBruteforce: CountRule
        public var sshDistributed: CountRule
        public var sshRepeatAccess: CountRule
        public var sshLongSession: LongSessionRule
        public var httpHighTraffic: RateRule
        public var httpErrorBurst: ErrorBurstRule
        public var httpScan: ScanRule
    }

    /// `[sink.NAME]` or one `--sink SPEC`.
    public struct Sink: Hashable, Sendable {
        public var name: String
        public var spec: SinkSpec
        public var queueCapacity: Int
        public var maxBackoff: TimeSpan
        /// Most bytes waiting in the sink's disk spool.
        public var maxSpoolBytes: Int64
    }
}

extension VigilConfig {
    /// The configuration with no file and no flags.
    public static let defaults: VigilConfig = {
        switch build(file: nil, arguments: ServeArguments()) {
        case .success(let config): return config
        case .failure(let errors): preconditionFailure("built-in defaults are invalid: \(errors)")
        }
    }()

    /// Checks a config file on its own, as `vigil check-config` does; returns every error.
    public static func check(text: String, path: String) -> [ConfigDiagnostic] {
        switch build(file: ConfigFile.parse(text, path: path), arguments: ServeArguments()) {
        case .success: return []
        case .failure(let errors): return errors.diagnostics
        }
    }

    /// Builds the configuration from the defaults, a parsed file (optional) and
    /// parsed flags. Fails with every error found, file errors in line order.
    public static func build(file: ConfigFile?, arguments: ServeArguments) -> Result<VigilConfig, ConfigErrors> {
        var store = SettingStore()
        if let file { store.apply(file) }
        store.apply(arguments)
        let config = store.makeConfig()
        guard store.diagnostics.isEmpty else {
            // File errors in line order, then flag errors in argument order.
            let ordered = store.diagnostics.enumerated().sorted { a, b in
                func rank(_ d: ConfigDiagnostic) -> (Int, Int) {
                    switch d.origin {
                    case .file(_, let line): return (0, line)
                    case .flag: return (1, 0)
                    case .builtIn: return (2, 0)
                    }
                }
                let (ra, rb) = (rank(a.element), rank(b.element))
                return ra != rb ? ra < rb : a.offset < b.offset
            }
            return .failure(ConfigErrors(ordered.map(\.element)))
        }
        return .success(config)
    }
}

/// Merges defaults, file entries and flags into checked values keyed by
/// `SECTION.KEY` (`server.udp`, `rule.http_scan.window`, `sink.ops.url`).
private struct SettingStore {
    var values: [String: TypedValue] = [:]
    /// Paths the file or flags set, valid or not (so a bad sink url is not also reported missing).
    var given: Set<String> = []
    /// Where each path's current value came from, for errors that involve two keys.
    var origins: [String: ConfigOrigin] = [:]
    var sinkNames: [String] = []
    var sinkOrigins: [String: ConfigOrigin] = [:]
    var diagnostics: [ConfigDiagnostic] = []

    init() {
        for section in ConfigSchema.sections where !section.isTemplate {
            for key in section.keys {
                store(section.name + "." + key.name, key, key.defaultValue!, origin: .builtIn)
            }
        }
    }

    mutating func store(_ path: String, _ key: ConfigKeySpec, _ value: ConfigValue, origin: ConfigOrigin) {
        switch decode(value, as: key.kind) {
        case .success(let typed):
            values[path] = typed
            origins[path] = origin
        case .failure(let e): diagnostics.append(ConfigDiagnostic(origin, "`\(key.name)`: \(e.message)"))
        }
    }

    mutating func addSink(_ name: String, origin: ConfigOrigin) {
        if sinkOrigins[name] == nil {
            sinkNames.append(name)
            sinkOrigins[name] = origin
        }
    }

    mutating func apply(_ file: ConfigFile) {
        diagnostics += file.diagnostics
        for section in file.sections {
            let origin = ConfigOrigin.file(path: file.path, line: section.line)
            let spec: ConfigSectionSpec
            switch ConfigSchema.section(named: section.name) {
            case .failure(let e):
                diagnostics.append(ConfigDiagnostic(origin, e.message))
                continue
            case .success(let s): spec = s
            }
            if spec.isTemplate { addSink(String(section.name.dropFirst(spec.name.count + 1)), origin: origin) }
            for entry in section.entries {
                let entryOrigin = ConfigOrigin.file(path: file.path, line: entry.line)
                guard let key = spec.key(entry.key) else {
                    diagnostics.append(ConfigDiagnostic(entryOrigin, "unknown key `\(entry.key)` in [\(section.name)]"
                        + suggestion(for: entry.key, among: spec.keys.map(\.name))))
                    continue
                }
                given.insert(section.name + "." + key.name)
                store(section.name + "." + key.name, key, entry.value, origin: entryOrigin)
            }
        }
    }

    mutating func apply(_ arguments: ServeArguments) {
        if !arguments.sinks.isEmpty {
            values = values.filter { !$0.key.hasPrefix("sink.") }
            sinkNames = []
            sinkOrigins = [:]
            for (index, sink) in arguments.sinks.enumerated() {
                let name = "sink\(index + 1)"
                addSink(name, origin: .flag(sink.flag))
                values["sink.\(name).url"] = .sink(sink.spec)
            }
        }
        for override in arguments.overrides {
            if let name = override.sinkName { addSink(name, origin: .flag(override.flag)) }
            values[override.path] = override.value
            origins[override.path] = .flag(override.flag)
        }
    }

    func string(_ path: String) -> String {
        guard case .string(let v)? = values[path] else { preconditionFailure("\(path) is not a string") }
        return v
    }
    func bool(_ path: String) -> Bool {
        guard case .boolean(let v)? = values[path] else { preconditionFailure("\(path) is not a boolean") }
        return v
    }
    func int(_ path: String) -> Int {
        guard case .integer(let v)? = values[path] else { preconditionFailure("\(path) is not an integer") }
        return Int(v)
    }
    func double(_ path: String) -> Double {
        guard case .decimal(let v)? = values[path] else { preconditionFailure("\(path) is not a decimal") }
        return v
    }
    func span(_ path: String) -> TimeSpan {
        guard case .duration(let v)? = values[path] else { preconditionFailure("\(path) is not a duration") }
        return v
    }
    func addresses(_ path: String) -> [ListenAddress] {
        guard case .addresses(let v)? = values[path] else { preconditionFailure("\(path) is not an address list") }
        return v
    }

    func countRule(_ name: String) -> VigilConfig.CountRule {
        let p = "rule." + name + "."
        return .init(enabled: bool(p + "enabled"), threshold: int(p + "threshold"), window: span(p + "window"))
    }

    mutating func makeConfig() -> VigilConfig {
        guard case .offset(let offset)? = values["server.timezone"],
              case .relay(let relayTarget)? = values["server.relay"],
              case .cidrs(let allowlist)? = values["detection.allowlist"],
              case .cidrs(let relayAllow)? = values["relay.allow"],
              case .strings(let paths)? = values["input.file.paths"] else {
            preconditionFailure("schema and VigilConfig disagree")
        }
        let server = VigilConfig.Server(
            udp: addresses("server.udp"), tcp: addresses("server.tcp"), http: addresses("server.http"),
            dataDirectory: string("server.data_dir"), maxMessageBytes: int("server.max_message_bytes"),
            statsInterval: span("server.stats_interval"), timezoneOffsetSeconds: offset,
            udpReceiveBufferBytes: int("server.udp_receive_buffer_bytes"), maxConnections: int("server.max_connections"),
            maxConnectionsPerSource: int("server.max_connections_per_source"),
            maxPartialFrameBytes: int("server.max_partial_frame_bytes"), maxHosts: int("server.max_hosts"),
            idleTimeout: span("server.idle_timeout"), flushInterval: span("server.flush_interval"),
            threads: int("server.threads"), relay: relayTarget)
        let tcpPorts = Set(server.tcp.filter { $0.port != 0 })
        for address in server.http where address.port != 0 && tcpPorts.contains(address) {
            diagnostics.append(ConfigDiagnostic(origins["server.http"] ?? .builtIn,
                                                "`http`: \(address) is also a syslog TCP listener (server.tcp)"))
        }
        let relay = VigilConfig.Relay(listen: addresses("relay.listen"), allow: relayAllow, keyFile: string("relay.key_file"),
                                      edgeName: string("relay.edge_name"))
        checkRelay(relay, server: server)
        let rules = VigilConfig.Rules(
            sshBruteforce: countRule("ssh_bruteforce"),
            sshDistributed: countRule("ssh_distributed"),
            sshRepeatAccess: countRule("ssh_repeat_access"),
            sshLongSession: .init(enabled: bool("rule.ssh_long_session.enabled"), threshold: span("rule.ssh_long_session.threshold")),
            httpHighTraffic: .init(enabled: bool("rule.http_high_traffic.enabled"), threshold: double("rule.http_high_traffic.threshold"),
                                   window: span("rule.http_high_traffic.window"), resolveAfter: span("rule.http_high_traffic.resolve_after")),
            httpErrorBurst: .init(enabled: bool("rule.http_error_burst.enabled"), threshold: double("rule.http_error_burst.threshold"),
                                  minRequests: int("rule.http_error_burst.min_requests"), window: span("rule.http_error_burst.window"),
                                  resolveAfter: span("rule.http_error_burst.resolve_after")),
            httpScan: .init(enabled: bool("rule.http_scan.enabled"), threshold: int("rule.http_scan.threshold"),
                            window: span("rule.http_scan.window"), resolveAfter: span("rule.http_scan.resolve_after")))
        return VigilConfig(
            server: server,
            storage: .init(maxAgeDays: int("storage.max_age_days"), maxTotalBytes: Int64(int("storage.max_total_bytes"))),
            api: .init(token: string("api.token"), tokenFile: string("api.token_file")),
            detection: .init(lateness: span("detection.lateness"), clockTolerance: span("detection.clock_tolerance"), maxKeys: int("detection.max_keys"),
                             maxMemory: Int64(int("detection.max_memory")), allowlist: allowlist,
                             countPublickeyFailures: bool("detection.count_publickey_failures")),
            fileInput: .init(paths: paths, host: string("input.file.host"), fromBeginning: bool("input.file.from_beginning")),
            relay: relay,
            rules: rules,
            sinks: makeSinks())
    }

    /// The rules that tie the relay keys together: a central needs an allow list, edges and
    /// centrals need the key, an edge name must be one a message can carry, and the relay
    /// listener is no syslog listener.
    mutating func checkRelay(_ relay: VigilConfig.Relay, server: VigilConfig.Server) {
        func error(_ path: String, _ message: String) {
            diagnostics.append(ConfigDiagnostic(origins[path] ?? .builtIn, message))
        }
        if !relay.listen.isEmpty && relay.allow.isEmpty {
            error("relay.listen", "`listen`: a relay listener needs `allow`, the networks the edges connect from (e.g. [\"10.0.0.0/8\"])")
        }
        if relay.needsKey(server) && relay.keyFile.isEmpty {
            error(relay.listen.isEmpty ? "server.relay" : "relay.listen",
                  "relay needs `key_file` in [relay] (--relay-key FILE): the shared key edges seal their messages with")
        }
        if !relay.edgeName.isEmpty && !RelaySigner.isValidEdgeName(relay.edgeName) {
            error("relay.edge_name", "`edge_name`: \"\(relay.edgeName)\" must be 1-64 letters, digits, '.', '-', '_' or ':'")
        }
        let syslogPorts = Set(server.tcp.filter { $0.port != 0 })
        for address in relay.listen where address.port != 0 && syslogPorts.contains(address) {
            error("relay.listen", "`listen`: \(address) is also a syslog TCP listener (server.tcp); the relay listener needs its own port")
        }
    }

    mutating func makeSinks() -> [VigilConfig.Sink] {
        guard let template = ConfigSchema.sections.first(where: \.isTemplate) else { return [] }
        func typed(_ name: String, _ key: String) -> TypedValue {
            if let v = values["sink.\(name).\(key)"] { return v }
            guard let spec = template.key(key), let d = spec.defaultValue, case .success(let v) = decode(d, as: spec.kind) else {
                preconditionFailure("sink key \(key) has no valid default")
            }
            return v
        }
        if sinkNames.isEmpty {
            addSink("stdout", origin: .builtIn)
            values["sink.stdout.url"] = .sink(.stdout)
        }
        var sinks: [VigilConfig.Sink] = []
        for name in sinkNames {
            guard case .sink(let spec)? = values["sink.\(name).url"] else {
                if given.contains("sink.\(name).url") { continue }
                diagnostics.append(ConfigDiagnostic(sinkOrigins[name] ?? .builtIn, "[sink.\(name)] has no `url`"))
                continue
            }
            guard case .integer(let capacity) = typed(name, "queue_capacity"),
                  case .duration(let backoff) = typed(name, "max_backoff"),
                  case .integer(let spoolBytes) = typed(name, "max_spool_bytes") else {
                preconditionFailure("sink keys have unexpected kinds")
            }
            sinks.append(.init(name: name, spec: spec, queueCapacity: Int(capacity), maxBackoff: backoff, maxSpoolBytes: spoolBytes))
        }
        return sinks
    }
}
