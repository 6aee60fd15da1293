import Testing
@testable import VigilCore

/// The report's bounded keeping: per-address tallies in a flat table, and only the longest
/// sessions kept while the percentiles stay exact.
@Suite struct ReportTallyTests {
    func t(_ s: Int64) -> Timestamp { Timestamp(seconds: 1_800_000_000 + s) }

    @Test func addressesSeenOnceThenAgainAreCountedWithFirstAndLast() {
        var tally = AddressTally()
        let a = IPAddress(203, 0, 113, 7), b = IPAddress(10, 0, 0, 1)
        let v6 = Array("2001:db8::1".utf8).withUnsafeBytes { IPAddress.parse($0) }!
        tally.note(a, at: t(50))
        tally.note(b, at: t(10))
        tally.note(a, at: t(20))  // earlier than the first sighting: becomes `first`
        tally.note(a, at: t(90))
        for ip in [IPAddress(255, 255, 255, 255), v6, IPAddress(255, 255, 255, 255), v6] { tally.note(ip, at: t(1)) }
        let twice = tally.entries(atLeast: 2).sorted { $0.ip < $1.ip }
        #expect(twice.map(\.ip) == [v6, a, IPAddress(255, 255, 255, 255)].sorted())
        #expect(twice.first { $0.ip == a }?.entry == .init(count: 3, first: t(20), last: t(90)))
        #expect(tally.entries(atLeast: 3).map(\.ip) == [a])
    }

    /// Counts per address with a cap on distinct ones (the stats' clients, the report's failures).
    @Test func addressCountsRankAndRefuseNewAddressesPastTheLimit() {
        var counts = AddressCounts()
        let v6 = Array("2001:db8::1".utf8).withUnsafeBytes { IPAddress.parse($0) }!
        var accepted: [Bool] = []
        accepted.append(counts.add(v6, 1, limit: 3))
        accepted.append(counts.add(IPAddress(192, 0, 2, 1), 4, limit: 3))  // "message repeated 4 times"
        accepted.append(counts.add(IPAddress(192, 0, 2, 2), 1, limit: 3))
        accepted.append(counts.add(IPAddress(192, 0, 2, 3), 1, limit: 3))
        accepted.append(counts.add(IPAddress(192, 0, 2, 2), 1, limit: 3))  // known addresses still count
        #expect(accepted == [true, true, true, false, true])
        #expect(counts.count == 3)
        #expect(counts.top(2).map(\.ip) == [IPAddress(192, 0, 2, 1), IPAddress(192, 0, 2, 2)])
        #expect(counts.top(5).map(\.count) == [4, 2, 1])
        counts.removeAll()
        #expect(counts.count == 0 && counts.all.isEmpty)
    }

    /// The best `n` by one pass are the first `n` of the whole list sorted (count down, then
    /// address up), with many ties, IPv6 addresses and a count past 32 bits among 20,000.
    @Test func topAddressesAreThoseOfAFullSort() {
        var counts = AddressCounts()
        var random = SeededRandom(seed: 7)
        for _ in 0..<20_000 {
            let ip = random.next() % 4 == 0
                ? IPAddress(high: 0x2001_0db8_0000_0000, low: random.next() % 3_000)
                : IPAddress(ipv4: 0x0A00_0000 | UInt32(truncatingIfNeeded: random.next() % 8_000))
            _ = counts.add(ip, Int(random.next() % 3) + 1)
        }
        _ = counts.add(IPAddress(192, 0, 2, 7), Int(UInt32.max) + 5)
        let sorted = counts.all.sorted { $0.count != $1.count ? $0.count > $1.count : $0.ip < $1.ip }
        for n in [1, 2, 10, AddressCounts.shortList, AddressCounts.shortList + 1, 1_000, 100_000] {
            #expect(counts.top(n).map(\.ip) == sorted.prefix(n).map(\.ip), "top \(n)")
            #expect(counts.top(n).map(\.count) == sorted.prefix(n).map(\.count), "top \(n)")
        }
        #expect(counts.top(0).isEmpty)
        #expect(counts.top(100_000).count == counts.count)
    }

    /// Many addresses, each seen once and a fifth of them again: the table grows and loses nothing.
    @Test func theFlatTableGrowsWithoutLosingAddresses() {
        var tally = AddressTally()
        for i in 0..<50_000 { tally.note(IPAddress(ipv4: 0x0A00_0000 | UInt32(i)), at: t(Int64(i))) }
        for i in stride(from: 0, to: 50_000, by: 5) { tally.note(IPAddress(ipv4: 0x0A00_0000 | UInt32(i)), at: t(100_000)) }
        let twice = tally.entries(atLeast: 2)
        #expect(twice.count == 10_000)
        #expect(twice.allSatisfy { $0.entry.count == 2 && $0.entry.last == t(100_000) })
        var table = IPv4Table<Int64>()
        for i in 0..<1000 { #expect(table.slot(for: UInt32(i + 1), inserting: Int64(i)).inserted) }
        let again = table.slot(for: 500, inserting: -1)
        #expect(!again.inserted && table[slot: again.slot] == 499 && table.count == 1000)
        #expect(table.slot(of: 1001) == nil && IPv4Table<Int64>.key(.max) == nil)
        table.removeAll()
        #expect(table.count == 0 && table.slot(of: 500) == nil)
    }

    /// 2500 sessions of the same length are all at or above p95: all are counted, the
    /// earliest `keptSessions` are listed.
    @Test func onlyTheLongestSessionsAreKeptButAllAreCounted() {
        var a = LogAnalysis(settings: DetectionSettings(), options: .init(referenceTime: t(0)))
        let source = a.addSource(name: "auth.log", host: "vm")
        for i in 0..<2500 {
            let pid = 1000 + i
            let ip = "10.1.\(i / 250).\(i % 250)"
            // One session a minute, from 2026-11-10T00:00 on, each 30 s long.
            let h = i / 60, m = i % 60
            let day = "2026-11-\(10 + h / 24)T" + (h % 24 < 10 ? "0" : "") + "\(h % 24):" + (m < 10 ? "0" : "") + "\(m)"
            for line in ["\(day):00+00:00 vm sshd[\(pid)]: Accepted publickey for u from \(ip) port 5000 ssh2",
                         "\(day):30+00:00 vm sshd[\(pid)]: pam_unix(sshd:session): session closed for user u"] {
                Array(line.utf8).withUnsafeBytes { a.feed($0, source: source) }
            }
        }
        let r = a.report()
        #expect(r.invalidLines == 0 && r.ssh.sessions == 2500)
        #expect(r.ssh.p95Seconds == 30 && r.ssh.medianSeconds == 30 && r.ssh.maxSeconds == 30)
        #expect(r.ssh.sessionsAtOrAboveP95 == 2500)
        #expect(r.ssh.longestSessions.count == LogAnalysis.keptSessions)
        #expect(r.ssh.longestSessions.first?.ip == IPAddress(10, 1, 0, 0))
        #expect(r.ssh.longestSessions.last?.ip == IPAddress(10, 1, 3, 249))
        #expect(r.text().contains("sessions at or above p95 (2500):"))
        #expect(r.json().contains(#""sessions_at_or_above_p95":2500,"#))
    }
}
