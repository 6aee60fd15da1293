/// Lets through at most one log line per interval for one kind of event, and tells how many
/// were held back since the last line: a flood of bad input costs one line per interval, never
/// one per input.
public struct LogLimiter: Sendable {
    /// The least time between two lines, µs.
    public let intervalMicroseconds: Int64
    private var next: Int64 = .min
    private var held = 0

    /// A limiter letting one line through per `intervalMicroseconds`.
    public init(intervalMicroseconds: Int64) { self.intervalMicroseconds = max(1, intervalMicroseconds) }

    /// Whether a line may be written at `now` (µs, any monotonic clock), and how many were held
    /// back since the last one that was.
    public mutating func allow(now: Int64) -> (allowed: Bool, held: Int) {
        guard now >= next else {
            held += 1
            return (false, 0)
        }
        next = now &+ intervalMicroseconds
        defer { held = 0 }
        return (true, held)
    }
}
