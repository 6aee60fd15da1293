/// A flat hash table from IPv4 addresses to a value: linear probing in a power-of-two array
/// kept at most 3/4 full, Fibonacci hashing, tombstones on removal (dropped when it grows).
/// Keys are the address plus one, so 0 marks an empty slot and `UInt32.max` a removed one;
/// 255.255.255.254 and 255.255.255.255 cannot be stored and `key(_:)` says so (callers keep
/// them elsewhere). Used for the per-client counts of the stats and the report's tallies.
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

    /// The slot holding `key`, or nil when it is absent.
    @inline(__always)
    func slot(of key: UInt32) -> Int? {
        guard !keys.isEmpty else { return nil }
        let mask = keys.count - 1
        var i = home(key)
        while true {
            let k = keys[i]
            if k == key { return i }
            if k == 0 { return nil }
            i = (i + 1) & mask
        }
    }

    /// The value in a slot that `slot(of:)` returned.
    subscript(slot i: Int) -> Value {
        get { values[i] }
        set { values[i] = newValue }
    }

    /// Removes `key` and returns its value, or nil when it is absent.
    mutating func remove(_ key: UInt32) -> Value? {
        guard let i = slot(of: key) else { return nil }
        keys[i] = Self.tombstone
        count -= 1
        return values[i]
    }

    /// Empties the table, keeping its size.
    mutating func removeAll() {
        for i in keys.indices { keys[i] = 0 }
        used = 0
        count = 0
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
