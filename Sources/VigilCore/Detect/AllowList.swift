/// A set of CIDR networks whose addresses are never alerted on.
///
/// Minimal by design: a short list scanned linearly (allowlists hold a handful of
/// networks). IPv4 networks are stored as IPv4-mapped IPv6, like `IPAddress`.
public struct AllowList: Sendable, Equatable {
    private struct Network: Sendable, Equatable {
        var high: UInt64, low: UInt64, maskHigh: UInt64, maskLow: UInt64
    }

    private var networks: [Network] = []

    /// An empty list.
    public init() {}

    /// Whether nothing is allowlisted.
    public var isEmpty: Bool { networks.isEmpty }

    /// Adds `cidr` (`10.0.0.0/8`, `2001:db8::/32`, or a bare address); returns false when it is not valid.
    @discardableResult
    public mutating func add(_ cidr: String) -> Bool {
        let parts = cidr.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let ip = IPAddress.parse(String(parts[0])) else { return false }
        var bits = ip.isIPv4 ? 32 : 128
        if parts.count == 2 {
            guard let n = Int(parts[1]), n >= 0, n <= bits, !parts[1].hasPrefix("+") else { return false }
            bits = n
        }
        let prefix = ip.isIPv4 ? 96 + bits : bits
        let maskHigh: UInt64 = prefix >= 64 ? .max : (prefix == 0 ? 0 : ~(UInt64.max >> UInt64(prefix)))
        let maskLow: UInt64 = prefix <= 64 ? 0 : (prefix == 128 ? .max : ~(UInt64.max >> UInt64(prefix - 64)))
        networks.append(Network(high: ip.high & maskHigh, low: ip.low & maskLow, maskHigh: maskHigh, maskLow: maskLow))
        return true
    }

    /// Whether `ip` lies in one of the networks.
    @inline(__always)
    public func contains(_ ip: IPAddress) -> Bool {
        for n in networks where ip.high & n.maskHigh == n.high && ip.low & n.maskLow == n.low { return true }
        return false
    }
}
