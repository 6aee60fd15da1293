/// Numbers short byte strings 0, 1, 2, … in the order they are added, for counters kept in
/// arrays by that number (the sections of the traffic stats): a lookup hashes the bytes in
/// place with `HostTable.hash` (seeded, eight bytes at a time, no `Hasher`) and compares
/// them against one contiguous arena, so a lookup allocates nothing and adding a key
/// allocates only when an array grows.
///
/// Open addressing with linear probing; each bucket holds 32 bits of the key's hash and its
/// number plus one (0 is empty), so a probe rarely touches the bytes of another key. At most
/// half full. Keys are never removed one by one, only all at once.
struct ByteStringIndex {
    private var buckets = [UInt64](repeating: 0, count: 16)
    /// The bytes of every key, back to back: key i is `arena[ends[i] - length ..< ends[i]]`.
    private var arena: [UInt8] = []
    /// Per key, the offset in `arena` just past its bytes.
    private var ends: [Int] = []
    private let seed: UInt64

    /// An empty index hashing under `seed` (pass a secret one when the keys come from senders).
    init(seed: UInt64 = 0) { self.seed = seed }

    /// How many keys are held.
    var count: Int { ends.count }

    /// The bucket holding `key`, or the empty one where it would go.
    @inline(__always)
    private func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> (bucket: Int, index: Int?) {
        buckets.withUnsafeBufferPointer { b in
            arena.withUnsafeBytes { bytes in
                let mask = b.count - 1
                var i = Int(truncatingIfNeeded: hash) & mask
                while true {
                    let e = b[i]
                    if e == 0 { return (i, nil) }
                    if e >> 32 == hash & 0xFFFF_FFFF {
                        let k = Int(e & 0xFFFF_FFFF) - 1
                        let start = k == 0 ? 0 : ends[k - 1]
                        if equalBytes(UnsafeRawBufferPointer(rebasing: bytes[start..<ends[k]]), key) { return (i, k) }
                    }
                    i = (i + 1) & mask
                }
            }
        }
    }

    /// The number of `key`, or nil when it was never added.
    @inline(__always)
    func index(of key: UnsafeRawBufferPointer) -> Int? {
        find(key, hash: HostTable.hash(key, seed: seed)).index
    }

    /// The number of `key`, adding it (as the next number) when it is new.
    mutating func add(_ key: UnsafeRawBufferPointer) -> Int {
        let hash = HostTable.hash(key, seed: seed)
        let (bucket, found) = find(key, hash: hash)
        if let found { return found }
        let k = ends.count
        arena.append(contentsOf: key)
        ends.append(arena.count)
        buckets[bucket] = (hash & 0xFFFF_FFFF) << 32 | UInt64(k + 1)
        if ends.count * 2 > buckets.count { grow() }
        return k
    }

    /// Forgets every key, keeping the memory.
    mutating func removeAll() {
        for i in buckets.indices { buckets[i] = 0 }
        arena.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
    }

    /// Doubles the buckets, rehashing the keys from the arena.
    private mutating func grow() {
        var bigger = [UInt64](repeating: 0, count: buckets.count * 2)
        let mask = bigger.count - 1
        arena.withUnsafeBytes { bytes in
            var start = 0
            for (k, end) in ends.enumerated() {
                let hash = HostTable.hash(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), seed: seed) & 0xFFFF_FFFF
                var i = Int(truncatingIfNeeded: hash) & mask
                while bigger[i] != 0 { i = (i + 1) & mask }
                bigger[i] = hash << 32 | UInt64(k + 1)
                start = end
            }
        }
        buckets = bigger
    }
}
