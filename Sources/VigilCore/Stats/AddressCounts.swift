/// A count per address, for counting something per client on every request or event: IPv4
/// addresses in a flat `IPv4Table` (one probe, no `Hasher`), the others (IPv6) in a
/// `Dictionary`. Used for the clients of the traffic stats and the report's failing IPs.
struct AddressCounts {
    private var v4 = IPv4Table<Int>()
    private var others: [IPAddress: Int] = [:]

    /// How many distinct addresses are counted.
    var count: Int { v4.count + others.count }

    /// Adds `n` to `ip`'s count; a new address is refused (false) once `limit` are counted.
    @inline(__always)
    mutating func add(_ ip: IPAddress, _ n: Int, limit: Int = .max) -> Bool {
        if ip.isIPv4, let key = IPv4Table<Int>.key(ip.ipv4Value) {
            if let i = v4.slot(of: key) {
                v4[slot: i] += n
                return true
            }
            guard count < limit else { return false }
            _ = v4.slot(for: key, inserting: n)
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

    /// Every address with its count, in no order.
    var all: [(ip: IPAddress, count: Int)] {
        var out = others.map { (ip: $0.key, count: $0.value) }
        out.reserveCapacity(count)
        v4.forEach { key, n in out.append((ip: IPAddress(ipv4: IPv4Table<Int>.address(key)), count: n)) }
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
    }
}
