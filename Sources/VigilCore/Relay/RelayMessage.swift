/// The relay wire format (docs/relay.md): each event is one RFC 5424 message
///
/// `<30>1 TIME HOST vigil-relay PROCID KIND [event@32473 v="2" kind="KIND" host="HOST" time="TIME" ... edge="EDGE" boot="N" seq="N" mac="HEX"]`
///
/// with APP-NAME `vigil-relay`, MSGID the event kind (`auth_failure`, `invalid_user`,
/// `auth_success`, `session_open`, `session_close`, `probe`, `http`, `session_summary`), no MSG,
/// and every field in one structured-data element. The element is authoritative and
/// self-contained: the header's TIMESTAMP, HOSTNAME and MSGID repeat it only so that relays and
/// files in between show it (a HOSTNAME that is not printable US-ASCII is written as `-`), and
/// the element ends with the edge's name, its run (`boot`) and a sequence number (`seq`), then
/// `mac`: the HMAC-SHA256, in hex, of every byte of the element before ` mac=` under the shared
/// relay key (`RelaySigner`). Relays that keep the structured data as it is (rsyslog does)
/// keep the message verifiable.
///
/// Parameters (absent when they have no value): `v` (format version, `2`), `kind`, `host`, `time`
/// (RFC 3339 UTC with microseconds); sshd events: `ip`, `port`, `pid`, `user`, `count`; `http`:
/// `ip`, `status`, `bytes`, `section`; `session_summary`: `ip`, `start` (its `time` is the end);
/// then `edge`, `boot`, `seq`, `mac`. Values escape `"`, `\` and `]` with a backslash; control
/// characters become spaces, so a message never holds a line break.
public enum RelayMessage {
    /// The APP-NAME that marks a relay message.
    public static let appName = "vigil-relay"
    /// The SD-ID of the event element (32473 is the enterprise number RFC 5612 reserves for examples).
    public static let structuredDataID = "event@32473"
    /// The format version written in `v`; a receiver refuses others.
    public static let version = "2"
    /// `<30>`: facility daemon (3), severity info (6).
    public static let priority: UInt8 = 30

    /// The MSGID naming `kind`.
    public static func kindName(_ kind: SSHEvent.Kind) -> StaticString {
        switch kind {
        case .authFailure: return "auth_failure"
        case .invalidUser: return "invalid_user"
        case .authSuccess: return "auth_success"
        case .sessionOpen: return "session_open"
        case .sessionClose: return "session_close"
        case .probe: return "probe"
        }
    }

    /// Calls `body` with one sealed message per event in `observation` (none for `.none`; an sshd
    /// line may give two: the probes its address resolved, then its own event). `buffer` is what
    /// the observation's ranges point into; `host` is the host the message came from.
    public static func forEachMessage(of observation: Analyzer.Observation, buffer: UnsafeRawBufferPointer, host: String,
                                      procID: Int, signer: inout RelaySigner, _ body: ([UInt8]) -> Void) {
        var out: [UInt8] = []
        func send(_ elementStart: Int) {
            signer.seal(&out, elementStart: elementStart)
            body(out)
            out = []
        }
        switch observation {
        case .none:
            return
        case .ssh(let result, let time):
            if let joined = result.joined { send(appendSSH(joined, text: buffer, host: host, time: time, procID: procID, to: &out)) }
            if let event = result.event { send(appendSSH(event, text: buffer, host: host, time: time, procID: procID, to: &out)) }
        case .http(let request, let time):
            send(appendHTTP(request, text: buffer, host: host, time: time, procID: procID, to: &out))
        case .sessionSummary(let summary):
            send(appendSessionSummary(summary, host: host, procID: procID, to: &out))
        }
    }

    /// Appends the message for an sshd event of `host` at `time`, its element left open for the
    /// signer; `event.user` is a range into `text`. Returns where the element starts.
    @discardableResult
    public static func appendSSH(_ event: SSHEvent, text: UnsafeRawBufferPointer, host: String, time: Timestamp,
                                 procID: Int, to out: inout [UInt8]) -> Int {
        let element = appendHeader(kind: kindName(event.kind), host: host, time: time, procID: procID, to: &out)
        if let ip = event.ip { appendIPParam("ip", ip, to: &out) }
        if event.port != 0 { appendNumberParam("port", UInt64(event.port), to: &out) }
        if event.pid > 0 { appendNumberParam("pid", UInt64(event.pid), to: &out) }
        let user = event.user.clamped(to: 0..<text.count)
        if !user.isEmpty { appendParam("user", UnsafeRawBufferPointer(rebasing: text[user]), to: &out) }
        appendNumberParam("count", UInt64(max(1, event.count)), to: &out)
        return element
    }

    /// Appends the message for an access-log request of `host` at `time`, its element left open;
    /// its `section` is a range into `text`. Returns where the element starts.
    @discardableResult
    public static func appendHTTP(_ request: HTTPRequest, text: UnsafeRawBufferPointer, host: String, time: Timestamp,
                                  procID: Int, to out: inout [UInt8]) -> Int {
        let element = appendHeader(kind: "http", host: host, time: time, procID: procID, to: &out)
        if let ip = request.clientIP { appendIPParam("ip", ip, to: &out) }
        appendNumberParam("status", UInt64(request.status), to: &out)
        appendNumberParam("bytes", UInt64(max(0, request.bytes)), to: &out)
        let section = request.section.clamped(to: 0..<text.count)
        if !section.isEmpty { appendParam("section", UnsafeRawBufferPointer(rebasing: text[section]), to: &out) }
        return element
    }

    /// Appends the message for a session summary of `host` (its time is the session's end), its
    /// element left open. Returns where the element starts.
    @discardableResult
    public static func appendSessionSummary(_ summary: SessionSummary, host: String, procID: Int, to out: inout [UInt8]) -> Int {
        let element = appendHeader(kind: "session_summary", host: host, time: summary.end, procID: procID, to: &out)
        appendIPParam("ip", summary.ip, to: &out)
        var start: [UInt8] = []
        summary.start.appendRFC3339(to: &start, fractionalDigits: 6)
        start.withUnsafeBytes { appendParam("start", $0, to: &out) }
        return element
    }

    /// `<30>1 TIME HOST vigil-relay PROCID KIND [event@32473 v="2" kind="KIND" host="HOST" time="TIME"`
    /// (element left open); returns where the element (its `[`) starts.
    private static func appendHeader(kind: StaticString, host: String, time: Timestamp, procID: Int, to out: inout [UInt8]) -> Int {
        out.reserveCapacity(out.count + 260 + host.utf8.count)
        out.append(UInt8(ascii: "<"))
        appendDigits(Int(priority), width: 1, to: &out)
        out.append(contentsOf: ">1 ".utf8)
        time.appendRFC3339(to: &out, fractionalDigits: 6)
        out.append(UInt8(ascii: " "))
        if host.isEmpty || host.utf8.count > 255 || host.utf8.contains(where: { $0 <= 32 || $0 >= 127 }) {
            out.append(UInt8(ascii: "-"))
        } else {
            out.append(contentsOf: host.utf8)
        }
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: appName.utf8)
        out.append(UInt8(ascii: " "))
        appendDigits(max(0, procID), width: 1, to: &out)
        out.append(UInt8(ascii: " "))
        let kindBytes = UnsafeRawBufferPointer(start: kind.utf8Start, count: kind.utf8CodeUnitCount)
        out.append(contentsOf: kindBytes)
        out.append(UInt8(ascii: " "))
        let element = out.count
        out.append(UInt8(ascii: "["))
        out.append(contentsOf: structuredDataID.utf8)
        appendParam("v", version, to: &out)
        appendParam("kind", kindBytes, to: &out)
        appendParam("host", host, to: &out)
        var stamp: [UInt8] = []
        time.appendRFC3339(to: &stamp, fractionalDigits: 6)
        stamp.withUnsafeBytes { appendParam("time", $0, to: &out) }
        return element
    }

    static func appendParam(_ name: StaticString, _ value: String, to out: inout [UInt8]) {
        var copy = value
        copy.withUTF8 { appendParam(name, UnsafeRawBufferPointer($0), to: &out) }
    }

    private static func appendIPParam(_ name: StaticString, _ ip: IPAddress, to out: inout [UInt8]) {
        var text: [UInt8] = []
        ip.append(to: &text)
        text.withUnsafeBytes { appendParam(name, $0, to: &out) }
    }

    static func appendNumberParam(_ name: StaticString, _ value: UInt64, to out: inout [UInt8]) {
        var digits: [UInt8] = []
        var v = value
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(v % 10))
            v /= 10
        } while v > 0
        digits.reverse()
        digits.withUnsafeBytes { appendParam(name, $0, to: &out) }
    }

    /// ` name="value"` with `"`, `\` and `]` escaped by a backslash and control characters as spaces.
    private static func appendParam(_ name: StaticString, _ value: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        out.append(contentsOf: "=\"".utf8)
        for byte in value {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "]"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0..<0x20, 0x7F:
                out.append(UInt8(ascii: " "))
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
