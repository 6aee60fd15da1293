import Testing
@testable import VigilCore

/// A reloaded configuration reaches the engine without losing what it knows: unchanged rules
/// keep their state and firing alerts, changed rules resolve theirs and start afresh.
@Suite struct DetectReconfigureTests {
    typealias F = DetectFixture

    @Test func anUnchangedRuleKeepsItsWindowsAcrossAReload() {
        var e = F.engine()
        for i in 0..<3 { e.fail(F.web1, F.attacker, F.at(Int64(i))) }
        var new = e.settings
        new[.httpScan].threshold = 5  // another rule changes
        #expect(e.reconfigure(new) == [.httpScan])
        for i in 3..<5 { e.fail(F.web1, F.attacker, F.at(Int64(i))) }
        // 3 failures before the reload and 2 after: the fifth within 10 minutes fires.
        let alerts = e.takeAlerts()
        #expect(alerts.map(\.rule) == [.sshBruteforce] && alerts.first?.count == 5 && alerts.first?.ts == F.at(4))
    }

    @Test func aChangedRuleResolvesWhatFiresAndStartsAfresh() {
        var e = F.engine()
        for i in 0..<5 { e.fail(F.web1, F.attacker, F.at(Int64(i))) }
        e.hits(F.web2, F.at(5), 20, status: 404, ip: F.other)
        let fired = e.takeAlerts()
        #expect(fired.map(\.rule) == [.sshBruteforce, .httpScan])
        var new = e.settings
        new[.sshBruteforce].threshold = 3
        #expect(e.reconfigure(new) == [.sshBruteforce])
        let resolved = e.takeAlerts()
        #expect(resolved.count == 1 && resolved.first?.state == .resolved && resolved.first?.id == fired[0].id)
        #expect(resolved.first?.summary == "ssh_bruteforce for 203.0.113.7 resolved (rule reconfigured)")
        #expect(resolved.first?.ts == F.at(5))
        // Fresh state under the new threshold: three more failures fire again, as a new alert.
        for i in 6..<9 { e.fail(F.web1, F.attacker, F.at(Int64(i))) }
        let again = e.takeAlerts()
        #expect(again.map(\.rule) == [.sshBruteforce] && again.first?.count == 3 && again.first?.id != fired[0].id)
        // http_scan was untouched: its alert is still firing and resolves on its own schedule.
        e.advance(now: F.at(5 + 60 + 1))
        #expect(e.takeAlerts().contains { $0.rule == .httpScan && $0.state == .resolved && $0.id == fired[1].id })
    }

    @Test func aSeverityChangeKeepsStateAndTheAllowlistAppliesAtOnce() {
        var e = F.engine()
        for i in 0..<4 { e.fail(F.web1, F.attacker, F.at(Int64(i))) }
        var new = e.settings
        new[.sshBruteforce].severity = .critical
        new.allowList = AllowList([try! CIDR.parse("198.51.100.0/24").get()])
        #expect(e.reconfigure(new).isEmpty)
        e.fail(F.web1, F.attacker, F.at(4))
        for i in 0..<5 { e.fail(F.web2, F.other, F.at(Int64(i))) }  // now allowlisted
        let alerts = e.takeAlerts()
        #expect(alerts.count == 1 && alerts.first?.severity == .critical && alerts.first?.ip == F.attacker)
    }

    @Test func disablingARuleResolvesItsAlerts() {
        var e = F.engine { $0[.httpHighTraffic].windowMicroseconds = 10_000_000; $0[.httpHighTraffic].threshold = 1 }
        e.hits(F.web1, F.at(0), 50)
        #expect(e.takeAlerts().filter { $0.rule == .httpHighTraffic }.count == 2)  // host and global
        var new = e.settings
        new[.httpHighTraffic].enabled = false
        #expect(e.reconfigure(new) == [.httpHighTraffic])
        let resolved = e.takeAlerts()
        #expect(resolved.count == 2 && resolved.allSatisfy { $0.state == .resolved && $0.summary.hasSuffix("(rule reconfigured)") })
        e.hits(F.web1, F.at(1), 50)
        #expect(e.takeAlerts().isEmpty)
    }
}
