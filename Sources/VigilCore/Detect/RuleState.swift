import CVigilHints

/// A key of a counting rule: names the host (for per-host rules) and the address an
/// incident is about, so firing state need not repeat them.
protocol IncidentKey: SlotKey {
    var incidentHost: HostID? { get }
    var incidentIP: IPAddress { get }
}

extension HostIP: IncidentKey {
    var incidentHost: HostID? { host }
    var incidentIP: IPAddress { ip }
}

extension IPAddress: IncidentKey {
    var incidentHost: HostID? { nil }
    var incidentIP: IPAddress { self }
}

/// What a counting rule keeps about a firing key until it resolves: the incident less
/// what its key says (32 bytes instead of an `Incident`'s 72).
struct Firing {
    var seq: UInt64
    var firstTs: Int64
    var count: Int
    var hosts: [HostID]

    /// The incident of `key`.
    func incident<Key: IncidentKey>(of key: Key) -> Incident {
        Incident(seq: seq, host: key.incidentHost, ip: key.incidentIP, firstTs: firstTs, count: count, hosts: hosts)
    }
}

/// What the engine remembers about a firing alert until it resolves.
struct Incident {
    /// The sequence number of the alert id (the engine adds its prefix); it also tells a
    /// live deadline entry from a stale one.
    var seq: UInt64
    var host: HostID?
    var ip: IPAddress?
    /// Event time of the first event of the incident (µs).
    var firstTs: Int64
    var count: Int
    /// Hosts involved (`ssh_distributed`), in the order first seen.
    var hosts: [HostID] = []
    /// The sshd PID (`ssh_long_session`).
    var pid: Int32 = 0
    /// The rate rules: since when (µs) the condition has not held while the incident fires; nil
    /// while it holds (see `settle`).
    var quietSince: Int64?
}

extension Optional where Wrapped == Incident {
    /// Whether evaluating a rate rule's condition at `t` (µs), finding that it `holds`, changes this
    /// incident or its absence: fires one, starts or ends its quiet period, or resolves it (its quiet
    /// period has lasted `quiet` µs). Cheap: read on every request.
    @inline(__always)
    func rateChanges(holds: Bool, at t: Int64, quiet: Int64) -> Bool {
        guard let since = self?.quietSince else { return holds != (self != nil) }
        return holds || t &- since >= quiet
    }

    /// The quiet period of a rate rule's firing incident (README, "Detection"): an evaluation at `t`
    /// finding the condition not holding starts it, one finding it holding again before it is over
    /// ends it (the incident keeps firing, nothing is emitted), and once it has lasted `quiet` µs the
    /// incident is over. Returns the incident that is over (it is removed) with the time its quiet
    /// period ended; the caller then fires a new incident if the condition `holds`.
    mutating func settle(holds: Bool, at t: Int64, quiet: Int64) -> (ended: Incident, at: Int64)? {
        guard var current = self else { return nil }
        if current.quietSince == nil && !holds { current.quietSince = t }
        guard let since = current.quietSince else { return nil }
        if t &- since >= quiet {
            self = nil
            return (current, since &+ quiet)
        }
        if holds { current.quietSince = nil }
        self = current
        return nil
    }
}

/// State of a rule that counts events per key: fires when the `n` newest events of a
/// key lie within the window.
struct CountState<Key: IncidentKey>: ScheduledRuleState {
    var table: SlotTable<Key>
    var times: RecentTimes
    /// The firing keys and when each may resolve.
    var schedule: FiringSchedule
    let window: Int64
    /// True when the incident ends `window` after the newest event (`ssh_bruteforce`),
    /// false when it ends once fewer than `n` events remain in the window.
    let resolvesOnNewest: Bool
    /// The quiet period (`RuleSettings.resolveAfterMicroseconds`): a firing key resolves this
    /// long after its condition stopped holding, so once fewer than `n` of its events lie within
    /// `window` plus this (or none, for `resolvesOnNewest`); events in between push it on.
    let resolveAfter: Int64
    var evictedIncident: Incident?

    init(settings: RuleSettings, resolvesOnNewest: Bool, seed: UInt64) {
        table = SlotTable(capacity: settings.maxKeys, seed: seed)
        resolveAfter = max(0, settings.resolveAfterMicroseconds)
        // Times as far back as `deadline` reads them.
        times = RecentTimes(n: settings.countThreshold, slots: table.capacity, window: settings.windowMicroseconds &+ resolveAfter)
        schedule = FiringSchedule(slots: table.capacity)
        window = settings.windowMicroseconds
        self.resolvesOnNewest = resolvesOnNewest
    }

    /// The time at which the incident of `slot` resolves: its condition stops holding, plus the quiet period.
    func deadline(_ slot: Int32) -> Int64 {
        (resolvesOnNewest ? times.newest(slot) : times.oldest(slot)) &+ window &+ resolveAfter
    }

    /// Records `count` events of `key` (looked up as `lookup`) at `t`. Returns the slot, whether
    /// a firing key was evicted for it (its incident, to be resolved, is in `takeEvicted()`), and
    /// whether the key now fires.
    mutating func record(_ key: Key, _ lookup: SlotTable<Key>.Lookup, at t: Int64, count: Int, watermark: Int64)
        -> (slot: Int32, evicted: Bool, fires: Bool) {
        let (slot, isNew, evictedKey) = table.touch(key, lookup)
        let evicted = isNew && stashEvicted(evictedKey, slot)
        let span = times.insert(slot, t, count: count, fresh: isNew)
        if schedule.firing.add(count, to: slot) { return (slot, evicted, false) }
        guard let nth = span.nth else { return (slot, evicted, false) }
        // The condition holds, and has not already stopped holding by the watermark (`deadline`).
        let fires = span.newest &- nth < window && (resolvesOnNewest ? span.newest : nth) &+ window > watermark
        return (slot, evicted, fires)
    }

    /// Frees keys, least recently seen first, whose newest event lies a window or more before
    /// `watermark` and that do not fire: no event admitted from now on can count together with
    /// theirs, so a fresh key behaves the same, and state follows the active keys instead of
    /// growing to the cap. Stops at the first key still needed.
    mutating func freeIdle(watermark: Int64) {
        while let s = table.leastRecentSlot(), schedule.firing.seq(of: s) == nil, times.newest(s) &+ window <= watermark {
            table.remove(slot: s)
        }
    }

}

/// A rule's state is a plain value: sendable when its keys are.
extension CountState: Sendable where Key: Sendable {}

/// State of `ssh_distributed`: per source IP, the `n` hosts it was most recently seen
/// failing or probing on, with the last time on each.
///
/// A slot's record is `2 + 2n` words side by side: the IP's newest time (`Int64.min` while
/// empty), then per tracked host its age before that time (`AgeUnit`; `UInt32.max` marks an
/// empty entry) and its host. Records are laid out from a 64-byte boundary, so for the
/// default n = 3 a record (32 bytes) lies in one cache line: an event touches one line.
struct DistributedState: ScheduledRuleState {
    var table: SlotTable<IPAddress>
    let n: Int
    let window: Int64
    /// Words per slot.
    private let stride: Int
    private let unit: AgeUnit
    /// The word where slot 0's record starts (the first word on a 64-byte boundary).
    private var origin = 0
    private var words: [UInt32] = []
    /// The firing IPs and when each may resolve.
    var schedule: FiringSchedule
    var evictedIncident: Incident?

    init(settings: RuleSettings, seed: UInt64) {
        table = SlotTable(capacity: settings.maxKeys, seed: seed)
        schedule = FiringSchedule(slots: table.capacity)
        n = settings.countThreshold
        window = settings.windowMicroseconds
        stride = 2 + 2 * n
        unit = AgeUnit(window: window)
    }

    @inline(__always)
    private func base(_ slot: Int32) -> Int { origin &+ Int(slot) &* stride }

    /// Where the age of tracked host `i` lies in the record at `base` (its host follows it).
    @inline(__always)
    private static func age(_ base: Int, _ i: Int) -> Int { base &+ 2 &+ 2 &* i }

    /// The age of the oldest tracked host of the record at `base` (`UInt32.max` while fewer
    /// than `n` are tracked).
    @inline(__always)
    private static func oldestAge(_ w: UnsafeBufferPointer<UInt32>, _ base: Int, n: Int) -> UInt32 {
        var oldest: UInt32 = 0
        for i in 0..<n { oldest = max(oldest, w[age(base, i)]) }
        return oldest
    }

    private func oldestAge(_ slot: Int32) -> UInt32 {
        words.withUnsafeBufferPointer { Self.oldestAge($0, base(slot), n: n) }
    }

    private func newest(_ slot: Int32) -> Int64 {
        words.withUnsafeBufferPointer { AgeUnit.load($0, base(slot)) }
    }

    /// Starts loading the record of `slot` (a hint: changes nothing).
    @inline(__always)
    func prefetch(_ slot: Int32) {
        let b = base(slot)
        words.withUnsafeBufferPointer { w in if b < w.count { vigil_prefetch(w.baseAddress! + b) } }
    }

    /// When the window stops holding `n` hosts for `slot`.
    func deadline(_ slot: Int32) -> Int64 {
        let oldest = oldestAge(slot)
        return oldest == .max ? Int64.min &+ window : unit.time(oldest, before: newest(slot)) &+ window
    }

    /// The tracked hosts of `slot`.
    func hosts(_ slot: Int32) -> [HostID] {
        let b = base(slot)
        return (0..<n).filter { words[Self.age(b, $0)] != .max }.map { HostID(words[Self.age(b, $0) + 1]) }
    }

    /// Makes room for the record of `slot`, a slot new to the table.
    private mutating func grow(toHold slot: Int32) {
        if words.isEmpty {
            words.reserveOnce(table.capacity * stride + 16)
            words.append(.max)
            origin = words.withUnsafeBufferPointer { (64 - Int(bitPattern: $0.baseAddress!) % 64) % 64 / 4 }
        }
        words.growInBlocks(to: base(slot) + stride, block: 1024 * stride, limit: origin + table.capacity * stride, filler: .max)
    }

    /// Records a failure or probe of `ip` (looked up as `lookup`) on `host` at `t`; returns the
    /// slot, whether a firing IP was evicted for it (see `takeEvicted()`), and whether the IP now fires.
    mutating func record(_ ip: IPAddress, _ lookup: SlotTable<IPAddress>.Lookup, host: HostID, at t: Int64, watermark: Int64)
        -> (slot: Int32, evicted: Bool, fires: Bool) {
        let (slot, isNew, evictedKey) = table.touch(ip, lookup)
        let evicted = isNew && stashEvicted(evictedKey, slot)
        if isNew && words.count < base(slot) &+ stride { grow(toHold: slot) }  // (sets `origin` the first time)
        let b = base(slot), n = n, unit = unit
        let (newest, oldest) = words.withUnsafeMutableBufferPointer { w in
            if isNew {
                AgeUnit.store(.min, w, b)
                for i in 0..<n { w[Self.age(b, i)] = .max }
            }
            var newest = AgeUnit.load(UnsafeBufferPointer(w), b)
            if newest == .min || t > newest {
                let step = newest == .min ? UInt32.max : unit.age(t &- newest)
                for i in 0..<n { w[Self.age(b, i)] = unit.aged(w[Self.age(b, i)], by: step) }
                newest = t
                AgeUnit.store(t, w, b)
            }
            // This host's entry is brought up to `t`; a new host takes the oldest entry (an
            // empty one first) if that was last seen before `t`.
            let a = unit.age(newest &- t)
            var replace = Self.age(b, 0)
            var found = false
            for i in 0..<n {
                let e = Self.age(b, i)
                if w[e] != .max && w[e + 1] == host.rawValue {
                    w[e] = min(w[e], a)
                    found = true
                    break
                }
                if w[e] > w[replace] { replace = e }
            }
            if !found && w[replace] > a {
                w[replace] = a
                w[replace + 1] = host.rawValue
            }
            return (newest, Self.oldestAge(UnsafeBufferPointer(w), b, n: n))
        }
        if schedule.firing.add(1, to: slot, host: host) { return (slot, evicted, false) }
        guard oldest != .max else { return (slot, evicted, false) }
        let low = unit.time(oldest, before: newest)
        let fires = newest &- low < window && low &+ window > watermark
        return (slot, evicted, fires)
    }

    /// Frees IPs, least recently seen first, whose newest failure or probe lies a window or
    /// more before `watermark` and that do not fire (see `CountState.freeIdle`).
    mutating func freeIdle(watermark: Int64) {
        while let s = table.leastRecentSlot(), schedule.firing.seq(of: s) == nil, newest(s) &+ window <= watermark {
            table.remove(slot: s)
        }
    }

}

/// State of `ssh_long_session`: the open sessions, and a min-heap of the times at which
/// each would become too long.
struct SessionState {
    var table: SlotTable<HostPID>
    let window: Int64
    var start: [Int64] = []
    var ip: [IPAddress?] = []
    /// Bumped whenever a slot is freed or reused, so stale heap entries are recognised.
    var generation: [UInt32] = []
    var firing: [Int32: Incident] = [:]
    private var heap = DeadlineHeap()

    init(settings: RuleSettings, seed: UInt64) {
        table = SlotTable(capacity: settings.maxKeys, seed: seed)
        window = settings.windowMicroseconds
    }

    /// The earliest time at which an open session may become too long (`Int64.max` when none).
    var earliestDeadline: Int64 { heap.first?.deadline ?? .max }

    /// Records a session opening; returns the incident of an evicted firing session.
    mutating func open(_ key: HostPID, ip address: IPAddress?, at t: Int64) -> Incident? {
        let (slot, isNew, evictedKey) = table.touch(key)
        let s = Int(slot)
        if !isNew {
            // The same host and PID open again with no close seen: the PID was reused, so
            // this is a new session (unless the old one already fired; its close resolves it).
            if firing[slot] == nil {
                start[s] = t; ip[s] = address; generation[s] &+= 1
                schedule(slot)
            }
            return nil
        }
        if s >= start.count {
            start.reserveOnce(table.capacity); ip.reserveOnce(table.capacity); generation.reserveOnce(table.capacity)
            start.append(t); ip.append(address); generation.append(0)
        } else {
            start[s] = t; ip[s] = address; generation[s] &+= 1
        }
        schedule(slot)
        return evictedKey != nil ? firing.removeValue(forKey: slot) : nil
    }

    /// Pushes the deadline of the session just (re)started in `slot`. Every push may leave a
    /// stale entry behind (a PID reopened without a close leaves its previous one), so the
    /// heap is compacted whenever stale entries could outnumber the live ones.
    private mutating func schedule(_ slot: Int32) {
        heap.push((start[Int(slot)] &+ window, slot, generation[Int(slot)]))
        if heap.count > 2 * table.count + 1024 { compactHeap() }
    }

    /// Deadlines held, stale ones included (bounded by twice the open sessions plus 1024).
    var scheduledDeadlines: Int { heap.count }

    /// Records a session closing; returns its incident when it was firing.
    mutating func close(_ key: HostPID) -> Incident? {
        guard let slot = table.slot(of: key) else { return nil }
        table.remove(slot: slot)
        generation[Int(slot)] &+= 1
        return firing.removeValue(forKey: slot)
    }

    /// Pops the sessions that became longer than the window before `watermark`.
    mutating func takeDue(watermark: Int64) -> [Int32] {
        var due: [Int32] = []
        while let top = heap.first, top.deadline < watermark {
            heap.pop()
            if generation[Int(top.slot)] == top.tag && firing[top.slot] == nil { due.append(top.slot) }
        }
        return due
    }

    /// Rebuilds the heap from the open sessions, dropping entries of closed or evicted ones,
    /// so sessions that open and close quickly cannot grow it without bound.
    private mutating func compactHeap() {
        let current = generation
        heap.compact { current[Int($0.slot)] == $0.tag }
    }
}

/// Per-host windows of the HTTP rules and their incidents.
struct HostRates {
    var traffic: SecondWindow
    var trafficIncident: Incident?
    var errors: SecondWindow
    var errorIncident: Incident?

    /// Counts a request at `t` (µs) in bucket `second` for `http_high_traffic` (see
    /// `RateLimits.countTraffic`): the engine's one access to the host's windows, as handing
    /// `rates[h].traffic` and `rates[h].trafficIncident` inout together would overlap on `rates`.
    @inline(__always)
    mutating func countTraffic(_ second: Int64, at t: Int64, limits: RateLimits) -> Bool {
        limits.countTraffic(second, at: t, in: &traffic, incident: &trafficIncident)
    }

    /// Counts a request at `t` (µs) in bucket `second` for `http_error_burst` (`marked` for a 5xx
    /// answer) if the window covers it; true when the incident changes (`rateChanges`).
    @inline(__always)
    mutating func countError(_ second: Int64, at t: Int64, marked: Bool, limits: RateLimits) -> Bool {
        guard errors.covers(second) else { return false }
        errors.add(second, marked: marked)
        return errorIncident.rateChanges(holds: limits.errorsHold(sum: errors.sum, marked: errors.markedSum), at: t,
                                         quiet: limits.errorQuiet)
    }
}

/// The conditions of the HTTP rate rules, checked on every request.
struct RateLimits {
    /// `http_high_traffic` holds above this many requests in its window.
    let traffic: Double
    /// How long (µs) `http_high_traffic` must not hold before a firing incident resolves.
    let trafficQuiet: Int64
    /// `http_error_burst`: the fewest requests that count, and the 5xx percentage that fires.
    let errorMinRequests: Int
    let errorPercent: Double
    /// How long (µs) `http_error_burst` must not hold before a firing incident resolves.
    let errorQuiet: Int64

    init(traffic: RuleSettings, errors: RuleSettings) {
        self.traffic = traffic.threshold * Double(SecondWindow.spanSeconds(traffic.windowSeconds))
        trafficQuiet = max(0, traffic.resolveAfterMicroseconds)
        errorMinRequests = max(1, errors.minRequests)
        errorPercent = errors.threshold
        errorQuiet = max(0, errors.resolveAfterMicroseconds)
    }

    /// Whether `sum` requests in the window are high traffic.
    @inline(__always)
    func trafficHolds(sum: Int) -> Bool { Double(sum) > traffic }

    /// Counts a request at `t` (µs) in bucket `second` for `http_high_traffic` in `window` (one
    /// host's or all hosts') if it covers it, and in its firing `incident`; true when the incident
    /// changes (`rateChanges`: the caller then fires, resolves or moves its quiet period).
    @inline(__always)
    func countTraffic(_ second: Int64, at t: Int64, in window: inout SecondWindow, incident: inout Incident?) -> Bool {
        guard window.covers(second) else { return false }
        window.add(second)
        if incident != nil { incident!.count += 1 }
        return incident.rateChanges(holds: trafficHolds(sum: window.sum), at: t, quiet: trafficQuiet)
    }

    /// Whether `marked` 5xx answers of `sum` requests are an error burst.
    @inline(__always)
    func errorsHold(sum: Int, marked: Int) -> Bool {
        sum >= errorMinRequests && Double(marked) * 100 >= errorPercent * Double(sum)
    }
}

/// A binary min-heap of deadlines, each with the slot it belongs to and a tag the owner
/// uses to recognise entries gone stale (the slot was reused or the incident ended).
/// 16 bytes an entry: a tag is 32 bits of a sequence number, so a stale entry may in
/// principle pass for live; owners therefore recheck the real deadline of what they pop.
struct DeadlineHeap {
    typealias Entry = (deadline: Int64, slot: Int32, tag: UInt32)
    private var entries: [Entry] = []

    /// The earliest entry.
    var first: Entry? { entries.first }
    /// Entries held, stale ones included.
    var count: Int { entries.count }

    /// Adds an entry.
    mutating func push(_ e: Entry) {
        entries.append(e)
        var i = entries.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if entries[p].deadline <= entries[i].deadline { break }
            entries.swapAt(p, i)
            i = p
        }
    }

    /// Removes the earliest entry.
    mutating func pop() {
        let last = entries.removeLast()
        if entries.isEmpty { return }
        entries[0] = last
        siftDown(0)
    }

    /// Keeps only the entries `isLive` accepts.
    mutating func compact(_ isLive: (Entry) -> Bool) {
        entries.removeAll { !isLive($0) }
        var i = entries.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < entries.count && entries[l].deadline < entries[m].deadline { m = l }
            if r < entries.count && entries[r].deadline < entries[m].deadline { m = r }
            if m == i { break }
            entries.swapAt(i, m)
            i = m
        }
    }
}

/// The firing incidents of one rule, by slot: a dense array with a free list, and per slot
/// the position of its incident, so a firing key costs one small record and no hashing.
/// While nothing fires (the common case) no lookup reads the per-slot positions: an event
/// then costs no cache miss here. The positions grow only as far as the highest slot that
/// ever fired: a slot beyond them does not fire, so a new key costs nothing here either.
struct FiringSet {
    /// Per slot, the index into `incidents` plus one; 0 when the slot is not firing.
    private var indexOf: [UInt32] = []
    private var incidents: [Firing] = []
    private var free: [UInt32] = []
    private let slots: Int
    /// Firing incidents held.
    private(set) var count = 0

    /// A set for a table of at most `slots` slots.
    init(slots: Int) { self.slots = slots }

    /// The position of the incident of `slot` plus one, or 0 when it does not fire.
    @inline(__always)
    private func position(_ slot: Int32) -> Int {
        if count == 0 || Int(slot) >= indexOf.count { return 0 }
        return Int(indexOf[Int(slot)])
    }

    /// The incident of `slot`, if it fires.
    subscript(slot: Int32) -> Firing? {
        let i = position(slot)
        return i == 0 ? nil : incidents[i - 1]
    }

    /// The sequence number of the incident of `slot`, or nil when it does not fire.
    func seq(of slot: Int32) -> UInt64? {
        let i = position(slot)
        return i == 0 ? nil : incidents[i - 1].seq
    }

    /// Adds `n` events (and `host`, if new to it) to the incident of `slot`; false when it does not fire.
    @inline(__always)
    mutating func add(_ n: Int, to slot: Int32, host: HostID? = nil) -> Bool {
        let i = position(slot)
        if i == 0 { return false }
        incidents[i - 1].count += n
        if let host, !incidents[i - 1].hosts.contains(host) { incidents[i - 1].hosts.append(host) }
        return true
    }

    /// Makes `incident` the firing incident of `slot`.
    mutating func start(_ slot: Int32, _ full: Incident) {
        let incident = Firing(seq: full.seq, firstTs: full.firstTs, count: full.count, hosts: full.hosts)
        if Int(slot) >= indexOf.count {
            indexOf.reserveOnce(slots)
            indexOf.growInBlocks(to: Int(slot) + 1, block: 1024, limit: slots, filler: 0)
        }
        if let i = free.popLast() {
            incidents[Int(i)] = incident
            indexOf[Int(slot)] = i + 1
        } else {
            incidents.reserveOnce(slots)
            incidents.append(incident)
            indexOf[Int(slot)] = UInt32(incidents.count)
        }
        count += 1
    }

    /// The slots that fire now.
    func firingSlots() -> [Int32] {
        guard count > 0 else { return [] }
        return indexOf.indices.filter { indexOf[$0] != 0 }.map { Int32($0) }
    }

    /// Removes and returns the incident of `slot`, if it fires.
    mutating func remove(_ slot: Int32) -> Firing? {
        let i = position(slot)
        if i == 0 { return nil }
        indexOf[Int(slot)] = 0
        free.append(UInt32(i - 1))
        count -= 1
        let incident = incidents[i - 1]
        incidents[i - 1].hosts = []
        return incident
    }
}

/// A counting rule's state whose firing keys resolve on a `FiringSchedule`.
protocol ScheduledRuleState {
    associatedtype Key: IncidentKey
    var table: SlotTable<Key> { get }
    var schedule: FiringSchedule { get set }
    /// The incident of the firing key that the last `record` evicted, until `takeEvicted()`.
    /// Kept here rather than returned: a result holding an `Incident?` costs every event the
    /// destruction of a nil incident.
    var evictedIncident: Incident? { get set }
    /// The time at which the condition of `slot` stops holding.
    func deadline(_ slot: Int32) -> Int64
}

extension ScheduledRuleState {
    /// No firing incident resolves before this time (a lower bound; `Int64.max` when none).
    var nextDeadline: Int64 { schedule.nextDeadline }

    /// Sets aside the incident of `evictedKey` (if any) when `slot`, just taken from it, was
    /// firing; true when it was.
    mutating func stashEvicted(_ evictedKey: Key?, _ slot: Int32) -> Bool {
        guard let evictedKey, let f = schedule.firing.remove(slot) else { return false }
        evictedIncident = f.incident(of: evictedKey)
        return true
    }

    /// The incident `record` set aside when it reported an eviction.
    mutating func takeEvicted() -> Incident {
        defer { evictedIncident = nil }
        return evictedIncident!
    }

    /// Marks `slot` as firing with `incident`.
    mutating func startFiring(_ slot: Int32, _ incident: Incident) {
        schedule.start(slot, incident, deadline: deadline(slot))
    }

    /// Removes and returns every firing incident, in the order they started.
    mutating func removeAllFiring() -> [Incident] {
        var out: [Incident] = []
        for slot in schedule.firing.firingSlots() {
            if let f = schedule.firing.remove(slot) { out.append(f.incident(of: table.key(of: slot))) }
        }
        return out.sorted { $0.seq < $1.seq }
    }

    /// Removes and returns the incidents whose condition stopped holding at or before `watermark`,
    /// each with the time it stopped, earliest first.
    mutating func takeDue(watermark: Int64) -> [(Incident, Int64)] {
        if watermark < schedule.nextDeadline { return [] }
        // Moved out while the deadlines are read from the rest of the state.
        var due = schedule
        schedule = FiringSchedule(slots: 0)
        defer { schedule = due }
        return due.takeDue(watermark: watermark, keys: table, deadline: { deadline($0) })
    }
}

/// The firing keys of one counting rule and when each may resolve: a min-heap of deadline lower
/// bounds (a key's deadline only moves later), each rechecked when it comes due.
struct FiringSchedule {
    var firing: FiringSet
    /// No firing incident resolves before this time (a lower bound; `Int64.max` when none).
    private(set) var nextDeadline: Int64 = .max
    private var deadlines = DeadlineHeap()

    init(slots: Int) { firing = FiringSet(slots: slots) }

    /// Marks `slot` firing with `incident`, due to resolve at `deadline` at the earliest.
    mutating func start(_ slot: Int32, _ incident: Incident, deadline: Int64) {
        firing.start(slot, incident)
        deadlines.push((deadline, slot, UInt32(truncatingIfNeeded: incident.seq)))
        nextDeadline = min(nextDeadline, deadline)
    }

    /// Removes and returns the incidents whose `deadline` (read now) lies at or before `watermark`,
    /// each with that time, earliest first; `keys` names each slot's key.
    mutating func takeDue<Key: IncidentKey>(watermark: Int64, keys: SlotTable<Key>, deadline: (Int32) -> Int64) -> [(Incident, Int64)] {
        var out: [(Incident, Int64)] = []
        while let top = deadlines.first, top.deadline <= watermark {
            deadlines.pop()
            guard let seq = firing.seq(of: top.slot), UInt32(truncatingIfNeeded: seq) == top.tag else { continue }
            let d = deadline(top.slot)
            if d > watermark {
                deadlines.push((d, top.slot, top.tag))  // the window moved on since: look again then
                continue
            }
            if let f = firing.remove(top.slot) { out.append((f.incident(of: keys.key(of: top.slot)), d)) }
        }
        if deadlines.count > 2 * firing.count + 1024 {
            let live = firing
            deadlines.compact { live.seq(of: $0.slot).map { UInt32(truncatingIfNeeded: $0) } == $0.tag }
        }
        nextDeadline = deadlines.first?.deadline ?? .max
        return out.sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0.seq < $1.0.seq }
    }
}
