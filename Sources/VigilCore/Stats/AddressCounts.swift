/// A count per address, for counting something per client on every request or event: IPv4
/// addresses in a flat `IPv4Table` (one probe, no `Hasher`), the others (IPv6) in a
/// `Dictionary`. Used for the clients of the traffic stats and the report's failing IPs.
///
/// IPv4 counts are kept in 32 bits, so a slot is 8 bytes and a table of many clients takes
/// half the cache lines; the rare count that outgrows 32 bits moves to the dictionary (its
/// table value becomes `UInt32.max`), so counts stay exact.
struct AddressCounts: AddressPrefetching {
    private var v4 = IPv4Table<UInt32>()
    private var others: [IPAddress: Int] = [:]
    /// IPv4 addresses whose count moved to `others`.
    private var spilled = 0

    /// How many distinct addresses are counted.
    var count: Int { v4.count + others.count - spilled }

    /// A count that fits the table (`UInt32.max` is the mark of a moved one), or nil.
    @inline(__always)
    private static func small(_ n: Int) -> UInt32? {
        n >= 0 && n < Int(UInt32.max) ? UInt32(truncatingIfNeeded: n) : nil
    }

    /// Starts loading what `add(ip, _)` will touch first (a hint: changes nothing).
    @inline(__always)
    func prefetch(_ ip: IPAddress) {
        if ip.isIPv4, let key = IPv4Table<UInt32>.key(ip.ipv4Value) { v4.prefetch(key) }
    }

    /// Adds `n` to `ip`'s count; a new address is refused (false) once `limit` are counted.
    @inline(__always)
    mutating func add(_ ip: IPAddress, _ n: Int, limit: Int = .max) -> Bool {
        if ip.isIPv4, let key = IPv4Table<UInt32>.key(ip.ipv4Value) {
            if let i = v4.slot(of: key) {
                let old = v4[slot: i]
                if old != .max, let sum = Self.small(Int(old) &+ n) {
                    v4[slot: i] = sum
                } else {
                    spill(ip, slot: i, n)
                }
                return true
            }
            guard count < limit else { return false }
            if let small = Self.small(n) {
                _ = v4.slot(for: key, inserting: small)
            } else {
                spill(ip, slot: v4.slot(for: key, inserting: .max).slot, n)
            }
            return true
        }
        if let i = others.index(forKey: ip) {
            others.values[i] += n
            return true
        }
        guard count < limit else { return false }
        others[ip] = n
        return true
    }

    /// Adds `n` to the count of the IPv4 address `ip` in `slot` kept in `others` (moving it there first).
    private mutating func spill(_ ip: IPAddress, slot i: Int, _ n: Int) {
        let old = v4[slot: i]
        if old == .max && others[ip] != nil {
            others[ip]! += n
        } else {
            v4[slot: i] = .max
            others[ip] = (old == .max ? 0 : Int(old)) + n
            spilled += 1
        }
    }

    /// Calls `body` with every address and its count, in no order.
    func forEach(_ body: (IPAddress, Int) -> Void) {
        for (ip, n) in others { body(ip, n) }
        v4.forEach { key, n in
            if n != .max { body(IPAddress(ipv4: IPv4Table<UInt32>.address(key)), Int(n)) }
        }
    }

    /// Every address with its count, in no order.
    var all: [(ip: IPAddress, count: Int)] {
        var out: [(ip: IPAddress, count: Int)] = []
        out.reserveCapacity(count)
        forEach { out.append((ip: $0, count: $1)) }
        return out
    }

    /// The `n` addresses with the highest counts, ties by address. For a short list (the stats
    /// block's top 5 of up to a million clients, every interval, on the loop's thread while the
    /// analyzer waits) one pass that keeps the best `n` seen so far rather than a sort of every
    /// address; a long one (`vigil analyze --top 100000`) is a sort, which the pass's
    /// insertions would make quadratic.
    func top(_ n: Int) -> [(ip: IPAddress, count: Int)] {
        guard n > 0 else { return [] }
        guard n <= Self.shortList else { return Array(all.sorted(by: Self.ranksBefore).prefix(n)) }
        var best: [(ip: IPAddress, count: Int)] = []
        best.reserveCapacity(n + 1)
        forEach { ip, count in
            let entry = (ip: ip, count: count)
            if best.count == n && !Self.ranksBefore(entry, best[n - 1]) { return }
            best.insert(entry, at: best.firstIndex { Self.ranksBefore(entry, $0) } ?? best.count)
            if best.count > n { best.removeLast() }
        }
        return best
    }

    /// The longest `top` list kept by one pass rather than a sort.
    static let shortList = 64

    /// Whether `a` comes before `b` in `top`: the higher count first, then the lower address.
    @inline(__always)
    private static func ranksBefore(_ a: (ip: IPAddress, count: Int), _ b: (ip: IPAddress, count: Int)) -> Bool {
        a.count != b.count ? a.count > b.count : a.ip < b.ip
    }

    /// Forgets every address, keeping the memory.
    mutating func removeAll() {
        v4.removeAll()
        others.removeAll(keepingCapacity: true)
        spilled = 0
    }
}
