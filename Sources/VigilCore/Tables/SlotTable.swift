import CVigilHints

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

/// A host and a source address: the key of the per-host, per-IP rules. (The address comes
/// first so the key takes 20 bytes, not 24, and a table entry with its stamp 24, not 32.)
struct HostIP: Equatable {
    var ip: IPAddress
    var host: HostID

    init(host: HostID, ip: IPAddress) {
        self.ip = ip
        self.host = host
    }
}

/// A host and an sshd PID: the key of an open ssh session.
struct HostPID: Equatable {
    var host: HostID
    var pid: Int32
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
/// touches a key that does not match and growing never rehashes a key. Each slot's key
/// and its recency stamp share one entry, so a lookup touches two cache lines.
///
/// Recency is a touch log: every touch appends the slot to `log` and stamps the entry
/// with that position; an older log record of the slot is stale (its position differs
/// from the stamp). Eviction pops stale records off the front until it meets a live one,
/// the least recently seen key. The log is compacted (stale records dropped, survivors
/// restamped) once it holds twice the keys, in a sequential pass whose loads do not depend
/// on each other. Unlike a linked list this costs no writes to neighbouring entries per
/// touch. Lookups, touches and evictions are O(1) amortized and allocate nothing once the
/// arrays have grown. Callers keep their per-key state in their own arrays indexed by slot.
struct SlotTable<Key: SlotKey> {
    /// A slot's key and the log position of its latest touch.
    fileprivate struct Entry {
        var key: Key
        var stamp: UInt32
    }

    /// The entry of each slot (stale for free slots).
    private var entries: [Entry] = []
    /// Hash buckets: the key's hash in the high 32 bits, its slot + 1 in the low 32; 0 is
    /// empty. The length is a power of two, at most 2^31.
    private var buckets = [UInt64](repeating: 0, count: 16)
    private var free: [Int32] = []
    /// Slots in touch order from `logHead` on; record i has position `logBase &+ i`.
    private var log: [Int32] = []
    private var logHead = 0
    private var logBase: UInt32 = 0
    let capacity: Int
    private let seed: UInt64
    /// Number of keys held.
    private(set) var count = 0
    /// How many keys were evicted to stay under the cap.
    private(set) var evictions = 0

    /// A table of at most `capacity` keys hashed under `seed` (a daemon passes a random one).
    init(capacity: Int, seed: UInt64 = 0) {
        self.capacity = min(max(1, capacity), Int(Int32.max) / 4)
        self.seed = seed
    }

    @inline(__always)
    private func hash32(_ key: Key) -> UInt64 { key.slotHash(seed) >> 32 }

    /// Walks the probe run of `hash` (a `hash32`) to the first bucket carrying that hash whose
    /// slot `accepts`, or to the empty bucket that ends the run (slot nil).
    @inline(__always)
    private func probe(_ hash: UInt64, accepts: (Int) -> Bool) -> (bucket: Int, slot: Int?) {
        buckets.withUnsafeBufferPointer { b in
            let mask = b.count - 1
            var i = Int(truncatingIfNeeded: hash) & mask
            while true {
                let e = b[i]
                if e == 0 { return (i, nil) }
                if e >> 32 == hash {
                    let slot = Int(e & 0xFFFF_FFFF) - 1
                    if accepts(slot) { return (i, slot) }
                }
                i = (i + 1) & mask
            }
        }
    }

    /// The bucket holding `key`, or the empty bucket where it would go; `hash` is `hash32(key)`.
    @inline(__always)
    private func find(_ key: Key, hash: UInt64) -> (bucket: Int, found: Bool) {
        let (bucket, slot) = probe(hash) { entries[$0].key == key }
        return (bucket, slot != nil)
    }

    @inline(__always)
    private func slot(inBucket b: Int) -> Int32 { Int32(truncatingIfNeeded: buckets[b] & 0xFFFF_FFFF) - 1 }

    /// The key held in `slot`.
    func key(of slot: Int32) -> Key { entries[Int(slot)].key }

    /// The slot of `key`, or nil; does not change recency.
    func slot(of key: Key) -> Int32? {
        let (b, found) = find(key, hash: hash32(key))
        return found ? slot(inBucket: b) : nil
    }

    /// The slot of `key`, marked most recently seen, inserting it when new. When the
    /// table is full the least recently seen key is evicted and its slot reused:
    /// `evicted` then holds that key, and the caller must reset the slot's state.
    @inline(__always)
    mutating func touch(_ key: Key) -> (slot: Int32, isNew: Bool, evicted: Key?) {
        touch(key, lookup(key))
    }

    /// Where a key is, or would go: the first half of a `touch`, split off so that a caller
    /// can look keys up in several tables before using any (their cache misses then overlap).
    /// Valid until the table changes.
    struct Lookup {
        fileprivate let hash: UInt64
        fileprivate let bucket: Int
        fileprivate let found: Bool
    }

    /// Starts loading the bucket where a lookup of `key` begins, so that a lookup made a
    /// little later finds it in cache (a hint: changes nothing).
    @inline(__always)
    func prefetch(_ key: Key) {
        let i = Int(truncatingIfNeeded: hash32(key)) & (buckets.count - 1)
        buckets.withUnsafeBufferPointer { vigil_prefetch($0.baseAddress! + i) }
    }

    /// The second stage of `prefetch(_:)`, once the bucket is in cache: starts loading the entry
    /// of the slot whose bucket carries `key`'s hash and hands that slot to `state`, which
    /// starts loading the caller's state of it. The key itself is not compared (another key
    /// with the same 32-bit hash only costs a useless load). A hint: changes nothing.
    @inline(__always)
    func prefetchEntry(_ key: Key, state: (Int32) -> Void) {
        guard let slot = probe(hash32(key), accepts: { _ in true }).slot else { return }
        entries.withUnsafeBufferPointer { vigil_prefetch($0.baseAddress! + slot) }
        state(Int32(truncatingIfNeeded: slot))
    }

    /// Looks `key` up for a following `touch(_:_:)`.
    @inline(__always)
    func lookup(_ key: Key) -> Lookup {
        let hash = hash32(key)
        let (b, found) = find(key, hash: hash)
        return Lookup(hash: hash, bucket: b, found: found)
    }

    /// `touch(key)` given `lookup(key)`, made with no change to the table since.
    @inline(__always)
    mutating func touch(_ key: Key, _ at: Lookup) -> (slot: Int32, isNew: Bool, evicted: Key?) {
        let hash = at.hash
        var b = at.bucket
        if at.found {
            let s = slot(inBucket: b)
            if entries[Int(s)].stamp != logBase &+ UInt32(truncatingIfNeeded: log.count) &- 1 { stamp(s) }
            return (s, false, nil)
        }
        var evicted: Key? = nil
        let s: Int32
        if count >= capacity {
            s = popLeastRecent()
            evicted = entries[Int(s)].key
            unindex(entries[Int(s)].key)
            entries[Int(s)].key = key
            count -= 1
            evictions += 1
            b = find(key, hash: hash).bucket
        } else if !free.isEmpty {  // (checked first: `popLast` is a call even when empty)
            s = free.removeLast()
            entries[Int(s)].key = key
        } else {
            s = Int32(entries.count)
            entries.reserveOnce(capacity)
            log.reserveOnce(2 * capacity + 1025)
            entries.append(Entry(key: key, stamp: 0))
        }
        if (count + 1) * 2 > buckets.count {
            grow()
            b = find(key, hash: hash).bucket
        }
        buckets[b] = hash << 32 | UInt64(UInt32(s) + 1)
        count += 1
        stamp(s)
        return (s, true, evicted)
    }

    /// The slot of the least recently seen key, or nil when the table is empty (for freeing
    /// idle keys oldest first); drops the stale log records in front of it.
    mutating func leastRecentSlot() -> Int32? {
        while logHead < log.count {
            let s = log[logHead]
            if entries[Int(s)].stamp == logBase &+ UInt32(truncatingIfNeeded: logHead) { return s }
            logHead += 1
        }
        return nil
    }

    /// Forgets the key in `slot`; the slot is reused by a later insertion.
    mutating func remove(slot s: Int32) {
        unindex(entries[Int(s)].key)
        // A stamp no log record can carry: the position the next touch will get, which
        // belongs to another slot.
        entries[Int(s)].stamp = logBase &+ UInt32(truncatingIfNeeded: log.count)
        count -= 1
        free.append(s)
    }

    /// Logs a touch of `s`, compacting the log when stale records make up half of it.
    @inline(__always)
    private mutating func stamp(_ s: Int32) {
        if log.count >= 2 * count + 1024 { compactLog() }
        entries[Int(s)].stamp = logBase &+ UInt32(truncatingIfNeeded: log.count)
        log.append(s)
    }

    /// Pops log records up to and including the least recently seen key's, returning its slot.
    private mutating func popLeastRecent() -> Int32 {
        while true {
            let s = log[logHead]
            let live = entries[Int(s)].stamp == logBase &+ UInt32(truncatingIfNeeded: logHead)
            logHead += 1
            if live { return s }
        }
    }

    /// Drops stale and popped records and restamps the survivors from position `logBase` on.
    private mutating func compactLog() {
        var kept = 0
        for i in logHead..<log.count {
            let s = log[i]
            if entries[Int(s)].stamp == logBase &+ UInt32(truncatingIfNeeded: i) {
                log[kept] = s
                kept += 1
            }
        }
        log.removeSubrange(kept...)
        logHead = 0
        logBase &+= 0x8000_0000  // far from every stamp handed out before, stale ones included
        for i in 0..<kept { entries[Int(log[i])].stamp = logBase &+ UInt32(truncatingIfNeeded: i) }
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
}

/// A table is a plain value: sendable when its keys are.
extension SlotTable: Sendable where Key: Sendable {}
extension SlotTable.Entry: Sendable where Key: Sendable {}

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

    /// Appends `filler` until there are at least `count` elements, a `block` at a time but
    /// no further than `limit`: per-slot arrays grow once per block of new slots instead of
    /// once per slot (each slot's elements are written when the slot is taken anyway).
    @inline(__always)
    mutating func growInBlocks(to count: Int, block: Int, limit: Int, filler: Element) {
        if self.count >= count { return }
        let target = Swift.max(count, Swift.min(self.count + block, limit))
        append(contentsOf: repeatElement(filler, count: target - self.count))
    }
}
