/// The address blocks whose addresses are never alerted on (`detection.allowlist`).
///
/// A short list scanned linearly: allowlists hold a handful of networks.
public struct AllowList: Sendable, Equatable {
    public private(set) var networks: [CIDR]

    /// A list of the given blocks (none by default).
    public init(_ networks: [CIDR] = []) { self.networks = networks }

    /// Whether nothing is allowlisted.
    public var isEmpty: Bool { networks.isEmpty }

    /// Adds a block written as `10.0.0.0/8`, `2001:db8::/32` or a bare address; false when it is not valid.
    @discardableResult
    public mutating func add(_ text: String) -> Bool {
        guard case .success(let block) = CIDR.parse(text) else { return false }
        networks.append(block)
        return true
    }

    /// Whether `ip` lies in one of the blocks.
    @inline(__always)
    public func contains(_ ip: IPAddress) -> Bool {
        for block in networks where block.contains(ip) { return true }
        return false
    }
}
