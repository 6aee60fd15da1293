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
