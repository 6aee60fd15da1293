import Testing
import VigilTestSupport
@testable import VigilCore

/// The relay wire format (SPEC §9): events encoded by an edge, read back by the central.
@Suite struct RelayMessageTests {
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

    /// Parses `message` as the central would and decodes it.
    static func decode(_ message: [UInt8]) -> Result<Flat, RelayDecodeError> {
        message.withUnsafeBytes { buf in
            let fields = SyslogParser().parse(buf, receivedAt: receivedAt)
            var decoder = RelayDecoder()
            #expect(RelayDecoder.isRelay(buf, fields))
            return decoder.decode(buf, fields).map { decoded in
                decoder.text.withUnsafeBytes { text in
                    flatten(decoded.event, host: Self.text(text, decoded.host), buffer: text)
                }
            }
        }
    }

    static func decode(_ message: String) -> Result<Flat, RelayDecodeError> { decode(Array(message.utf8)) }

    /// Encodes `event` (text fields from `text`) as an edge would.
    static func encode(_ event: RelayEvent, host: String, text: String) -> [UInt8] {
        var out: [UInt8] = []
        Array(text.utf8).withUnsafeBytes { buf in
            switch event {
            case .ssh(let e, let time): RelayMessage.appendSSH(e, text: buf, host: host, time: time, procID: 77, to: &out)
            case .http(let r, let time): RelayMessage.appendHTTP(r, text: buf, host: host, time: time, procID: 77, to: &out)
            case .sessionSummary(let s): RelayMessage.appendSessionSummary(s, host: host, procID: 77, to: &out)
            }
        }
        return out
    }

    @Test func wireFormatOfAFailure() {
        let event = SSHEvent(kind: .invalidUser, ip: IPAddress(203, 0, 113, 7), port: 4242, pid: 18440, user: 0..<5)
        let message = Self.encode(.ssh(event, time: Self.at), host: "web-1", text: "admin")
        #expect(String(decoding: message, as: UTF8.self) ==
            #"<30>1 2026-11-22T23:06:48.302537Z web-1 vigil-relay 77 invalid_user [event@32473 v="1" host="web-1" time="2026-11-22T23:06:48.302537Z" ip="203.0.113.7" port="4242" pid="18440" user="admin" count="1"]"#)
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
        var analyzer = Analyzer(settings: DetectionSettings(), clampsToReceiveTime: false, hostName: { _ in "vm" })
        var sent: [Flat] = [], received: [Flat] = []
        for line in Fixtures.lines(Fixtures.sample("sshd-normal-auth.log")) where !line.isEmpty {
            line.withUnsafeBytes { buf in
                let fields = SyslogParser().parse(buf, receivedAt: Self.receivedAt)
                let observation = analyzer.observe(frame: buf, fields: fields, host: HostID(0), receivedAt: Self.receivedAt)
                if case .ssh(let result, let time) = observation {
                    for e in [result.joined, result.event].compactMap({ $0 }) {
                        sent.append(Self.flatten(.ssh(e, time: time), host: "vm", buffer: buf))
                    }
                }
                RelayMessage.forEachMessage(of: observation, buffer: buf, host: "vm", procID: 1) { message in
                    if case .success(let flat) = Self.decode(message) { received.append(flat) }
                }
            }
        }
        #expect(sent.count >= 10)
        #expect(sent.contains { $0.kind == "auth_failure" && $0.user == "vigiltest" && $0.ip == IPAddress(127, 0, 0, 1) })
        #expect(received == sent)
    }

    @Test func realAccessLogLinesSurviveTheRelay() throws {
        var analyzer = Analyzer(settings: DetectionSettings(), clampsToReceiveTime: false, hostName: { _ in "web" })
        var sent: [Flat] = [], received: [Flat] = []
        for line in Fixtures.lines(Fixtures.sample("nginx-access-curl.log")) where !line.isEmpty {
            line.withUnsafeBytes { buf in
                let observation = analyzer.observe(buf, text: 0..<buf.count, app: 0..<0, pid: 0, host: HostID(0), time: Self.receivedAt)
                if case .http(let request, let time) = observation {
                    sent.append(Self.flatten(.http(request, time: time), host: "web", buffer: buf))
                }
                RelayMessage.forEachMessage(of: observation, buffer: buf, host: "web", procID: 1) { message in
                    if case .success(let flat) = Self.decode(message) { received.append(flat) }
                }
            }
        }
        #expect(sent.count >= 2)
        #expect(sent.first?.section == "/" && sent.first?.status == 200 && sent.first?.bytes == 43)
        #expect(received == sent)
    }

    static let head = #"<30>1 2026-11-22T23:06:48Z h vigil-relay 1"#
    static let good = #"v="1" host="h" time="2026-11-22T23:06:48Z""#

    @Test(arguments: [
        ("<30>Nov 22 23:06:48 h vigil-relay: auth_failure", RelayDecodeError.notRFC5424),
        ("\(head) login [event@32473 \(good)]", .unknownKind),
        ("\(head) - [event@32473 \(good)]", .unknownKind),
        ("\(head) probe -", .noEventElement),
        ("\(head) probe [other@32473 \(good)]", .noEventElement),
        (#"\#(head) probe [event@32473 host="h" time="2026-11-22T23:06:48Z"]"#, .unsupportedVersion),
        (#"\#(head) probe [event@32473 v="2" host="h" time="2026-11-22T23:06:48Z"]"#, .unsupportedVersion),
        (#"\#(head) probe [event@32473 v="1" time="2026-11-22T23:06:48Z"]"#, .missing("host")),
        (#"\#(head) probe [event@32473 v="1" host="" time="2026-11-22T23:06:48Z"]"#, .invalid("host")),
        ("\(head) probe [event@32473 v=\"1\" host=\"\(String(repeating: "h", count: 256))\" time=\"2026-11-22T23:06:48Z\"]",
         .invalid("host")),
        (#"\#(head) probe [event@32473 v="1" host="h"]"#, .missing("time")),
        (#"\#(head) probe [event@32473 v="1" host="h" time="yesterday"]"#, .invalid("time")),
        (#"\#(head) probe [event@32473 v="1" host="h" time="2026-02-30T00:00:00Z"]"#, .invalid("time")),
        (#"\#(head) probe [event@32473 v="1" host="h" host="g" time="2026-11-22T23:06:48Z"]"#, .invalid("host")),
        ("\(head) probe [event@32473 \(good) ip=\"203.0.113.300\"]", .invalid("ip")),
        ("\(head) probe [event@32473 \(good) port=\"65536\"]", .invalid("port")),
        ("\(head) probe [event@32473 \(good) port=\"-1\"]", .invalid("port")),
        ("\(head) probe [event@32473 \(good) pid=\"2147483648\"]", .invalid("pid")),
        ("\(head) probe [event@32473 \(good) count=\"0\"]", .invalid("count")),
        ("\(head) probe [event@32473 \(good) count=\"1000001\"]", .invalid("count")),
        ("\(head) probe [event@32473 \(good) count=\"99999999999999999999\"]", .invalid("count")),
        ("\(head) probe [event@32473 \(good) user=\"\(String(repeating: "u", count: 1025))\"]", .invalid("user")),
        ("\(head) http [event@32473 \(good)]", .missing("status")),
        ("\(head) http [event@32473 \(good) status=\"1000\"]", .invalid("status")),
        ("\(head) http [event@32473 \(good) status=\"200\" bytes=\"1e9\"]", .invalid("bytes")),
        ("\(head) session_summary [event@32473 \(good) start=\"2026-11-22T22:00:00Z\"]", .missing("ip")),
        ("\(head) session_summary [event@32473 \(good) ip=\"192.0.2.1\"]", .missing("start")),
        ("\(head) session_summary [event@32473 \(good) ip=\"192.0.2.1\" start=\"2026-11-23T00:00:00Z\"]", .invalid("start")),
    ])
    func malformedMessagesAreRefused(message: String, error: RelayDecodeError) {
        #expect(Self.decode(message) == .failure(error))
    }

    /// Unknown parameters and other elements are ignored; the header's HOSTNAME and TIMESTAMP are not used.
    @Test func elementIsAuthoritativeAndUnknownParametersAreIgnored() throws {
        let message = #"<30>1 2001-01-01T00:00:00Z elsewhere vigil-relay 1 probe [timeQuality isSynced="0"][event@32473 v="1" host="h" time="2026-11-22T23:06:48Z" hops="3" ip="192.0.2.1"]"#
        let flat = try Self.decode(message).get()
        #expect(flat == Flat(kind: "probe", host: "h", time: CivilDateTime(year: 2026, month: 11, day: 22, hour: 23, minute: 6, second: 48).timestamp(),
                             ip: IPAddress(192, 0, 2, 1)))
    }

    @Test func onlyVigilRelayAppNameIsARelayMessage() {
        for (message, isRelay) in [("\(Self.head) probe -", true), ("<30>1 2026-11-22T23:06:48Z h vigil 1 probe -", false),
                                   ("<30>1 2026-11-22T23:06:48Z h vigil-relayx 1 probe -", false)] {
            Array(message.utf8).withUnsafeBytes { buf in
                #expect(RelayDecoder.isRelay(buf, SyslogParser().parse(buf, receivedAt: Self.receivedAt)) == isRelay)
            }
        }
    }

    /// The central's analyzer: relayed failures of one IP on three hosts raise `ssh_distributed`,
    /// and a time far ahead of the receive time is clamped like a message's.
    @Test func relayedEventsDriveTheGlobalRules() {
        let names = ["a", "b", "c"]
        var analyzer = Analyzer(settings: DetectionSettings(), clampsToReceiveTime: true, hostName: { names[Int($0.rawValue)] })
        let ip = IPAddress(203, 0, 113, 66)
        for h in 0..<3 {
            [UInt8]().withUnsafeBytes { text in
                let event = SSHEvent(kind: .authFailure, ip: ip, port: 1000, pid: 5)
                analyzer.observeRelayed(.ssh(event, time: Self.at.adding(seconds: Int64(h))), text: text, host: HostID(UInt32(h)),
                                        receivedAt: Self.at.adding(seconds: 10))
            }
        }
        let alerts = analyzer.engine.takeAlerts()
        #expect(alerts.map(\.rule) == [.sshDistributed])
        #expect(alerts.first?.hosts == ["a", "b", "c"] && alerts.first?.ip == ip)
        #expect(analyzer.counters.sshEvents == 3)

        let far = Self.at.adding(seconds: 3600)
        let observation = Array("/api".utf8).withUnsafeBytes { text in
            analyzer.observeRelayed(.http(HTTPRequest(clientIP: ip, section: 0..<4, status: 404), time: far), text: text,
                                    host: HostID(0), receivedAt: Self.at.adding(seconds: 10))
        }
        guard case .http(_, let time) = observation else { Issue.record("not http: \(observation)"); return }
        #expect(time == Self.at.adding(seconds: 10))
        #expect(analyzer.counters.futureTimestamps == 1 && analyzer.counters.httpRequests == 1)
    }
}
