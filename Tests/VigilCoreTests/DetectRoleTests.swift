import Testing
@testable import VigilCore

/// Where rules run (docs/relay.md): an edge's engine without the global rules, a central's
/// leaving a relayed host's alerts to its edge; and an engine as a value of its own.
@Suite struct DetectRoleTests {
    typealias F = DetectFixture

    @Test func anEngineWithoutGlobalRulesRaisesPerHostAlertsOnly() {
        var e = F.engine { $0.runsGlobalRules = false }
        e.hits(F.web1, F.at(0), 1201, status: 404)
        for (i, host) in [F.web1, F.web2, F.web3, F.db1].enumerated() { e.fail(host, F.attacker, F.at(Int64(i))) }
        let alerts = e.takeNamedAlerts()
        #expect(alerts.map(\.rule) == [.httpHighTraffic] && alerts.first?.scope == .host)
    }

    @Test func aHostLeftToItsEdgeRaisesNoHostAlertButCountsGlobally() {
        var e = F.engine()
        e.leaveHostAlerts(of: F.web1)
        e.hits(F.web1, F.at(0), 1201)
        let alerts = e.takeNamedAlerts()
        #expect(alerts.map(\.scope) == [.global])
        #expect(e.alertsLeft == 1)
        e.hits(F.web2, F.at(0), 1201)
        #expect(e.takeNamedAlerts().map(\.host) == ["web2"])
    }

    /// A copy keeps windows of its own (they once shared their buckets): what one copy counts
    /// never leaves the other's window. And an analyzer may cross threads.
    @Test func aCopyIsAnEngineOfItsOwn() {
        func sendable<T: Sendable>(_: T.Type) {}
        sendable(Analyzer.self)
        var e = F.engine()
        e.hits(F.web1, F.at(0), 1)
        var copy = e
        copy.hits(F.web1, F.at(0), 1201)
        #expect(copy.takeNamedAlerts().count == 2)
        // Second 0 (one request here) leaves the 120 s window: 1201 requests in it, one past the threshold.
        e.hits(F.web1, F.at(120), 1201)
        #expect(e.takeNamedAlerts().map(\.scope) == [.host, .global])
    }
}
