/// An alert as the detection engine raises it: its hosts are still `HostID`s, so the engine
/// needs no host names (and need not run on the thread that owns the host table). Whoever
/// dispatches it names it with `named(by:)`, which gives the `Alert` that sinks, the API and
/// the report write; the JSON is the same as if the engine had named the hosts itself.
public struct DetectedAlert: Sendable, Equatable {
    /// Unique per incident; the firing and the resolved alert of one incident share it.
    public var id: String
    /// The rule that raised it.
    public var rule: RuleID
    /// Firing or resolved.
    public var state: Alert.State
    /// From the rule's settings.
    public var severity: Severity
    /// Host or global.
    public var scope: Alert.Scope
    /// The host for host-scoped alerts; nil for global ones.
    public var host: HostID?
    /// The offending source address; nil for rules not about an address.
    public var ip: IPAddress?
    /// Events that make up the incident so far.
    public var count: Int
    /// The rule's window in seconds.
    public var windowSeconds: Int64
    /// Hosts involved (sorted by name once named).
    public var hosts: [HostID]
    /// Event time of the first event of the incident.
    public var firstTs: Timestamp
    /// Event time at which the alert fired or resolved.
    public var ts: Timestamp
    /// One human sentence, its hosts still to be named.
    public var summary: AlertSummary

    /// An alert with every field given.
    public init(id: String, rule: RuleID, state: Alert.State, severity: Severity, scope: Alert.Scope, host: HostID?,
                ip: IPAddress?, count: Int, windowSeconds: Int64, hosts: [HostID], firstTs: Timestamp, ts: Timestamp,
                summary: AlertSummary) {
        self.id = id; self.rule = rule; self.state = state; self.severity = severity; self.scope = scope
        self.host = host; self.ip = ip; self.count = count; self.windowSeconds = windowSeconds
        self.hosts = hosts; self.firstTs = firstTs; self.ts = ts; self.summary = summary
    }

    /// The alert with each host written as `name` calls it: `hosts` sorted by name, the summary's
    /// hosts filled in.
    public func named(by name: (HostID) -> String) -> Alert {
        Alert(id: id, rule: rule, state: state, severity: severity, scope: scope, host: host.map(name), ip: ip,
              count: count, windowSeconds: windowSeconds, hosts: hosts.map(name).sorted(), firstTs: firstTs, ts: ts,
              summary: summary.text(naming: name))
    }
}

/// An alert's summary sentence with its hosts left as `HostID`s, written as a string literal
/// whose `\(host:)` and `\(hosts:)` interpolations name them later (`text(naming:)`); every other
/// interpolation is written out at once, as in a `String`.
public struct AlertSummary: Sendable, Equatable, ExpressibleByStringInterpolation {
    /// A run of text, one host, or a list of hosts (written sorted by name, comma-separated).
    enum Part: Sendable, Equatable {
        case text(String)
        case host(HostID)
        case hosts([HostID])
    }

    var parts: [Part]

    /// A summary without hosts.
    public init(stringLiteral value: String) { parts = [.text(value)] }

    /// A summary built by interpolation.
    public init(stringInterpolation: Interpolation) {
        parts = stringInterpolation.parts
        if !stringInterpolation.text.isEmpty { parts.append(.text(stringInterpolation.text)) }
    }

    /// The sentence with each host written as `name` calls it.
    public func text(naming name: (HostID) -> String) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .text(let s): out += s
            case .host(let h): out += name(h)
            case .hosts(let hs): out += hs.map(name).sorted().joined(separator: ", ")
            }
        }
        return out
    }

    /// Collects the literal text and the interpolations of an `AlertSummary` literal.
    public struct Interpolation: StringInterpolationProtocol {
        var parts: [Part] = []
        /// Text not yet closed into a part.
        var text = ""

        public init(literalCapacity: Int, interpolationCount: Int) {
            text.reserveCapacity(literalCapacity + 8 * interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) { text += literal }

        /// A value written out now, as `String` interpolation writes it.
        public mutating func appendInterpolation<T: CustomStringConvertible>(_ value: T) { text += value.description }

        /// A host, named later.
        public mutating func appendInterpolation(host: HostID) { close(); parts.append(.host(host)) }

        /// Hosts, named later and written sorted by name, separated by ", ".
        public mutating func appendInterpolation(hosts: [HostID]) { close(); parts.append(.hosts(hosts)) }

        private mutating func close() {
            if !text.isEmpty { parts.append(.text(text)); text = "" }
        }
    }
}
