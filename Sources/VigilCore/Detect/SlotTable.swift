/// A key of a `SlotTable`: compared for equality and hashed with a cheap seeded mix
/// (no `Hasher` per event).
protocol SlotKey: Equatable {
    /// A well-mixed hash of the key under `seed`.
    func slotHash(_ seed: UInt64) -> UInt64
}

/// Mixes two words and a seed into a hash (multiply and xor-shift rounds): fast, and with
/// a seed the caller keeps secret, not predictable enough to flood one bucket chain.
@inline(__always)
func mixHash(_ a: UInt64, _ b: UInt64, _ seed: UInt64) -> UInt64 {
    var h = (a ^ seed) &* 0x9E37_79B9_7F4A_7C15
    h = (h ^ (h >> 32) ^ b) &* 0xD6E8_FEB8_6659_FD93
    h = (h ^ (h >> 29)) &* 0xBF58_476D_1CE4_E5B9
    return h ^ (h >> 32)
}

extension IPAddress: SlotKey {
    @inline(__always)
    func slotHash(_ seed: UInt64) -> UInt64 { mixHash(low, high, seed) }
}

extension HostIP: SlotKey {
    @inline(__always)
    func slotHash(_ seed: UInt64) -> UInt64 { mixHash(ip.low, ip.high, seed &+ UInt64(host.rawValue)) }
}

extension HostPID: SlotKey {
    @inline(__always)
    func slotHash(_ seed: UInt64) -> UInt64 { mixHash(UInt64(UInt32(bitPattern: pid)), UInt64(host.rawValue), seed) }
}

/// Maps keys to dense slot numbers, at most `capacity` of them, evicting the least
/// recently seen key when a new one arrives at the cap.
///
/// The index is an open-addressing hash table (linear probing, backward-shift deletion)
/// whose buckets hold a slot number and 32 bits of the key's hash, so a probe rarely
/// touches a key that does not match and growing never rehashes a key; the keys live
/// once, in `keys`. Recency is an intrusive doubly linked list over one array of index
/// pairs (no node objects). A lookup, a touch and an eviction are O(1) and allocate
/// nothing once the arrays have grown. Callers keep their per-key state in their own
/// arrays indexed by slot.
struct SlotTable<Key: SlotKey> {
    /// The key of each slot (stale for free slots).
    private(set) var keys: [Key] = []
    /// Hash buckets: the key's hash in the high 32 bits, its slot + 1 in the low 32; 0 is
    /// empty. The length is a power of two, at most 2^31.
    private var buckets = [UInt64](repeating: 0, count: 16)
    private var links: [(prev: Int32, next: Int32)] = []
    private var free: [Int32] = []
    /// Most recently seen slot, and least recently seen slot; -1 when empty.
    private var head: Int32 = -1
    private var tail: Int32 = -1
    let capacity: Int
    private let seed: UInt64
    /// Number of keys held.
    private(set) var count = 0
    /// How many keys were evicted to stay under the cap.
    private(set) var evictions = 0

    /// A table of at most `capacity` keys hashed under `seed` (a daemon passes a random one).
    init(capacity: Int, seed: UInt64 = 0) {
        self.capacity = min(max(1, capacity), Int(Int32.max) - 1)
        self.seed = seed
    }

    @inline(__always)
    private func hash32(_ key: Key) -> UInt64 { key.slotHash(seed) >> 32 }

    /// The bucket holding `key`, or the empty bucket where it would go; `hash` is `hash32(key)`.
    @inline(__always)
    private func find(_ key: Key, hash: UInt64) -> (bucket: Int, found: Bool) {
        buckets.withUnsafeBufferPointer { b in
            let mask = b.count - 1
            var i = Int(truncatingIfNeeded: hash) & mask
            while true {
                let e = b[i]
                if e == 0 { return (i, false) }
                if e >> 32 == hash && keys[Int(e & 0xFFFF_FFFF) - 1] == key { return (i, true) }
                i = (i + 1) & mask
            }
        }
    }

    @inline(__always)
    private func slot(inBucket b: Int) -> Int32 { Int32(truncatingIfNeeded: buckets[b] & 0xFFFF_FFFF) - 1 }

    /// The slot of `key`, or nil; does not change recency.
    func slot(of key: Key) -> Int32? {
        let (b, found) = find(key, hash: hash32(key))
        return found ? slot(inBucket: b) : nil
    }

    /// The slot of `key`, marked most recently seen, inserting it when new. When the
    /// table is full the least recently seen key is evicted and its slot reused:
    /// `evicted` then holds that key, and the caller must reset the slot's state.
    mutating func touch(_ key: Key) -> (slot: Int32, isNew: Bool, evicted: Key?) {
        let hash = hash32(key)
        var (b, found) = find(key, hash: hash)
        if found {
            let s = slot(inBucket: b)
            moveToFront(s)
            return (s, false, nil)
        }
        var evicted: Key? = nil
        let s: Int32
        if count >= capacity {
            s = tail
            evicted = keys[Int(s)]
            unindex(keys[Int(s)])
            unlink(s)
            keys[Int(s)] = key
            count -= 1
            evictions += 1
            b = find(key, hash: hash).bucket
        } else if let f = free.popLast() {
            s = f
            keys[Int(s)] = key
        } else {
            s = Int32(keys.count)
            keys.reserveOnce(capacity)
            links.reserveOnce(capacity)
            keys.append(key)
            links.append((-1, -1))
        }
        if (count + 1) * 2 > buckets.count {
            grow()
            b = find(key, hash: hash).bucket
        }
        buckets[b] = hash << 32 | UInt64(UInt32(s) + 1)
        count += 1
        linkFront(s)
        return (s, true, evicted)
    }

    /// Forgets the key in `slot`; the slot is reused by a later insertion.
    mutating func remove(slot s: Int32) {
        unindex(keys[Int(s)])
        unlink(s)
        count -= 1
        free.append(s)
    }

    /// Removes `key` from the hash buckets, shifting later entries of its probe run back.
    private mutating func unindex(_ key: Key) {
        let (found, ok) = find(key, hash: hash32(key))
        guard ok else { return }
        let mask = buckets.count - 1
        var hole = found
        var j = found
        while true {
            j = (j + 1) & mask
            let e = buckets[j]
            if e == 0 { break }
            let k = Int(truncatingIfNeeded: e >> 32) & mask
            // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
            let staysPut = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j)
            if staysPut { continue }
            buckets[hole] = e
            hole = j
        }
        buckets[hole] = 0
    }

    /// Doubles the buckets; entries are placed from their stored hash, without touching keys.
    private mutating func grow() {
        let old = buckets
        buckets = [UInt64](repeating: 0, count: old.count * 2)
        let mask = buckets.count - 1
        for e in old where e != 0 {
            var i = Int(truncatingIfNeeded: e >> 32) & mask
            while buckets[i] != 0 { i = (i + 1) & mask }
            buckets[i] = e
        }
    }

    private mutating func moveToFront(_ s: Int32) {
        if head == s { return }
        unlink(s)
        linkFront(s)
    }

    private mutating func unlink(_ s: Int32) {
        let (p, n) = links[Int(s)]
        if p >= 0 { links[Int(p)].next = n } else { head = n }
        if n >= 0 { links[Int(n)].prev = p } else { tail = p }
        links[Int(s)] = (-1, -1)
    }

    private mutating func linkFront(_ s: Int32) {
        links[Int(s)] = (-1, head)
        if head >= 0 { links[Int(head)].prev = s }
        head = s
        if tail < 0 { tail = s }
    }
}

/// The `n` most recent event times of each slot, in one flat array.
///
/// "At least n events within W" holds at time t exactly when the n-th most recent
/// event is later than t − W, so the n newest times answer every counting rule
/// exactly, whatever the arrival order. To halve the memory, each slot keeps its newest
/// time as an `Int64` and the others as `UInt32` ages before it, in microseconds: exact
/// for windows up to 71 minutes (longer windows count ages in 2, 4, … µs units).
/// An age too large to hold means "older than any window", the same as no event.
struct RecentTimes {
    /// Times kept per slot.
    let n: Int
    /// Most slots that will be used (the owning table's capacity).
    let slots: Int
    /// Ages are in units of `1 << shift` microseconds.
    private let shift: Int64
    /// Per slot, the newest time; `Int64.min` before the first event.
    private var newestTimes: [Int64] = []
    /// Slot s owns `ages[s*n ..< s*n+n]`, oldest first, so the last is 0 (the newest event);
    /// `UInt32.max` marks an empty or too old entry.
    private var ages: [UInt32] = []

    init(n: Int, slots: Int, window: Int64) {
        self.n = max(1, n)
        self.slots = slots
        var shift: Int64 = 0
        while window >> shift >= Int64(UInt32.max) { shift += 1 }
        self.shift = shift
    }

    /// Empties `slot`, growing the arrays when the slot is new.
    mutating func reset(_ slot: Int32) {
        let s = Int(slot), base = s * n
        if newestTimes.count <= s {
            newestTimes.reserveOnce(slots)
            ages.reserveOnce(slots * n)
            newestTimes.append(contentsOf: repeatElement(Int64.min, count: s + 1 - newestTimes.count))
            ages.append(contentsOf: repeatElement(UInt32.max, count: base + n - ages.count))
        } else {
            newestTimes[s] = .min
            for i in base..<(base + n) { ages[i] = .max }
        }
    }

    @inline(__always)
    private func age(_ delta: Int64) -> UInt32 {
        let a = delta >> shift
        return a >= Int64(UInt32.max) ? .max : UInt32(truncatingIfNeeded: a)
    }

    /// Records an event at `t`; an event older than all `n` kept ones changes nothing.
    @inline(__always)
    mutating func insert(_ slot: Int32, _ t: Int64) {
        let s = Int(slot), base = s * n, last = base + n - 1
        let newest = newestTimes[s]
        if newest == .min || t > newest {
            // A new newest event: every kept entry ages by the step, the oldest drops out.
            let step = newest == .min ? UInt64(UInt32.max) : UInt64(age(t &- newest))
            ages.withUnsafeMutableBufferPointer { b in
                for i in base..<last {
                    let aged = UInt64(b[i + 1]) + step
                    b[i] = aged >= UInt64(UInt32.max) ? .max : UInt32(truncatingIfNeeded: aged)
                }
                b[last] = 0
            }
            newestTimes[s] = t
            return
        }
        let a = age(newest &- t)
        ages.withUnsafeMutableBufferPointer { b in
            if a >= b[base] { return }
            var i = base
            while i < last && b[i + 1] > a {
                b[i] = b[i + 1]
                i += 1
            }
            b[i] = a
        }
    }

    /// Whether `n` events are held (none of them too old to matter).
    func isFull(_ slot: Int32) -> Bool { ages[Int(slot) * n] != .max }
    /// The n-th most recent time (meaningful when `isFull`).
    func oldest(_ slot: Int32) -> Int64 { newestTimes[Int(slot)] &- (Int64(ages[Int(slot) * n]) << shift) }
    /// The most recent time.
    func newest(_ slot: Int32) -> Int64 { newestTimes[Int(slot)] }
}

/// Per-second counters over a window of `width` seconds ending at `head`.
///
/// The window at second `head` covers seconds `head-width+1 ... head`. Each second is
/// one bucket of a ring, so adding and sliding are O(1) per second and never allocate.
/// `marked` counts a subset of the events (the 5xx responses for `http_error_burst`).
struct SecondWindow {
    let width: Int64
    private var totals: [UInt32]
    private var marks: [UInt32]
    /// The newest second of the window; `Int64.min` before the first event.
    private(set) var head: Int64 = .min
    /// Events in the window.
    private(set) var sum = 0
    /// Marked events in the window.
    private(set) var markedSum = 0

    init(width: Int64) {
        self.width = max(1, width)
        totals = Array(repeating: 0, count: Int(self.width))
        marks = Array(repeating: 0, count: Int(self.width))
    }

    @inline(__always)
    private func bucket(_ second: Int64) -> Int {
        let r = second % width
        return Int(r < 0 ? r + width : r)
    }

    /// Whether `second` lies inside the current window.
    @inline(__always)
    func covers(_ second: Int64) -> Bool { second <= head && second > head &- width }

    /// Slides the window forward by one second, dropping the bucket that leaves it.
    @inline(__always)
    mutating func step() {
        head += 1
        let i = bucket(head)
        sum -= Int(totals[i])
        markedSum -= Int(marks[i])
        totals[i] = 0
        marks[i] = 0
    }

    /// Moves the window so that it ends at `second`, emptying it (for jumps past the whole window).
    mutating func restart(at second: Int64) {
        for i in 0..<totals.count { totals[i] = 0; marks[i] = 0 }
        sum = 0
        markedSum = 0
        head = second
    }

    /// Counts one event at `second`, which must be covered.
    @inline(__always)
    mutating func add(_ second: Int64, marked: Bool = false) {
        let i = bucket(second)
        totals[i] &+= 1
        sum += 1
        if marked {
            marks[i] &+= 1
            markedSum += 1
        }
    }
}

extension Array {
    /// Reserves room for `count` elements the first time it is called on an empty array.
    ///
    /// Per-key state arrays reserve their whole cap at once: the memory is only address
    /// space until touched, and the arrays then never reallocate, so resident memory grows
    /// smoothly with the number of keys and has no doubling peaks.
    @inline(__always)
    mutating func reserveOnce(_ count: Int) {
        if capacity == 0 { reserveCapacity(count) }
    }
}
