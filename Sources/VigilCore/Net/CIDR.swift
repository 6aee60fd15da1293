/// An address block such as `10.0.0.0/8` or `2001:db8::/64`.
///
/// An IPv4 block matches only IPv4 addresses and an IPv6 block only IPv6
/// addresses, even though `IPAddress` stores IPv4 as IPv4-mapped IPv6.
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    /// The first address of the block (host bits zero).
    public let network: IPAddress
    /// Prefix length in the block's own family: 0...32 for IPv4, 0...128 for IPv6.
    public let prefixLength: Int
    let maskHigh: UInt64
    let maskLow: UInt64

    /// Parses `A.B.C.D/N`, `V6/N`, or a bare address (a single-address block).
    /// Host bits after the prefix must be zero.
    public static func parse(_ text: String) -> Result<CIDR, ConfigValueError> {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let ip = IPAddress.parse(String(parts[0])) else {
            return .failure(ConfigValueError("bad CIDR \"\(text)\": `\(parts[0])` is not an IP address"))
        }
        let familyBits = ip.isIPv4 ? 32 : 128
        var length = familyBits
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].count <= 3, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                  let n = Int(parts[1]), n <= familyBits else {
                return .failure(ConfigValueError("bad CIDR \"\(text)\": prefix length must be 0...\(familyBits)"))
            }
            length = n
        }
        let block = CIDR(ip: ip, prefixLength: length)
        guard block.network == ip else {
            return .failure(ConfigValueError("bad CIDR \"\(text)\": host bits are set (did you mean \(block)?)"))
        }
        return .success(block)
    }

    /// The block of `prefixLength` bits around `ip` (host bits cleared).
    public init(ip: IPAddress, prefixLength: Int) {
        let bits = ip.isIPv4 ? 96 + prefixLength : prefixLength
        maskHigh = bits >= 64 ? UInt64.max : (bits == 0 ? 0 : UInt64.max << UInt64(64 - bits))
        maskLow = bits <= 64 ? 0 : (bits == 128 ? UInt64.max : UInt64.max << UInt64(128 - bits))
        network = IPAddress(high: ip.high & maskHigh, low: ip.low & maskLow)
        self.prefixLength = prefixLength
    }

    /// Whether `ip` is inside the block (never across address families).
    public func contains(_ ip: IPAddress) -> Bool {
        guard ip.isIPv4 == network.isIPv4 else { return false }
        return ip.high & maskHigh == network.high && ip.low & maskLow == network.low
    }

    /// `10.0.0.0/8`, `2001:db8::/64`.
    public var description: String { "\(network)/\(prefixLength)" }
}

/// Why a single value was rejected; the caller adds the origin. Defined with the lowest value
/// parser that returns it (`CIDR.parse`); the configuration reader (Config/) returns it for every value.
public struct ConfigValueError: Error, Hashable, Sendable {
    public var message: String
    /// An error with the given message.
    public init(_ message: String) { self.message = message }
}
