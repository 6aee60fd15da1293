import CVigilHints

/// A flat hash table from IPv4 addresses to a value: linear probing in a power-of-two array
/// kept at most 3/4 full, Fibonacci hashing, no removal. Keys are the address plus one, so 0
/// marks an empty slot; 255.255.255.255 cannot be stored and `key(_:)` says so (callers keep
/// it elsewhere). Used for the per-client counts of the stats and the report's tallies.
struct IPv4Table<Value> {
    /// Key and value side by side: a lookup touches one cache line.
    private var slots: [(key: UInt32, value: Value)] = []
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
        Int(truncatingIfNeeded: (UInt64(key) &* 0x9E37_79B9_7F4A_7C15) >> 32) & (slots.count - 1)
    }

    /// Starts loading the slot where a lookup of `key` begins, so that a lookup made a little
    /// later finds it in cache (a hint: changes nothing).
    @inline(__always)
    func prefetch(_ key: UInt32) {
        guard !slots.isEmpty else { return }
        let i = home(key)
        slots.withUnsafeBufferPointer { vigil_prefetch($0.baseAddress! + i) }
    }

    /// The slot holding `key`, or nil when it is absent.
    @inline(__always)
    func slot(of key: UInt32) -> Int? {
        guard !slots.isEmpty else { return nil }
        let mask = slots.count - 1
        var i = home(key)
        while true {
            let k = slots[i].key
            if k == key { return i }
            if k == 0 { return nil }
            i = (i + 1) & mask
        }
    }

    /// The slot holding `key`; when it is absent it is added with `value` (`inserted` true).
    @inline(__always)
    mutating func slot(for key: UInt32, inserting value: Value) -> (slot: Int, inserted: Bool) {
        if (count + 1) * 4 > slots.count * 3 { grow(with: value) }
        let mask = slots.count - 1
        var i = home(key)
        while true {
            let k = slots[i].key
            if k == key { return (i, false) }
            if k == 0 { break }
            i = (i + 1) & mask
        }
        slots[i] = (key, value)
        count += 1
        return (i, true)
    }

    /// The value in a slot that `slot(of:)` or `slot(for:inserting:)` returned.
    subscript(slot i: Int) -> Value {
        get { slots[i].value }
        set { slots[i].value = newValue }
    }

    /// Empties the table, keeping its size.
    mutating func removeAll() {
        for i in slots.indices { slots[i].key = 0 }
        count = 0
    }

    /// Calls `body` with every key and value.
    func forEach(_ body: (UInt32, Value) -> Void) {
        for slot in slots where slot.key != 0 { body(slot.key, slot.value) }
    }

    /// Rehashes into a table twice the size (`filler` fills the new value slots).
    private mutating func grow(with filler: Value) {
        let old = slots
        slots = Array(repeating: (0, filler), count: max(16, old.count * 2))
        count = 0
        for slot in old where slot.key != 0 { _ = self.slot(for: slot.key, inserting: slot.value) }
    }
}

/// A table is a plain value: sendable when its values are.
extension IPv4Table: Sendable where Value: Sendable {}
