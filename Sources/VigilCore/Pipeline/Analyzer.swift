/// The stage after parsing, shared by `serve`, `follow` and `analyze`: recognises the sshd,
/// access-log and session-summary payloads in a message, joins sshd lines per connection,
/// and feeds detection and the traffic stats.
///
/// Every `observe…` call returns what it recognised (an `Observation`, a plain value: no
/// allocation, no existential), so a caller that keeps more than detection and the stats do
/// (the offline report) builds on the same single path; `serve` ignores it.
///
/// Pure: times are passed in. Per message it allocates nothing in the steady state
/// (a new host, section or client in the stats allocates once).
public struct Analyzer {
    public var engine: DetectionEngine
    public var stats: TrafficStats
    public private(set) var counters = Counters()
    /// Sessions that ended, in order; collected only when `keepsSessions`.
    public private(set) var finishedSessions: [SSHSession] = []
    public let keepsSessions: Bool
    private var tracker: SSHConnectionTracker
    private let ssh: SSHExtractor
    /// Online, an event may not claim a time later than its receive time plus the lateness:
    /// one sender with a clock far ahead must not make everyone else's events late.
    private let clampsToReceiveTime: Bool

    /// What the analyzer recognised.
    public struct Counters: Sendable, Equatable {
        public var sshLines = 0
        public var sshEvents = 0
        public var httpRequests = 0
        public var sessionSummaries = 0
        /// Events whose claimed time was too far ahead of their receive time.
        public var futureTimestamps = 0
    }

    /// What one message turned out to be, with the time it was counted at.
    public enum Observation: Sendable, Equatable {
        /// Nothing the analyzer knows.
        case none
        /// An sshd line: its events (address filled in from the connection) and session, if any.
        case ssh(SSHTrackResult, time: Timestamp)
        /// An access-log request; its ranges point into the buffer that was observed.
        case http(HTTPRequest, time: Timestamp)
        /// A session summary line.
        case sessionSummary(SessionSummary)
    }

    /// An analyzer with `settings` for detection and `stats` for the traffic counters (by default,
    /// capped per-interval counters). `hashSeed` keys every hash table that senders fill (detection,
    /// the connection tracker, the stats), so a live daemon passes a random one.
    public init(settings: DetectionSettings, ssh: SSHExtractor = SSHExtractor(), stats: TrafficStats? = nil,
                clampsToReceiveTime: Bool, keepsSessions: Bool = false, idPrefix: String = "", hashSeed: UInt64 = 0,
                hostName: @escaping (HostID) -> String) {
        engine = DetectionEngine(settings: settings, idPrefix: idPrefix, hashSeed: hashSeed, hostName: hostName)
        tracker = SSHConnectionTracker(hashSeed: hashSeed)
        self.stats = stats ?? TrafficStats(hashSeed: hashSeed)
        self.ssh = ssh
        self.clampsToReceiveTime = clampsToReceiveTime
        self.keepsSessions = keepsSessions
    }

    /// Analyzes one parsed syslog message; `receivedAt` stands in for a missing timestamp.
    @discardableResult
    public mutating func observe(frame: UnsafeRawBufferPointer, fields: SyslogFields, host: HostID, receivedAt: Timestamp) -> Observation {
        let time = clamp(fields.timestamp ?? receivedAt, receivedAt: receivedAt)
        return observe(frame, text: fields.text, app: fields.appName, pid: Self.pid(frame, fields.procID), host: host, time: time)
    }

    /// Feeds an event another collector already extracted (`RelayDecoder`, SPEC §9), of `host` at
    /// its own time: counted and detected like a local one, without joining by connection (the
    /// edge did that). A time too far past `receivedAt` is clamped like a message's; `text` is
    /// what the event's textual ranges point into.
    @discardableResult
    public mutating func observeRelayed(_ event: RelayEvent, text: UnsafeRawBufferPointer, host: HostID,
                                        receivedAt: Timestamp) -> Observation {
        switch event {
        case .ssh(let ssh, let time):
            let at = clamp(time, receivedAt: receivedAt)
            record(ssh, host: host, time: at)
            return .ssh(SSHTrackResult(event: ssh), time: at)
        case .http(var request, let time):
            let at = clamp(time, receivedAt: receivedAt)
            request.time = at
            return observeHTTP(request, text: text, host: host, time: at)
        case .sessionSummary(let summary):
            return observeSessionSummary(summary, host: host)
        }
    }

    /// `time`, or `receivedAt` when `time` claims to be further ahead of it than the lateness allows.
    private mutating func clamp(_ time: Timestamp, receivedAt: Timestamp) -> Timestamp {
        guard clampsToReceiveTime && time.microseconds > receivedAt.microseconds &+ engine.settings.latenessMicroseconds else {
            return time
        }
        counters.futureTimestamps += 1
        return receivedAt
    }

    /// Analyzes the text at `text` in `buffer`: `app` (may be empty) routes sshd lines, anything
    /// else is tried as an access-log line and as a session summary line. `prefetch` is given
    /// the address of an sshd line as soon as it is read (see `observeSSH`).
    @discardableResult
    public mutating func observe(_ buffer: UnsafeRawBufferPointer, text: Range<Int>, app: Range<Int>, pid: Int32,
                                 host: HostID, time: Timestamp,
                                 prefetch: some AddressPrefetching = NoPrefetching()) -> Observation {
        if !app.isEmpty && SSHExtractor.isSSHD(app: UnsafeRawBufferPointer(rebasing: buffer[app])) {
            return observeSSH(buffer, text: text, pid: pid, host: host, time: time, prefetch: prefetch)
        }
        var start = text.lowerBound
        while start < text.upperBound && buffer[start] == UInt8(ascii: " ") { start += 1 }
        guard start < text.upperBound, Self.mayStartAddress(buffer[start]) else { return .none }
        let trimmed = start..<text.upperBound
        if let request = AccessLogExtractor.extract(buffer, range: trimmed) {
            return observeHTTP(request, text: buffer, host: host, time: time)
        }
        if let summary = SessionSummaryExtractor.extract(buffer, range: trimmed) {
            return observeSessionSummary(summary, host: host)
        }
        return .none
    }

    /// Analyzes the sshd message at `text` in `buffer` (a syslog payload, or a bare line of an
    /// auth.log without header); `.none` when it is no sshd message the extractor knows.
    /// `prefetch` gets the line's address, if it names one, before the line is joined and
    /// detected: a caller that will look the address up in its own tables afterwards can start
    /// those loads now, so their cache misses overlap the work in between.
    @discardableResult
    public mutating func observeSSH(_ buffer: UnsafeRawBufferPointer, text: Range<Int>, pid: Int32, host: HostID,
                                    time: Timestamp, prefetch: some AddressPrefetching = NoPrefetching()) -> Observation {
        guard let line = ssh.extract(buffer, range: text, pid: pid) else { return .none }
        if let ip = line.ip { prefetch.prefetch(ip) }
        counters.sshLines += 1
        let result = tracker.track(line, host: host, at: time)
        if let joined = result.joined { record(joined, host: host, time: time) }
        if let event = result.event { record(event, host: host, time: time) }
        if keepsSessions, let session = result.session, session.end != nil { finishedSessions.append(session) }
        return .ssh(result, time: time)
    }

    /// Counts one access-log request already extracted (ranges into `text`), at its own time or `time`.
    @discardableResult
    public mutating func observeHTTP(_ request: HTTPRequest, text: UnsafeRawBufferPointer, host: HostID,
                                     time: Timestamp) -> Observation {
        counters.httpRequests += 1
        let at = request.time ?? time
        engine.observeHTTP(host: host, time: at, clientIP: request.clientIP, status: request.status)
        stats.recordHTTP(host: host, request: request, text: text)
        return .http(request, time: at)
    }

    /// Counts one session summary already extracted, at its end.
    @discardableResult
    public mutating func observeSessionSummary(_ summary: SessionSummary, host: HostID) -> Observation {
        counters.sessionSummaries += 1
        engine.observeSessionSummary(host: host, time: summary.end, summary: summary)
        return .sessionSummary(summary)
    }

    /// Moves detection time forward (resolutions, long sessions) and expires idle connections.
    public mutating func advance(now: Timestamp) {
        engine.advance(now: now)
        tracker.expire(now: now)
    }

    private mutating func record(_ event: SSHEvent, host: HostID, time: Timestamp) {
        counters.sshEvents += 1
        engine.observeSSH(host: host, time: time, event: event)
        stats.recordSSH(host: host, event: event)
    }

    /// A client field begins with a hex digit (IPv4, IPv6) or `:` (`::1`); anything else is
    /// neither an access-log line nor a session summary, and is skipped cheaply.
    @inline(__always)
    private static func mayStartAddress(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
            || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F")) || c == UInt8(ascii: ":")
    }

    /// The decimal PROCID, or 0.
    static func pid(_ frame: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int32 {
        var value: Int32 = 0
        guard !range.isEmpty, range.count <= 9 else { return 0 }
        for i in range {
            let c = frame[i]
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return 0 }
            value = value * 10 + Int32(c - UInt8(ascii: "0"))
        }
        return value
    }
}

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
