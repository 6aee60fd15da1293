/// What a config key holds; decides how a value is checked and decoded.
public enum ConfigKind: Hashable, Sendable {
    case string
    case boolean
    case integer(ClosedRange<Int64>)
    /// A decimal; integers are accepted too.
    case decimal(ClosedRange<Double>)
    /// A quoted duration such as `"10s"` within `range` (every duration has a maximum).
    case duration(ClosedRange<TimeSpan>)
    /// Bytes: a plain integer or a quoted size such as `"64KiB"`.
    case size(ClosedRange<Int64>)
    /// A list of `ADDR:PORT` listen addresses; `"off"` means none.
    case listenAddresses
    /// A list of CIDR blocks.
    case cidrs
    /// A list of file paths.
    case paths
    /// `"UTC"` or a fixed offset such as `"+02:00"`.
    case utcOffset
    /// `""` (no relay) or a `syslog+tcp://` URL.
    case relay
    /// A sink URL (docs/sinks.md).
    case sink

    /// Whether a flag for this key may be given several times (building a list).
    public var isRepeatable: Bool {
        switch self {
        case .listenAddresses, .cidrs, .paths: return true
        default: return false
        }
    }

    /// The values allowed, for `--help`: `1s to 7d`, `1 to 1000000`, `480 to 16777216 bytes`; nil
    /// when any value of the type is fine.
    public var rangeText: String? {
        switch self {
        case .integer(let r): return "\(r.lowerBound) to \(r.upperBound)"
        case .decimal(let r): return "\(r.lowerBound) to \(r.upperBound)"
        case .duration(let r): return "\(r.lowerBound) to \(r.upperBound)"
        case .size(let r): return "\(r.lowerBound) to \(r.upperBound) bytes"
        default: return nil
        }
    }

    /// The word shown after a flag in `--help`.
    public var placeholder: String {
        switch self {
        case .string: return "TEXT"
        case .boolean: return "true|false"
        case .integer: return "N"
        case .decimal: return "NUMBER"
        case .duration: return "DURATION"
        case .size: return "BYTES"
        case .listenAddresses: return "ADDR:PORT"
        case .cidrs: return "CIDR"
        case .paths: return "PATH"
        case .utcOffset: return "OFFSET"
        case .relay, .sink: return "SPEC"
        }
    }
}

/// One known key: its name, kind, default and a one-line description.
public struct ConfigKeySpec: Sendable {
    public let name: String
    public let kind: ConfigKind
    /// The default in config syntax; nil when the key is required (a sink's `url`).
    public let defaultValue: ConfigValue?
    public let doc: String
    /// The short flag that also sets this key (`--udp`), besides `--SECTION.KEY`.
    public let flagAlias: String?
    /// A credential (the API token, a sink's URL, which may carry one): given as a flag, its
    /// value is hidden from `ps` once parsed (`ServeArguments.secretValues`).
    public let isSecret: Bool

    init(_ name: String, _ kind: ConfigKind, _ defaultValue: ConfigValue?, _ doc: String, flag: String? = nil,
         secret: Bool = false) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.doc = doc
        self.flagAlias = flag
        self.isSecret = secret
    }
}

/// One known section: `[server]`, `[rule.ssh_bruteforce]`, or the `[sink.NAME]` template.
public struct ConfigSectionSpec: Sendable {
    /// The header name, or the prefix before `.NAME` for a template.
    public let name: String
    /// True for `[sink.NAME]`: any NAME, each one an instance.
    public let isTemplate: Bool
    public let doc: String
    public let keys: [ConfigKeySpec]

    /// The key called `name`, if this section has one.
    public func key(_ name: String) -> ConfigKeySpec? { keys.first { $0.name == name } }
}

/// Every section and key vigil understands (conf/vigil.conf lists every one), with defaults.
/// `conf/vigil.conf`, `--help` and the decoders are all driven by this table.
public enum ConfigSchema {
    static func window(_ text: String, _ doc: String) -> ConfigKeySpec {
        ConfigKeySpec("window", .duration(.seconds(1)...TimeSpan.seconds(7 * 86_400)), .string(text), doc)
    }
    static let enabled = ConfigKeySpec("enabled", .boolean, .boolean(true), "set to false to turn the rule off")
    static func resolveAfter(_ text: String) -> ConfigKeySpec {
        ConfigKeySpec("resolve_after", .duration(.seconds(0)...TimeSpan.seconds(7 * 86_400)), .string(text),
                      "a firing alert resolves once the condition has not held for this long; holding again within it keeps it firing (\"0s\": at once)")
    }
    static let counts: ConfigKind = .integer(1...1_000_000_000)

    /// All sections, in the order they appear in `conf/vigil.conf`.
    public static let sections: [ConfigSectionSpec] = [
        ConfigSectionSpec(name: "server", isTemplate: false, doc: "listeners, limits and the data directory", keys: [
            ConfigKeySpec("udp", .listenAddresses, .array([.string("0.0.0.0:5514")]),
                          "syslog over UDP: ADDR:PORT list, IPv6 as [::1]:5514, \"off\" disables", flag: "--udp"),
            ConfigKeySpec("tcp", .listenAddresses, .array([.string("0.0.0.0:5514")]),
                          "syslog over TCP (octet-counted or LF-framed): ADDR:PORT list, \"off\" disables", flag: "--tcp"),
            ConfigKeySpec("http", .listenAddresses, .array([.string("127.0.0.1:8514")]),
                          "HTTP API and dashboard (docs/api.md): ADDR:PORT list, \"off\" disables; other than loopback only with a token", flag: "--http"),
            ConfigKeySpec("data_dir", .string, .string("./vigil-data"),
                          "where messages, alerts.jsonl and the sink spool are kept", flag: "--data-dir"),
            ConfigKeySpec("max_message_bytes", .size(480...(16 << 20)), .integer(65536),
                          "longer messages are truncated and counted (bytes, or e.g. \"64KiB\")", flag: "--max-message-size"),
            ConfigKeySpec("stats_interval", .duration(.seconds(0)...TimeSpan.seconds(86_400)), .string("10s"),
                          "how often the stats block is printed; \"0s\" turns it off", flag: "--stats-interval"),
            ConfigKeySpec("timezone", .utcOffset, .string("UTC"),
                          "UTC offset for RFC 3164 timestamps that carry no zone: \"UTC\" or e.g. \"+02:00\""),
            ConfigKeySpec("udp_receive_buffer_bytes", .size(0...(1 << 30)), .string("8MiB"),
                          "kernel receive buffer requested for each UDP socket (SO_RCVBUF)"),
            ConfigKeySpec("max_connections", .integer(1...1_000_000), .integer(20000),
                          "concurrent TCP connections (lowered to fit the open-file limit); at the cap the longest idle connection of the busiest source is closed for a new one"),
            ConfigKeySpec("max_connections_per_source", .integer(1...1_000_000), .integer(1000),
                          "concurrent TCP connections one source (an IPv4 address or IPv6 /64) may hold; more are refused"),
            ConfigKeySpec("max_partial_frame_bytes", .size((64 << 10)...(16 << 30)), .string("64MiB"),
                          "bytes all TCP connections' unfinished frames may hold together; past it the oldest are cut short"),
            ConfigKeySpec("max_hosts", .integer(1...10_000_000), .integer(100000),
                          "distinct host names kept; messages naming further hosts are stored under _overflow"),
            ConfigKeySpec("idle_timeout", .duration(.seconds(1)...TimeSpan.seconds(7 * 86_400)), .string("5m"),
                          "a TCP connection that sends nothing for this long is closed"),
            ConfigKeySpec("flush_interval", .duration(.seconds(0)...TimeSpan.seconds(60)), .string("1s"),
                          "how often stored messages are flushed to disk; \"0s\" flushes every write"),
            ConfigKeySpec("threads", .integer(0...1024), .integer(0),
                          "threads for ingest: 1 runs everything on one thread, 2 gives analysis a thread of its own, 3 adds an ingest shard (taking TCP syslog connections and UDP senders too, and storing its share of the hosts), 4 gives the detection rules a thread of their own, each one more is a shard (at most 7); 0 = the CPUs vigil may use", flag: "--threads"),
            ConfigKeySpec("relay", .relay, .string(""),
                          "edge: forward sealed events to a central's relay listener (syslog+tcp://HOST:PORT); \"\" = off", flag: "--relay"),
        ]),
        ConfigSectionSpec(name: "storage", isTemplate: false, doc: "retention of DATA/hosts/HOST/YYYY-MM-DD.log", keys: [
            ConfigKeySpec("max_age_days", .integer(0...36500), .integer(30), "delete day files older than this; 0 keeps them forever"),
            ConfigKeySpec("max_total_bytes", .size(0...Int64.max), .integer(0),
                          "delete the oldest day files beyond this total (bytes or e.g. \"10GiB\"); 0 = unlimited"),
        ]),
        ConfigSectionSpec(name: "api", isTemplate: false, doc: "HTTP API authentication (Authorization: Bearer TOKEN); without any token, a loopback API uses DATA/api-token (generated)", keys: [
            ConfigKeySpec("token", .string, .string(""),
                          "bearer token; if empty, env VIGIL_API_TOKEN, then token_file, is used", secret: true),
            ConfigKeySpec("token_file", .string, .string(""), "file whose first line is the bearer token"),
        ]),
        ConfigSectionSpec(name: "detection", isTemplate: false, doc: "settings shared by every rule", keys: [
            ConfigKeySpec("lateness", .duration(.seconds(0)...TimeSpan.seconds(3600)), .string("5s"),
                          "how late (by event time) an event may arrive and still count in its window"),
            ConfigKeySpec("clock_tolerance", .duration(.seconds(0)...TimeSpan.seconds(86_400)), .string("2m"),
                          "an event claiming a time further ahead of its arrival is counted as future (it is taken at its arrival)"),
            ConfigKeySpec("max_keys", .integer(1...1_000_000_000), .integer(1_000_000),
                          "tracked keys (IPs, hosts) per rule; the least recently seen are evicted past this"),
            ConfigKeySpec("max_memory", .size((64 << 20)...(1 << 40)), .string("1GiB"),
                          "memory the detection state may take (estimated): max_keys and per-host HTTP windows are lowered to fit"),
            ConfigKeySpec("allowlist", .cidrs, .array([]), "addresses never alerted on: CIDR list, e.g. [\"10.0.0.0/8\", \"::1\"]"),
            ConfigKeySpec("count_publickey_failures", .boolean, .boolean(false),
                          "count failed publickey attempts as auth failures (clients often try several keys)"),
        ]),
        ConfigSectionSpec(name: "input.file", isTemplate: false, doc: "log files tailed by serve (tail -F, resumes at saved offsets)", keys: [
            ConfigKeySpec("paths", .paths, .array([]), "files to follow, e.g. [\"/var/log/nginx/access.log\"]"),
            ConfigKeySpec("host", .string, .string(""), "host name recorded for these lines; \"\" = this machine's name"),
            ConfigKeySpec("from_beginning", .boolean, .boolean(false),
                          "read a file with no saved offset from its start instead of its end"),
        ]),
        ConfigSectionSpec(name: "relay", isTemplate: false, doc: "authenticated relaying between edges and a central (docs/relay.md)", keys: [
            ConfigKeySpec("listen", .listenAddresses, .array([]),
                          "central: TCP ADDR:PORT list where sealed relay events from edges are taken; none = off", flag: "--relay-listen"),
            ConfigKeySpec("allow", .cidrs, .array([]),
                          "central: the networks edges connect from (CIDR list); other connections are refused", flag: "--relay-allow"),
            ConfigKeySpec("key_file", .string, .string(""),
                          "file holding the shared relay key (at least 32 bytes, mode 0600); required by edges and centrals", flag: "--relay-key"),
            ConfigKeySpec("edge_name", .string, .string(""),
                          "edge: the name its sealed messages carry (letters, digits, .-_:); \"\" = this machine's name"),
        ]),
        ConfigSectionSpec(name: "rule.ssh_bruteforce", isTemplate: false,
                          doc: "per host: many auth failures (incl. invalid user) from one IP", keys: [
            enabled,
            ConfigKeySpec("threshold", counts, .integer(5), "failures from one IP within the window that fire"),
            window("10m", "sliding window; resolves after a quiet period of the same length"),
        ]),
        ConfigSectionSpec(name: "rule.ssh_distributed", isTemplate: false,
                          doc: "global: one IP failing or probing on many hosts", keys: [
            enabled,
            ConfigKeySpec("threshold", counts, .integer(3), "distinct hosts within the window that fire"),
            window("10m", "sliding window"),
        ]),
        ConfigSectionSpec(name: "rule.ssh_repeat_access", isTemplate: false,
                          doc: "per host: one IP opening many sessions", keys: [
            enabled,
            ConfigKeySpec("threshold", counts, .integer(3), "sessions (or summary lines) from one IP within the window that fire"),
            window("1h", "sliding window"),
        ]),
        ConfigSectionSpec(name: "rule.ssh_long_session", isTemplate: false,
                          doc: "per host: a session still open after a long time", keys: [
            enabled,
            ConfigKeySpec("threshold", .duration(.seconds(1)...TimeSpan.seconds(30 * 86_400)), .string("4h"),
                          "fires when an open session has lasted longer than this; resolves when it ends"),
        ]),
        ConfigSectionSpec(name: "rule.http_high_traffic", isTemplate: false,
                          doc: "per host and global: average request rate", keys: [
            enabled,
            ConfigKeySpec("threshold", .decimal(0...1e12), .integer(10), "average hits/s over the window above which it fires"),
            window("2m", "averaging window"),
            resolveAfter("15m"),
        ]),
        ConfigSectionSpec(name: "rule.http_error_burst", isTemplate: false,
                          doc: "per host: share of 5xx responses", keys: [
            enabled,
            ConfigKeySpec("threshold", .decimal(0...1), .decimal(0.5), "fraction of 5xx responses (0..1) that fires"),
            ConfigKeySpec("min_requests", counts, .integer(20), "requests needed in the window before the ratio counts"),
            window("1m", "sliding window"),
            resolveAfter("10m"),
        ]),
        ConfigSectionSpec(name: "rule.http_scan", isTemplate: false,
                          doc: "global: one IP collecting many 404s", keys: [
            enabled,
            ConfigKeySpec("threshold", counts, .integer(20), "404 responses to one IP within the window that fire"),
            window("1m", "sliding window"),
            resolveAfter("1m"),
        ]),
        ConfigSectionSpec(name: "sink", isTemplate: true,
                          doc: "[sink.NAME]: where alerts go; none configured = stdout only (DATA/alerts.jsonl is always written)", keys: [
            ConfigKeySpec("url", .sink, nil,
                          "stdout, file:PATH, syslog+udp://HOST:PORT, syslog+tcp://HOST:PORT, http://HOST:PORT/PATH or alertmanager://HOST:PORT",
                          secret: true),
            ConfigKeySpec("queue_capacity", .integer(1...10_000_000), .integer(10000),
                          "alerts buffered in memory before spilling to DATA/spool/"),
            ConfigKeySpec("max_backoff", .duration(.seconds(1)...TimeSpan.seconds(86_400)), .string("1m"),
                          "longest wait between delivery retries (backoff doubles up to this)"),
            ConfigKeySpec("max_spool_bytes", .size(4096...(1 << 40)), .string("64MiB"),
                          "most bytes of alerts waiting in DATA/spool/NAME/; past it new alerts are dropped and counted"),
        ]),
    ]

    /// The spec for a header name such as `server`, `rule.http_scan` or `sink.ops`.
    public static func section(named name: String) -> Result<ConfigSectionSpec, ConfigValueError> {
        if let fixed = sections.first(where: { !$0.isTemplate && $0.name == name }) { return .success(fixed) }
        let head = name.split(separator: ".", maxSplits: 1).first.map(String.init) ?? name
        if let template = sections.first(where: { $0.isTemplate && $0.name == head }) {
            if head == name { return .failure(ConfigValueError("[\(name)] needs a name: [\(name).NAME]")) }
            return .success(template)
        }
        let known = sections.map { $0.isTemplate ? $0.name + ".NAME" : $0.name }
        let candidates = sections.map(\.name)
        if sections.contains(where: { $0.name.hasPrefix(name + ".") }) {
            return .failure(ConfigValueError("[\(name)] needs a name, one of: "
                + sections.filter { $0.name.hasPrefix(name + ".") }.map { String($0.name.dropFirst(name.count + 1)) }.joined(separator: ", ")))
        }
        return .failure(ConfigValueError("unknown section [\(name)]" + suggestion(for: name, among: candidates)
            + (closestMatch(to: name, among: candidates) == nil ? "; known: " + known.joined(separator: ", ") : "")))
    }
}

/// A value after checking against its kind.
enum TypedValue: Hashable, Sendable {
    case string(String)
    case boolean(Bool)
    case integer(Int64)
    case decimal(Double)
    case duration(TimeSpan)
    case addresses([ListenAddress])
    case cidrs([CIDR])
    case strings([String])
    case offset(Int)
    case relay(SinkSpec?)
    case sink(SinkSpec)
}

/// Checks `value` against `kind` and decodes it.
func decode(_ value: ConfigValue, as kind: ConfigKind) -> Result<TypedValue, ConfigValueError> {
    func wrongType(_ expected: String) -> Result<TypedValue, ConfigValueError> {
        .failure(ConfigValueError("expected \(expected), found \(value.typeName) \(value)"))
    }
    /// A list value; a single string is taken as a list of one.
    func stringList() -> [String]? {
        switch value {
        case .string(let s): return [s]
        case .array(let items):
            var out: [String] = []
            for item in items {
                guard case .string(let s) = item else { return nil }
                out.append(s)
            }
            return out
        default: return nil
        }
    }
    switch kind {
    case .string:
        guard case .string(let s) = value else { return wrongType("a string in double quotes") }
        return .success(.string(s))
    case .boolean:
        guard case .boolean(let b) = value else { return wrongType("true or false") }
        return .success(.boolean(b))
    case .integer(let range):
        guard case .integer(let v) = value else { return wrongType("an integer") }
        guard range.contains(v) else {
            return .failure(ConfigValueError("\(v) is out of range \(range.lowerBound)...\(range.upperBound)"))
        }
        return .success(.integer(v))
    case .decimal(let range):
        let d: Double
        switch value {
        case .decimal(let v): d = v
        case .integer(let v): d = Double(v)
        default: return wrongType("a number")
        }
        guard range.contains(d) else {
            return .failure(ConfigValueError("\(value) is out of range \(range.lowerBound)...\(range.upperBound)"))
        }
        return .success(.decimal(d))
    case .duration(let range):
        guard case .string(let s) = value else { return wrongType("a duration string such as \"10s\"") }
        switch TimeSpan.parse(s) {
        case .failure(let e): return .failure(e)
        case .success(let span):
            guard span >= range.lowerBound else { return .failure(ConfigValueError("duration \"\(s)\" is below the minimum \(range.lowerBound)")) }
            guard span <= range.upperBound else { return .failure(ConfigValueError("duration \"\(s)\" is above the maximum \(range.upperBound)")) }
            return .success(.duration(span))
        }
    case .size(let range):
        let bytes: Int64
        switch value {
        case .integer(let v): bytes = v
        case .string(let s):
            switch parseByteSize(s) {
            case .failure(let e): return .failure(e)
            case .success(let v): bytes = v
            }
        default: return wrongType("a size in bytes or a string such as \"64KiB\"")
        }
        guard range.contains(bytes) else {
            return .failure(ConfigValueError("size \(value) is out of range \(range.lowerBound)...\(range.upperBound) bytes"))
        }
        return .success(.integer(bytes))
    case .listenAddresses:
        guard let texts = stringList() else { return wrongType("a list of \"ADDR:PORT\" strings") }
        if texts.contains("off") {
            guard texts.count == 1 else { return .failure(ConfigValueError("\"off\" cannot be combined with addresses")) }
            return .success(.addresses([]))
        }
        var out: [ListenAddress] = []
        for t in texts {
            switch ListenAddress.parse(t) {
            case .failure(let e): return .failure(e)
            case .success(let a):
                if out.contains(a) { return .failure(ConfigValueError("\(a) is listed twice")) }
                out.append(a)
            }
        }
        return .success(.addresses(out))
    case .cidrs:
        guard let texts = stringList() else { return wrongType("a list of CIDR strings such as [\"10.0.0.0/8\"]") }
        var out: [CIDR] = []
        for t in texts {
            switch CIDR.parse(t) {
            case .failure(let e): return .failure(e)
            case .success(let c): out.append(c)
            }
        }
        return .success(.cidrs(out))
    case .paths:
        guard let texts = stringList() else { return wrongType("a list of path strings") }
        if texts.contains("") { return .failure(ConfigValueError("empty path")) }
        return .success(.strings(texts))
    case .utcOffset:
        guard case .string(let s) = value else { return wrongType("a string such as \"UTC\" or \"+02:00\"") }
        return parseUTCOffset(s).map { .offset($0) }
    case .relay:
        guard case .string(let s) = value else { return wrongType("a string such as \"syslog+tcp://central:5514\"") }
        if s.isEmpty { return .success(.relay(nil)) }
        switch SinkSpec.parse(s) {
        case .failure(let e): return .failure(e)
        case .success(let spec):
            switch spec {
            case .syslogTCP: return .success(.relay(spec))
            default:
                // A central takes relay events only on its relay listener, which is TCP (docs/relay.md).
                return .failure(ConfigValueError("relay must be syslog+tcp://HOST:PORT (the central's relay listener), found \"\(s)\""))
            }
        }
    case .sink:
        guard case .string(let s) = value else { return wrongType("a sink URL string such as \"stdout\"") }
        return SinkSpec.parse(s).map { .sink($0) }
    }
}
