import Testing
@testable import VigilCore

/// One suite per rule: the exact firing threshold, the exact resolution instant, the alert fields.
@Suite struct DetectBruteforceTests {
    typealias F = DetectFixture

    @Test func firesAtTheFifthFailureNotTheFourth() {
        var e = F.engine()
        for s in 0..<4 { e.fail(F.web1, F.attacker, F.at(Int64(s))) }
        #expect(e.takeNamedAlerts().isEmpty)
        e.fail(F.web1, F.attacker, F.at(4), kind: .invalidUser)
        let a = e.takeNamedAlerts()
        #expect(a.count == 1)
        #expect(a.first?.rule == .sshBruteforce && a.first?.state == .firing)
        #expect(a.first?.count == 5 && a.first?.host == "web1" && a.first?.ip == F.attacker)
        #expect(a.first?.firstTs == F.at(0) && a.first?.ts == F.at(4) && a.first?.windowSeconds == 600)
        #expect(a.first?.summary == "5 failed ssh logins from 203.0.113.7 on web1 within 10m")
        // One firing per key: more failures add to the count but raise nothing.
        e.fail(F.web1, F.attacker, F.at(5))
        #expect(e.takeNamedAlerts().isEmpty)
    }

    @Test func windowIsHalfOpen() {
        var e = F.engine()
        // Five failures spanning exactly 600 s are not "within 10 min"; one microsecond less is.
        for s: Int64 in [0, 150, 300, 450, 600] { e.fail(F.web1, F.attacker, F.at(s)) }
        #expect(e.takeNamedAlerts().isEmpty)
        var f = F.engine()
        for (s, us): (Int64, Int64) in [(0, 1), (150, 0), (300, 0), (450, 0), (600, 0)] { f.fail(F.web1, F.attacker, F.at(s, us)) }
        #expect(f.takeNamedAlerts().count == 1)
    }

    @Test func repeatedMessageCountsNTimesAndHostsAreSeparate() {
        var e = F.engine()
        e.fail(F.web1, F.attacker, F.at(0), count: 4)
        e.fail(F.web2, F.attacker, F.at(1))
        #expect(e.takeNamedAlerts().filter { $0.rule == .sshBruteforce }.isEmpty)
        e.fail(F.web1, F.attacker, F.at(2))
        #expect(e.takeNamedAlerts().map(\.host) == ["web1"])
    }

    @Test func thresholdAndWindowAreConfigurable() {
        var e = F.engine { $0[.sshBruteforce].threshold = 3; $0[.sshBruteforce].windowMicroseconds = 60_000_000 }
        e.fail(F.web1, F.attacker, F.at(0)); e.fail(F.web1, F.attacker, F.at(1))
        #expect(e.takeNamedAlerts().isEmpty)
        e.fail(F.web1, F.attacker, F.at(2))
        #expect(e.takeNamedAlerts().first?.summary == "3 failed ssh logins from 203.0.113.7 on web1 within 1m")
        e.advance(now: F.at(62))
        #expect(e.takeNamedAlerts().first?.state == .resolved)
    }
}

@Suite struct DetectDistributedTests {
    typealias F = DetectFixture

    @Test func threeHostsFurtherApartThanTheWindowDoNotFire() {
        var e = F.engine()
        e.fail(F.web1, F.attacker, F.at(0))
        e.fail(F.web2, F.attacker, F.at(300))
        e.fail(F.web3, F.attacker, F.at(600))
        #expect(e.takeNamedAlerts().isEmpty)
        e.fail(F.db1, F.attacker, F.at(601))
        #expect(e.takeNamedAlerts().first?.hosts == ["db1", "web2", "web3"])
    }
}

@Suite struct DetectRepeatAccessTests {
    typealias F = DetectFixture

    static func open(_ e: inout DetectionEngine, _ s: Int64, pid: Int32) {
        e.observeSSH(host: F.web1, time: F.at(s), event: SSHEvent(kind: .sessionOpen, ip: F.other, pid: pid))
    }

    @Test func twoSessionsDoNotFire() {
        var e = F.engine()
        Self.open(&e, 0, pid: 1)
        Self.open(&e, 3599, pid: 2)
        Self.open(&e, 3600, pid: 3)
        #expect(e.takeNamedAlerts().filter { $0.rule == .sshRepeatAccess }.isEmpty)
    }
}

@Suite struct DetectLongSessionTests {
    typealias F = DetectFixture

    @Test func firesOnlyWhenLongerThanFourHoursAndResolvesOnClose() {
        var e = F.engine()
        e.observeSSH(host: F.db1, time: F.at(0), event: SSHEvent(kind: .sessionOpen, ip: F.other, pid: 18419))
        e.advance(now: F.at(4 * 3600))
        #expect(e.takeNamedAlerts().isEmpty)
        e.advance(now: F.at(4 * 3600, 1))
        var a = e.takeNamedAlerts()
        #expect(a.count == 1)
        #expect(a.first?.rule == .sshLongSession && a.first?.state == .firing && a.first?.ts == F.at(4 * 3600))
        #expect(a.first?.firstTs == F.at(0) && a.first?.host == "db1" && a.first?.ip == F.other)
        #expect(a.first?.summary == "ssh session 18419 from 198.51.100.23 on db1 open for more than 4h")
        e.advance(now: F.at(5 * 3600))
        #expect(e.takeNamedAlerts().isEmpty)
        e.observeSSH(host: F.db1, time: F.at(5 * 3600 + 62), event: SSHEvent(kind: .sessionClose, pid: 18419))
        a = e.takeNamedAlerts()
        #expect(a.count == 1 && a.first?.state == .resolved && a.first?.id == "t1" && a.first?.ts == F.at(5 * 3600 + 62))
        #expect(a.first?.summary == "ssh session 18419 from 198.51.100.23 on db1 ended after 5h1m2s")
    }

    @Test func sessionClosedInTimeNeverFires() {
        var e = F.engine()
        e.observeSSH(host: F.db1, time: F.at(0), event: SSHEvent(kind: .sessionOpen, pid: 7))
        e.observeSSH(host: F.db1, time: F.at(4 * 3600), event: SSHEvent(kind: .sessionClose, pid: 7))
        e.advance(now: F.at(9 * 3600))
        #expect(e.takeNamedAlerts().isEmpty)
        #expect(e.keyCount(of: .sshLongSession) == 0)
    }

    @Test func samePIDOnAnotherHostIsAnotherSession() {
        var e = F.engine()
        e.observeSSH(host: F.web1, time: F.at(0), event: SSHEvent(kind: .sessionOpen, pid: 7))
        e.observeSSH(host: F.web2, time: F.at(10), event: SSHEvent(kind: .sessionOpen, pid: 7))
        e.observeSSH(host: F.web1, time: F.at(20), event: SSHEvent(kind: .sessionClose, pid: 7))
        e.advance(now: F.at(5 * 3600))
        #expect(e.takeNamedAlerts().map(\.host) == ["web2"])
    }
}

@Suite struct DetectHighTrafficTests {
    typealias F = DetectFixture

    @Test func seedScenarioAverageAboveTenAlertsAndDroppingBelowRecoversAtOnceWithoutQuietPeriod() {
        var e = F.engine { $0[.httpHighTraffic].resolveAfterMicroseconds = 0 }
        var alerts: [Alert] = []
        // 11 hits/s for two minutes, then 5 hits/s for one more.
        for s: Int64 in 0..<120 { e.hits(F.web1, F.at(s), 11); alerts += e.takeNamedAlerts() }
        for s: Int64 in 120..<180 { e.hits(F.web1, F.at(s), 5); alerts += e.takeNamedAlerts() }
        let host = alerts.filter { $0.scope == .host }
        #expect(host.map(\.summary) == [
            "High traffic generated an alert - hits = 10.01, triggered at 2026-11-22T10:01:49Z",
            "High traffic alert recovered - hits = 9.96, recovered at 2026-11-22T10:02:19Z",
        ])
        #expect(host.map(\.state) == [.firing, .resolved])
        #expect(host.first?.id == host.last?.id && host.first?.host == "web1" && host.first?.windowSeconds == 120)
        // With one host, the global view says the same.
        #expect(alerts.filter { $0.scope == .global }.map(\.summary) == host.map(\.summary))
    }

    @Test func globalFiresWhenNoSingleHostDoes() {
        var e = F.engine()
        e.hits(F.web1, F.at(0), 700)
        e.hits(F.web2, F.at(1), 501)
        let a = e.takeNamedAlerts()
        #expect(a.count == 1)
        #expect(a.first?.scope == .global && a.first?.host == nil && a.first?.hosts == [])
        #expect(a.first?.jsonLine().contains(#""scope":"global","host":null,"ip":null"#) == true)
    }
}

@Suite struct DetectErrorBurstTests {
    typealias F = DetectFixture

    @Test func fortyFivePercentDoesNotFire() {
        var e = F.engine()
        e.hits(F.web1, F.at(0), 10, status: 200)
        e.hits(F.web1, F.at(0), 9, status: 500)
        e.hits(F.web1, F.at(0), 1, status: 404)
        #expect(e.takeNamedAlerts().isEmpty)
    }

    @Test func successesLeavingTheWindowCanFireIt() {
        var e = F.engine()
        e.hits(F.web1, F.at(0), 20, status: 200)
        e.hits(F.web1, F.at(30), 10, status: 500)
        e.hits(F.web1, F.at(30), 10, status: 200)
        #expect(e.takeNamedAlerts().isEmpty)
        e.advance(now: F.at(60))
        let a = e.takeNamedAlerts()
        #expect(a.count == 1 && a.first?.state == .firing && a.first?.ts == F.at(60))
    }
}

@Suite struct DetectScanTests {
    typealias F = DetectFixture

    /// A scanner at one 404 every 3.01 s holds 20 in the minute, then 19 as the oldest leaves,
    /// then 20 again: resolving at once fired and resolved it every 3 s (time advanced before
    /// each request, as `serve`'s clock does).
    @Test func aScannerAtTheThresholdIsOneAlert() {
        func firings(_ settings: (inout DetectionSettings) -> Void) -> Int {
            var e = F.engine(settings)
            for i in Int64(0)..<200 {
                e.advance(now: F.at(0, i * 3_010_000))
                e.hits(F.web1, F.at(0, i * 3_010_000), 1, status: 404, ip: F.attacker)
            }
            e.advance(now: F.at(900))
            return e.takeNamedAlerts().filter { $0.state == .firing }.count
        }
        #expect(firings { _ in } == 1)
        #expect(firings { $0[.httpScan].resolveAfterMicroseconds = 0 } > 150)
    }

}

@Suite struct DetectSessionReuseTests {
    typealias F = DetectFixture

    @Test func reusedPIDWithoutACloseStartsANewSession() {
        var e = F.engine()
        e.observeSSH(host: F.db1, time: F.at(0), event: SSHEvent(kind: .sessionOpen, pid: 7))
        e.observeSSH(host: F.db1, time: F.at(3 * 3600), event: SSHEvent(kind: .sessionOpen, pid: 7))
        e.advance(now: F.at(4 * 3600 + 1))
        #expect(e.takeNamedAlerts().isEmpty)
        e.advance(now: F.at(7 * 3600, 1))
        #expect(e.takeNamedAlerts().first?.firstTs == F.at(3 * 3600))
    }
}

/// The exact instant each rule's alerts resolve, one row per rule and scenario: still firing
/// 1 µs before it, resolved exactly at it. For the rate rules that is the end of the quiet
/// period (`resolve_after`): a firing alert resolves only once its condition has not held for the
/// whole period; holding again within it keeps the same alert; a later, separate condition is a
/// new alert.
@Suite struct DetectResolutionTests {
    typealias F = DetectFixture

    /// A scenario: what raises the alerts and ends their condition (with its own checks on the
    /// way), the instant they resolve, the alerts resolved then, and what follows.
    struct Case: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var settings: @Sendable (inout DetectionSettings) -> Void
        var events: @Sendable (inout DetectionEngine) -> Void
        var at: Timestamp
        /// The alerts resolved at `at`, in the order taken, as `text(_:)` writes them.
        var resolved: [String]
        var then: @Sendable (inout DetectionEngine) -> Void

        init(_ name: String, settings: @escaping @Sendable (inout DetectionSettings) -> Void = { _ in },
             events: @escaping @Sendable (inout DetectionEngine) -> Void, at: Timestamp, resolved: [String],
             then: @escaping @Sendable (inout DetectionEngine) -> Void = { _ in }) {
            testDescription = name
            self.settings = settings; self.events = events; self.at = at; self.resolved = resolved; self.then = then
        }
    }

    /// An alert as the table writes it: id, rule, scope, host (a global alert's hosts, `-` for none), count, summary.
    static func text(_ a: Alert) -> String {
        "\(a.id) \(a.rule.name) \(a.scope.rawValue) \(a.host ?? (a.hosts.isEmpty ? "-" : a.hosts.joined(separator: ","))) ×\(a.count): \(a.summary)"
    }

    @Test(arguments: cases) func resolvesExactlyAtItsInstant(_ c: Case) {
        var e = F.engine(c.settings)
        c.events(&e)
        e.advance(now: c.at.adding(microseconds: -1))
        #expect(e.takeNamedAlerts().isEmpty, "1 µs before")
        e.advance(now: c.at)
        let a = e.takeNamedAlerts()
        #expect(a.allSatisfy { $0.state == .resolved && $0.ts == c.at })
        #expect(a.map(Self.text) == c.resolved)
        c.then(&e)
    }

    static let cases: [Case] = [
        Case("ssh_bruteforce: 10 min after the last failure", events: { e in
            for s in 0..<6 { e.fail(F.web1, F.attacker, F.at(Int64(s))) }
            #expect(e.takeNamedAlerts().count == 1)
        }, at: F.at(605), resolved: ["t1 ssh_bruteforce host web1 ×6: no failed ssh login from 203.0.113.7 on web1 for 10m (6 in total)"]),

        Case("ssh_distributed: one alert naming the hosts, resolved when fewer than three remain in the window", events: { e in
            e.fail(F.web3, F.attacker, F.at(0))
            e.fail(F.web1, F.attacker, F.at(10))
            e.fail(F.web1, F.attacker, F.at(20))
            #expect(e.takeNamedAlerts().isEmpty)
            e.observeSSH(host: F.web2, time: F.at(30), event: SSHEvent(kind: .probe, ip: F.attacker))
            let a = e.takeNamedAlerts()
            #expect(a.count == 1)
            #expect(a.first?.rule == .sshDistributed && a.first?.scope == .global && a.first?.host == nil)
            #expect(a.first?.hosts == ["web1", "web2", "web3"])
            #expect(a.first?.firstTs == F.at(0) && a.first?.ts == F.at(30) && a.first?.severity == .critical)
            #expect(a.first?.summary == "203.0.113.7 failed or probed ssh on 3 hosts within 10m: web1, web2, web3")
            e.fail(F.db1, F.attacker, F.at(40))
            #expect(e.takeNamedAlerts().isEmpty)
            // web3 was last seen at 0, web2 at 30, web1 at 20: web3 leaves first... but db1 (40) keeps
            // three hosts (web1, web2, db1) in the window until web1's 20 s + 600 s.
        }, at: F.at(620), resolved: ["t1 ssh_distributed global db1,web1,web2,web3 ×4: 203.0.113.7 no longer failing on 3 hosts within 10m"]),

        Case("ssh_repeat_access: the third session within an hour fires; resolved when the window lets go", events: { e in
            DetectRepeatAccessTests.open(&e, 0, pid: 1)
            e.observeSessionSummary(host: F.web1, time: F.at(100),
                                    summary: SessionSummary(ip: F.other, start: F.at(40), end: F.at(100)))
            #expect(e.takeNamedAlerts().isEmpty)
            DetectRepeatAccessTests.open(&e, 200, pid: 3)
            let a = e.takeNamedAlerts()
            #expect(a.count == 1)
            #expect(a.first?.rule == .sshRepeatAccess && a.first?.count == 3 && a.first?.firstTs == F.at(0))
            #expect(a.first?.summary == "198.51.100.23 opened 3 ssh sessions on web1 within 1h")
            DetectRepeatAccessTests.open(&e, 300, pid: 4)
            #expect(e.takeNamedAlerts().isEmpty)
            // Three opens remain within the hour until the one at 100 s is an hour old.
        }, at: F.at(3700), resolved: ["t1 ssh_repeat_access host web1 ×4: 198.51.100.23 opened fewer than 3 ssh sessions on web1 within 1h"]),

        Case("http_high_traffic: fires at the 1201st hit, not the 1200th; resolves after the quiet period", events: { e in
            e.hits(F.web1, F.at(0), 1200)
            #expect(e.takeNamedAlerts().isEmpty)
            e.hits(F.web1, F.at(0, 500), 1)
            let fired = e.takeNamedAlerts().filter { $0.scope == .host }
            #expect(fired.first?.summary == "High traffic generated an alert - hits = 10.01, triggered at 2026-11-22T10:00:00Z")
            #expect(fired.first?.count == 1201)
            e.hits(F.web1, F.at(30), 4)  // while firing, every hit counts for the incident (host and global)
            // The average is back at or below 10 from 120 s (the 1201 hits leave the window); the
            // alert resolves once it has stayed there for the quiet period (15 min): at 1020 s.
        }, at: F.at(1020), resolved: [
            "t1 http_high_traffic host web1 ×1205: High traffic alert recovered - hits = 0.00, recovered at 2026-11-22T10:17:00Z",
            "t2 http_high_traffic global - ×1205: High traffic alert recovered - hits = 0.00, recovered at 2026-11-22T10:17:00Z",
        ]),

        Case("http_high_traffic: a bounce in the quiet period keeps one alert, host and global", events: { e in
            e.hits(F.web1, F.at(0), 1201)
            #expect(e.takeNamedAlerts().map(\.id) == ["t1", "t2"])  // host, then global
            // Quiet from 120 s; back above at 500 s (1201 more hits), within the 15 min: nothing.
            e.advance(now: F.at(500))
            e.hits(F.web1, F.at(500), 1201)
            #expect(e.takeNamedAlerts().isEmpty)
            // Quiet again from 620 s: still firing 1 µs before 620 + 900 s, resolved exactly then.
        }, at: F.at(1520), resolved: [
            "t1 http_high_traffic host web1 ×2402: High traffic alert recovered - hits = 0.00, recovered at 2026-11-22T10:25:20Z",
            "t2 http_high_traffic global - ×2402: High traffic alert recovered - hits = 0.00, recovered at 2026-11-22T10:25:20Z",
        ], then: { e in
            // A later, separate condition is a new alert.
            e.hits(F.web1, F.at(3000), 1201)
            let again = e.takeNamedAlerts()
            #expect(again.map(\.state) == [.firing, .firing] && again.map(\.id) == ["t3", "t4"])
        }),

        Case("http_high_traffic: the global alert has its own quiet period", settings: { $0[.httpHighTraffic].resolveAfterMicroseconds = 60_000_000 },
             events: { e in
            e.hits(F.web1, F.at(0), 700)
            e.hits(F.web2, F.at(1), 501)
            #expect(e.takeNamedAlerts().map(\.scope) == [.global])
            // Below from 120 s (web1's hits leave the window); above again at 150 s, within the minute,
            // with no host above on its own.
            e.advance(now: F.at(150))
            e.hits(F.web1, F.at(150), 600)
            e.hits(F.web2, F.at(150), 601)
            #expect(e.takeNamedAlerts().isEmpty)
            // Below from 270 s: still firing 1 µs before 330 s, resolved exactly then.
        }, at: F.at(330), resolved: ["t1 http_high_traffic global - ×2402: High traffic alert recovered - hits = 0.00, recovered at 2026-11-22T10:05:30Z"]),

        Case("http_error_burst: 19 of 20 fire; resolved the quiet period after the request that tips the ratio back", events: { e in
            e.hits(F.web1, F.at(0), 19, status: 503)
            #expect(e.takeNamedAlerts().isEmpty)
            e.hits(F.web1, F.at(1), 1, status: 200)
            let a = e.takeNamedAlerts()
            #expect(a.count == 1 && a.first?.rule == .httpErrorBurst)
            #expect(a.first?.summary == "19 of 20 requests (95%) on web1 answered 5xx within 1m")
            #expect(a.first?.ts == F.at(1))
            // Ratio back under 50 % at the request that tips it: resolves 10 min (the quiet period) later.
            e.hits(F.web1, F.at(2), 18, status: 200)
            #expect(e.takeNamedAlerts().isEmpty)
            e.hits(F.web1, F.at(3), 1, status: 200)
        }, at: F.at(603), resolved: ["t1 http_error_burst host web1 ×0: 5xx responses on web1 back under the threshold: 0 of 0 requests (0%) within 1m"]),

        Case("http_error_burst: exactly 50 % fires; resolved a window and a quiet period later", events: { e in
            e.hits(F.web1, F.at(0), 10, status: 200)
            e.hits(F.web1, F.at(0), 10, status: 502)
            #expect(e.takeNamedAlerts().count == 1)
            // The requests leave the window at 60 s; the quiet period (10 min) ends at 660 s.
        }, at: F.at(660), resolved: ["t1 http_error_burst host web1 ×0: 5xx responses on web1 back under the threshold: 0 of 0 requests (0%) within 1m"]),

        Case("http_error_burst: resolved exactly at the end of the quiet period", events: { e in
            e.hits(F.web1, F.at(0), 20, status: 503)
            #expect(e.takeNamedAlerts().map(\.state) == [.firing])
            e.hits(F.web1, F.at(10), 21, status: 200)  // 20 of 41: under 50 % from 10 s
        }, at: F.at(610), resolved: ["t1 http_error_burst host web1 ×0: 5xx responses on web1 back under the threshold: 0 of 0 requests (0%) within 1m"]),

        Case("http_error_burst: a bounce in the quiet period keeps one alert; a later burst is new", events: { e in
            e.hits(F.web1, F.at(0), 20, status: 503)
            e.hits(F.web1, F.at(10), 21, status: 200)
            #expect(e.takeNamedAlerts().map(\.id) == ["t1"])
            // At 300 s the window holds only 5xx again: back over the threshold within the quiet period.
            e.hits(F.web1, F.at(300), 30, status: 500)
            #expect(e.takeNamedAlerts().isEmpty)
            // They leave the window at 360 s: quiet from then, resolved at 960 s.
        }, at: F.at(960), resolved: ["t1 http_error_burst host web1 ×0: 5xx responses on web1 back under the threshold: 0 of 0 requests (0%) within 1m"], then: { e in
            e.hits(F.web1, F.at(2000), 20, status: 502)
            let b = e.takeNamedAlerts()
            #expect(b.map(\.state) == [.firing] && b.first?.id == "t2")
        }),

        Case("http_scan: the 20th 404 fires; resolved a quiet period after the window lets go", events: { e in
            for s: Int64 in 0..<19 { e.hits(F.web1, F.at(s), 1, status: 404, ip: F.attacker) }
            e.hits(F.web2, F.at(19), 5, status: 200, ip: F.attacker)
            #expect(e.takeNamedAlerts().isEmpty)
            e.hits(F.web2, F.at(20), 1, status: 404, ip: F.attacker)
            let a = e.takeNamedAlerts()
            #expect(a.count == 1)
            #expect(a.first?.rule == .httpScan && a.first?.scope == .global && a.first?.ip == F.attacker)
            #expect(a.first?.summary == "203.0.113.7 got 20 404 responses within 1m")
            #expect(a.first?.firstTs == F.at(0))
            // Fewer than 20 within the minute from 60 s: resolved once that has lasted the quiet
            // period (1 min), that is once fewer than 20 lie within the last 2 min.
        }, at: F.at(120), resolved: ["t1 http_scan global - ×20: 203.0.113.7 got fewer than 20 404 responses within 1m (20 in total)"]),

        Case("http_scan: a scanner back within the quiet period keeps one alert; a later scan is new", events: { e in
            for s: Int64 in 0..<20 { e.hits(F.web1, F.at(s), 1, status: 404, ip: F.attacker) }
            #expect(e.takeNamedAlerts().map(\.id) == ["t1"])
            // Under the threshold from 79 s; 20 more at 100 s, within the quiet period: no new alert.
            e.advance(now: F.at(100))
            e.hits(F.web1, F.at(100), 20, status: 404, ip: F.attacker)
            #expect(e.takeNamedAlerts().isEmpty)
        }, at: F.at(220), resolved: ["t1 http_scan global - ×40: 203.0.113.7 got fewer than 20 404 responses within 1m (40 in total)"], then: { e in
            e.hits(F.web1, F.at(1000), 20, status: 404, ip: F.attacker)
            #expect(e.takeNamedAlerts().map(\.id) == ["t2"])
        }),
    ]
}
