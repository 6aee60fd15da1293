/// A flat hash table from IPv4 addresses to a value: linear probing in a power-of-two array
/// kept at most 3/4 full, Fibonacci hashing, no removal. Keys are the address plus one, so 0
/// marks an empty slot; 255.255.255.255 cannot be stored and `key(_:)` says so (callers keep
/// it elsewhere). Used for the per-client counts of the stats and the report's tallies.
struct IPv4Table<Value> {
    private var keys: [UInt32] = []
    private var values: [Value] = []
    private(set) var count = 0

    /// The stored form of `address`, nil for the one address that cannot be stored.
    @inline(__always)
    static func key(_ address: UInt32) -> UInt32? {
        address == UInt32.max ? nil : address &+ 1
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

    /// The slot holding `key`; when it is absent it is added with `value` (`inserted` true).
    @inline(__always)
    mutating func slot(for key: UInt32, inserting value: Value) -> (slot: Int, inserted: Bool) {
        if (count + 1) * 4 > keys.count * 3 { grow(with: value) }
        let mask = keys.count - 1
        var i = home(key)
        while true {
            let k = keys[i]
            if k == key { return (i, false) }
            if k == 0 { break }
            i = (i + 1) & mask
        }
        keys[i] = key
        values[i] = value
        count += 1
        return (i, true)
    }

    /// The value in a slot that `slot(of:)` or `slot(for:inserting:)` returned.
    subscript(slot i: Int) -> Value {
        get { values[i] }
        set { values[i] = newValue }
    }

    /// Empties the table, keeping its size.
    mutating func removeAll() {
        for i in keys.indices { keys[i] = 0 }
        count = 0
    }

    /// Calls `body` with every key and value.
    func forEach(_ body: (UInt32, Value) -> Void) {
        for i in keys.indices where keys[i] != 0 { body(keys[i], values[i]) }
    }

    /// Rehashes into a table twice the size (`filler` fills the new value slots).
    private mutating func grow(with filler: Value) {
        let oldKeys = keys, oldValues = values
        keys = [UInt32](repeating: 0, count: max(16, oldKeys.count * 2))
        values = [Value](repeating: filler, count: keys.count)
        count = 0
        for i in oldKeys.indices where oldKeys[i] != 0 { _ = slot(for: oldKeys[i], inserting: oldValues[i]) }
    }
}
