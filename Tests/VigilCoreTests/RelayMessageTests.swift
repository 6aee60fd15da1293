import Testing
import VigilTestSupport
@testable import VigilCore

/// The relay wire format (docs/relay.md): events sealed by an edge, checked and read back by the central.
@Suite struct RelayMessageTests {
    static let key = try! RelayKey(fileContents: Array("0123456789abcdef0123456789abcdef\n".utf8))
    static let boot: UInt64 = 1_700_000_000_000_000
    static let receivedAt = CivilDateTime(year: 2026, month: 11, day: 22, hour: 23, minute: 10).timestamp()
    static let at = CivilDateTime(year: 2026, month: 11, day: 22, hour: 23, minute: 6, second: 48, microsecond: 302_537).timestamp()

    /// A decoded event with its text fields resolved, comparable across buffers.
    struct Flat: Equatable, CustomStringConvertible {
        var kind: String
        var host: String
        var time: Timestamp
        var ip: IPAddress?
        var port: UInt16 = 0
        var pid: Int32 = 0
        var user = ""
        var count = 1
        var status: UInt16 = 0
        var bytes: Int64 = 0
        var section = ""
        var start: Timestamp?
        var description: String { "\(kind) \(host) \(time.rfc3339(fractionalDigits: 6)) \(ip.map { "\($0)" } ?? "-") port=\(port) pid=\(pid) user=\(user) count=\(count) status=\(status) bytes=\(bytes) section=\(section) start=\(start.map { $0.rfc3339() } ?? "-")" }
    }

    static func text(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        String(decoding: buffer[range], as: UTF8.self)
    }

    /// `event` of `host` flattened, its ranges read from `buffer`.
    static func flatten(_ event: RelayEvent, host: String, buffer: UnsafeRawBufferPointer) -> Flat {
        switch event {
        case .ssh(let e, let time):
            return Flat(kind: "\(RelayMessage.kindName(e.kind))", host: host, time: time, ip: e.ip, port: e.port, pid: e.pid,
                        user: text(buffer, e.user), count: e.count)
        case .http(let r, let time):
            return Flat(kind: "http", host: host, time: time, ip: r.clientIP, status: r.status, bytes: r.bytes,
                        section: text(buffer, r.section))
        case .sessionSummary(let s):
            return Flat(kind: "session_summary", host: host, time: s.end, ip: s.ip, start: s.start)
        }
    }

    /// Parses `message` as the central would and decodes it with `key`.
    static func decode(_ message: [UInt8], key: RelayKey = key) -> Result<Flat, RelayDecodeError> {
        message.withUnsafeBytes { buf in
            let fields = SyslogParser().parse(buf, receivedAt: receivedAt)
            var decoder = RelayDecoder(key: key)
            return decoder.decode(buf, fields).map { decoded in
                decoder.text.withUnsafeBytes { text in
                    flatten(decoded.event, host: Self.text(text, decoded.host), buffer: text)
                }
            }
        }
    }

    static func decode(_ message: String) -> Result<Flat, RelayDecodeError> { decode(Array(message.utf8)) }

    /// Encodes and seals `event` (text fields from `text`) as an edge would.
    static func encode(_ event: RelayEvent, host: String, text: String, signer: inout RelaySigner) -> [UInt8] {
        var out: [UInt8] = []
        let element = Array(text.utf8).withUnsafeBytes { buf in
            switch event {
            case .ssh(let e, let time): return RelayMessage.appendSSH(e, text: buf, host: host, time: time, procID: 77, to: &out)
            case .http(let r, let time): return RelayMessage.appendHTTP(r, text: buf, host: host, time: time, procID: 77, to: &out)
            case .sessionSummary(let s): return RelayMessage.appendSessionSummary(s, host: host, procID: 77, to: &out)
            }
        }
        signer.seal(&out, elementStart: element)
        return out
    }

    static func encode(_ event: RelayEvent, host: String, text: String) -> [UInt8] {
        var signer = RelaySigner(key: key, edge: "edge-a", boot: boot)
        return encode(event, host: host, text: text, signer: &signer)
    }

    /// `open` (a message whose element is not closed) sealed as an edge would, with its edge,
    /// boot and sequence (unless `ids` is false, for tests of those), under `key`.
    static func sealed(_ open: String, ids: Bool = true) -> String {
        var out = Array(open.utf8)
        if ids { out += Array(#" edge="edge-a" boot="1" seq="1""#.utf8) }
        let marker = Array("[event@32473".utf8)
        let start = out.indices.first { out[$0...].starts(with: marker) } ?? out.firstIndex(of: UInt8(ascii: "["))!
        let mac = out.withUnsafeBytes { key.authenticationCode(for: UnsafeRawBufferPointer(rebasing: $0[start...])) }
        out += Array(#" mac=""#.utf8)
        mac.appendHex(to: &out)
        out += Array(#""]"#.utf8)
        return String(decoding: out, as: UTF8.self)
    }

    /// The MAC below was computed independently (Python's hmac module, over the element up to
    /// ` mac=`, key `0123456789abcdef0123456789abcdef`).
    @Test func wireFormatOfAFailure() {
        let event = SSHEvent(kind: .invalidUser, ip: IPAddress(203, 0, 113, 7), port: 4242, pid: 18440, user: 0..<5)
        let message = Self.encode(.ssh(event, time: Self.at), host: "web-1", text: "admin")
        #expect(String(decoding: message, as: UTF8.self) ==
            #"<30>1 2026-11-22T23:06:48.302537Z web-1 vigil-relay 77 invalid_user [event@32473 v="2" kind="invalid_user" host="web-1" time="2026-11-22T23:06:48.302537Z" ip="203.0.113.7" port="4242" pid="18440" user="admin" count="1" edge="edge-a" boot="1700000000000000" seq="1" mac="f4892366b375daa1e6b0b0e433c9a911285cc57758ea7f846bf8f2ffe5aee9b0"]"#)
    }

    @Test func eachMessageOfARunIsNumbered() throws {
        var signer = RelaySigner(key: Self.key, edge: "edge-a", boot: Self.boot)
        let event = RelayEvent.ssh(SSHEvent(kind: .probe, ip: IPAddress(192, 0, 2, 1)), time: Self.at)
        let first = Self.encode(event, host: "h", text: "", signer: &signer)
        let second = Self.encode(event, host: "h", text: "", signer: &signer)
        for (message, seq) in [(first, 1), (second, 2)] {
            message.withUnsafeBytes { buf in
                var decoder = RelayDecoder(key: Self.key)
                guard case .success(let decoded) = decoder.decode(buf, SyslogParser().parse(buf, receivedAt: Self.receivedAt)) else {
                    Issue.record("does not decode")
                    return
                }
                #expect(decoded.boot == Self.boot && decoded.sequence == UInt64(seq))
                #expect(decoder.text.withUnsafeBytes { Self.text($0, decoded.edge) } == "edge-a")
            }
        }
    }

    @Test(arguments: [
        // Every sshd kind, with and without the optional fields.
        (RelayEvent.ssh(SSHEvent(kind: .authFailure, ip: IPAddress(198, 51, 100, 9), port: 59710, pid: 18440, user: 0..<9, count: 3),
                        time: at), "web-1", "vigiltest"),
        (.ssh(SSHEvent(kind: .invalidUser, ip: IPAddress.parse("2001:db8::7")!, port: 22, pid: 1, user: 0..<13), time: at),
         "db.example.org", #"a"b]c\d e=f x"#),
        (.ssh(SSHEvent(kind: .authSuccess, ip: IPAddress(10, 0, 0, 1), port: 50000, pid: 2), time: at), "h", ""),
        (.ssh(SSHEvent(kind: .sessionOpen, pid: 31337), time: at), "h", ""),
        (.ssh(SSHEvent(kind: .sessionClose, pid: 31337), time: at), "h", ""),
        (.ssh(SSHEvent(kind: .probe, ip: IPAddress(192, 0, 2, 1), count: 4), time: Timestamp(microseconds: 0)), "h", ""),
        // A host name that is no valid HOSTNAME still travels in the element.
        (.ssh(SSHEvent(kind: .authFailure, ip: IPAddress(192, 0, 2, 1)), time: at), "bad host]\"", ""),
        (.http(HTTPRequest(clientIP: IPAddress(127, 0, 0, 1), section: 0..<6, status: 404, bytes: 153), time: at), "web-2", "/pages"),
        (.http(HTTPRequest(clientIP: nil, section: 0..<0, status: 200, bytes: 0), time: at), "web-2", ""),
        (.sessionSummary(SessionSummary(ip: IPAddress(203, 0, 113, 8), start: at.adding(seconds: -3600), end: at)), "web-3", ""),
    ])
    func roundTrip(event: RelayEvent, host: String, text: String) throws {
        let expected = Array(text.utf8).withUnsafeBytes { Self.flatten(event, host: host, buffer: $0) }
        let message = Self.encode(event, host: host, text: text)
        #expect(!message.contains(UInt8(ascii: "\n")))
        #expect(try Self.decode(message).get() == expected)
    }

    /// Real sshd lines through the analyzer, forwarded and read back: the central gets the
    /// events the edge counted, with their addresses joined and times kept.
    @Test func realSSHDLinesSurviveTheRelay() throws {
        var analyzer = Analyzer(settings: DetectionSettings())
        var signer = RelaySigner(key: Self.key, edge: "edge-a", boot: Self.boot)
        var sent: [Flat] = [], received: [Flat] = []
        for line in Fixtures.lines(Fixtures.sample("sshd-normal-auth.log")) where !line.isEmpty {
            line.withUnsafeBytes { buf in
                let fields = SyslogParser().parse(buf, receivedAt: Self.receivedAt)
                let observation = analyzer.analyzeOne(frame: buf, fields: fields, host: HostID(0), receivedAt: Self.receivedAt)
                if case .ssh(let result, let time) = observation {
                    for e in [result.joined, result.event].compactMap({ $0 }) {
                        sent.append(Self.flatten(.ssh(e, time: time), host: "vm", buffer: buf))
                    }
                }
                RelayMessage.forEachMessage(of: observation, buffer: buf, host: "vm", procID: 1, signer: &signer) { message in
                    if case .success(let flat) = Self.decode(message) { received.append(flat) }
                }
            }
        }
        #expect(sent.count >= 10)
        #expect(sent.contains { $0.kind == "auth_failure" && $0.user == "vigiltest" && $0.ip == IPAddress(127, 0, 0, 1) })
        #expect(received == sent)
    }

    @Test func realAccessLogLinesSurviveTheRelay() throws {
        var analyzer = Analyzer(settings: DetectionSettings())
        var signer = RelaySigner(key: Self.key, edge: "edge-a", boot: Self.boot)
        var sent: [Flat] = [], received: [Flat] = []
        for line in Fixtures.lines(Fixtures.sample("nginx-access-curl.log")) where !line.isEmpty {
            line.withUnsafeBytes { buf in
                let observation = analyzer.observe(buf, text: 0..<buf.count, app: 0..<0, pid: 0, host: HostID(0),
                                                   at: MessageTime(claimed: nil, received: Self.receivedAt))
                if case .http(let request, let time) = observation {
                    sent.append(Self.flatten(.http(request, time: time), host: "web", buffer: buf))
                }
                RelayMessage.forEachMessage(of: observation, buffer: buf, host: "web", procID: 1, signer: &signer) { message in
                    if case .success(let flat) = Self.decode(message) { received.append(flat) }
                }
            }
        }
        #expect(sent.count >= 2)
        #expect(sent.first?.section == "/" && sent.first?.status == 200 && sent.first?.bytes == 43)
        #expect(received == sent)
    }

    static let head = #"<30>1 2026-11-22T23:06:48Z h vigil-relay 1 probe"#
    static let good = #"v="2" kind="probe" host="h" time="2026-11-22T23:06:48Z""#
    static let http = #"v="2" kind="http" host="h" time="2026-11-22T23:06:48Z""#
    static let summary = #"v="2" kind="session_summary" host="h" time="2026-11-22T23:06:48Z""#

    /// Finding: this line, sent by anyone to the syslog port, made the central count a failure on
    /// web7. The unsealed version-1 format is refused outright.
    static let forgedV1 = #"<30>1 2026-11-22T23:06:48Z web7 vigil-relay 4242 auth_failure [event@32473 v="1" host="web7" time="2026-11-22T23:06:48Z" ip="192.0.2.66" port="4242" user="root" count="1"]"#

    @Test(arguments: [
        ("<30>Nov 22 23:06:48 h vigil-relay: auth_failure", RelayDecodeError.notRFC5424),
        ("<30>1 2026-11-22T23:06:48Z h sshd 1 - - Failed password for root from 192.0.2.1 port 1 ssh2", .notRelay),
        ("\(head) -", .noEventElement),
        (sealed("\(head) [other@32473 \(good)"), .noEventElement),
        (forgedV1, .unsigned),
        ("\(head) [event@32473 \(good) edge=\"e\" boot=\"1\" seq=\"1\"]", .unsigned),
        // A mac that is not the last parameter covers nothing after it.
        (sealed("\(head) [event@32473 \(good)").replacingSuffix("]", with: #" ip="192.0.2.9"]"#), .unsigned),
        (sealed("\(head) [event@32473 \(good)").replacingSuffix("\"]", with: "0\"]"), .badMAC),
        // The same MAC in upper case is not what a signer writes.
        (sealed("\(head) [event@32473 \(good)").uppercasingMAC(), .badMAC),
        ("\(head) [event@32473 \(good) mac=\"\(String(repeating: "0", count: 64))\"]", .badMAC),
        (sealed(#"\#(head) [event@32473 kind="probe" host="h" time="2026-11-22T23:06:48Z""#), .unsupportedVersion),
        (sealed(#"\#(head) [event@32473 v="1" kind="probe" host="h" time="2026-11-22T23:06:48Z""#), .unsupportedVersion),
        (sealed(#"\#(head) [event@32473 v="2" kind="login" host="h" time="2026-11-22T23:06:48Z""#), .unknownKind),
        (sealed(#"\#(head) [event@32473 v="2" host="h" time="2026-11-22T23:06:48Z""#), .unknownKind),
        (sealed("\(head) [event@32473 \(good) boot=\"1\" seq=\"1\"", ids: false), .missing("edge")),
        (sealed("\(head) [event@32473 \(good) edge=\"a b\" boot=\"1\" seq=\"1\"", ids: false), .invalid("edge")),
        (sealed("\(head) [event@32473 \(good) edge=\"e\" seq=\"1\"", ids: false), .invalid("boot")),
        (sealed("\(head) [event@32473 \(good) edge=\"e\" boot=\"1\" seq=\"0\"", ids: false), .invalid("seq")),
        (sealed(#"\#(head) [event@32473 v="2" kind="probe" time="2026-11-22T23:06:48Z""#), .missing("host")),
        (sealed(#"\#(head) [event@32473 v="2" kind="probe" host="" time="2026-11-22T23:06:48Z""#), .invalid("host")),
        (sealed("\(head) [event@32473 v=\"2\" kind=\"probe\" host=\"\(String(repeating: "h", count: 256))\" time=\"2026-11-22T23:06:48Z\""),
         .invalid("host")),
        (sealed(#"\#(head) [event@32473 v="2" kind="probe" host="h""#), .missing("time")),
        (sealed(#"\#(head) [event@32473 v="2" kind="probe" host="h" time="yesterday""#), .invalid("time")),
        (sealed(#"\#(head) [event@32473 v="2" kind="probe" host="h" time="2026-02-30T00:00:00Z""#), .invalid("time")),
        (sealed(#"\#(head) [event@32473 v="2" kind="probe" host="h" host="g" time="2026-11-22T23:06:48Z""#), .invalid("host")),
        (sealed("\(head) [event@32473 \(good) ip=\"203.0.113.300\""), .invalid("ip")),
        (sealed("\(head) [event@32473 \(good) port=\"65536\""), .invalid("port")),
        (sealed("\(head) [event@32473 \(good) port=\"-1\""), .invalid("port")),
        (sealed("\(head) [event@32473 \(good) pid=\"2147483648\""), .invalid("pid")),
        (sealed("\(head) [event@32473 \(good) count=\"0\""), .invalid("count")),
        (sealed("\(head) [event@32473 \(good) count=\"1000001\""), .invalid("count")),
        (sealed("\(head) [event@32473 \(good) count=\"99999999999999999999\""), .invalid("count")),
        (sealed("\(head) [event@32473 \(good) user=\"\(String(repeating: "u", count: 1025))\""), .invalid("user")),
        (sealed("\(head) [event@32473 \(http)"), .missing("status")),
        (sealed("\(head) [event@32473 \(http) status=\"1000\""), .invalid("status")),
        (sealed("\(head) [event@32473 \(http) status=\"200\" bytes=\"1e9\""), .invalid("bytes")),
        (sealed("\(head) [event@32473 \(summary) start=\"2026-11-22T22:00:00Z\""), .missing("ip")),
        (sealed("\(head) [event@32473 \(summary) ip=\"192.0.2.1\""), .missing("start")),
        (sealed("\(head) [event@32473 \(summary) ip=\"192.0.2.1\" start=\"2026-11-23T00:00:00Z\""), .invalid("start")),
    ])
    func malformedMessagesAreRefused(message: String, error: RelayDecodeError) {
        #expect(Self.decode(message) == .failure(error))
    }

    /// Changing any byte the MAC covers makes the message fail; the header, which it does not
    /// cover, is never read for what it claims.
    @Test func everySealedByteIsCovered() {
        let event = SSHEvent(kind: .authFailure, ip: IPAddress(203, 0, 113, 7), port: 4242, pid: 18440, user: 0..<4, count: 2)
        let message = Self.encode(.ssh(event, time: Self.at), host: "web-1", text: "root")
        let original = try? Self.decode(message).get()
        #expect(original != nil)
        let element = message.firstIndex(of: UInt8(ascii: "["))!
        for i in message.indices {
            var altered = message
            altered[i] = altered[i] == UInt8(ascii: "1") ? UInt8(ascii: "2") : UInt8(ascii: "1")
            let result = Self.decode(altered)
            if i >= element {
                #expect((try? result.get()) == nil, "byte \(i) of the element changed, yet the message was taken")
            } else if case .success(let flat) = result {
                #expect(flat == original, "byte \(i) of the header changed what was read")
            }
        }
    }

    @Test func anotherKeyIsRefused() {
        let other = try! RelayKey(fileContents: Array("ffffffffffffffffffffffffffffffff".utf8))
        let message = Self.encode(.ssh(SSHEvent(kind: .probe, ip: IPAddress(192, 0, 2, 1)), time: Self.at), host: "h", text: "")
        #expect(Self.decode(message, key: other) == .failure(.badMAC))
    }

    /// Unknown parameters and other elements are ignored; the header's HOSTNAME and TIMESTAMP are not used.
    @Test func elementIsAuthoritativeAndUnknownParametersAreIgnored() throws {
        let message = Self.sealed(#"<30>1 2001-01-01T00:00:00Z elsewhere vigil-relay 1 auth_failure [timeQuality isSynced="0"][event@32473 v="2" kind="probe" host="h" time="2026-11-22T23:06:48Z" hops="3" ip="192.0.2.1""#)
        let flat = try Self.decode(message).get()
        #expect(flat == Flat(kind: "probe", host: "h", time: CivilDateTime(year: 2026, month: 11, day: 22, hour: 23, minute: 6, second: 48).timestamp(),
                             ip: IPAddress(192, 0, 2, 1)))
    }

    @Test func aKeyShorterThan32BytesIsRefused() {
        #expect(throws: RelayKeyError.self) { try RelayKey(fileContents: Array("0123456789abcdef0123456789abcde\n\n".utf8)) }
        #expect((try? RelayKey(fileContents: Array("0123456789abcdef0123456789abcdef \n".utf8))) != nil)
    }

    @Test func edgeNames() {
        for name in ["web-1", "edge.example.org", "a", "x_y:z", String(repeating: "e", count: 64)] { #expect(RelaySigner.isValidEdgeName(name)) }
        for name in ["", "a b", "a\"b", "é", String(repeating: "e", count: 65), "a]"] { #expect(!RelaySigner.isValidEdgeName(name)) }
    }
}

/// The central's memory of each edge's newest message.
@Suite struct RelayReplayGuardTests {
    func admit(_ g: inout RelayReplayGuard, _ edge: String, _ boot: UInt64, _ seq: UInt64) -> RelayReplayGuard.Admission {
        Array(edge.utf8).withUnsafeBytes { g.admit(edge: $0, boot: boot, sequence: seq) }
    }

    @Test func eachMessageIsTakenOnceAndInOrder() {
        var g = RelayReplayGuard()
        #expect(admit(&g, "a", 5, 1) == .accepted)
        #expect(admit(&g, "a", 5, 2) == .accepted)
        #expect(admit(&g, "a", 5, 2) == .replayed)
        #expect(admit(&g, "a", 5, 1) == .replayed)
        #expect(admit(&g, "b", 1, 1) == .accepted)   // another edge has its own numbers
        #expect(admit(&g, "a", 5, 3) == .accepted)   // back to the first edge: its place was kept
        #expect(admit(&g, "a", 4, 99) == .replayed)  // an older run
        #expect(admit(&g, "a", 6, 1) == .accepted)   // a newer run starts over
        #expect(admit(&g, "a", 5, 4) == .replayed)
    }

    @Test func theStateSurvivesARestart() {
        var g = RelayReplayGuard()
        _ = admit(&g, "edge-b", 7, 10)
        _ = admit(&g, "edge-a", 3, 4)
        _ = admit(&g, "edge-a", 3, 5)
        #expect(g.savedText == "edge-a 3 5\nedge-b 7 10\n")
        var restarted = RelayReplayGuard(savedText: g.savedText + "garbage line\n")
        #expect(restarted.count == 2)
        #expect(admit(&restarted, "edge-a", 3, 5) == .replayed)
        #expect(admit(&restarted, "edge-a", 3, 6) == .accepted)
        #expect(admit(&restarted, "edge-b", 7, 10) == .replayed)
    }

    @Test func edgesAreBounded() {
        var g = RelayReplayGuard()
        for i in 0..<RelayReplayGuard.maxEdges { #expect(admit(&g, "e\(i)", 1, 1) == .accepted) }
        #expect(admit(&g, "one-too-many", 1, 1) == .tooManyEdges)
        #expect(admit(&g, "e0", 1, 2) == .accepted)
    }
}

private extension String {
    /// The message with the hex digits of its `mac` (the last 64 before `"]`) in upper case.
    func uppercasingMAC() -> String {
        let bytes = Array(utf8)
        let end = bytes.count - 2
        let mac = bytes[(end - 64)..<end].map { $0 >= 0x61 && $0 <= 0x66 ? $0 - 0x20 : $0 }
        precondition(mac != Array(bytes[(end - 64)..<end]), "the MAC has no letter to change")
        return String(decoding: bytes[..<(end - 64)] + mac + bytes[end...], as: UTF8.self)
    }

    /// The string with `suffix` (which it must end with) replaced by `replacement`.
    func replacingSuffix(_ suffix: String, with replacement: String) -> String {
        precondition(hasSuffix(suffix))
        return String(dropLast(suffix.count)) + replacement
    }
}
