/// Maps keys to dense slot numbers, at most `capacity` of them, evicting the least
/// recently seen key when a new one arrives at the cap.
///
/// The index is an open-addressing hash table of `Int32` slot numbers (linear probing,
/// backward-shift deletion) whose keys live once, in `keys`; recency is an intrusive
/// doubly linked list over one array of index pairs (no node objects). A lookup, a touch
/// and an eviction are O(1) and allocate nothing once the arrays have grown. Callers keep
/// their per-key state in their own arrays indexed by slot.
struct SlotTable<Key: Hashable> {
    /// The key of each slot (stale for free slots).
    private(set) var keys: [Key] = []
    /// Hash buckets holding slot numbers; -1 is empty. The length is a power of two.
    private var buckets = [Int32](repeating: -1, count: 16)
    private var links: [(prev: Int32, next: Int32)] = []
    private var free: [Int32] = []
    /// Most recently seen slot, and least recently seen slot; -1 when empty.
    private var head: Int32 = -1
    private var tail: Int32 = -1
    let capacity: Int
    /// Number of keys held.
    private(set) var count = 0
    /// How many keys were evicted to stay under the cap.
    private(set) var evictions = 0

    init(capacity: Int) { self.capacity = max(1, capacity) }

    @inline(__always)
    private func home(_ key: Key) -> Int { key.hashValue & (buckets.count - 1) }

    /// The bucket holding `key`, or the empty bucket where it would go.
    @inline(__always)
    private func find(_ key: Key) -> (bucket: Int, found: Bool) {
        let mask = buckets.count - 1
        var i = home(key)
        while true {
            let s = buckets[i]
            if s < 0 { return (i, false) }
            if keys[Int(s)] == key { return (i, true) }
            i = (i + 1) & mask
        }
    }

    /// The slot of `key`, or nil; does not change recency.
    func slot(of key: Key) -> Int32? {
        let (b, found) = find(key)
        return found ? buckets[b] : nil
    }

    /// The slot of `key`, marked most recently seen, inserting it when new. When the
    /// table is full the least recently seen key is evicted and its slot reused:
    /// `evicted` then holds that key, and the caller must reset the slot's state.
    mutating func touch(_ key: Key) -> (slot: Int32, isNew: Bool, evicted: Key?) {
        var (b, found) = find(key)
        if found {
            let s = buckets[b]
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
            b = find(key).bucket
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
            b = find(key).bucket
        }
        buckets[b] = s
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
        let (found, ok) = find(key)
        guard ok else { return }
        let mask = buckets.count - 1
        var hole = found
        var j = found
        while true {
            j = (j + 1) & mask
            let s = buckets[j]
            if s < 0 { break }
            let k = home(keys[Int(s)])
            // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
            let staysPut = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j)
            if staysPut { continue }
            buckets[hole] = s
            hole = j
        }
        buckets[hole] = -1
    }

    private mutating func grow() {
        let old = buckets
        buckets = [Int32](repeating: -1, count: old.count * 2)
        for s in old where s >= 0 { buckets[find(keys[Int(s)]).bucket] = s }
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
