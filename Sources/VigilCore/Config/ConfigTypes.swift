/// A configured length of time (a window, an interval, a timeout), in microseconds
/// so it adds directly to a `Timestamp`.
public struct TimeSpan: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var microseconds: Int64

    /// A span of `microseconds`.
    public init(microseconds: Int64) { self.microseconds = microseconds }

    /// A span of whole seconds.
    public static func seconds(_ s: Int64) -> TimeSpan { TimeSpan(microseconds: s * 1_000_000) }

    /// Whole seconds, rounded down.
    public var seconds: Int64 { microseconds / 1_000_000 }

    /// Shorter spans order first.
    public static func < (a: TimeSpan, b: TimeSpan) -> Bool { a.microseconds < b.microseconds }

    static let units: [(name: String, microseconds: Int64)] = [
        ("d", 86_400_000_000), ("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000), ("ms", 1_000),
    ]

    /// Parses `"500ms"`, `"10s"`, `"2m"`, `"1h"`, `"7d"`, or a sum such as `"1h30m"`.
    public static func parse(_ text: String) -> Result<TimeSpan, ConfigValueError> {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return .failure(ConfigValueError("empty duration; use e.g. \"10s\"")) }
        var total: Int64 = 0
        var k = 0
        while k < bytes.count {
            var number: Int64 = 0
            var digits = 0
            while k < bytes.count, bytes[k] >= UInt8(ascii: "0"), bytes[k] <= UInt8(ascii: "9") {
                let (times, o1) = number.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times.addingReportingOverflow(Int64(bytes[k] - UInt8(ascii: "0")))
                if o1 || o2 { return .failure(ConfigValueError("duration \"\(text)\" is too large")) }
                number = sum
                digits += 1
                k += 1
            }
            guard digits > 0 else {
                return .failure(ConfigValueError("bad duration \"\(text)\": expected a number then a unit (ms, s, m, h, d), e.g. \"10s\""))
            }
            let unitStart = k
            while k < bytes.count, !(bytes[k] >= UInt8(ascii: "0") && bytes[k] <= UInt8(ascii: "9")) { k += 1 }
            let unit = String(decoding: bytes[unitStart..<k], as: UTF8.self)
            guard !unit.isEmpty else {
                return .failure(ConfigValueError("bad duration \"\(text)\": missing unit (ms, s, m, h or d), e.g. \"\(text)s\""))
            }
            guard let scale = units.first(where: { $0.name == unit })?.microseconds else {
                return .failure(ConfigValueError("bad duration \"\(text)\": unknown unit `\(unit)` (use ms, s, m, h or d)"))
            }
            let (part, o1) = number.multipliedReportingOverflow(by: scale)
            let (sum, o2) = total.addingReportingOverflow(part)
            if o1 || o2 { return .failure(ConfigValueError("duration \"\(text)\" is too large")) }
            total = sum
        }
        return .success(TimeSpan(microseconds: total))
    }

    /// The shortest exact form in config syntax: `10m`, `90s`, `1500ms`, `0s`.
    public var description: String {
        if microseconds == 0 { return "0s" }
        for unit in Self.units where microseconds % unit.microseconds == 0 {
            return "\(microseconds / unit.microseconds)\(unit.name)"
        }
        return "\(microseconds)us"
    }
}

/// Parses a byte count: a plain integer, or a number with a unit
/// (`B`, `KiB`, `MiB`, `GiB`, `TiB`, or decimal `KB`, `MB`, `GB`, `TB`).
func parseByteSize(_ text: String) -> Result<Int64, ConfigValueError> {
    var digits = Substring(text)
    var unit = Substring("")
    if let firstNonDigit = text.firstIndex(where: { !($0.isASCII && $0.isNumber) && $0 != "_" }) {
        digits = text[..<firstNonDigit]
        unit = text[firstNonDigit...].drop(while: { $0 == " " })
    }
    let scales: [Substring: Int64] = [
        "": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
        "KB": 1_000, "MB": 1_000_000, "GB": 1_000_000_000, "TB": 1_000_000_000_000,
    ]
    guard let number = parseInteger(String(digits)), number >= 0 else {
        return .failure(ConfigValueError("bad size \"\(text)\": expected bytes or a number with a unit, e.g. \"64KiB\""))
    }
    guard let scale = scales[unit] else {
        return .failure(ConfigValueError("bad size \"\(text)\": unknown unit `\(unit)` (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)"))
    }
    let (bytes, overflow) = number.multipliedReportingOverflow(by: scale)
    if overflow { return .failure(ConfigValueError("size \"\(text)\" is too large")) }
    return .success(bytes)
}

/// Parses a fixed UTC offset: `UTC`, `Z`, `+02:00`, `-0530`. Returns seconds east of UTC.
func parseUTCOffset(_ text: String) -> Result<Int, ConfigValueError> {
    if text == "UTC" || text == "Z" { return .success(0) }
    let b = Array(text.utf8)
    let bad = ConfigValueError("bad timezone \"\(text)\": expected \"UTC\" or an offset such as \"+02:00\" or \"-05:30\"")
    guard b.count == 6 || b.count == 5, b[0] == UInt8(ascii: "+") || b[0] == UInt8(ascii: "-") else { return .failure(bad) }
    var digits: [Int] = []
    for (k, c) in b.enumerated().dropFirst() {
        if b.count == 6 && k == 3 {
            if c != UInt8(ascii: ":") { return .failure(bad) }
            continue
        }
        guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return .failure(bad) }
        digits.append(Int(c - UInt8(ascii: "0")))
    }
    let hours = digits[0] * 10 + digits[1], minutes = digits[2] * 10 + digits[3]
    guard hours <= 23, minutes <= 59 else { return .failure(bad) }
    let seconds = hours * 3600 + minutes * 60
    return .success(b[0] == UInt8(ascii: "-") ? -seconds : seconds)
}

/// Splits `HOST:PORT` or `[V6]:PORT`; `defaultPort` applies when the port is omitted.
/// Returns the host without brackets.
func splitHostPort(_ text: String, defaultPort: UInt16?) -> Result<(host: String, port: UInt16, bracketed: Bool), ConfigValueError> {
    var host: Substring
    var portText: Substring?
    var bracketed = false
    if text.hasPrefix("[") {
        guard let close = text.firstIndex(of: "]") else {
            return .failure(ConfigValueError("bad address \"\(text)\": missing `]`"))
        }
        host = text[text.index(after: text.startIndex)..<close]
        bracketed = true
        let rest = text[text.index(after: close)...]
        if !rest.isEmpty {
            guard rest.first == ":" else { return .failure(ConfigValueError("bad address \"\(text)\": expected `:PORT` after `]`")) }
            portText = rest.dropFirst()
        }
    } else if let colon = text.lastIndex(of: ":") {
        host = text[..<colon]
        if host.contains(":") {
            return .failure(ConfigValueError("bad address \"\(text)\": write IPv6 addresses in brackets, e.g. [::1]:5514"))
        }
        portText = text[text.index(after: colon)...]
    } else {
        host = Substring(text)
    }
    guard !host.isEmpty else { return .failure(ConfigValueError("bad address \"\(text)\": missing host")) }
    guard let portText else {
        guard let defaultPort else { return .failure(ConfigValueError("bad address \"\(text)\": missing `:PORT`")) }
        return .success((String(host), defaultPort, bracketed))
    }
    guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
          let port = Int(portText), port <= 65535 else {
        return .failure(ConfigValueError("bad port in \"\(text)\": expected 0...65535"))
    }
    return .success((String(host), UInt16(port), bracketed))
}

/// Where a listener binds: an IP literal and a port (0 = any free port).
public struct ListenAddress: Hashable, Sendable, CustomStringConvertible {
    public var ip: IPAddress
    public var port: UInt16

    /// An address to bind.
    public init(ip: IPAddress, port: UInt16) { self.ip = ip; self.port = port }

    /// Parses `0.0.0.0:5514` or `[::1]:5514`. Host names are not accepted.
    public static func parse(_ text: String) -> Result<ListenAddress, ConfigValueError> {
        switch splitHostPort(text, defaultPort: nil) {
        case .failure(let e): return .failure(e)
        case .success(let (host, port, bracketed)):
            guard let ip = IPAddress.parse(host) else {
                return .failure(ConfigValueError("bad listen address \"\(text)\": `\(host)` is not an IP address"))
            }
            if bracketed == ip.isIPv4 {
                return .failure(ConfigValueError(bracketed
                    ? "bad listen address \"\(text)\": brackets are only for IPv6"
                    : "bad listen address \"\(text)\": write IPv6 addresses in brackets, e.g. [::1]:5514"))
            }
            return .success(ListenAddress(ip: ip, port: port))
        }
    }

    /// Whether only this machine can reach it (127.0.0.0/8 or ::1).
    public var isLoopback: Bool {
        ip.isIPv4 ? ip.byte(12) == 127 : (ip.high == 0 && ip.low == 1)
    }

    /// The address as a socket address.
    public var socketAddress: SocketAddress { SocketAddress(ip: ip, port: port) }

    /// `0.0.0.0:5514` or `[::1]:5514`.
    public var description: String { socketAddress.description }
}

/// Where alerts (or relayed events) go, parsed from a sink URL (docs/sinks.md).
public enum SinkSpec: Hashable, Sendable, CustomStringConvertible {
    /// One readable line per alert on standard output.
    case stdout
    /// JSON lines appended to a file.
    case file(path: String)
    /// RFC 5424 over UDP.
    case syslogUDP(host: String, port: UInt16)
    /// RFC 5424 over TCP, octet-counted.
    case syslogTCP(host: String, port: UInt16)
    /// HTTP POST of the alert JSON.
    case http(host: String, port: UInt16, path: String)
    /// Prometheus Alertmanager's `/api/v2/alerts`.
    case alertmanager(host: String, port: UInt16)

    /// Parses `stdout`, `file:PATH`, `syslog+udp://HOST:PORT`, `syslog+tcp://HOST:PORT`,
    /// `http://HOST[:PORT]/PATH`, `alertmanager://HOST[:PORT]`. Ports default to
    /// 514 (syslog), 80 (http) and 9093 (alertmanager).
    public static func parse(_ text: String) -> Result<SinkSpec, ConfigValueError> {
        if text == "stdout" { return .success(.stdout) }
        if text.hasPrefix("file:") {
            let path = String(text.dropFirst(5))
            return path.isEmpty ? .failure(ConfigValueError("bad sink \"\(text)\": file: needs a path")) : .success(.file(path: path))
        }
        guard let schemeEnd = text.firstRange(of: "://") else {
            return .failure(ConfigValueError(
                "bad sink \"\(text)\": expected stdout, file:PATH, syslog+udp://, syslog+tcp://, http:// or alertmanager://"))
        }
        let scheme = String(text[..<schemeEnd.lowerBound])
        var rest = text[schemeEnd.upperBound...]
        var path = "/"
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
        }
        let defaultPort: UInt16
        switch scheme {
        case "syslog+udp", "syslog+tcp": defaultPort = 514
        case "http": defaultPort = 80
        case "alertmanager": defaultPort = 9093
        default:
            return .failure(ConfigValueError("bad sink \"\(text)\": unknown scheme `\(scheme)`"
                + suggestion(for: scheme, among: ["syslog+udp", "syslog+tcp", "http", "alertmanager"])))
        }
        if scheme != "http" && path != "/" {
            return .failure(ConfigValueError("bad sink \"\(text)\": \(scheme) takes no path"))
        }
        switch splitHostPort(String(rest), defaultPort: defaultPort) {
        case .failure(let e): return .failure(ConfigValueError("bad sink \"\(text)\": " + e.message))
        case .success(let (host, port, _)):
            switch scheme {
            case "syslog+udp": return .success(.syslogUDP(host: host, port: port))
            case "syslog+tcp": return .success(.syslogTCP(host: host, port: port))
            case "http": return .success(.http(host: host, port: port, path: path))
            default: return .success(.alertmanager(host: host, port: port))
            }
        }
    }

    /// The URL form, as accepted by `parse`.
    public var description: String {
        func hostPort(_ host: String, _ port: UInt16) -> String {
            host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
        switch self {
        case .stdout: return "stdout"
        case .file(let path): return "file:" + path
        case .syslogUDP(let h, let p): return "syslog+udp://" + hostPort(h, p)
        case .syslogTCP(let h, let p): return "syslog+tcp://" + hostPort(h, p)
        case .http(let h, let p, let path): return "http://" + hostPort(h, p) + path
        case .alertmanager(let h, let p): return "alertmanager://" + hostPort(h, p)
        }
    }
}
