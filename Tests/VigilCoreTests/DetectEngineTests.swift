import Testing
@testable import VigilCore

/// Engine-wide behaviour: lateness and ordering, allowlist, disabled rules, bounded state, ids.
@Suite struct DetectEngineTests {
    typealias F = DetectFixture

    @Test func outOfOrderEventsWithinLatenessCount() {
        var e = F.engine(lateness: 5_000_000)
        for s: Int64 in [10, 8, 6, 9] { e.fail(F.web1, F.attacker, F.at(s)) }
        #expect(e.takeNamedAlerts().isEmpty)
        e.fail(F.web1, F.attacker, F.at(7))
        let a = e.takeNamedAlerts()
        #expect(a.count == 1 && a.first?.firstTs == F.at(6) && a.first?.ts == F.at(7))
        #expect(e.lateEvents == 0)
    }

    @Test func eventsOlderThanTheWatermarkAreLateAndDropped() {
        var e = F.engine(lateness: 5_000_000)
        for s: Int64 in 100..<104 { e.fail(F.web1, F.attacker, F.at(s)) }
        e.fail(F.web1, F.attacker, F.at(98, -1))   // 5 s + 1 µs behind the newest (103): late
        #expect(e.lateEvents == 1)
        #expect(e.takeNamedAlerts().isEmpty)
        e.fail(F.web1, F.attacker, F.at(98))       // exactly at the watermark: counted
        #expect(e.lateEvents == 1)
        #expect(e.takeNamedAlerts().count == 1)
        #expect(e.watermark == F.at(98))
    }

    @Test func advanceMovesTheWatermarkAndResolutionWaitsForLateness() {
        var e = F.engine(lateness: 5_000_000)
        for s: Int64 in 0..<5 { e.fail(F.web1, F.attacker, F.at(s)) }
        _ = e.takeNamedAlerts()
        // The window lets go at 604 s; with 5 s lateness the engine is sure of it at 609 s.
        e.advance(now: F.at(609, -1))
        #expect(e.takeNamedAlerts().isEmpty)
        e.advance(now: F.at(609))
        let a = e.takeNamedAlerts()
        #expect(a.first?.state == .resolved && a.first?.ts == F.at(604))
        // Time moved by advance also makes old events late.
        e.fail(F.web1, F.attacker, F.at(603))
        #expect(e.lateEvents == 1)
    }

    @Test func eventsAloneDriveResolutionWhenReplayingAFile() {
        var e = F.engine()
        for s: Int64 in 0..<5 { e.fail(F.web1, F.attacker, F.at(s)) }
        e.fail(F.web2, F.other, F.at(700))
        let a = e.takeNamedAlerts()
        #expect(a.map(\.state) == [.firing, .resolved])
        #expect(a.last?.ts == F.at(604))
    }

    @Test func allowlistedAddressesNeverAlert() {
        var e = F.engine { _ = $0.allowList.add("203.0.113.0/24") }
        for s: Int64 in 0..<10 {
            e.fail(F.web1, F.attacker, F.at(s))
            e.fail(F.web2, F.attacker, F.at(s))
            e.fail(F.web3, F.attacker, F.at(s))
            e.hits(F.web1, F.at(s), 3, status: 404, ip: F.attacker)
        }
        #expect(e.takeNamedAlerts().isEmpty)
        #expect(e.keyCount(of: .sshBruteforce) == 0)
    }

    @Test func disabledRuleIsSilentOthersStillRun() {
        var e = F.engine { $0[.sshBruteforce].enabled = false }
        for s: Int64 in 0..<5 { e.fail(HostID(UInt32(s % 3)), F.attacker, F.at(s)) }
        #expect(e.takeNamedAlerts().map(\.rule) == [.sshDistributed])
    }

    /// A key whose window emptied is freed when time advances, least recently seen first; a
    /// firing key stays until it resolves (and holds back the keys seen after it); a freed key
    /// that comes back starts over, as its old events could no longer count anyway.
    @Test func keysWhoseWindowEmptiedAreFreed() {
        var e = F.engine()
        var keys: [Int] = []
        func total() -> Int { e.keyCount(of: .sshBruteforce) + e.keyCount(of: .sshDistributed) + e.keyCount(of: .httpScan) }
        for s: Int64 in 0..<5 { e.fail(F.web1, F.attacker, F.at(s)) }                    // ssh_bruteforce fires
        for s: Int64 in 0..<2 { e.fail(F.web2, F.other, F.at(s)) }
        for s: Int64 in 0..<3 { e.fail(HostID(UInt32(s)), F.other, F.at(10 + s)) }     // ssh_distributed fires
        e.hits(F.web1, F.at(20), 3, status: 404, ip: F.other)
        keys.append(total())                                 // 4 host+IP pairs, 2 IPs, 1 scanning IP
        e.advance(now: F.at(79))                              // the 404s at 20 s are still in the 60 s window
        keys.append(e.keyCount(of: .httpScan))
        e.advance(now: F.at(80))
        keys.append(e.keyCount(of: .httpScan))
        e.advance(now: F.at(603))                             // the attacker fires until 604 and heads the order
        keys.append(e.keyCount(of: .sshBruteforce))
        e.advance(now: F.at(700))
        keys.append(total())
        for s: Int64 in 700..<704 { e.fail(F.web1, F.attacker, F.at(s)) }
        for s: Int64 in 704..<707 { e.fail(HostID(UInt32(s % 3)), F.attacker, F.at(s)) }
        e.advance(now: F.at(2000))
        keys.append(total())
        #expect(keys == [7, 1, 0, 4, 0, 0])
        let firing = e.takeNamedAlerts().filter { $0.state == .firing }
        #expect(firing.map(\.rule) == [.sshBruteforce, .sshDistributed, .sshBruteforce, .sshDistributed])
        #expect(firing.map(\.firstTs) == [F.at(0), F.at(10), F.at(700), F.at(704)])
        #expect(firing.map(\.ts) == [F.at(4), F.at(12), F.at(705), F.at(706)])
        #expect(e.evictions(of: .sshBruteforce) == 0)
    }

    @Test func leastRecentlySeenKeyIsEvicted() {
        var e = F.engine { $0[.sshBruteforce].maxKeys = 2 }
        let c = IPAddress.parse("192.0.2.1")!
        for s: Int64 in 0..<4 { e.fail(F.web1, F.attacker, F.at(s)) }
        for s: Int64 in 4..<8 { e.fail(F.web1, F.other, F.at(s)) }
        e.fail(F.web1, F.attacker, F.at(8))          // attacker fires and becomes most recent
        #expect(e.takeNamedAlerts().map(\.ip) == [F.attacker])
        e.fail(F.web1, c, F.at(9))                   // evicts `other`, the least recently seen
        #expect(e.evictions(of: .sshBruteforce) == 1)
        #expect(e.keyCount(of: .sshBruteforce) == 2)
        e.fail(F.web1, F.other, F.at(10))            // `other` starts from scratch: no alert for it,
        let a = e.takeNamedAlerts()                       // and evicts the (firing) attacker, which resolves
        #expect(a.map(\.state) == [.resolved] && a.first?.ip == F.attacker)
        #expect(e.evictions(of: .sshBruteforce) == 2)
    }

    @Test func evictedFiringKeyResolves() {
        var e = F.engine { $0[.httpScan].maxKeys = 1 }
        e.hits(F.web1, F.at(0), 20, status: 404, ip: F.attacker)
        e.hits(F.web1, F.at(1), 1, status: 404, ip: F.other)
        let a = e.takeNamedAlerts()
        #expect(a.map(\.state) == [.firing, .resolved])
        #expect(a.last?.id == a.first?.id && a.last?.summary == "http_scan for 203.0.113.7 resolved (state evicted)")
    }

    /// `ssh_distributed` keeps its own per-IP records: evicting a firing IP resolves its
    /// incident (with the hosts it named), and the IP that took the slot starts empty.
    @Test func evictedDistributedIPResolvesWithItsHosts() {
        var e = F.engine { $0[.sshDistributed].maxKeys = 1; $0[.sshBruteforce].enabled = false }
        for (i, host) in [F.web1, F.web2, F.web3].enumerated() { e.fail(host, F.attacker, F.at(Int64(i))) }
        e.fail(F.web1, F.other, F.at(3))
        e.fail(F.web2, F.other, F.at(4))
        let a = e.takeNamedAlerts()
        #expect(a.map(\.state) == [.firing, .resolved] && a.map(\.ip) == [F.attacker, F.attacker])
        #expect(a.last?.id == a.first?.id && a.last?.hosts == a.first?.hosts && a.last?.hosts.count == 3)
        #expect(a.last?.summary == "ssh_distributed for 203.0.113.7 resolved (state evicted)")
        #expect(e.evictions(of: .sshDistributed) == 1 && e.keyCount(of: .sshDistributed) == 1)
    }

    @Test func idsAreDeterministicAndShared() {
        var e = F.engine()
        for s: Int64 in 0..<5 { e.fail(F.web1, F.attacker, F.at(s)) }
        for s: Int64 in 5..<10 { e.fail(F.web2, F.attacker, F.at(s)) }
        e.advance(now: F.at(1000))
        let a = e.takeNamedAlerts()
        #expect(a.map(\.id) == ["t1", "t2", "t1", "t2"])
        #expect(a.map(\.state) == [.firing, .firing, .resolved, .resolved])
        #expect(e.nextSequence == 3)
    }

    /// Resolutions come in deadline order; a key whose window moved on since it fired is
    /// looked at again later, not resolved early.
    @Test func manyFiringKeysResolveInDeadlineOrder() {
        var e = F.engine()
        let ips = (0..<10).map { IPAddress(10, 0, 0, UInt8(9 - $0)) }   // ids do not follow the addresses
        for (i, ip) in ips.enumerated() {
            for j: Int64 in 0..<5 { e.fail(F.web1, ip, F.at(Int64(i) * 10 + j)) }
        }
        e.fail(F.web1, ips[0], F.at(300))           // ips[0] keeps failing: its window ends at 900 s
        #expect(e.takeNamedAlerts().count == 10)
        e.advance(now: F.at(700))
        let a = e.takeNamedAlerts()
        #expect(a.map(\.ip) == Array(ips[1...]))
        #expect(a.map(\.ts) == (1..<10).map { F.at(Int64($0) * 10 + 604) })
        e.advance(now: F.at(899))
        #expect(e.takeNamedAlerts().isEmpty)
        e.advance(now: F.at(900))
        let last = e.takeNamedAlerts()
        #expect(last.map(\.ip) == [ips[0]] && last.first?.ts == F.at(900) && last.first?.count == 6)
    }

    /// The hash seed changes where keys land, never what fires, resolves or is evicted.
    @Test func hashSeedDoesNotChangeTheAlerts() {
        func run(seed: UInt64) -> ([Alert], Int) {
            var s = DetectionSettings()
            s.latenessMicroseconds = 0
            s[.sshBruteforce].maxKeys = 50
            var e = DetectionEngine(settings: s, idPrefix: "t", hashSeed: seed)
            for i in 0..<2000 {
                let ip = IPAddress(198, 51, UInt8(i % 7), UInt8(i * 37 % 61))
                e.fail(HostID(UInt32(i % 3)), ip, F.at(Int64(i / 4)))
            }
            e.advance(now: F.at(5000))
            return (e.takeNamedAlerts(), e.evictions(of: .sshBruteforce))
        }
        let (a, evicted) = run(seed: 0)
        let (b, evictedToo) = run(seed: 0x9E37_79B9_7F4A_7C15)
        #expect(a.count > 50 && evicted > 0)
        #expect(a == b && evicted == evictedToo)
    }

    @Test func sessionHeapStaysBoundedUnderChurn() {
        var e = F.engine()
        for i in 0..<5000 {
            let t = F.at(Int64(i))
            e.observeSSH(host: F.web1, time: t, event: SSHEvent(kind: .sessionOpen, pid: Int32(i + 1)))
            e.observeSSH(host: F.web1, time: t, event: SSHEvent(kind: .sessionClose, pid: Int32(i + 1)))
        }
        #expect(e.keyCount(of: .sshLongSession) == 0)
        e.advance(now: F.at(10 * 3600))
        #expect(e.takeNamedAlerts().isEmpty)
    }
}

@Suite struct DetectAllowListTests {
    @Test(arguments: [
        ("10.0.0.0/8", "10.255.1.2", true), ("10.0.0.0/8", "11.0.0.1", false),
        ("192.168.1.7", "192.168.1.7", true), ("192.168.1.7", "192.168.1.8", false),
        ("2001:db8::/32", "2001:db8:ffff::1", true), ("2001:db8::/32", "2001:db9::1", false),
        ("0.0.0.0/0", "8.8.8.8", true), ("0.0.0.0/0", "2001:db8::1", false),
        ("::/0", "2001:db8::1", true), ("192.0.2.0/25", "192.0.2.127", true), ("192.0.2.0/25", "192.0.2.128", false),
        ("2001:db8::1/128", "2001:db8::1", true), ("2001:db8:0:0:8000::/65", "2001:db8::7fff:0:0:0", false),
    ])
    func matches(cidr: String, ip: String, expected: Bool) {
        var list = AllowList()
        let added = list.add(cidr)
        #expect(added)
        #expect(list.contains(IPAddress.parse(ip)!) == expected)
    }

    @Test(arguments: ["", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "host.example/8", "::/129", "10.0.0.0/+8"])
    func rejects(cidr: String) {
        var list = AllowList()
        let added = list.add(cidr)
        #expect(!added)
        #expect(list.isEmpty)
    }
}
