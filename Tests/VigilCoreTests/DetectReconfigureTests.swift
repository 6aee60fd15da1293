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
        let alerts = e.takeNamedAlerts()
        #expect(alerts.map(\.rule) == [.sshBruteforce] && alerts.first?.count == 5 && alerts.first?.ts == F.at(4))
    }

    @Test func aChangedRuleResolvesWhatFiresAndStartsAfresh() {
        var e = F.engine()
        for i in 0..<5 { e.fail(F.web1, F.attacker, F.at(Int64(i))) }
        e.hits(F.web2, F.at(5), 20, status: 404, ip: F.other)
        let fired = e.takeNamedAlerts()
        #expect(fired.map(\.rule) == [.sshBruteforce, .httpScan])
        var new = e.settings
        new[.sshBruteforce].threshold = 3
        #expect(e.reconfigure(new) == [.sshBruteforce])
        let resolved = e.takeNamedAlerts()
        #expect(resolved.count == 1 && resolved.first?.state == .resolved && resolved.first?.id == fired[0].id)
        #expect(resolved.first?.summary == "ssh_bruteforce for 203.0.113.7 resolved (rule reconfigured)")
        #expect(resolved.first?.ts == F.at(5))
        // Fresh state under the new threshold: three more failures fire again, as a new alert.
        for i in 6..<9 { e.fail(F.web1, F.attacker, F.at(Int64(i))) }
        let again = e.takeNamedAlerts()
        #expect(again.map(\.rule) == [.sshBruteforce] && again.first?.count == 3 && again.first?.id != fired[0].id)
        // http_scan was untouched: its alert is still firing and resolves on its own schedule
        // (a window and a quiet period after its 404s).
        e.advance(now: F.at(5 + 60 + 60 + 1))
        #expect(e.takeNamedAlerts().contains { $0.rule == .httpScan && $0.state == .resolved && $0.id == fired[1].id })
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
        let alerts = e.takeNamedAlerts()
        #expect(alerts.count == 1 && alerts.first?.severity == .critical && alerts.first?.ip == F.attacker)
    }

    @Test func disablingARuleResolvesItsAlerts() {
        var e = F.engine { $0[.httpHighTraffic].windowMicroseconds = 10_000_000; $0[.httpHighTraffic].threshold = 1 }
        e.hits(F.web1, F.at(0), 50)
        #expect(e.takeNamedAlerts().filter { $0.rule == .httpHighTraffic }.count == 2)  // host and global
        var new = e.settings
        new[.httpHighTraffic].enabled = false
        #expect(e.reconfigure(new) == [.httpHighTraffic])
        let resolved = e.takeNamedAlerts()
        #expect(resolved.count == 2 && resolved.allSatisfy { $0.state == .resolved && $0.summary.hasSuffix("(rule reconfigured)") })
        e.hits(F.web1, F.at(1), 50)
        #expect(e.takeNamedAlerts().isEmpty)
    }

    /// A two-hour traffic window counts in 12-second buckets: the average over the window is
    /// exact at bucket boundaries, and it fires past the threshold and resolves once the window
    /// has slid past the burst and the quiet period (15 min) has passed.
    @Test func aLongTrafficWindowCountsInCoarseBucketsExactly() {
        var e = F.engine { $0[.httpHighTraffic].windowMicroseconds = 7_200_000_000; $0[.httpHighTraffic].threshold = 1 }
        e.hits(F.web1, F.at(0), 7_200)  // exactly 1 hit/s on average: not above the threshold
        #expect(e.takeNamedAlerts().isEmpty)
        e.hits(F.web1, F.at(11), 1)      // same 12-second bucket: 7201 over 7200 s
        let fired = e.takeNamedAlerts()
        #expect(fired.count == 2 && fired.allSatisfy { $0.rule == .httpHighTraffic && $0.state == .firing })
        #expect(fired.first?.summary == "High traffic generated an alert - hits = 1.00, triggered at \(F.at(11).rfc3339())")
        // The burst's bucket (seconds 0-11) leaves the window when the window reaches bucket 600
        // (second 7200); the quiet period ends 900 s later, at the start of bucket 675.
        e.advance(now: F.at(8_099))
        #expect(e.takeNamedAlerts().isEmpty)
        e.advance(now: F.at(8_100))
        let resolved = e.takeNamedAlerts()
        #expect(resolved.count == 2 && resolved.allSatisfy { $0.state == .resolved && $0.ts == F.at(8_100) })
    }

    /// The detection state has a total bound: by default nothing is lowered; a small budget scales
    /// every rule's key cap down together; long HTTP windows on many hosts limit the hosts that
    /// get their own windows. Each change is said.
    @Test func detectionMemoryIsBoundedInTotal() {
        let defaults = DetectionSettings().fitted(memoryBudget: 1 << 30, maxHosts: 100_000)
        #expect(defaults.fitNotes.isEmpty && defaults.maxRateHosts == Int.max && defaults[.sshBruteforce].maxKeys == 1 << 20)
        let small = DetectionSettings().fitted(memoryBudget: 64 << 20, maxHosts: 100_000)
        let keyed: [RuleID] = [.sshBruteforce, .sshDistributed, .sshRepeatAccess, .sshLongSession, .httpScan]
        let keyedBytes = keyed.reduce(0) { $0 + small[$1].maxKeys * DetectionSettings.estimatedBytesPerKey }
        #expect(keyedBytes <= (64 << 20) / 4 * 3 && small[.sshBruteforce].maxKeys < 1 << 20)
        #expect(small.fitNotes.first?.hasPrefix("max_keys lowered to ") == true)
        var week = DetectionSettings()
        week[.httpHighTraffic].windowMicroseconds = 7 * 86_400 * 1_000_000
        week[.httpErrorBurst].windowMicroseconds = 7 * 86_400 * 1_000_000
        let fitted = week.fitted(memoryBudget: 1 << 30, maxHosts: 100_000)
        let perHost = 64 + 600 * 8 * 2
        #expect(fitted.maxRateHosts == ((1 << 30) - 5 * (1 << 20) * 128) / perHost)
        #expect(fitted.fitNotes == ["per-host HTTP rate windows limited to the first \(fitted.maxRateHosts) hosts to fit detection.max_memory"])
    }

    /// Hosts past `maxRateHosts` keep counting for the global traffic rule, not for per-host ones.
    @Test func hostsPastTheRateCapCountGloballyOnly() {
        var e = F.engine {
            $0[.httpHighTraffic].windowMicroseconds = 10_000_000
            $0[.httpHighTraffic].threshold = 1
            $0.maxRateHosts = 1  // web1 only
        }
        e.hits(F.web2, F.at(0), 20)
        let alerts = e.takeNamedAlerts()
        #expect(alerts.map(\.scope) == [.global] && e.ratesSkipped == 20 && e.keyCount(of: .httpHighTraffic) == 0)
        e.hits(F.web1, F.at(0), 20)
        #expect(e.takeNamedAlerts().map(\.scope) == [.host] && e.ratesSkipped == 20)
    }
}
