/// A small integer naming a host, so per-message code passes an ID, not a `String`.
public struct HostID: Hashable, Comparable, Sendable {
    public var rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public static func < (a: HostID, b: HostID) -> Bool { a.rawValue < b.rawValue }
}

/// The host names seen so far, shared by reference between the stages that intern them and
/// those that name hosts (alerts at dispatch, the stats block, the API).
///
/// When ingest runs on several threads (`serve`'s ingest shards, docs/architecture.md) the
/// directory is given a `lock`, every method takes it, and each thread interns through its own
/// `HostCache`, so the lock is taken once per host a thread meets, not per message. Without a
/// lock it belongs to one thread, which may also use `table` directly.
public final class HostDirectory: @unchecked Sendable {
    /// The table; used directly only by the one thread of a directory without a lock.
    public var table: HostTable
    private let lock: (any MutualExclusion)?

    public init(table: HostTable = HostTable(), lock: (any MutualExclusion)? = nil) {
        self.table = table
        self.lock = lock
        maxHosts = table.maxHosts
    }

    /// Whether threads share it (it has a lock).
    public var isShared: Bool { lock != nil }

    /// The most hosts it names (`HostTable.maxHosts`; it does not change).
    public let maxHosts: Int

    /// `HostTable.intern`, under the lock.
    public func intern(_ bytes: UnsafeRawBufferPointer) -> HostID {
        guard let lock else { return table.intern(bytes) }
        return lock.withLock { table.intern(bytes) }
    }

    /// `HostTable.intern`, under the lock.
    public func intern(_ name: String) -> HostID {
        guard let lock else { return table.intern(name) }
        return lock.withLock { table.intern(name) }
    }

    /// The name of `id`, under the lock.
    public func name(of id: HostID) -> String {
        guard let lock else { return table.name(of: id) }
        return lock.withLock { table.name(of: id) }
    }

    /// How many hosts it names, under the lock.
    public var count: Int {
        guard let lock else { return table.count }
        return lock.withLock { table.count }
    }

    /// A copy of the table as it is now (for reading many names at once).
    public func snapshot() -> HostTable {
        guard let lock else { return table }
        return lock.withLock { table }
    }
}

/// Mutual exclusion for state that threads share, provided by the POSIX layer (`ConditionLock`).
public protocol MutualExclusion: AnyObject, Sendable {
    func withLock<R>(_ body: () -> R) -> R
}

/// One ingest thread's memory of the hosts it met in a shared `HostDirectory`: its own table
/// (same cap) and, for each of its ids, the directory's. A host already met costs a lookup in
/// this table and no lock; a new one (or a new spelling) takes the directory's lock once. Once
/// it holds `maxHosts` names, a name it never met is the directory's to answer, each time, under
/// its lock (uncached): so a flood of forged names on one thread cannot send a host the
/// directory knows to the overflow host, and the cache's memory stays bounded.
public struct HostCache {
    private var local: HostTable
    /// The directory's id of each local id.
    private var shared: [HostID] = []

    public init(seed: UInt64, maxHosts: Int) {
        local = HostTable(seed: seed, maxHosts: maxHosts)
    }

    /// The directory's id of the host spelled by `bytes`, interning it there the first time.
    @inline(__always)
    public mutating func intern(_ bytes: UnsafeRawBufferPointer, in directory: HostDirectory) -> HostID {
        if local.count >= local.maxHosts && local.id(of: bytes) == nil { return directory.intern(bytes) }
        let id = Int(local.intern(bytes).rawValue)
        if id < shared.count { return shared[id] }
        // Local ids are handed out in order, so this is the next one.
        let global = directory.intern(local.name(of: HostID(UInt32(id))))
        shared.append(global)
        return global
    }
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

    /// The ID of the host spelled by `bytes`, if it was seen in that spelling or is its sanitized
    /// name; nothing is added.
    public func id(of bytes: UnsafeRawBufferPointer) -> HostID? { lookup(bytes, hash: Self.hash(bytes, seed: seed)) }

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
