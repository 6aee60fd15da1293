/// A small integer naming a host, so per-message code passes an ID, not a `String`.
public struct HostID: Hashable, Comparable, Sendable {
    public var rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public static func < (a: HostID, b: HostID) -> Bool { a.rawValue < b.rawValue }
}

/// The host names seen so far, shared by reference between the stage that interns them and the
/// detection engine, which names hosts in alerts.
public final class HostDirectory {
    public var table: HostTable
    public init(table: HostTable = HostTable()) { self.table = table }
}

/// Interns host names: the first time a name's bytes are seen it gets a `HostID` and one
/// `String`; every later lookup of the same bytes allocates nothing and costs one cheap hash.
///
/// A host's name is its `HostName.sanitize` form (lowercase, file-system safe), so every
/// spelling of it (`WEB1`, `Web1`, `web1`) is one host: a spelling that is not already the
/// sanitized name is looked up as that name once and then remembered as an alias of it (at most
/// `maxHosts` aliases; past that an odd spelling is sanitized on each lookup).
///
/// An open-addressing table over a word-at-a-time multiplicative hash, keyed with `seed` so a
/// sender cannot precompute colliding names (the daemon passes a random seed). At most
/// `maxHosts` names are kept: beyond that every new name maps to the host `overflowName`, so a
/// flood of forged host names cannot exhaust memory or the file system.
public struct HostTable: Sendable {
    /// Each host's name, by `HostID`.
    public private(set) var names: [String] = []
    /// Every spelling seen (names and aliases), its hash, and the host it names.
    private var keys: [[UInt8]] = []
    private var hashes: [UInt64] = []
    private var hosts: [HostID] = []
    /// Indexes into `keys`, -1 for an empty slot; the count is a power of two, at most half full.
    private var slots: [Int32] = [Int32](repeating: -1, count: 64)
    private let seed: UInt64
    public let maxHosts: Int
    private var overflow: HostID?

    /// The host that stands for every name past `maxHosts`.
    public static let overflowName = "_overflow"

    public init(seed: UInt64 = 0x243F_6A88_85A3_08D3, maxHosts: Int = 100_000) {
        self.seed = seed
        self.maxHosts = max(1, maxHosts)
    }

    public var count: Int { names.count }

    /// The ID of the host spelled by `bytes` (any spelling of its sanitized name), adding it when new.
    public mutating func intern(_ bytes: UnsafeRawBufferPointer) -> HostID {
        let hash = Self.hash(bytes, seed: seed)
        if let id = lookup(bytes, hash: hash) { return id }
        if HostName.isSanitized(bytes) {
            if names.count >= maxHosts { return overflowHost() }
            return insert(Array(bytes), hash: hash)
        }
        let id = intern(HostName.sanitize(bytes))
        if keys.count - names.count < maxHosts { insert(Array(bytes), hash: hash, aliasOf: id) }
        return id
    }

    /// The ID of a host given as a `String`.
    public mutating func intern(_ name: String) -> HostID {
        var copy = name
        return copy.withUTF8 { intern(UnsafeRawBufferPointer($0)) }
    }

    public func name(of id: HostID) -> String { names[Int(id.rawValue)] }

    /// The ID of the host spelled `name`, if it was seen in that spelling or is its sanitized name.
    public func id(of name: String) -> HostID? {
        let bytes = Array(name.utf8)
        return bytes.withUnsafeBytes { lookup($0, hash: Self.hash($0, seed: seed)) }
    }

    private func lookup(_ bytes: UnsafeRawBufferPointer, hash: UInt64) -> HostID? {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let slot = slots[i]
            if slot < 0 { return nil }
            if hashes[Int(slot)] == hash && keys[Int(slot)].withUnsafeBytes({ equalBytes($0, bytes) }) {
                return hosts[Int(slot)]
            }
            i = (i + 1) & mask
        }
    }

    private mutating func overflowHost() -> HostID {
        if let overflow { return overflow }
        let bytes = Array(Self.overflowName.utf8)
        let id = insert(bytes, hash: bytes.withUnsafeBytes { Self.hash($0, seed: seed) })
        overflow = id
        return id
    }

    /// Adds the spelling `bytes` (not in the table): as an alias of `host`, or when nil as a new host's name.
    @discardableResult
    private mutating func insert(_ bytes: [UInt8], hash: UInt64, aliasOf host: HostID? = nil) -> HostID {
        let id = host ?? HostID(UInt32(names.count))
        if host == nil { names.append(String(decoding: bytes, as: UTF8.self)) }
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while slots[i] >= 0 { i = (i + 1) & mask }
        slots[i] = Int32(keys.count)
        keys.append(bytes)
        hashes.append(hash)
        hosts.append(id)
        if keys.count * 2 > slots.count { grow() }
        return id
    }

    private mutating func grow() {
        var bigger = [Int32](repeating: -1, count: slots.count * 2)
        let mask = bigger.count - 1
        for (key, hash) in hashes.enumerated() {
            var i = Int(truncatingIfNeeded: hash) & mask
            while bigger[i] >= 0 { i = (i + 1) & mask }
            bigger[i] = Int32(key)
        }
        slots = bigger
    }

    /// A seeded multiplicative hash, eight bytes at a time.
    static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        var h = seed ^ (UInt64(bytes.count) &* 0x9E37_79B9_7F4A_7C15)
        var i = 0
        while i + 8 <= bytes.count {
            h = (h ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 29
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < bytes.count {
            tail |= UInt64(bytes[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 32
        return h
    }
}

@inline(__always)
func equalBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    a.count == b.count && (a.count == 0 || memcmpEqual(a, b))
}

/// Whether `a` and `b`, of the same length, hold the same bytes: compared eight (or four) at
/// a time, the last word overlapping the one before, so a short name costs two or three loads.
@inline(__always)
func memcmpEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    let n = a.count
    if n >= 8 {
        var i = 0
        while i &+ 8 < n {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i &+= 8
        }
        return a.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
    }
    if n >= 4 {
        return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
            && a.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self) == b.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self)
    }
    for i in 0..<n where a[i] != b[i] { return false }
    return true
}
