import Testing
@testable import VigilCore

/// The Alertmanager `/api/v2/alerts` body of an alert.
@Suite struct AlertFormatAlertmanagerTests {
    static func body(_ alert: Alert) -> String {
        var out: [UInt8] = []
        AlertmanagerBody.append(alert, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func firingAlertHasLabelsAnnotationsAndNoEnd() {
        #expect(Self.body(AlertJSONTests.example)
            == #"[{"labels":{"alertname":"ssh_bruteforce","severity":"warning","scope":"host","host":"web1","#
            + #""ip":"203.0.113.7","vigil_id":"a1b2"},"annotations":{"summary":"#
            + #""6 failed ssh logins from 203.0.113.7 on web1 within 10m","count":"6"},"#
            + #""startsAt":"2026-11-22T10:00:01Z"}]"#)
    }

    @Test func resolvedAlertKeepsTheSameLabelsAndAddsEndsAt() {
        var resolved = AlertJSONTests.example
        resolved.state = .resolved
        resolved.summary = "recovered"
        let firing = Self.body(AlertJSONTests.example)
        let body = Self.body(resolved)
        let labels = { (s: String) in s[s.startIndex..<s.firstRange(of: "},\"annotations\"")!.lowerBound] }
        #expect(labels(body) == labels(firing))
        #expect(body.hasSuffix(#""startsAt":"2026-11-22T10:00:01Z","endsAt":"2026-11-22T10:00:09Z"}]"#))
    }

    @Test func globalAlertWithoutHostOrIPAndEscapedSummary() {
        var a = AlertJSONTests.example
        a.rule = .httpHighTraffic; a.scope = .global; a.host = nil; a.ip = nil
        a.summary = "say \"hi\"\n"
        let body = Self.body(a)
        #expect(body.hasPrefix(#"[{"labels":{"alertname":"http_high_traffic","severity":"warning","scope":"global","vigil_id":"a1b2"}"#))
        #expect(body.contains(#""summary":"say \"hi\"\n""#))
        #expect(AlertmanagerBody.path == "/api/v2/alerts")
    }
}
