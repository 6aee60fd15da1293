/// Why a message marked `vigil-relay` was not taken as an event; the central counts these and
/// keeps the message like any other.
public enum RelayDecodeError: Error, Sendable, Equatable {
    /// Not RFC 5424 (the relay format is).
    case notRFC5424
    /// The MSGID names no event kind.
    case unknownKind
    /// No `[event@32473 ...]` element, or a malformed structured-data field.
    case noEventElement
    /// `v` is missing or not a version this build reads.
    case unsupportedVersion
    /// A required parameter is absent.
    case missing(StaticString)
    /// A parameter is present twice, or its value is out of range or unreadable.
    case invalid(StaticString)

    public static func == (a: RelayDecodeError, b: RelayDecodeError) -> Bool {
        switch (a, b) {
        case (.notRFC5424, .notRFC5424), (.unknownKind, .unknownKind), (.noEventElement, .noEventElement),
             (.unsupportedVersion, .unsupportedVersion):
            return true
        case (.missing(let x), .missing(let y)), (.invalid(let x), .invalid(let y)):
            return x.description == y.description
        default:
            return false
        }
    }
}

/// A relay message read back: the event and the host it happened on (a range into `RelayDecoder.text`).
public struct RelayDecoded: Sendable, Equatable {
    /// The name of the host the event happened on.
    public var host: Range<Int>
    /// The event; its textual ranges point into `RelayDecoder.text`.
    public var event: RelayEvent
}

/// Reads the relay messages `RelayMessage` writes, checking every field: a relay message is input
/// from the network like any other, so nothing in it is taken on trust. Numbers must be in range,
/// addresses and times must parse, a parameter may not appear twice, text fields are bounded.
/// Unknown parameters are ignored (a newer edge may add some).
///
/// Unescaped text fields (host, user, section) go into `text`, a buffer reused from message to
/// message, so decoding allocates nothing once it has grown.
public struct RelayDecoder {
    /// Longest accepted host name, in bytes.
    public static let maxHostBytes = 255
    /// Longest accepted user name or section, in bytes.
    public static let maxTextBytes = 1024
    /// Largest accepted repeat count of an sshd event.
    public static let maxCount: Int64 = 1_000_000

    /// The unescaped text fields of the last decoded message.
    public private(set) var text: [UInt8] = []

    /// An empty decoder.
    public init() { text.reserveCapacity(512) }

    /// Whether the parsed message claims to be a relay message (APP-NAME `vigil-relay`).
    public static func isRelay(_ frame: UnsafeRawBufferPointer, _ fields: SyslogFields) -> Bool {
        let app = fields.appName.clamped(to: 0..<frame.count)
        return equal(frame, app, RelayMessage.appName)
    }

    /// The parameters this decoder knows; the raw value of each goes in `raw[field.rawValue]`.
    private enum Field: Int, CaseIterable {
        case v, host, time, ip, port, pid, user, count, status, bytes, section, start

        var name: StaticString {
            switch self {
            case .v: return "v"
            case .host: return "host"
            case .time: return "time"
            case .ip: return "ip"
            case .port: return "port"
            case .pid: return "pid"
            case .user: return "user"
            case .count: return "count"
            case .status: return "status"
            case .bytes: return "bytes"
            case .section: return "section"
            case .start: return "start"
            }
        }
    }

    /// The raw (escaped) value range of each known parameter of the message being decoded.
    private var raw = [Range<Int>?](repeating: nil, count: Field.allCases.count)

    private enum Kind {
        case ssh(SSHEvent.Kind), http, sessionSummary
    }

    /// Decodes a relay message already parsed into `fields`.
    public mutating func decode(_ frame: UnsafeRawBufferPointer, _ fields: SyslogFields) -> Result<RelayDecoded, RelayDecodeError> {
        text.removeAll(keepingCapacity: true)
        guard fields.format == .rfc5424 else { return .failure(.notRFC5424) }
        guard let kind = Self.kind(frame, fields.msgID.clamped(to: 0..<frame.count)) else { return .failure(.unknownKind) }
        var reader = StructuredDataReader(frame, range: fields.structuredData)
        var element: StructuredDataElement?
        while let e = reader.next() {
            if Self.equal(frame, e.id, RelayMessage.structuredDataID) { element = e; break }
        }
        guard let element else { return .failure(.noEventElement) }
        for i in raw.indices { raw[i] = nil }
        var params = reader.parameters(of: element)
        while let param = params.next() {
            guard let field = Self.field(frame, param.name) else { continue }
            if raw[field.rawValue] != nil { return .failure(.invalid(field.name)) }
            raw[field.rawValue] = param.rawValue
        }
        let p = (v: raw[Field.v.rawValue], host: raw[Field.host.rawValue], time: raw[Field.time.rawValue],
                 ip: raw[Field.ip.rawValue], port: raw[Field.port.rawValue], pid: raw[Field.pid.rawValue],
                 user: raw[Field.user.rawValue], count: raw[Field.count.rawValue], status: raw[Field.status.rawValue],
                 bytes: raw[Field.bytes.rawValue], section: raw[Field.section.rawValue], start: raw[Field.start.rawValue])
        guard let v = p.v, Self.equal(frame, v, RelayMessage.version) else { return .failure(.unsupportedVersion) }
        guard let hostRaw = p.host else { return .failure(.missing("host")) }
        guard let host = unescape(frame, hostRaw, max: Self.maxHostBytes), !host.isEmpty else { return .failure(.invalid("host")) }
        guard let timeRaw = p.time else { return .failure(.missing("time")) }
        guard let time = SyslogTimestamps.rfc3339(frame, timeRaw.lowerBound, timeRaw.upperBound, defaultOffset: 0) else {
            return .failure(.invalid("time"))
        }
        var ip: IPAddress?
        if let r = p.ip {
            guard let parsed = IPAddress.parse(UnsafeRawBufferPointer(rebasing: frame[r])) else { return .failure(.invalid("ip")) }
            ip = parsed
        }

        switch kind {
        case .ssh(let sshKind):
            guard let port = Self.number(frame, p.port, default: 0, max: Int64(UInt16.max)) else { return .failure(.invalid("port")) }
            guard let pid = Self.number(frame, p.pid, default: 0, max: Int64(Int32.max)) else { return .failure(.invalid("pid")) }
            guard let count = Self.number(frame, p.count, default: 1, max: Self.maxCount), count >= 1 else {
                return .failure(.invalid("count"))
            }
            var user = 0..<0
            if let r = p.user {
                guard let u = unescape(frame, r, max: Self.maxTextBytes) else { return .failure(.invalid("user")) }
                user = u
            }
            let event = SSHEvent(kind: sshKind, ip: ip, port: UInt16(port), pid: Int32(pid), user: user, count: Int(count))
            return .success(RelayDecoded(host: host, event: .ssh(event, time: time)))
        case .http:
            guard p.status != nil else { return .failure(.missing("status")) }
            guard let status = Self.number(frame, p.status, default: 0, max: 999) else { return .failure(.invalid("status")) }
            guard let bytes = Self.number(frame, p.bytes, default: 0, max: Int64(1) << 53) else { return .failure(.invalid("bytes")) }
            var section = 0..<0
            if let r = p.section {
                guard let s = unescape(frame, r, max: Self.maxTextBytes) else { return .failure(.invalid("section")) }
                section = s
            }
            let request = HTTPRequest(clientIP: ip, time: time, section: section, status: UInt16(status), bytes: bytes)
            return .success(RelayDecoded(host: host, event: .http(request, time: time)))
        case .sessionSummary:
            guard let ip else { return .failure(.missing("ip")) }
            guard let startRaw = p.start else { return .failure(.missing("start")) }
            guard let start = SyslogTimestamps.rfc3339(frame, startRaw.lowerBound, startRaw.upperBound, defaultOffset: 0),
                  start.microseconds <= time.microseconds else { return .failure(.invalid("start")) }
            return .success(RelayDecoded(host: host, event: .sessionSummary(SessionSummary(ip: ip, start: start, end: time))))
        }
    }

    /// The known parameter named at `name`, or nil.
    private static func field(_ frame: UnsafeRawBufferPointer, _ name: Range<Int>) -> Field? {
        var i = 0
        while let field = Field(rawValue: i) {
            if equal(frame, name, field.name) { return field }
            i += 1
        }
        return nil
    }

    /// The event kind a MSGID names.
    private static func kind(_ frame: UnsafeRawBufferPointer, _ msgID: Range<Int>) -> Kind? {
        if equal(frame, msgID, "http") { return .http }
        if equal(frame, msgID, "session_summary") { return .sessionSummary }
        for k in SSHEvent.Kind.allCases where equal(frame, msgID, RelayMessage.kindName(k)) { return .ssh(k) }
        return nil
    }

    /// Appends the unescaped value at `raw` to `text`; its range there, or nil when longer than `max`.
    private mutating func unescape(_ frame: UnsafeRawBufferPointer, _ raw: Range<Int>, max: Int) -> Range<Int>? {
        let start = text.count
        var i = raw.lowerBound
        while i < raw.upperBound {
            var c = frame[i]
            if c == 0x5C, i + 1 < raw.upperBound {
                let e = frame[i + 1]
                if e == 0x22 || e == 0x5C || e == 0x5D { c = e; i += 1 }
            }
            text.append(c)
            i += 1
        }
        guard text.count - start <= max else {
            text.removeSubrange(start...)
            return nil
        }
        return start..<text.count
    }

    /// A decimal number of at most 18 digits in `0...max`, `defaultValue` when absent, nil when invalid.
    private static func number(_ frame: UnsafeRawBufferPointer, _ raw: Range<Int>?, default defaultValue: Int64, max: Int64) -> Int64? {
        guard let raw else { return defaultValue }
        guard !raw.isEmpty, raw.count <= 18 else { return nil }
        var value: Int64 = 0
        for i in raw {
            let c = frame[i]
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(c - UInt8(ascii: "0"))
        }
        return value <= max ? value : nil
    }

    private static func equal(_ frame: UnsafeRawBufferPointer, _ range: Range<Int>, _ name: StaticString) -> Bool {
        guard range.count == name.utf8CodeUnitCount else { return false }
        let bytes = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        var j = 0
        for i in range {
            if frame[i] != bytes[j] { return false }
            j += 1
        }
        return true
    }

    private static func equal(_ frame: UnsafeRawBufferPointer, _ range: Range<Int>, _ name: String) -> Bool {
        guard range.count == name.utf8.count else { return false }
        var j = range.lowerBound
        for b in name.utf8 {
            if frame[j] != b { return false }
            j += 1
        }
        return true
    }
}
