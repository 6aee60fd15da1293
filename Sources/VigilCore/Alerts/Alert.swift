/// One alert as the README's "Alerts" section defines it: the same object for every sink, the API and `alerts.jsonl`.
///
/// A firing alert and the resolved alert that ends it share the same `id`.
public struct Alert: Sendable, Equatable {
    /// Whether the condition holds (`firing`) or has stopped holding (`resolved`).
    public enum State: String, Sendable, Hashable {
        case firing, resolved
    }

    /// Whether the alert is about one host or about all hosts together.
    public enum Scope: String, Sendable, Hashable {
        case host, global
    }

    /// Unique per incident; the firing and the resolved alert of one incident share it.
    public var id: String
    /// The rule that raised it.
    public var rule: RuleID
    /// Firing or resolved.
    public var state: State
    /// From the rule's settings.
    public var severity: Severity
    /// Host or global.
    public var scope: Scope
    /// The host for host-scoped alerts; nil (JSON `null`) for global ones.
    public var host: String?
    /// The offending source address; nil (JSON `null`) for rules not about an address.
    public var ip: IPAddress?
    /// Events that make up the incident so far.
    public var count: Int
    /// The rule's window in seconds.
    public var windowSeconds: Int64
    /// Hosts involved, sorted.
    public var hosts: [String]
    /// Event time of the first event of the incident.
    public var firstTs: Timestamp
    /// Event time at which the alert fired or resolved.
    public var ts: Timestamp
    /// One human sentence.
    public var summary: String

    /// An alert with every field given.
    public init(id: String, rule: RuleID, state: State, severity: Severity, scope: Scope, host: String?, ip: IPAddress?,
                count: Int, windowSeconds: Int64, hosts: [String], firstTs: Timestamp, ts: Timestamp, summary: String) {
        self.id = id; self.rule = rule; self.state = state; self.severity = severity; self.scope = scope
        self.host = host; self.ip = ip; self.count = count; self.windowSeconds = windowSeconds
        self.hosts = hosts; self.firstTs = firstTs; self.ts = ts; self.summary = summary
    }

    /// The JSON object on one line, keys in the documented order (README, "Alerts"), without a trailing newline.
    public func jsonLine() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(320)
        appendJSON(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the JSON object (no newline) to a byte buffer.
    public func appendJSON(to out: inout [UInt8]) {
        out.append(contentsOf: #"{"id":"#.utf8)
        JSON.appendString(id, to: &out)
        out.append(contentsOf: #","rule":"#.utf8)
        JSON.appendString(rule.name, to: &out)
        out.append(contentsOf: #","state":"#.utf8)
        JSON.appendString(state.rawValue, to: &out)
        out.append(contentsOf: #","severity":"#.utf8)
        JSON.appendString(severity.rawValue, to: &out)
        out.append(contentsOf: #","scope":"#.utf8)
        JSON.appendString(scope.rawValue, to: &out)
        out.append(contentsOf: #","host":"#.utf8)
        if let host { JSON.appendString(host, to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: #","ip":"#.utf8)
        if let ip {
            out.append(UInt8(ascii: "\""))
            ip.append(to: &out)
            out.append(UInt8(ascii: "\""))
        } else {
            out.append(contentsOf: "null".utf8)
        }
        out.append(contentsOf: #","count":"#.utf8)
        appendDigits(count, width: 1, to: &out)
        out.append(contentsOf: #","window_s":"#.utf8)
        appendDigits(Int(windowSeconds), width: 1, to: &out)
        out.append(contentsOf: #","hosts":["#.utf8)
        for (i, h) in hosts.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSON.appendString(h, to: &out)
        }
        out.append(contentsOf: #"],"first_ts":""#.utf8)
        firstTs.appendRFC3339(to: &out)
        out.append(contentsOf: #"","ts":""#.utf8)
        ts.appendRFC3339(to: &out)
        out.append(contentsOf: #"","summary":"#.utf8)
        JSON.appendString(summary, to: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// The readable one-line form for the stdout sink, e.g.
    /// `2026-11-22T10:00:09Z FIRING warning ssh_bruteforce web1 203.0.113.7: 6 failed ssh logins … [id]`,
    /// escaped for a terminal by `TerminalText.escaped` (never a line feed or control character).
    public func stdoutLine() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(200)
        ts.appendRFC3339(to: &out)
        out.append(contentsOf: (state == .firing ? " FIRING " : " RESOLVED ").utf8)
        out.append(contentsOf: severity.rawValue.utf8)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: rule.name.utf8)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: (host ?? "*").utf8)
        if let ip {
            out.append(UInt8(ascii: " "))
            ip.append(to: &out)
        }
        out.append(contentsOf: ": ".utf8)
        out.append(contentsOf: summary.utf8)
        out.append(contentsOf: " [".utf8)
        out.append(contentsOf: id.utf8)
        out.append(UInt8(ascii: "]"))
        // Host, summary and id come from senders: no control character may split the line
        // (a newline in a host name) or reach the terminal (TerminalText's notation).
        return out.withUnsafeBytes { TerminalText.escaped(bytes: $0) }
    }
}

extension Alert {
    /// A duration in seconds written compactly, as in summaries: `10m`, `1h`, `1h30m`, `45s`, `0s`.
    public static func durationText(_ seconds: Int64) -> String {
        if seconds <= 0 { return "0s" }
        let h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60
        var out = ""
        if h > 0 { out += "\(h)h" }
        if m > 0 { out += "\(m)m" }
        if s > 0 { out += "\(s)s" }
        return out
    }

    /// A non-negative number with exactly two decimals, rounded half up: `10.01`, `0.00`.
    public static func twoDecimals(_ value: Double) -> String {
        let cents = Int(max(0, value) * 100 + 0.5)  // truncation of a non-negative value: rounds half up
        let frac = cents % 100
        return "\(cents / 100)." + (frac < 10 ? "0\(frac)" : "\(frac)")
    }
}

/// Hand-written JSON output helpers (no Foundation).
public enum JSON {
    /// Appends `s` as a quoted JSON string.
    public static func appendString(_ s: String, to out: inout [UInt8]) {
        var copy = s
        copy.withUTF8 { appendString(bytes: UnsafeRawBufferPointer($0), to: &out) }
    }

    /// Appends raw bytes as a quoted JSON string: quotes, backslashes and control characters
    /// escaped — C0 and DEL, and also the C1 controls (`\u0080`…`\u009f`) and the bidirectional
    /// controls (`\u202e`) that `TerminalText` escapes, so that the JSON is safe on a terminal —
    /// and every invalid UTF-8 sequence replaced by U+FFFD.
    public static func appendString(bytes b: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var i = 0
        let n = b.count
        while i < n {
            let c = b[i]
            if c < 0x80 {
                switch c {
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(c)
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(c)
                case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
                case 0..<0x20, 0x7F: appendUnicodeEscape(UInt32(c), to: &out)
                default: out.append(c)
                }
                i += 1
                continue
            }
            let len = UTF8Sequence.length(b, at: i)
            if len == 0 {
                out.append(contentsOf: [0xEF, 0xBF, 0xBD])
                i += 1
            } else if let control = UTF8Sequence.displayControl(b, at: i, length: len) {
                appendUnicodeEscape(control, to: &out)
                i += len
            } else {
                for k in i..<(i + len) { out.append(b[k]) }
                i += len
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Appends `\uHHHH` for a code point below U+10000.
    private static func appendUnicodeEscape(_ scalar: UInt32, to out: inout [UInt8]) {
        out.append(contentsOf: "\\u".utf8)
        UTF8Sequence.appendHex(scalar, digits: 4, to: &out)
    }
}
