/// Something that can start loading, ahead of time, what it will touch for an address: a
/// cache hint that `Analyzer.observeSSH` gives as soon as it has read an sshd line's address.
public protocol AddressPrefetching {
    /// Starts the loads for `ip`; changes nothing.
    func prefetch(_ ip: IPAddress)
}

/// No hint: what callers without tables of their own pass.
public struct NoPrefetching: AddressPrefetching {
    public init() {}
    @inline(__always)
    public func prefetch(_ ip: IPAddress) {}
}
