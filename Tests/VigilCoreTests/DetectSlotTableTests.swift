import Testing
@testable import VigilCore

extension UInt32: SlotKey {
    func slotHash(_ seed: UInt64) -> UInt64 { mixHash(UInt64(self), 0, seed) }
}

@Suite struct DetectSlotTableTests {
    /// The per-host key packs into 20 bytes, so a table entry (key and stamp) takes 24.
    @Test func hostIPKeysPackTight() {
        #expect(MemoryLayout<HostIP>.size == 20)
    }

    /// Random touches and removals checked against a plain dictionary and an LRU order list.
    /// (Also the least recently seen slot, after every step.)
    @Test func matchesAReferenceModelUnderChurn() {
        var table = SlotTable<UInt32>(capacity: 300)
        var model: [UInt32: Int32] = [:]
        var order: [UInt32] = []          // least recently seen first
        var rng: UInt64 = 42
        var evictions = 0
        for _ in 0..<50_000 {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let key = UInt32(truncatingIfNeeded: rng >> 40) % 700
            if rng >> 20 & 7 == 0 {
                if let s = model.removeValue(forKey: key) {
                    #expect(table.slot(of: key) == s)
                    table.remove(slot: s)
                    order.removeAll { $0 == key }
                }
                #expect(table.leastRecentSlot() == order.first.flatMap { model[$0] })
                continue
            }
            let r = table.touch(key)
            if let s = model[key] {
                #expect(!r.isNew && r.slot == s)
                order.removeAll { $0 == key }
            } else {
                #expect(r.isNew)
                if order.count == 300 {
                    let lru = order.removeFirst()
                    #expect(r.evicted == lru)
                    model[lru] = nil
                    evictions += 1
                } else {
                    #expect(r.evicted == nil)
                }
                model[key] = r.slot
            }
            order.append(key)
            #expect(table.count == model.count)
            // Peeking at the least recently seen key (as freeing idle keys does) changes nothing.
            #expect(table.leastRecentSlot() == order.first.flatMap { model[$0] })
        }
        #expect(table.evictions == evictions && evictions > 0)
        for (k, s) in model { #expect(table.slot(of: k) == s) }
        for k in UInt32(0)..<700 where model[k] == nil { #expect(table.slot(of: k) == nil) }
    }

    /// The second prefetch stage hands over the slot a held key's bucket points to, and
    /// nothing for a key never held.
    @Test func prefetchEntryFindsTheSlotOfAHeldKey() {
        var table = SlotTable<UInt32>(capacity: 2000, seed: 3)
        for k in UInt32(0)..<1000 { _ = table.touch(k * 7) }
        for k in UInt32(0)..<1000 {
            var handed: [Int32] = []
            table.prefetchEntry(k * 7) { handed.append($0) }
            #expect(handed == [table.slot(of: k * 7)!])
            handed = []
            table.prefetchEntry(k * 7 + 1) { handed.append($0) }
            #expect(handed.isEmpty)
        }
    }

    @Test func recentTimesKeepTheNewestSorted() {
        var t = RecentTimes(n: 3, slots: 2, window: 600_000_000)
        var span = t.insert(1, 5, fresh: true)
        #expect(span.newest == 5 && span.nth == nil)
        for v: Int64 in [1, 9, 3, 7, 2] { span = t.insert(1, v) }
        #expect(span.newest == 9 && span.nth == 5 && t.oldest(1) == 5 && t.newest(1) == 9)
        span = t.insert(0, 4, count: 2, fresh: true)
        #expect(span.newest == 4 && span.nth == nil)
        span = t.insert(0, 4)
        #expect(span.nth == 4 && t.oldest(0) == 4)
        // A fresh slot forgets what it held; a count beyond n records n events.
        #expect(t.insert(0, 3, fresh: true).nth == nil && t.newest(0) == 3)
        #expect(t.insert(0, 8, count: 50, fresh: true).nth == 8)
    }

    @Test func recentTimesForgetWhatIsTooOldToHold() {
        var t = RecentTimes(n: 2, slots: 1, window: 600_000_000)
        t.insert(0, 0, fresh: true)
        let later = t.insert(0, 5_000_000_000)  // 83 min later: the first is beyond any µs age
        #expect(later.nth == nil && later.newest == 5_000_000_000)
        #expect(t.insert(0, 4_999_999_999).nth == 4_999_999_999)  // a late one 1 µs before the newest
    }

    /// With n = 1 only the newest time is kept; an older event changes nothing.
    @Test func recentTimesOfOneKeepTheNewest() {
        var t = RecentTimes(n: 1, slots: 2, window: 600_000_000)
        #expect(t.insert(0, 7, fresh: true).nth == 7)
        let span = t.insert(0, 3)
        #expect(span.nth == 7 && span.newest == 7 && t.oldest(0) == 7)
        #expect(t.insert(1, 5, count: 0, fresh: true).nth == nil)
        #expect(t.insert(0, 1, count: 0, fresh: true).nth == nil && t.newest(0) == .min)
    }

    @Test func recentTimesOverLongWindowsUseCoarserUnits() {
        var t = RecentTimes(n: 2, slots: 1, window: 3 * 3_600_000_000)
        t.insert(0, 0, fresh: true)
        let nth = t.insert(0, 2 * 3_600_000_000 + 3).nth  // 2 h later: kept, in 4 µs units for a 3 h window
        #expect(nth != nil && nth! >= 0 && nth! < 4)
    }

    /// Random failures of a few IPs on six hosts, partly out of order, checked against a plain
    /// reading of the rule's bookkeeping (per IP the `n` hosts last seen, each with its time,
    /// a new host replacing the one seen longest ago): the same firing decisions, deadlines and
    /// hosts, with a window of minutes and one of hours (ages in 2 µs units: times here are
    /// whole milliseconds).
    @Test func distributedStateMatchesAPlainModel() {
        for windowSeconds: Int64 in [600, 2 * 3600] {
            let rule = RuleSettings(threshold: 3, windowSeconds: windowSeconds, severity: .critical)
            let window = rule.windowMicroseconds
            var state = DistributedState(settings: rule, seed: 5)
            var model: [IPAddress: [(seen: Int64, host: UInt32)]] = [:]
            var rng: UInt64 = 11
            func next(_ n: UInt64) -> Int64 {
                rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Int64(rng >> 33 % n)
            }
            var clock: Int64 = 1_000_000_000
            for _ in 0..<20_000 {
                clock += next(UInt64(window / 1000 / 20)) * 1000
                let t = clock - next(UInt64(window / 1000 / 4)) * 1000   // up to a quarter window late
                let ip = IPAddress(10, 0, 0, UInt8(next(4)))
                let host = UInt32(next(6))
                let r = state.record(ip, state.table.lookup(ip), host: HostID(host), at: t, watermark: clock - window / 2)

                var entries = model[ip] ?? Array(repeating: (seen: Int64.min, host: UInt32(0)), count: 3)
                if let i = entries.firstIndex(where: { $0.seen != .min && $0.host == host }) {
                    entries[i].seen = max(entries[i].seen, t)
                } else {
                    var oldest = 0
                    for i in entries.indices where entries[i].seen < entries[oldest].seen { oldest = i }
                    if entries[oldest].seen < t { entries[oldest] = (t, host) }
                }
                model[ip] = entries
                let low = entries.map(\.seen).min()!, high = entries.map(\.seen).max()!
                let fires = low != .min && high - low < window && low + window > clock - window / 2
                #expect(r.fires == fires)
                if fires {
                    #expect(state.deadline(r.slot) == low + window)
                    #expect(Set(state.hosts(r.slot).map(\.rawValue)) == Set(entries.map(\.host)))
                }
            }
        }
    }

    /// Random events and slides, including jumps past the whole window, checked against the
    /// events themselves: the window's sums are always those of the events it covers.
    @Test func secondWindowSumsWhatItCovers() {
        var rng: UInt64 = 7
        func next(_ n: UInt64) -> Int64 {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int64(rng >> 33 % n)
        }
        for width in Int64(1)...7 {
            var window = SecondWindow(seconds: width)
            var events: [(second: Int64, marked: Bool)] = []
            window.restart(at: 100)
            for _ in 0..<3_000 {
                if next(4) == 0 {
                    let target = window.head + (next(10) == 0 ? width + next(3) : 1)
                    if target - window.head > width {
                        window.restart(at: target)
                        events.removeAll()
                    } else {
                        while window.head < target { window.step() }
                    }
                }
                let second = window.head - next(UInt64(width))
                let marked = next(3) == 0
                #expect(window.covers(second))
                window.add(second, marked: marked)
                events.append((second, marked))
                let inside = events.filter { window.covers($0.second) }
                #expect(window.sum == inside.count)
                #expect(window.markedSum == inside.filter(\.marked).count)
            }
        }
    }

    /// Finding: a window's memory grew with its length (8 bytes per second per host: a 1-day
    /// window on 1,000 hosts took 691 MB, a 1000000-day one aborted serve). Past 600 seconds a
    /// window counts in coarser buckets and never holds more than 600.
    @Test func aLongWindowHoldsAtMost600Buckets() {
        #expect(SecondWindow.buckets(120) == (1, 120))
        #expect(SecondWindow.buckets(600) == (1, 600))
        #expect(SecondWindow.buckets(601) == (2, 301))
        #expect(SecondWindow.buckets(7200) == (12, 600))
        #expect(SecondWindow.buckets(7 * 86_400) == (1008, 600))
        #expect(SecondWindow.spanSeconds(601) == 602 && SecondWindow.spanSeconds(7200) == 7200)
        let week = SecondWindow(seconds: 7 * 86_400)
        #expect(week.width == 600 && week.spanSeconds == 7 * 86_400)
        #expect(week.bucket(of: 1007) == 0 && week.bucket(of: 1008) == 1 && week.bucket(of: -1) == -1 && week.bucket(of: -1008) == -1)
        #expect(week.startMicroseconds(of: 2) == 2016 * 1_000_000)
    }

    /// Incidents are found by slot, freed positions are reused, and a reused one starts
    /// with no hosts of its predecessor; slots beyond the highest that ever fired do not fire.
    @Test func firingSetReusesFreedIncidents() {
        var f = FiringSet(slots: 5000)
        #expect(f[4999] == nil && !f.add(1, to: 4999))
        f.start(1, Incident(seq: 7, host: nil, ip: nil, firstTs: 0, count: 3))
        #expect(f.add(2, to: 1, host: HostID(5)) && !f.add(1, to: 2) && !f.add(1, to: 4999))
        #expect(f[1]?.count == 5 && f[1]?.hosts == [HostID(5)] && f.seq(of: 1) == 7 && f.seq(of: 2) == nil)
        #expect(f.remove(1)?.seq == 7 && f.remove(1) == nil && f.count == 0)
        f.start(3, Incident(seq: 8, host: nil, ip: nil, firstTs: 0, count: 1))
        #expect(f[3]?.hosts == [] && f[1] == nil && f.count == 1)
        f.start(4999, Incident(seq: 9, host: nil, ip: nil, firstTs: 0, count: 1))
        #expect(f.seq(of: 4999) == 9 && f.seq(of: 3) == 8 && f.seq(of: 4998) == nil && f.remove(4998) == nil)
    }

    /// A PID that opens session after session with no close (a reused PID, or a sender
    /// repeating `Accepted`) leaves one stale deadline per opening: they must be compacted
    /// away instead of piling up until their deadlines pass; the latest opening still counts.
    @Test func sessionsReopenedWithoutACloseKeepTheDeadlineHeapBounded() {
        let rule = DetectionSettings()[.sshLongSession]
        var state = SessionState(settings: rule, seed: 1)
        let key = HostPID(host: HostID(0), pid: 4242)
        for i in 0..<100_000 {
            #expect(state.open(key, ip: nil, at: Int64(i)) == nil)
            #expect(state.scheduledDeadlines <= 2 * 1 + 1024 + 1)
        }
        let last = Int64(99_999)
        #expect(state.earliestDeadline <= last &+ rule.windowMicroseconds)
        #expect(state.takeDue(watermark: last &+ rule.windowMicroseconds).isEmpty)
        #expect(state.takeDue(watermark: last &+ rule.windowMicroseconds &+ 1) == [state.table.slot(of: key)!])
    }
}
