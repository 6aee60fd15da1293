/// How often each address was seen and when first and last, over a whole input, for the
/// report's repeated access list, in as little memory and time as an exact answer allows.
///
/// A log of attacks names hundreds of thousands of addresses, most of them once. Every IPv4
/// address has one slot of a flat open-addressing table (4-byte key, 8-byte value, one probe
/// per sighting, no hashing of 16 bytes through `Hasher`): the value is the time of an
/// address seen once, or the index of its full record among `repeated` once it is seen
/// again. IPv6 addresses (rare in these logs) go to a `Dictionary` with the full record.
struct AddressTally {
    /// What is kept per address: how often, and when first and last.
    struct Entry: Equatable {
        var count: Int
        var first: Timestamp
        var last: Timestamp
    }

    /// IPv4 address → its time (µs) when seen once, or `Self.tag(index)` into `repeated`.
    private var v4 = IPv4Table<Int64>()
    /// The full records of IPv4 addresses seen more than once.
    private var repeated: [(ip: IPAddress, entry: Entry)] = []
    /// Addresses the flat table cannot hold (IPv6, 255.255.255.254 and .255).
    private var others: [IPAddress: Entry] = [:]

    /// Values below this are indexes into `repeated`; no log time is that far in the past.
    private static let tagBase = Int64.min / 2
    private static func tag(_ index: Int) -> Int64 { Int64.min + Int64(index) }

    /// Counts `ip` once more at `time`.
    mutating func note(_ ip: IPAddress, at time: Timestamp) {
        if ip.isIPv4, let key = IPv4Table<Int64>.key(ip.ipv4Value) {
            let found = v4.slot(for: key, inserting: time.microseconds)
            guard !found.inserted else { return }
            let value = v4[slot: found.slot]
            if value < Self.tagBase {
                repeated[Int(value &- Int64.min)].entry.add(time)
            } else {
                let other = Timestamp(microseconds: value)
                v4[slot: found.slot] = Self.tag(repeated.count)
                repeated.append((ip, Entry(count: 2, first: min(other, time), last: max(other, time))))
            }
            return
        }
        if let i = others.index(forKey: ip) {
            others.values[i].add(time)
        } else {
            others[ip] = Entry(count: 1, first: time, last: time)
        }
    }

    /// Every address counted at least `minimum` times (`minimum` ≥ 2), in no order.
    func entries(atLeast minimum: Int) -> [(ip: IPAddress, entry: Entry)] {
        repeated.filter { $0.entry.count >= minimum }
            + others.filter { $0.value.count >= minimum }.map { (ip: $0.key, entry: $0.value) }
    }
}

extension AddressTally.Entry {
    mutating func add(_ time: Timestamp) {
        count += 1
        if time < first { first = time }
        if time > last { last = time }
    }
}
