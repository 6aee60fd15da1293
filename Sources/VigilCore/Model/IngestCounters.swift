/// Counters of what the collector received, for the periodic summary line and `/metrics`.
public struct IngestCounters: Sendable, Equatable {
    /// Messages accepted (UDP datagrams and TCP frames), parsed or not.
    public var received: UInt64 = 0
    /// Bytes of message content accepted.
    public var bytes: UInt64 = 0
    /// Messages kept raw because they were not valid syslog.
    public var parseErrors: UInt64 = 0
    /// Messages cut to the maximum message size, or cut short to keep partial frames under their bound.
    public var truncated: UInt64 = 0
    /// Partial frames cut short because all connections' partial frames held more than their bound.
    public var framesCut: UInt64 = 0
    /// TCP connections closed because their stream could not be framed.
    public var framingErrors: UInt64 = 0
    /// TCP connections open now.
    public var connectionsOpen: UInt64 = 0
    /// TCP connections accepted since start.
    public var connectionsAccepted: UInt64 = 0
    /// TCP connections refused because their source already held the most one source may.
    public var connectionsRefusedPerSource: UInt64 = 0
    /// TCP connections refused because the process was out of file descriptors.
    public var connectionsRefusedNoDescriptors: UInt64 = 0
    /// TCP connections closed at the connection cap to admit a new one (the longest idle of the
    /// source holding the most).
    public var connectionsEvicted: UInt64 = 0
    /// TCP connections closed for being idle (half-open or slow) past the idle timeout.
    public var connectionsTimedOut: UInt64 = 0
    /// Lines read from files by `[input.file]`.
    public var fileLines: UInt64 = 0
    /// Failed writes to the store (a full disk); the messages stay buffered and are retried.
    public var storeErrors: UInt64 = 0
    /// Messages not stored: datagrams that came while the store's memory bound was reached.
    public var lost: UInt64 = 0
    /// Lines stored by another ingest loop than the one that read them, the loop owning their
    /// host (docs/architecture.md, "The store, divided by host"); counted by the storing loop.
    public var storedForOtherLoops: UInt64 = 0

    public init() {}

    /// Adds `other`'s counts (another ingest thread's) to these.
    public mutating func add(_ other: IngestCounters) {
        received &+= other.received
        bytes &+= other.bytes
        parseErrors &+= other.parseErrors
        truncated &+= other.truncated
        framesCut &+= other.framesCut
        framingErrors &+= other.framingErrors
        connectionsOpen &+= other.connectionsOpen
        connectionsAccepted &+= other.connectionsAccepted
        connectionsRefusedPerSource &+= other.connectionsRefusedPerSource
        connectionsRefusedNoDescriptors &+= other.connectionsRefusedNoDescriptors
        connectionsEvicted &+= other.connectionsEvicted
        connectionsTimedOut &+= other.connectionsTimedOut
        fileLines &+= other.fileLines
        storeErrors &+= other.storeErrors
        lost &+= other.lost
        storedForOtherLoops &+= other.storedForOtherLoops
    }

    /// The one-line summary printed on stderr every stats interval.
    public var summaryLine: String {
        "stats received=\(received) bytes=\(bytes) parse_errors=\(parseErrors) truncated=\(truncated) "
            + "framing_errors=\(framingErrors) connections=\(connectionsOpen) accepted=\(connectionsAccepted) "
            + "rejected=\(connectionsRefusedPerSource + connectionsRefusedNoDescriptors) "
            + "rejected_per_source=\(connectionsRefusedPerSource) rejected_no_fds=\(connectionsRefusedNoDescriptors) "
            + "evicted=\(connectionsEvicted) timed_out=\(connectionsTimedOut) store_errors=\(storeErrors) lost=\(lost) frames_cut=\(framesCut) "
            + "file_lines=\(fileLines) stored_by_other_loop=\(storedForOtherLoops)"
    }
}
