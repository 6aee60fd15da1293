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

    @Test func resolvesExactlyTenMinutesAfterTheLastFailure() {
        var e = F.engine()
        for s in 0..<6 { e.fail(F.web1, F.attacker, F.at(Int64(s))) }
        #expect(e.takeNamedAlerts().count == 1)
        e.advance(now: F.at(605, -1))
        #expect(e.takeNamedAlerts().isEmpty)
        e.advance(now: F.at(605))
        let a = e.takeNamedAlerts()
        #expect(a.count == 1)
        #expect(a.first?.state == .resolved && a.first?.id == "t1" && a.first?.ts == F.at(605) && a.first?.count == 6)
        #expect(a.first?.summary == "no failed ssh login from 203.0.113.7 on web1 for 10m (6 in total)")
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

    @Test func sameIPFailingOnThreeHostsRaisesOneAlertNamingThem() {
        var e = F.engine()
        e.fail(F.web3, F.attacker, F.at(0))
        e.fail(F.web1, F.attacker, F.at(10))
        e.fail(F.web1, F.attacker, F.at(20))
        #expect(e.takeNamedAlerts().isEmpty)
        e.observeSSH(host: F.web2, time: F.at(30), event: SSHEvent(kind: .probe, ip: F.attacker))
        var a = e.takeNamedAlerts()
        #expect(a.count == 1)
        #expect(a.first?.rule == .sshDistributed && a.first?.scope == .global && a.first?.host == nil)
        #expect(a.first?.hosts == ["web1", "web2", "web3"])
        #expect(a.first?.firstTs == F.at(0) && a.first?.ts == F.at(30) && a.first?.severity == .critical)
        #expect(a.first?.summary == "203.0.113.7 failed or probed ssh on 3 hosts within 10m: web1, web2, web3")
        e.fail(F.db1, F.attacker, F.at(40))
        #expect(e.takeNamedAlerts().isEmpty)
        // web3 was last seen at 0, web2 at 30, web1 at 20: web3 leaves first... but db1 (40) keeps
        // three hosts (web1, web2, db1) in the window until web1's 20 s + 600 s.
        e.advance(now: F.at(620, -1))
        #expect(e.takeNamedAlerts().isEmpty)
        e.advance(now: F.at(620))
        a = e.takeNamedAlerts()
        #expect(a.count == 1 && a.first?.state == .resolved && a.first?.ts == F.at(620))
        #expect(a.first?.hosts == ["db1", "web1", "web2", "web3"])
    }

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

    func open(_ e: inout DetectionEngine, _ s: Int64, pid: Int32) {
        e.observeSSH(host: F.web1, time: F.at(s), event: SSHEvent(kind: .sessionOpen, ip: F.other, pid: pid))
    }

    @Test func thirdSessionWithinAnHourFiresAndWindowLetsGo() {
        var e = F.engine()
        open(&e, 0, pid: 1)
        e.observeSessionSummary(host: F.web1, time: F.at(100),
                                summary: SessionSummary(ip: F.other, start: F.at(40), end: F.at(100)))
        #expect(e.takeNamedAlerts().isEmpty)
        open(&e, 200, pid: 3)
        var a = e.takeNamedAlerts()
        #expect(a.count == 1)
        #expect(a.first?.rule == .sshRepeatAccess && a.first?.count == 3 && a.first?.firstTs == F.at(0))
        #expect(a.first?.summary == "198.51.100.23 opened 3 ssh sessions on web1 within 1h")
        open(&e, 300, pid: 4)
        #expect(e.takeNamedAlerts().isEmpty)
        // Three opens remain within the hour until the one at 100 s is an hour old.
        e.advance(now: F.at(3700, -1))
        #expect(e.takeNamedAlerts().isEmpty)
        e.advance(now: F.at(3700))
        a = e.takeNamedAlerts()
        #expect(a.count == 1 && a.first?.state == .resolved && a.first?.ts == F.at(3700))
    }

    @Test func twoSessionsDoNotFire() {
        var e = F.engine()
        open(&e, 0, pid: 1)
        open(&e, 3599, pid: 2)
        open(&e, 3600, pid: 3)
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

    @Test func fires1201stHitNot1200thAndResolvesAfterTheQuietPeriod() {
        var e = F.engine()
        e.hits(F.web1, F.at(0), 1200)
        #expect(e.takeNamedAlerts().isEmpty)
        e.hits(F.web1, F.at(0, 500), 1)
        let fired = e.takeNamedAlerts().filter { $0.scope == .host }
        #expect(fired.first?.summary == "High traffic generated an alert - hits = 10.01, triggered at 2026-11-22T10:00:00Z")
        #expect(fired.first?.count == 1201)
        e.hits(F.web1, F.at(30), 4)  // while firing, every hit counts for the incident (host and global)
        // The average is back at or below 10 from 120 s (the 1201 hits leave the window); the
        // alert resolves once it has stayed there for the quiet period (15 min): at 1020 s.
        e.advance(now: F.at(1020, -1))
        #expect(e.takeNamedAlerts().isEmpty)
        e.advance(now: F.at(1020))
        let all = e.takeNamedAlerts()
        let resolved = all.filter { $0.scope == .host }, global = all.filter { $0.scope == .global }
        #expect(resolved.first?.summary == "High traffic alert recovered - hits = 0.00, recovered at 2026-11-22T10:17:00Z")
        #expect(resolved.first?.ts == F.at(1020) && resolved.first?.count == 1205)
        #expect(global.map(\.state) == [.resolved] && global.first?.count == 1205 && global.first?.ts == F.at(1020))
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

    @Test func halfOfTwentyFiresNineteenDoesNot() {
        var e = F.engine()
        e.hits(F.web1, F.at(0), 19, status: 503)
        #expect(e.takeNamedAlerts().isEmpty)
        e.hits(F.web1, F.at(1), 1, status: 200)
        var a = e.takeNamedAlerts()
        #expect(a.count == 1 && a.first?.rule == .httpErrorBurst)
        #expect(a.first?.summary == "19 of 20 requests (95%) on web1 answered 5xx within 1m")
        #expect(a.first?.ts == F.at(1))
        // Ratio back under 50 % at the request that tips it: resolves 10 min (the quiet period) later.
        e.hits(F.web1, F.at(2), 18, status: 200)
        #expect(e.takeNamedAlerts().isEmpty)
        e.hits(F.web1, F.at(3), 1, status: 200)
        e.advance(now: F.at(603, -1))
        #expect(e.takeNamedAlerts().isEmpty)
        e.advance(now: F.at(603))
        a = e.takeNamedAlerts()
        #expect(a.count == 1 && a.first?.state == .resolved && a.first?.ts == F.at(603))
        #expect(a.first?.summary == "5xx responses on web1 back under the threshold: 0 of 0 requests (0%) within 1m")
    }

    @Test func exactlyFiftyPercentFires() {
        var e = F.engine()
        e.hits(F.web1, F.at(0), 10, status: 200)
        e.hits(F.web1, F.at(0), 9, status: 500)
        e.hits(F.web1, F.at(0), 1, status: 404)
        #expect(e.takeNamedAlerts().isEmpty)
        var f = F.engine()
        f.hits(F.web1, F.at(0), 10, status: 200)
        f.hits(F.web1, F.at(0), 10, status: 502)
        #expect(f.takeNamedAlerts().count == 1)
        // The requests leave the window at 60 s; the quiet period (10 min) ends at 660 s.
        f.advance(now: F.at(660, -1))
        #expect(f.takeNamedAlerts().isEmpty)
        f.advance(now: F.at(660))
        #expect(f.takeNamedAlerts().first?.ts == F.at(660))
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

/// The quiet period of the rate rules (`resolve_after`): a firing alert resolves only once its
/// condition has not held for the whole period, exactly at its end; holding again within it keeps
/// the same alert; a later, separate condition is a new alert.
@Suite struct DetectRateQuietPeriodTests {
    typealias F = DetectFixture

    @Test func highTrafficBounceInTheQuietPeriodKeepsOneAlertHostAndGlobal() {
        var e = F.engine()
        e.hits(F.web1, F.at(0), 1201)
        #expect(e.takeNamedAlerts().map(\.id) == ["t1", "t2"])  // host, then global
        // Quiet from 120 s; back above at 500 s (1201 more hits), within the 15 min: nothing.
        e.advance(now: F.at(500))
        e.hits(F.web1, F.at(500), 1201)
        #expect(e.takeNamedAlerts().isEmpty)
        // Quiet again from 620 s: still firing 1 µs before 620 + 900 s, resolved exactly then.
        e.advance(now: F.at(1520, -1))
        #expect(e.takeNamedAlerts().isEmpty)
        e.advance(now: F.at(1520))
        let resolved = e.takeNamedAlerts()
        #expect(resolved.map(\.state) == [.resolved, .resolved])
        #expect(Set(resolved.map(\.id)) == ["t1", "t2"] && resolved.allSatisfy { $0.ts == F.at(1520) && $0.count == 2402 })
        #expect(resolved.map(\.summary).allSatisfy { $0 == "High traffic alert recovered - hits = 0.00, recovered at 2026-11-22T10:25:20Z" })
        // A later, separate condition is a new alert.
        e.hits(F.web1, F.at(3000), 1201)
        let again = e.takeNamedAlerts()
        #expect(again.map(\.state) == [.firing, .firing] && again.map(\.id) == ["t3", "t4"])
    }

    @Test func globalHighTrafficHasItsOwnQuietPeriod() {
        var e = F.engine { $0[.httpHighTraffic].resolveAfterMicroseconds = 60_000_000 }
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
        e.advance(now: F.at(330, -1))
        #expect(e.takeNamedAlerts().isEmpty)
        e.advance(now: F.at(330))
        let a = e.takeNamedAlerts()
        #expect(a.count == 1 && a.first?.scope == .global && a.first?.state == .resolved && a.first?.ts == F.at(330))
        #expect(a.first?.id == "t1" && a.first?.count == 2402)
    }

    @Test func errorBurstResolvesExactlyAtTheEndOfTheQuietPeriod() {
        var e = F.engine()
        e.hits(F.web1, F.at(0), 20, status: 503)
        #expect(e.takeNamedAlerts().map(\.state) == [.firing])
        e.hits(F.web1, F.at(10), 21, status: 200)  // 20 of 41: under 50 % from 10 s
        e.advance(now: F.at(610, -1))
        #expect(e.takeNamedAlerts().isEmpty)
        e.advance(now: F.at(610))
        let a = e.takeNamedAlerts()
        #expect(a.count == 1 && a.first?.state == .resolved && a.first?.id == "t1" && a.first?.ts == F.at(610))
    }

    @Test func errorBurstBounceInTheQuietPeriodKeepsOneAlertAndALaterBurstIsNew() {
        var e = F.engine()
        e.hits(F.web1, F.at(0), 20, status: 503)
        e.hits(F.web1, F.at(10), 21, status: 200)
        #expect(e.takeNamedAlerts().map(\.id) == ["t1"])
        // At 300 s the window holds only 5xx again: back over the threshold within the quiet period.
        e.hits(F.web1, F.at(300), 30, status: 500)
        #expect(e.takeNamedAlerts().isEmpty)
        // They leave the window at 360 s: quiet from then, resolved at 960 s.
        e.advance(now: F.at(960, -1))
        #expect(e.takeNamedAlerts().isEmpty)
        e.advance(now: F.at(960))
        let a = e.takeNamedAlerts()
        #expect(a.map(\.state) == [.resolved] && a.first?.id == "t1" && a.first?.ts == F.at(960))
        e.hits(F.web1, F.at(2000), 20, status: 502)
        let b = e.takeNamedAlerts()
        #expect(b.map(\.state) == [.firing] && b.first?.id == "t2")
    }
}

@Suite struct DetectScanTests {
    typealias F = DetectFixture

    @Test func twentieth404FiresAndResolvesAQuietPeriodAfterTheWindowLetsGo() {
        var e = F.engine()
        for s: Int64 in 0..<19 { e.hits(F.web1, F.at(s), 1, status: 404, ip: F.attacker) }
        e.hits(F.web2, F.at(19), 5, status: 200, ip: F.attacker)
        #expect(e.takeNamedAlerts().isEmpty)
        e.hits(F.web2, F.at(20), 1, status: 404, ip: F.attacker)
        var a = e.takeNamedAlerts()
        #expect(a.count == 1)
        #expect(a.first?.rule == .httpScan && a.first?.scope == .global && a.first?.ip == F.attacker)
        #expect(a.first?.summary == "203.0.113.7 got 20 404 responses within 1m")
        #expect(a.first?.firstTs == F.at(0))
        // Fewer than 20 within the minute from 60 s: resolved once that has lasted the quiet
        // period (1 min), that is once fewer than 20 lie within the last 2 min.
        e.advance(now: F.at(120, -1))
        #expect(e.takeNamedAlerts().isEmpty)
        e.advance(now: F.at(120))
        a = e.takeNamedAlerts()
        #expect(a.count == 1 && a.first?.state == .resolved && a.first?.ts == F.at(120))
    }

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

    @Test func aScannerBackWithinTheQuietPeriodKeepsOneAlert() {
        var e = F.engine()
        for s: Int64 in 0..<20 { e.hits(F.web1, F.at(s), 1, status: 404, ip: F.attacker) }
        #expect(e.takeNamedAlerts().map(\.id) == ["t1"])
        // Under the threshold from 79 s; 20 more at 100 s, within the quiet period: no new alert.
        e.advance(now: F.at(100))
        e.hits(F.web1, F.at(100), 20, status: 404, ip: F.attacker)
        #expect(e.takeNamedAlerts().isEmpty)
        e.advance(now: F.at(220, -1))
        #expect(e.takeNamedAlerts().isEmpty)
        e.advance(now: F.at(220))
        let a = e.takeNamedAlerts()
        #expect(a.map(\.state) == [.resolved] && a.first?.id == "t1" && a.first?.ts == F.at(220) && a.first?.count == 40)
        // A later scan is a new alert.
        e.hits(F.web1, F.at(1000), 20, status: 404, ip: F.attacker)
        #expect(e.takeNamedAlerts().map(\.id) == ["t2"])
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
