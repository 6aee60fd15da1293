import CVigilHints

/// How per-slot state keeps times compactly: a slot's newest time as an `Int64`, every other
/// time as a `UInt32` age before it, in units of `1 << shift` µs, the finest that still holds
/// `window` (exact µs for windows up to 71 minutes). An age too large to hold is `UInt32.max`,
/// "older than any window", the same as no time at all.
struct AgeUnit {
    let shift: Int64

    init(window: Int64) {
        var shift: Int64 = 0
        while window >> shift >= Int64(UInt32.max) { shift += 1 }
        self.shift = shift
    }

    /// `delta` µs (not negative) as an age.
    @inline(__always)
    func age(_ delta: Int64) -> UInt32 {
        let units = delta >> shift
        return units >= Int64(UInt32.max) ? .max : UInt32(truncatingIfNeeded: units)
    }

    /// `a` grown by `step` (both ages).
    @inline(__always)
    func aged(_ a: UInt32, by step: UInt32) -> UInt32 {
        let sum = UInt64(a) + UInt64(step)
        return sum >= UInt64(UInt32.max) ? .max : UInt32(truncatingIfNeeded: sum)
    }

    /// The time `a` before `newest` (`a` not `UInt32.max`).
    @inline(__always)
    func time(_ a: UInt32, before newest: Int64) -> Int64 { newest &- (Int64(a) << shift) }

    /// An `Int64` time stored as two words, low first, at `at`.
    @inline(__always)
    static func load(_ w: UnsafeBufferPointer<UInt32>, _ at: Int) -> Int64 {
        Int64(bitPattern: UInt64(w[at &+ 1]) << 32 | UInt64(w[at]))
    }

    /// Stores `t` as two words, low first, at `at`.
    @inline(__always)
    static func store(_ t: Int64, _ w: UnsafeMutableBufferPointer<UInt32>, _ at: Int) {
        w[at] = UInt32(truncatingIfNeeded: UInt64(bitPattern: t))
        w[at &+ 1] = UInt32(truncatingIfNeeded: UInt64(bitPattern: t) >> 32)
    }
}

/// The `n` most recent event times of each slot, in one flat array.
///
/// "At least n events within W" holds at time t exactly when the n-th most recent
/// event is later than t − W, so the n newest times answer every counting rule
/// exactly, whatever the arrival order. To save memory, each slot keeps its newest
/// time as an `Int64` and the n − 1 others as ages before it (`AgeUnit`).
/// A slot's newest time and ages lie side by side (n + 1 words), so an event touches one
/// or two neighbouring cache lines, not one per array.
struct RecentTimes {
    /// Times kept per slot.
    let n: Int
    /// Ages kept per slot (`n - 1`).
    private let m: Int
    /// Words per slot: the newest time (two words, low first), then the ages.
    private let stride: Int
    /// Most slots that will be used (the owning table's capacity).
    let slots: Int
    private let unit: AgeUnit
    /// Slot s owns `words[s*stride ..< s*stride+stride]`: its newest time (`Int64.min` before
    /// the first event), then its ages, oldest first; `UInt32.max` marks an empty or too old age.
    private var words: [UInt32] = []

    init(n: Int, slots: Int, window: Int64) {
        self.n = max(1, n)
        self.m = self.n - 1
        self.stride = self.m + 2
        self.slots = slots
        self.unit = AgeUnit(window: window)
    }

    /// Records `count` events at `t` (at most `n` of them matter; an event older than all `n`
    /// kept ones changes nothing) and returns the newest time and the n-th most recent one (nil
    /// while fewer than `n` are held): what a counting rule checks after each event, read in
    /// the same pass. `fresh` empties the slot first (a slot new to its key).
    @discardableResult @inline(__always)
    mutating func insert(_ slot: Int32, _ t: Int64, count: Int = 1, fresh: Bool = false) -> (newest: Int64, nth: Int64?) {
        let base = Int(slot) &* stride, stride = stride, m = m, unit = unit, k = min(count, n)
        if fresh && words.count < base &+ stride { grow(to: base &+ stride) }
        return words.withUnsafeMutableBufferPointer { w in
            if fresh {
                AgeUnit.store(.min, w, base)
                for i in (base &+ 2)..<(base &+ stride) { w[i] = .max }
            }
            for _ in 0..<k { Self.insert(w, base, t, m: m, unit: unit) }
            let newest = AgeUnit.load(UnsafeBufferPointer(w), base)
            if m == 0 { return (newest, newest == .min ? nil : newest) }
            return (newest, w[base &+ 2] == .max ? nil : unit.time(w[base &+ 2], before: newest))
        }
    }

    /// Makes room for the slots up to the one ending at word `end`.
    private mutating func grow(to end: Int) {
        words.reserveOnce(slots * stride)
        words.growInBlocks(to: end, block: 1024 * stride, limit: slots * stride, filler: .max)
    }

    /// Records one event at `t` in the slot whose words start at `base`.
    @inline(__always)
    private static func insert(_ w: UnsafeMutableBufferPointer<UInt32>, _ base: Int, _ t: Int64, m: Int, unit: AgeUnit) {
        let newest = AgeUnit.load(UnsafeBufferPointer(w), base)
        let ages = base &+ 2
        if newest == .min || t > newest {
            // A new newest event: every kept entry ages by the step, the oldest drops out,
            // and the previous newest becomes the youngest age.
            AgeUnit.store(t, w, base)
            if m == 0 { return }
            let step = newest == .min ? UInt32.max : unit.age(t &- newest)
            for i in ages..<(ages + m - 1) { w[i] = unit.aged(w[i + 1], by: step) }
            w[ages + m - 1] = step
            return
        }
        if m == 0 { return }
        let a = unit.age(newest &- t)
        if a >= w[ages] { return }
        let last = ages + m - 1
        var i = ages
        while i < last && w[i + 1] > a {
            w[i] = w[i + 1]
            i += 1
        }
        w[i] = a
    }

    /// Starts loading the times of `slot` (a hint: changes nothing).
    @inline(__always)
    func prefetch(_ slot: Int32) {
        let base = Int(slot) * stride
        words.withUnsafeBufferPointer { w in if base < w.count { vigil_prefetch(w.baseAddress! + base) } }
    }

    /// The n-th most recent time (meaningful once `n` events are held).
    func oldest(_ slot: Int32) -> Int64 {
        let base = Int(slot) * stride
        return m == 0 ? newest(slot) : unit.time(words[base + 2], before: newest(slot))
    }
    /// The most recent time.
    func newest(_ slot: Int32) -> Int64 {
        words.withUnsafeBufferPointer { AgeUnit.load($0, Int(slot) * stride) }
    }
}

/// Counters over a window of `width` buckets of `bucketSeconds` seconds each, ending at bucket
/// `head` (a bucket's number is its first second divided by `bucketSeconds`).
///
/// A window of up to `maxBuckets` seconds counts per second; a longer one in buckets of as many
/// seconds as it takes to stay within `maxBuckets`, so a window's memory does not grow with its
/// length (a 7-day window holds 600 buckets of 1008 s, 4.8 KB). The window at bucket `head`
/// covers buckets `head-width+1 ... head`. Each bucket is one word of a ring, so adding and
/// sliding are O(1) per bucket and never allocate.
/// `marked` counts a subset of the events (the 5xx responses for `http_error_burst`).
/// A bucket holds both counts in one word (marked in the high half), and the ring
/// position of `head` is kept, so finding a second's bucket needs no division.
///
/// The ring is a `SecondRing`, copied on write: a copy of the window (of an engine) is a value
/// of its own, and the window the engine keeps is the ring's only owner, so the check each
/// change makes (`words`) finds it unique and copies nothing.
struct SecondWindow {
    /// The most buckets a window keeps.
    static let maxBuckets: Int64 = 600
    /// Buckets in the window.
    let width: Int64
    /// Seconds per bucket: 1 for windows of at most `maxBuckets` seconds.
    let bucketSeconds: Int64
    /// Per second of the window: its events in the low 32 bits, its marked events in the high 32.
    private var ring: SecondRing
    /// The ring position of `head`.
    private var headIndex = 0
    /// The newest second of the window; `Int64.min` before the first event.
    private(set) var head: Int64 = .min
    /// Events in the window.
    private(set) var sum = 0
    /// Marked events in the window.
    private(set) var markedSum = 0

    /// A window of `seconds` seconds (at least 1).
    init(seconds: Int64) {
        (bucketSeconds, width) = Self.buckets(seconds)
        ring = SecondRing(count: Int(width))
    }

    /// Seconds per bucket and buckets for a window of `seconds`.
    static func buckets(_ seconds: Int64) -> (bucketSeconds: Int64, count: Int64) {
        let s = max(1, seconds)
        let b = (s + maxBuckets - 1) / maxBuckets
        return (b, (s + b - 1) / b)
    }

    /// The seconds a window of `seconds` really spans: whole buckets (`seconds` itself up to
    /// `maxBuckets`, rounded up to a whole bucket past it).
    static func spanSeconds(_ seconds: Int64) -> Int64 {
        let (b, count) = buckets(seconds)
        return b * count
    }

    /// The seconds this window spans.
    var spanSeconds: Int64 { width * bucketSeconds }

    /// The bucket holding `second`.
    @inline(__always)
    func bucket(of second: Int64) -> Int64 {
        if bucketSeconds == 1 { return second }
        return second >= 0 ? second / bucketSeconds : (second - bucketSeconds + 1) / bucketSeconds
    }

    /// The first second of bucket `bucket`, in µs (when the window slides to it).
    @inline(__always)
    func startMicroseconds(of bucket: Int64) -> Int64 { bucket &* bucketSeconds &* 1_000_000 }

    /// Whether bucket `bucket` lies inside the current window.
    @inline(__always)
    func covers(_ bucket: Int64) -> Bool { bucket <= head && bucket > head &- width }

    /// Slides the window forward by one second, dropping the bucket that leaves it (the one
    /// the new second takes over).
    @inline(__always)
    mutating func step() {
        head += 1
        headIndex += 1
        if headIndex == ring.count { headIndex = 0 }
        let words = words()
        let leaving = words[headIndex]
        sum -= Int(leaving & 0xFFFF_FFFF)
        markedSum -= Int(leaving >> 32)
        words[headIndex] = 0
    }

    /// Moves the window so that it ends at `second`, emptying it (for jumps past the whole window).
    mutating func restart(at second: Int64) {
        words().update(repeating: 0, count: ring.count)
        sum = 0
        markedSum = 0
        head = second
        headIndex = 0
    }

    /// Counts one event at `second`, which must be covered.
    @inline(__always)
    mutating func add(_ second: Int64, marked: Bool = false) {
        var i = headIndex &- Int(truncatingIfNeeded: head &- second)
        if i < 0 { i &+= ring.count }
        words()[i] &+= marked ? 1 | 1 << 32 : 1
        sum += 1
        if marked { markedSum += 1 }
    }

    /// The ring's words, to change: the ring is copied first when another window shares it.
    @inline(__always)
    private mutating func words() -> UnsafeMutablePointer<UInt64> {
        if !isKnownUniquelyReferenced(&ring) { ring = SecondRing(copying: ring) }
        return ring.words
    }
}

/// The buckets of a `SecondWindow`: a fixed block of words, written in place. Sendable as an
/// array's storage is: a window writes the words only while it is their one owner (`words()`).
final class SecondRing: @unchecked Sendable {
    let count: Int
    let words: UnsafeMutablePointer<UInt64>

    init(count: Int) {
        self.count = count
        words = .allocate(capacity: count)
        words.initialize(repeating: 0, count: count)
    }

    /// A ring holding what `other` holds.
    init(copying other: SecondRing) {
        count = other.count
        words = .allocate(capacity: count)
        words.initialize(from: other.words, count: count)
    }

    deinit { words.deallocate() }
}
