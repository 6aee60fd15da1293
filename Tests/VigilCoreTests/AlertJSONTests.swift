import Testing
@testable import VigilCore

@Suite struct AlertJSONTests {
    static let example = Alert(
        id: "a1b2", rule: .sshBruteforce, state: .firing, severity: .warning, scope: .host, host: "web1",
        ip: IPAddress.parse("203.0.113.7"), count: 6, windowSeconds: 600, hosts: ["web1"],
        firstTs: CivilDateTime(year: 2026, month: 11, day: 22, hour: 10, minute: 0, second: 1).timestamp(),
        ts: CivilDateTime(year: 2026, month: 11, day: 22, hour: 10, minute: 0, second: 9).timestamp(),
        summary: "6 failed ssh logins from 203.0.113.7 on web1 within 10m")

    @Test func specExampleKeyOrderAndValues() {
        #expect(Self.example.jsonLine() == #"{"id":"a1b2","rule":"ssh_bruteforce","state":"firing","severity":"warning","#
            + #""scope":"host","host":"web1","ip":"203.0.113.7","count":6,"window_s":600,"#
            + #""hosts":["web1"],"first_ts":"2026-11-22T10:00:01Z","ts":"2026-11-22T10:00:09Z","#
            + #""summary":"6 failed ssh logins from 203.0.113.7 on web1 within 10m"}"#)
    }

    @Test func globalAlertWithSeveralHostsAndIPv6() {
        var a = Self.example
        a.rule = .sshDistributed; a.scope = .global; a.host = nil; a.ip = IPAddress.parse("2001:db8::7")
        a.hosts = ["web1", "web2", "web3"]; a.state = .resolved
        let line = a.jsonLine()
        #expect(line.contains(#""state":"resolved","severity":"warning","scope":"global","host":null,"ip":"2001:db8::7","#))
        #expect(line.contains(#""hosts":["web1","web2","web3"],"#))
        var b = a
        b.ip = nil; b.hosts = []
        #expect(b.jsonLine().contains(#""ip":null,"count":6,"window_s":600,"hosts":[],"#))
    }

    @Test func stringsAreEscapedAndInvalidUTF8Replaced() {
        let input: [UInt8] = [0x22, 0x5C, 0x0A, 0x0D, 0x09, 0x01, 0x7F, 0x2F, 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80,
                              0xFF, 0xC0, 0xAF, 0xED, 0xA0, 0x80, 0x41, 0xE2, 0x82]
        var out: [UInt8] = []
        input.withUnsafeBytes { JSON.appendString(bytes: $0, to: &out) }
        let r = "\u{FFFD}"
        #expect(String(decoding: out, as: UTF8.self)
            == "\"\\\"\\\\\\n\\r\\t\\u0001\\u007f/é😀" + r + r + r + r + r + r + "A" + r + r + "\"")
    }

    /// C1 controls (U+009B is an 8-bit CSI) and bidirectional controls are `\u` escapes, so the
    /// JSON is safe to print on a terminal; the character after the C1 block is kept.
    @Test func c1AndBidirectionalControlsAreEscapedInJSON() {
        var out: [UInt8] = []
        JSON.appendString("a\u{80}\u{85}\u{9b}\u{9f}\u{a0}\u{202e}\u{2066}é", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #""a\u0080\u0085\u009b\u009f"# + "\u{a0}" + #"\u202e\u2066é""#)
        for v in UInt32(0x80)...0x9F {
            var one: [UInt8] = []
            JSON.appendString(String(Unicode.Scalar(v)!), to: &one)
            #expect(one == Array(#""\u00"#.utf8) + Array(String(v, radix: 16).utf8) + [UInt8(ascii: "\"")])
        }
    }

    /// A host name that spells a second alert and a summary with escape sequences: the stdout
    /// line stays one line and shows them as escapes.
    @Test func stdoutLineEscapesHostileHostAndSummary() {
        var a = Self.example
        a.host = "evil\nFAKE 2026-11-22T10:00:00Z FIRING critical ssh_bruteforce web1 10.0.0.1"
        a.summary = "x\u{1b}[2J\u{9b}31m\\y"
        #expect(a.stdoutLine() == "2026-11-22T10:00:09Z FIRING warning ssh_bruteforce "
            + #"evil\nFAKE 2026-11-22T10:00:00Z FIRING critical ssh_bruteforce web1 10.0.0.1 203.0.113.7: "#
            + #"x\x1b[2J\u{009b}31m\\y [a1b2]"#)
    }

    @Test func hostNameWithQuoteAndNewlineStaysOneJSONLineAndOneStdoutLine() {
        var a = Self.example
        a.host = "evil\"\nhost"
        #expect(a.jsonLine().contains(#""host":"evil\"\nhost""#))
        #expect(!a.stdoutLine().contains("\n"))
    }

    @Test func stdoutLineIsReadable() {
        #expect(Self.example.stdoutLine()
            == "2026-11-22T10:00:09Z FIRING warning ssh_bruteforce web1 203.0.113.7: 6 failed ssh logins from 203.0.113.7 on web1 within 10m [a1b2]")
        var g = Self.example
        g.host = nil; g.ip = nil; g.state = .resolved; g.rule = .httpHighTraffic; g.summary = "x"
        #expect(g.stdoutLine() == "2026-11-22T10:00:09Z RESOLVED warning http_high_traffic *: x [a1b2]")
    }

    @Test func engineAlertSerialisesExactly() {
        var e = DetectFixture.engine()
        for s: Int64 in 1...5 { e.fail(DetectFixture.web1, DetectFixture.attacker, DetectFixture.at(s)) }
        #expect(e.takeNamedAlerts().first?.jsonLine() == #"{"id":"t1","rule":"ssh_bruteforce","state":"firing","severity":"warning","#
            + #""scope":"host","host":"web1","ip":"203.0.113.7","count":5,"window_s":600,"#
            + #""hosts":["web1"],"first_ts":"2026-11-22T10:00:01Z","ts":"2026-11-22T10:00:05Z","#
            + #""summary":"5 failed ssh logins from 203.0.113.7 on web1 within 10m"}"#)
    }

    @Test(arguments: [(Int64(600), "10m"), (3600, "1h"), (14_400, "4h"), (5400, "1h30m"), (45, "45s"), (0, "0s"), (18_062, "5h1m2s")])
    func durations(seconds: Int64, text: String) {
        #expect(Alert.durationText(seconds) == text)
    }

    @Test(arguments: [(10.008333, "10.01"), (9.958333, "9.96"), (0, "0.00"), (10, "10.00"), (0.005, "0.01"), (123.4, "123.40")])
    func twoDecimals(value: Double, text: String) {
        #expect(Alert.twoDecimals(value) == text)
    }
}
