/// How long a sink waits before retrying a failed delivery: exponential backoff with jitter.
///
/// Attempt 1 waits about `base`, each further attempt doubles the ceiling up to `maximum`; the wait is
/// drawn from the upper half of the ceiling (`ceiling/2 ... ceiling`), so many sinks that failed together
/// do not retry in lock-step, yet the wait never collapses to zero. Randomness is passed in.
public struct RetryBackoff: Sendable, Equatable {
    /// The ceiling of the first retry, in microseconds.
    public var baseMicros: Int64
    /// The largest wait, in microseconds (`max_backoff`).
    public var maximumMicros: Int64

    /// A schedule from `baseMicros` doubling up to `maximumMicros` (raised to `baseMicros` if smaller).
    public init(baseMicros: Int64, maximumMicros: Int64) {
        self.baseMicros = max(1, baseMicros)
        self.maximumMicros = max(self.baseMicros, maximumMicros)
    }

    /// The ceiling for the `attempt`-th consecutive failure (1-based): `base * 2^(attempt-1)`, capped.
    public func ceiling(attempt: Int) -> Int64 {
        var ceiling = baseMicros
        var n = 1
        while n < attempt && ceiling < maximumMicros {
            ceiling = ceiling > maximumMicros / 2 ? maximumMicros : ceiling * 2
            n += 1
        }
        return min(ceiling, maximumMicros)
    }

    /// The wait before retrying after the `attempt`-th consecutive failure, given 64 random bits.
    public func delayMicros(attempt: Int, random: UInt64) -> Int64 {
        let ceiling = ceiling(attempt: attempt)
        let half = ceiling / 2
        return ceiling - half + Int64(random % UInt64(half + 1))
    }
}
