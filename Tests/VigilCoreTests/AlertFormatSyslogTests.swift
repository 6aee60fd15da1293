import Testing
@testable import VigilCore

/// The RFC 5424 form of an alert, checked byte for byte and by reading it back with vigil's own parser.
@Suite struct AlertFormatSyslogTests {
    static func message(_ alert: Alert, hostname: String = "collector1") -> [UInt8] {
        var out: [UInt8] = []
        AlertSyslogMessage.append(alert, hostname: hostname, procID: 4242, to: &out)
        return out
    }

    @Test func specExampleExactBytes() {
        let text = String(decoding: Self.message(AlertJSONTests.example), as: UTF8.self)
        #expect(text == "<28>1 2026-11-22T10:00:09.000000Z collector1 vigil 4242 ssh_bruteforce "
            + #"[alert@32473 id="a1b2" rule="ssh_bruteforce" state="firing" severity="warning" scope="host" "#
            + #"host="web1" ip="203.0.113.7" count="6" window_s="600" hosts="web1" "#
            + #"first_ts="2026-11-22T10:00:01Z" ts="2026-11-22T10:00:09Z"] "#
            + "6 failed ssh logins from 203.0.113.7 on web1 within 10m")
    }

    @Test(arguments: [
        (Severity.critical, Alert.State.firing, UInt8(2)),
        (.warning, .firing, 4),
        (.info, .firing, 6),
        (.critical, .resolved, 5),
        (.info, .resolved, 5),
    ])
    func priorityIsDaemonFacilityWithSeverityFromAlert(severity: Severity, state: Alert.State, expected: UInt8) {
        var a = AlertJSONTests.example
        a.severity = severity; a.state = state
        let bytes = Self.message(a)
        let fields = bytes.withUnsafeBytes { SyslogParser().parse($0, receivedAt: a.ts) }
        #expect(fields.format == .rfc5424)
        #expect(fields.facility == 3)
        #expect(fields.severity == expected)
    }

    /// Hostile host names and summaries (quotes, `]`, backslashes, newlines) stay inside their parameter
    /// and the message stays on one line; the parser reads every value back unescaped.
    @Test func hostileValuesRoundTripThroughTheParser() {
        var a = AlertJSONTests.example
        a.host = #"we"b]1\x"#
        a.hosts = [#"we"b]1\x"#, "db2"]
        a.summary = "line one\nline two\r\u{7F}end"
        a.ip = IPAddress.parse("2001:db8::7")
        a.scope = .global
        let bytes = Self.message(a, hostname: "")
        #expect(!bytes.contains(0x0A) && !bytes.contains(0x0D))
        var params: [String: String] = [:]
        var sdID = ""
        var msg = ""
        var header: [String] = []
        bytes.withUnsafeBytes { raw in
            let fields = SyslogParser().parse(raw, receivedAt: a.ts)
            #expect(fields.format == .rfc5424)
            #expect(fields.timestamp == a.ts)
            for r in [fields.hostname, fields.appName, fields.procID, fields.msgID] {
                header.append(String(decoding: raw[r], as: UTF8.self))
            }
            msg = String(decoding: raw[fields.text], as: UTF8.self)
            var reader = StructuredDataReader(raw, range: fields.structuredData)
            var count = 0
            while let element = reader.next() {
                count += 1
                sdID = String(decoding: raw[element.id], as: UTF8.self)
                var p = reader.parameters(of: element)
                while let param = p.next() {
                    params[String(decoding: raw[param.name], as: UTF8.self)] = StructuredDataReader.unescapeValue(raw, param.rawValue)
                }
            }
            #expect(count == 1)
        }
        #expect(header == ["", "vigil", "4242", "ssh_bruteforce"])  // the parser reads the NILVALUE `-` as empty
        #expect(String(decoding: bytes, as: UTF8.self).contains("Z - vigil 4242 "))
        #expect(sdID == "alert@32473")
        #expect(params["host"] == #"we"b]1\x"#)
        #expect(params["hosts"] == #"we"b]1\x,db2"#)
        #expect(params["ip"] == "2001:db8::7")
        #expect(params["scope"] == "global")
        #expect(params["count"] == "6")
        #expect(params["first_ts"] == "2026-11-22T10:00:01Z")
        #expect(msg == "line one line two  end")
    }

    @Test func globalAlertWithoutHostOrIPOmitsThoseParameters() {
        var a = AlertJSONTests.example
        a.host = nil; a.ip = nil; a.scope = .global; a.hosts = []
        let text = String(decoding: Self.message(a), as: UTF8.self)
        #expect(!text.contains(" host=") && !text.contains(" ip="))
        #expect(text.contains(#"scope="global" count="6" window_s="600" hosts="" "#))
    }
}
