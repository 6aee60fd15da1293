/// Per-address tallies over a whole input, for the report's lists (repeated access, top
/// failing IPs), in as little memory as an exact answer allows.
///
/// A log of attacks names hundreds of thousands of addresses, most of them once. An IPv4
/// address seen once costs one slot of a flat open-addressing table (4-byte key and its
/// value, no hashing of 16 bytes through `Hasher`); only addresses seen again, and the rare
/// IPv6 ones, go to a `Dictionary` with the full record.
struct AddressTally {
    /// What is kept per address: how often, and when first and last.
    struct Entry: Equatable {
        var count: Int
        var first: Timestamp
        var last: Timestamp
    }

    /// IPv4 addresses seen exactly once, with their time.
    private var once = IPv4Table<Int64>()
    /// Every other address (seen twice or more, or not a plain IPv4 address).
    private var many: [IPAddress: Entry] = [:]

    /// Counts `ip` `n` more times at `time`.
    mutating func note(_ ip: IPAddress, at time: Timestamp, count n: Int = 1) {
        if ip.isIPv4, let key = IPv4Table<Int64>.key(ip.ipv4Value) {
            if let t = once.remove(key) {
                let other = Timestamp(microseconds: t)
                many[ip] = Entry(count: 1 + n, first: min(other, time), last: max(other, time))
            } else if let i = many.index(forKey: ip) {
                many.values[i].add(time, count: n)
            } else if n == 1 {
                once.insert(key, time.microseconds)
            } else {
                many[ip] = Entry(count: n, first: time, last: time)
            }
            return
        }
        if let i = many.index(forKey: ip) {
            many.values[i].add(time, count: n)
        } else {
            many[ip] = Entry(count: n, first: time, last: time)
        }
    }

    /// Every address counted at least `minimum` times (`minimum` ≥ 2), in no order.
    func entries(atLeast minimum: Int) -> [(ip: IPAddress, entry: Entry)] {
        many.filter { $0.value.count >= minimum }.map { (ip: $0.key, entry: $0.value) }
    }

    /// The `n` addresses counted most often, ties by address.
    func top(_ n: Int) -> [(ip: IPAddress, count: Int)] {
        var list = many.map { (ip: $0.key, count: $0.value.count) }
        // Addresses seen once matter only when fewer than `n` were seen more often.
        if list.filter({ $0.count >= 2 }).count < n {
            once.forEach { key, _ in list.append((ip: IPAddress(ipv4: IPv4Table<Int64>.address(key)), count: 1)) }
        }
        return Array(list.sorted { $0.count != $1.count ? $0.count > $1.count : $0.ip < $1.ip }.prefix(n))
    }
}

extension AddressTally.Entry {
    mutating func add(_ time: Timestamp, count n: Int) {
        count += n
        if time < first { first = time }
        if time > last { last = time }
    }
}

/// A flat hash table from IPv4 addresses to a value: linear probing in a power-of-two array
/// kept at most 3/4 full, Fibonacci hashing, tombstones on removal (dropped when it grows).
/// Keys are the address plus one, so 0 marks an empty slot; 255.255.255.255 (whose key would
/// wrap to 0) is not storable and `key(_:)` says so.
struct IPv4Table<Value> {
    private static var tombstone: UInt32 { .max }
    private var keys: [UInt32] = []
    private var values: [Value] = []
    /// Live entries and tombstones.
    private var used = 0
    private(set) var count = 0

    /// The stored form of `address`, nil for the two addresses that cannot be stored.
    @inline(__always)
    static func key(_ address: UInt32) -> UInt32? {
        address >= UInt32.max - 1 ? nil : address &+ 1
    }

    /// The address a stored key stands for.
    @inline(__always)
    static func address(_ key: UInt32) -> UInt32 { key &- 1 }

    @inline(__always)
    private func home(_ key: UInt32) -> Int {
        Int(truncatingIfNeeded: (UInt64(key) &* 0x9E37_79B9_7F4A_7C15) >> 32) & (keys.count - 1)
    }

    /// Removes `key` and returns its value, or nil when it is absent.
    mutating func remove(_ key: UInt32) -> Value? {
        guard !keys.isEmpty else { return nil }
        let mask = keys.count - 1
        var i = home(key)
        while true {
            let k = keys[i]
            if k == 0 { return nil }
            if k == key {
                keys[i] = Self.tombstone
                count -= 1
                return values[i]
            }
            i = (i + 1) & mask
        }
    }

    /// Adds `key` (which must be absent) with `value`.
    mutating func insert(_ key: UInt32, _ value: Value) {
        if (used + 1) * 4 > keys.count * 3 { grow(with: value) }
        let mask = keys.count - 1
        var i = home(key)
        while keys[i] != 0 && keys[i] != Self.tombstone { i = (i + 1) & mask }
        if keys[i] == 0 { used += 1 }
        keys[i] = key
        values[i] = value
        count += 1
    }

    /// Calls `body` with every key and value.
    func forEach(_ body: (UInt32, Value) -> Void) {
        for i in keys.indices where keys[i] != 0 && keys[i] != Self.tombstone { body(keys[i], values[i]) }
    }

    /// Rehashes into a table with room for twice the live entries (`filler` fills new value slots).
    private mutating func grow(with filler: Value) {
        var size = 16
        while size * 3 < (count + 1) * 2 * 4 { size *= 2 }
        let oldKeys = keys, oldValues = values
        keys = [UInt32](repeating: 0, count: size)
        values = [Value](repeating: filler, count: size)
        used = 0
        count = 0
        for i in oldKeys.indices where oldKeys[i] != 0 && oldKeys[i] != Self.tombstone {
            insert(oldKeys[i], oldValues[i])
        }
    }
}
