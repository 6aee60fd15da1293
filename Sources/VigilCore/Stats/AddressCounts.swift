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

    /// Every address with its count, in no order.
    var all: [(ip: IPAddress, count: Int)] {
        var out = others.map { (ip: $0.key, count: $0.value) }
        out.reserveCapacity(count)
        v4.forEach { key, n in
            if n != .max { out.append((ip: IPAddress(ipv4: IPv4Table<UInt32>.address(key)), count: Int(n))) }
        }
        return out
    }

    /// The `n` addresses with the highest counts, ties by address.
    func top(_ n: Int) -> [(ip: IPAddress, count: Int)] {
        Array(all.sorted { $0.count != $1.count ? $0.count > $1.count : $0.ip < $1.ip }.prefix(n))
    }

    /// Forgets every address, keeping the memory.
    mutating func removeAll() {
        v4.removeAll()
        others.removeAll(keepingCapacity: true)
        spilled = 0
    }
}
