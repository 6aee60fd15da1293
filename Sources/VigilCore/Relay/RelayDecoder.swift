/// Why a message on the relay listener was not taken as an event; the central counts these by
/// kind and drops the message.
public enum RelayDecodeError: Error, Sendable, Equatable {
    /// Not RFC 5424 (the relay format is).
    case notRFC5424
    /// Not marked `vigil-relay`: an ordinary log line, which has no place on the relay listener.
    case notRelay
    /// No `mac` as the element's last parameter.
    case unsigned
    /// The `mac` does not match the element under the relay key: forged, altered, or another key.
    case badMAC
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

    /// A short name for counters and logs: `bad_mac`, `invalid_host`, …
    public var name: String {
        switch self {
        case .notRFC5424: return "not_rfc5424"
        case .notRelay: return "not_relay"
        case .unsigned: return "unsigned"
        case .badMAC: return "bad_mac"
        case .unknownKind: return "unknown_kind"
        case .noEventElement: return "no_event_element"
        case .unsupportedVersion: return "unsupported_version"
        case .missing(let p): return "missing_\(p)"
        case .invalid(let p): return "invalid_\(p)"
        }
    }

    public static func == (a: RelayDecodeError, b: RelayDecodeError) -> Bool {
        switch (a, b) {
        case (.notRFC5424, .notRFC5424), (.notRelay, .notRelay), (.unsigned, .unsigned), (.badMAC, .badMAC),
             (.unknownKind, .unknownKind), (.noEventElement, .noEventElement), (.unsupportedVersion, .unsupportedVersion):
            return true
        case (.missing(let x), .missing(let y)), (.invalid(let x), .invalid(let y)):
            return x.description == y.description
        default:
            return false
        }
    }
}

/// A relay message read back: the event, the host it happened on, and which message of which
/// edge it is (ranges into `RelayDecoder.text`).
public struct RelayDecoded: Sendable, Equatable {
    /// The name of the host the event happened on.
    public var host: Range<Int>
    /// The event; its textual ranges point into `RelayDecoder.text`.
    public var event: RelayEvent
    /// The name of the edge that sealed it.
    public var edge: Range<Int>
    /// The edge's run and the message's number in it (`RelayReplayGuard`).
    public var boot: UInt64
    public var sequence: UInt64
}

/// Reads the relay messages `RelayMessage` writes, checking every field: a relay message is input
/// from the network like any other, so nothing in it is taken on trust. The MAC is checked first,
/// over the exact bytes the edge sealed, before any field is read; then numbers must be in range,
/// addresses and times must parse, a parameter may not appear twice, text fields are bounded.
/// Unknown parameters are ignored (a newer edge may add some). Whether a message was seen before
/// is the caller's to ask (`RelayReplayGuard`).
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

    /// The key messages must be sealed with.
    private let key: RelayKey

    /// The unescaped text fields of the last decoded message.
    public private(set) var text: [UInt8] = []

    /// A decoder that accepts only messages sealed with `key`.
    public init(key: RelayKey) {
        self.key = key
        text.reserveCapacity(512)
    }

    /// Whether the parsed message claims to be a relay message (APP-NAME `vigil-relay`).
    public static func isRelay(_ frame: UnsafeRawBufferPointer, _ fields: SyslogFields) -> Bool {
        let app = fields.appName.clamped(to: 0..<frame.count)
        return equal(frame, app, RelayMessage.appName)
    }

    /// The parameters this decoder knows; the raw value of each goes in `raw[field.rawValue]`.
    private enum Field: Int, CaseIterable {
        case v, kind, host, time, ip, port, pid, user, count, status, bytes, section, start, edge, boot, seq, mac

        var name: StaticString {
            switch self {
            case .v: return "v"
            case .kind: return "kind"
            case .edge: return "edge"
            case .boot: return "boot"
            case .seq: return "seq"
            case .mac: return "mac"
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

    /// Checks and decodes a relay message already parsed into `fields`.
    public mutating func decode(_ frame: UnsafeRawBufferPointer, _ fields: SyslogFields) -> Result<RelayDecoded, RelayDecodeError> {
        text.removeAll(keepingCapacity: true)
        guard fields.format == .rfc5424 else { return .failure(.notRFC5424) }
        guard Self.isRelay(frame, fields) else { return .failure(.notRelay) }
        var reader = StructuredDataReader(frame, range: fields.structuredData)
        var element: StructuredDataElement?
        while let e = reader.next() {
            if Self.equal(frame, e.id, RelayMessage.structuredDataID) { element = e; break }
        }
        guard let element else { return .failure(.noEventElement) }
        for i in raw.indices { raw[i] = nil }
        var lastName = 0..<0
        var params = reader.parameters(of: element)
        while let param = params.next() {
            lastName = param.name
            guard let field = Self.field(frame, param.name) else { continue }
            if raw[field.rawValue] != nil { return .failure(.invalid(field.name)) }
            raw[field.rawValue] = param.rawValue
        }
        // Authenticate before reading anything else: `mac` is the last parameter, and covers
        // every byte of the element before the space that precedes it.
        guard let mac = raw[Field.mac.rawValue], Self.equal(frame, lastName, "mac"), mac.upperBound &+ 2 == element.range.upperBound
        else { return .failure(.unsigned) }
        // Exactly what `RelaySigner` writes (64 lower-case hex digits): no second spelling of one
        // sealed message, so a copy with its mac's case changed is no new message.
        guard frame[mac].allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }),
              let claimed = SHA256Digest(hex: UnsafeRawBufferPointer(rebasing: frame[mac])) else { return .failure(.badMAC) }
        let sealed = element.range.lowerBound..<(lastName.lowerBound &- 1)
        guard key.authenticationCode(for: UnsafeRawBufferPointer(rebasing: frame[sealed])).constantTimeEquals(claimed) else {
            return .failure(.badMAC)
        }
        func value(_ f: Field) -> Range<Int>? { raw[f.rawValue] }
        guard let v = value(.v), Self.equal(frame, v, RelayMessage.version) else { return .failure(.unsupportedVersion) }
        guard let kindRaw = value(.kind), let kind = Self.kind(frame, kindRaw) else { return .failure(.unknownKind) }
        guard let edgeRaw = value(.edge) else { return .failure(.missing("edge")) }
        guard RelaySigner.isValidEdgeName(UnsafeRawBufferPointer(rebasing: frame[edgeRaw])) else { return .failure(.invalid("edge")) }
        guard let boot = Self.number(frame, value(.boot), default: -1, max: Int64.max), boot >= 0 else { return .failure(.invalid("boot")) }
        guard let sequence = Self.number(frame, value(.seq), default: -1, max: Int64.max), sequence >= 1 else {
            return .failure(.invalid("seq"))
        }
        let edgeStart = text.count
        text.append(contentsOf: UnsafeRawBufferPointer(rebasing: frame[edgeRaw]))
        let edge = edgeStart..<text.count
        guard let hostRaw = value(.host) else { return .failure(.missing("host")) }
        guard let host = unescape(frame, hostRaw, max: Self.maxHostBytes), !host.isEmpty else { return .failure(.invalid("host")) }
        guard let timeRaw = value(.time) else { return .failure(.missing("time")) }
        guard let time = SyslogTimestamps.rfc3339(frame, timeRaw.lowerBound, timeRaw.upperBound, defaultOffset: 0) else {
            return .failure(.invalid("time"))
        }
        var ip: IPAddress?
        if let r = value(.ip) {
            guard let parsed = IPAddress.parse(UnsafeRawBufferPointer(rebasing: frame[r])) else { return .failure(.invalid("ip")) }
            ip = parsed
        }
        func decoded(_ event: RelayEvent) -> Result<RelayDecoded, RelayDecodeError> {
            .success(RelayDecoded(host: host, event: event, edge: edge, boot: UInt64(boot), sequence: UInt64(sequence)))
        }

        switch kind {
        case .ssh(let sshKind):
            guard let port = Self.number(frame, value(.port), default: 0, max: Int64(UInt16.max)) else { return .failure(.invalid("port")) }
            guard let pid = Self.number(frame, value(.pid), default: 0, max: Int64(Int32.max)) else { return .failure(.invalid("pid")) }
            guard let count = Self.number(frame, value(.count), default: 1, max: Self.maxCount), count >= 1 else {
                return .failure(.invalid("count"))
            }
            var user = 0..<0
            if let r = value(.user) {
                guard let u = unescape(frame, r, max: Self.maxTextBytes) else { return .failure(.invalid("user")) }
                user = u
            }
            return decoded(.ssh(SSHEvent(kind: sshKind, ip: ip, port: UInt16(port), pid: Int32(pid), user: user, count: Int(count)), time: time))
        case .http:
            guard value(.status) != nil else { return .failure(.missing("status")) }
            guard let status = Self.number(frame, value(.status), default: 0, max: 999) else { return .failure(.invalid("status")) }
            guard let bytes = Self.number(frame, value(.bytes), default: 0, max: Int64(1) << 53) else { return .failure(.invalid("bytes")) }
            var section = 0..<0
            if let r = value(.section) {
                guard let s = unescape(frame, r, max: Self.maxTextBytes) else { return .failure(.invalid("section")) }
                section = s
            }
            return decoded(.http(HTTPRequest(clientIP: ip, time: time, section: section, status: UInt16(status), bytes: bytes), time: time))
        case .sessionSummary:
            guard let ip else { return .failure(.missing("ip")) }
            guard let startRaw = value(.start) else { return .failure(.missing("start")) }
            guard let start = SyslogTimestamps.rfc3339(frame, startRaw.lowerBound, startRaw.upperBound, defaultOffset: 0),
                  start.microseconds <= time.microseconds else { return .failure(.invalid("start")) }
            return decoded(.sessionSummary(SessionSummary(ip: ip, start: start, end: time)))
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

    /// The event kind named at `range` (the `kind` parameter; its names are those of the MSGID).
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
