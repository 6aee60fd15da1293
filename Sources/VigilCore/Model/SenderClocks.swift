/// Each host's clock as vigil sees it: turns the time a message claims into the time detection
/// uses, so that no sender's clock moves another host's windows or the global rules past real
/// time (docs/clocks.md).
///
/// The reference is the time the message arrived (`received`): the collector's wall clock in
/// `serve` and `follow`, the file's own timeline in `analyze`. For each claimed time:
///
/// - a zone-less time (RFC 3164) within the tolerance of a whole number of quarter hours (at
///   most 14 h) from the reference is read in that zone (`zoneCorrected`): a server in another
///   timezone is detected at once;
/// - the host's learned offset is taken off (a host whose clock runs behind);
/// - a time ahead of the reference is taken at the reference, and counted as `future` when
///   it is more than the tolerance ahead: detection time never passes the reference, so the
///   engine's clock never passes real time whatever one sender claims;
/// - a time behind the reference by more than the lateness is kept (the engine may count it
///   late) and noted: once a host's times have stayed that far behind, consistently, for
///   `learnEvents` events over `learnMicroseconds` of reference time with no time that agrees
///   with its current offset in between, that offset is learned (`offsetsLearned`), so a host
///   with a slow clock or a slow relay link is judged on its own clock. A host whose times
///   come back ahead the same way has its offset brought back towards zero. Offsets are never
///   positive: a clock ahead is already taken at the reference.
///
/// A burst of old events (a sender's queue emptied after an outage) changes nothing: it moves
/// through its times faster than real time, so its times do not stay consistent for the
/// learning period. State is per host (one 32-byte record); pure, no clock of its own.
public struct SenderClocks: Sendable {
    /// How far ahead of the reference a time may claim to be before it is counted as future.
    public private(set) var toleranceMicroseconds: Int64
    /// How far behind the reference a time may be and still agree with the host's offset.
    public private(set) var latenessMicroseconds: Int64
    /// Events, all behind (or ahead) by about the same amount, needed to learn an offset.
    public let learnEvents: Int32
    /// Reference time over which those events must spread.
    public let learnMicroseconds: Int64

    /// What the clocks decided since start.
    public struct Counters: Sendable, Equatable {
        /// Times more than the tolerance ahead of the reference, taken at the reference.
        public var future = 0
        /// Zone-less times read in the zone that put them near the reference.
        public var zoneCorrected = 0
        /// Times a host's offset was learned or changed.
        public var offsetsLearned = 0

        public init(future: Int = 0, zoneCorrected: Int = 0, offsetsLearned: Int = 0) {
            self.future = future; self.zoneCorrected = zoneCorrected; self.offsetsLearned = offsetsLearned
        }
    }

    public private(set) var counters = Counters()

    /// One host's clock: its learned offset and the run of disagreeing times that may change it.
    private struct Clock {
        /// Host time minus reference time, µs; never positive.
        var offset: Int64 = 0
        /// The first residual of the current run (times behind, or ahead, by about one amount).
        var runFirst: Int64 = 0
        /// The residual the offset moves by if the run is adopted: the least far behind (or ahead).
        var runBest: Int64 = 0
        /// The reference time of the run's first event.
        var runSince: Int64 = 0
        var runCount: Int32 = 0
    }

    private var clocks: [Clock] = []

    private static let quarterHour: Int64 = 900 * 1_000_000
    private static let largestZoneOffset: Int64 = 14 * 3600 * 1_000_000

    /// Clocks with the given tolerance and lateness (µs); an offset is learned after `learnEvents`
    /// events over `learnMicroseconds` of reference time.
    public init(toleranceMicroseconds: Int64, latenessMicroseconds: Int64, learnEvents: Int32 = 5,
                learnMicroseconds: Int64 = 30_000_000) {
        self.toleranceMicroseconds = max(0, toleranceMicroseconds)
        self.latenessMicroseconds = max(0, latenessMicroseconds)
        self.learnEvents = max(1, learnEvents)
        self.learnMicroseconds = max(0, learnMicroseconds)
    }

    /// New tolerance and lateness (a reloaded configuration); learned offsets are kept.
    public mutating func retune(toleranceMicroseconds: Int64, latenessMicroseconds: Int64) {
        self.toleranceMicroseconds = max(0, toleranceMicroseconds)
        self.latenessMicroseconds = max(0, latenessMicroseconds)
    }

    /// The learned offset of `host` (µs, host clock minus reference; 0 when none).
    public func offset(of host: HostID) -> Int64 {
        Int(host.rawValue) < clocks.count ? clocks[Int(host.rawValue)].offset : 0
    }

    /// The time detection uses for an event of `host` that claims `claimed` (nil: none) and
    /// arrived at `received`. `zoneless` marks a time read without a zone (RFC 3164), which may
    /// be read in another zone. `learns` is false for times that are not a reading of the
    /// sender's clock (the end of a session summary line): they are bounded, never learned from.
    @inline(__always)
    public mutating func detectionTime(claimed: Timestamp?, zoneless: Bool = false, host: HostID, received: Timestamp,
                                       learns: Bool = true) -> Timestamp {
        guard let claimed else { return received }
        let h = Int(host.rawValue)
        if h >= clocks.count { clocks.append(contentsOf: repeatElement(Clock(), count: h + 1 - clocks.count)) }
        var residual = claimed.microseconds &- clocks[h].offset &- received.microseconds
        if zoneless && (residual > toleranceMicroseconds || residual < -toleranceMicroseconds) {
            residual = zoneCorrected(residual)
        }
        if residual >= -latenessMicroseconds && residual <= toleranceMicroseconds {
            // Agrees with the host's clock: a run of disagreeing times is broken.
            clocks[h].runCount = 0
            return residual > 0 ? received : Timestamp(microseconds: received.microseconds &+ residual)
        }
        if learns, note(residual, host: h, received: received.microseconds) {
            residual = claimed.microseconds &- clocks[h].offset &- received.microseconds
            if zoneless { residual = zoneCorrected(residual) }
        }
        if residual > toleranceMicroseconds {
            counters.future += 1
            return received
        }
        return Timestamp(microseconds: received.microseconds &+ min(0, residual))
    }

    /// `residual` less the whole number of quarter hours nearest to it, when what remains is
    /// within the tolerance and the zone is a real one (at most 14 h); else `residual`.
    private mutating func zoneCorrected(_ residual: Int64) -> Int64 {
        let q = Self.quarterHour
        let half = q / 2
        let zone = (residual >= 0 ? (residual &+ half) / q : -((half &- residual) / q)) &* q
        let rest = residual &- zone
        guard zone != 0, zone >= -Self.largestZoneOffset, zone <= Self.largestZoneOffset,
              rest >= -toleranceMicroseconds, rest <= toleranceMicroseconds else { return residual }
        counters.zoneCorrected += 1
        return rest
    }

    /// Notes a residual outside the agreeing band; true when it completed a run and the host's
    /// offset changed.
    private mutating func note(_ residual: Int64, host h: Int, received: Int64) -> Bool {
        var c = clocks[h]
        defer { clocks[h] = c }
        let ahead = residual > 0
        // Ahead only matters while a learned offset can be given back.
        if ahead && c.offset == 0 { c.runCount = 0; return false }
        let band = max(latenessMicroseconds, 1_000_000)
        let sameRun = c.runCount > 0 && (c.runFirst > 0) == ahead
            && residual >= c.runFirst &- band && residual <= c.runFirst &+ band
        if sameRun {
            c.runCount += 1
            c.runBest = ahead ? min(c.runBest, residual) : max(c.runBest, residual)
        } else {
            c.runFirst = residual
            c.runBest = residual
            c.runSince = received
            c.runCount = 1
        }
        guard c.runCount >= learnEvents && received &- c.runSince >= learnMicroseconds else { return false }
        c.offset = min(0, c.offset &+ c.runBest)
        c.runCount = 0
        counters.offsetsLearned += 1
        return true
    }
}
