import VigilCore

/// The `--flag value` pairs every vigil-bench subcommand takes, in order.
func flagPairs(_ args: [String]) throws(UsageError) -> [(flag: String, value: String)] {
    var pairs: [(flag: String, value: String)] = []
    var i = 0
    while i < args.count {
        guard i + 1 < args.count else { throw UsageError(message: "\(args[i]) needs a value") }
        pairs.append((args[i], args[i + 1]))
        i += 2
    }
    return pairs
}

/// An integer flag value within `range`, or the usage error naming the flag.
func integer(_ flag: String, _ value: String, in range: ClosedRange<Int>) throws(UsageError) -> Int {
    guard let n = Int(value), range.contains(n) else {
        throw UsageError(message: "\(flag) must be \(range.lowerBound)...\(range.upperBound), got '\(value)'")
    }
    return n
}

/// A `--mix` value.
func trafficMix(_ value: String) throws(UsageError) -> TrafficMix {
    guard let mix = TrafficMix(rawValue: value) else { throw UsageError(message: "--mix must be ssh, http or mixed, got '\(value)'") }
    return mix
}

/// A loopback `HOST:PORT` flag value.
func loopbackTarget(_ value: String) throws(UsageError) -> SocketAddress {
    switch parseLoopbackTarget(value) {
    case .success(let address): return address
    case .failure(let error): throw error
    }
}

/// The error for a flag a subcommand does not know.
func unknownFlag(_ flag: String) -> UsageError { UsageError(message: "unknown flag '\(flag)'") }
