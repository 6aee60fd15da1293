/// When a message says its events happened, and when it arrived: what `SenderClocks` turn into
/// the time detection uses.
public struct MessageTime: Sendable, Equatable {
    /// The time the message claims (its header's timestamp); nil when it has none.
    public var claimed: Timestamp?
    /// `claimed` was read without a zone (RFC 3164), so it may be in another zone.
    public var zoneless: Bool
    /// When it arrived: the collector's clock, or the file's own timeline in `analyze`.
    public var received: Timestamp

    public init(claimed: Timestamp?, zoneless: Bool = false, received: Timestamp) {
        self.claimed = claimed
        self.zoneless = zoneless
        self.received = received
    }

    /// The time of a parsed syslog message received at `received`.
    public init(_ fields: SyslogFields, received: Timestamp) {
        self.init(claimed: fields.timestamp, zoneless: fields.timestampIsZoneless, received: received)
    }
}

/// The stage after parsing, shared by `serve`, `follow` and `analyze`: recognises the sshd,
/// access-log and session-summary payloads in a message, joins sshd lines per connection,
/// and feeds detection and the traffic stats.
///
/// Parsed syslog messages enter through one door, `analyze(_:each:)`, a `Batch` at a time;
/// what arrives already extracted (a relayed event, a line of an access log or a session
/// file in `analyze`) through the `observe…` calls. Each message's result is an `Observation`,
/// a plain value (no allocation, no existential), so a caller that keeps more than detection
/// and the stats do (the offline report, an edge forwarding its events) builds on the same path.
///
/// A value: a copy is an analyzer of its own, and it may be handed to another thread (Sendable).
///
/// Event times go through `clocks` (one per host): no time a sender claims can move another
/// host's windows, or the engine's clock past the time its message arrived (docs/clocks.md).
///
/// Pure: times are passed in. Per message it allocates nothing in the steady state
/// (a new host, section or client in the stats allocates once).
public struct Analyzer: Sendable {
    public var engine: DetectionEngine
    public var stats: TrafficStats
    public private(set) var counters = Counters()
    /// Each host's clock: bounds and corrects the times events claim.
    public private(set) var clocks: SenderClocks
    /// Sessions that ended, in order; collected only when `keepsSessions`.
    public private(set) var finishedSessions: [SSHSession] = []
    public let keepsSessions: Bool
    private var tracker: SSHConnectionTracker
    private var ssh: SSHExtractor
    /// While detection is deferred (`deferDetection()`): the engine's calls, in order, for the
    /// thread that holds the engine; nil while `engine` takes them at once.
    private var deferred: [DetectionInput]?

    /// What the analyzer recognised.
    public struct Counters: Sendable, Equatable {
        public var sshLines = 0
        public var sshEvents = 0
        public var httpRequests = 0
        public var sessionSummaries = 0
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

    /// An analyzer with `settings` for detection and the clocks, and `stats` for the traffic
    /// counters (by default, capped per-interval counters). `hashSeed` keys every hash table that
    /// senders fill (detection, the connection tracker, the stats), so a live daemon passes a
    /// random one.
    public init(settings: DetectionSettings, ssh: SSHExtractor = SSHExtractor(), stats: TrafficStats? = nil,
                keepsSessions: Bool = false, idPrefix: String = "", hashSeed: UInt64 = 0) {
        engine = DetectionEngine(settings: settings, idPrefix: idPrefix, hashSeed: hashSeed)
        clocks = SenderClocks(toleranceMicroseconds: settings.clockToleranceMicroseconds,
                              latenessMicroseconds: settings.latenessMicroseconds)
        tracker = SSHConnectionTracker(hashSeed: hashSeed)
        self.stats = stats ?? TrafficStats(hashSeed: hashSeed)
        self.ssh = ssh
        self.keepsSessions = keepsSessions
    }

    /// Takes new settings (a reloaded configuration): each host's clock keeps what it learned, the
    /// connections joined so far stay, and only the rules whose settings changed start afresh
    /// (`DetectionEngine.reconfigure`). Returns those rules.
    @discardableResult
    public mutating func reconfigure(_ settings: DetectionSettings, ssh: SSHExtractor) -> [RuleID] {
        precondition(deferred == nil, "reconfigured while detection is deferred")
        self.ssh = ssh
        clocks.retune(toleranceMicroseconds: settings.clockToleranceMicroseconds, latenessMicroseconds: settings.latenessMicroseconds)
        return engine.reconfigure(settings)
    }

    /// Parsed syslog messages waiting for `analyze(_:each:)`, in arrival order. The frames are
    /// borrowed: the caller keeps each one's memory unchanged until the batch is analyzed.
    /// Not sendable (it holds pointers); it lives with its driver, beside that driver's analyzer.
    public struct Batch {
        /// One parsed message: its frame, its fields, its host and when it arrived.
        public struct Message {
            public let frame: UnsafeRawBufferPointer
            public let fields: SyslogFields
            public let host: HostID
            public let received: Timestamp
        }

        /// How many messages a full batch holds: enough that the table lookups of one message
        /// are in flight while the others are read, few enough that their frames stay in cache.
        public static let capacity = 32
        public private(set) var messages: [Message] = []
        /// What was read from each message, filled by `analyze`: its kind, and where its payload
        /// is in the array of that kind. Each payload is written once, where the extractor left
        /// it, and read in place from there (one enum of 200 bytes holding any payload, copied
        /// about five times per message, cost 15 % of the analysis thread in `memcpy`).
        fileprivate var read: [Read] = []
        fileprivate var sshLines: [SSHLine] = []
        fileprivate var requests: [HTTPRequest] = []
        fileprivate var summaries: [SessionSummary] = []

        /// What `analyze` read from one message: nothing it knows, or the payload at an index.
        fileprivate enum Read {
            case none
            case ssh(Int)
            case http(Int)
            case sessionSummary(Int)
        }

        /// An empty batch (its storage is allocated once, here).
        public init() {
            messages.reserveCapacity(Self.capacity)
            read.reserveCapacity(Self.capacity)
            sshLines.reserveCapacity(Self.capacity)
            requests.reserveCapacity(Self.capacity)
            summaries.reserveCapacity(Self.capacity)
        }

        public var isEmpty: Bool { messages.isEmpty }
        /// Whether it holds `capacity` messages: time to analyze it.
        public var isFull: Bool { messages.count >= Self.capacity }

        /// Adds the message `frame`, parsed into `fields`, of `host`, received at `receivedAt`.
        public mutating func append(frame: UnsafeRawBufferPointer, fields: SyslogFields, host: HostID, receivedAt: Timestamp) {
            messages.append(Message(frame: frame, fields: fields, host: host, received: receivedAt))
        }

        fileprivate mutating func removeAll() {
            messages.removeAll(keepingCapacity: true)
            read.removeAll(keepingCapacity: true)
            sshLines.removeAll(keepingCapacity: true)
            requests.removeAll(keepingCapacity: true)
            summaries.removeAll(keepingCapacity: true)
        }
    }

    /// Analyzes the messages of `batch` in order and empties it; `each` gets every message's
    /// observation with the message (a `.none` one too). Every message is read first, starting
    /// the table loads its analysis will need, then the loads those point to, and only then is
    /// each analyzed: the cache misses of a batch overlap instead of stalling one message after
    /// another. A batch of one is analyzed as it would be alone.
    public mutating func analyze(_ batch: inout Batch, each: (Observation, Batch.Message) -> Void = { _, _ in }) {
        // The engine's tables are worth loading only where the engine is.
        let prefetchesDetection = deferred == nil
        for i in batch.messages.indices {
            let frame = batch.messages[i].frame, fields = batch.messages[i].fields, host = batch.messages[i].host
            let read = Self.route(frame, text: fields.text, app: fields.appName, pid: Self.pid(frame, fields.procID), extractor: ssh,
                                  ssh: { line -> Batch.Read in
                                      tracker.prefetch(host: host, pid: line.pid)
                                      if prefetchesDetection { engine.prefetchSSH(host: host, kind: line.kind, ip: line.ip, pid: line.pid) }
                                      batch.sshLines.append(line)
                                      return .ssh(batch.sshLines.count - 1)
                                  },
                                  http: { request -> Batch.Read in
                                      if let ip = request.clientIP {
                                          if prefetchesDetection { engine.prefetchHTTP(clientIP: ip, status: request.status) }
                                          stats.prefetchClient(host: host, ip: ip)
                                      }
                                      batch.requests.append(request)
                                      return .http(batch.requests.count - 1)
                                  },
                                  summary: { summary -> Batch.Read in
                                      batch.summaries.append(summary)
                                      return .sessionSummary(batch.summaries.count - 1)
                                  }, none: .none)
            batch.read.append(read)
        }
        batch.sshLines.withUnsafeBufferPointer { sshLines in
            batch.requests.withUnsafeBufferPointer { requests in
                batch.summaries.withUnsafeBufferPointer { summaries in
                    batch.messages.withUnsafeBufferPointer { messages in
                        // The buckets asked for as each message was read have arrived by now: ask for what they point to.
                        if prefetchesDetection {
                            for i in messages.indices {
                                switch batch.read[i] {
                                case .ssh(let k): engine.prefetchSSHState(host: messages[i].host, kind: sshLines[k].kind, ip: sshLines[k].ip)
                                case .http(let k):
                                    if let ip = requests[k].clientIP { engine.prefetchHTTPState(clientIP: ip, status: requests[k].status) }
                                case .none, .sessionSummary: break
                                }
                            }
                        }
                        for i in messages.indices {
                            let host = messages[i].host
                            let time = MessageTime(messages[i].fields, received: messages[i].received)
                            let observation: Observation
                            switch batch.read[i] {
                            case .none:
                                observation = .none
                            case .ssh(let k):
                                observation = observeSSH(sshLines[k], host: host, at: time)
                            case .http(let k):
                                observation = observeHTTP(requests[k], text: messages[i].frame, host: host,
                                                          time: detectionTime(requests[k].time, time, host: host))
                            case .sessionSummary(let k):
                                observation = observeSessionSummary(summaries[k], host: host, receivedAt: time.received)
                            }
                            each(observation, messages[i])
                        }
                    }
                }
            }
        }
        batch.removeAll()
    }

    /// Feeds an event another collector already extracted (`RelayDecoder`, docs/relay.md), of
    /// `host` at its own time: counted and detected like a local one, without joining by
    /// connection (the edge did that). Its time goes through the host's clock like a message's.
    /// `text` is what the event's textual ranges point into.
    @discardableResult
    public mutating func observeRelayed(_ event: RelayEvent, text: UnsafeRawBufferPointer, host: HostID,
                                        receivedAt: Timestamp) -> Observation {
        switch event {
        case .ssh(let ssh, let time):
            let at = clocks.detectionTime(claimed: time, host: host, received: receivedAt)
            record(ssh, host: host, time: at)
            return .ssh(SSHTrackResult(event: ssh), time: at)
        case .http(let request, let time):
            return observeHTTP(request, text: text, host: host, time: clocks.detectionTime(claimed: time, host: host, received: receivedAt))
        case .sessionSummary(let summary):
            return observeSessionSummary(summary, host: host, receivedAt: receivedAt)
        }
    }

    /// An event an authenticated edge relayed about `host` (docs/relay.md): from now on that
    /// host's host-scoped alerts are its edge's (`DetectionEngine.leaveHostAlerts`), and the
    /// event is observed as one of that host's (`observeRelayed`).
    @discardableResult
    public mutating func acceptRelayed(_ event: RelayEvent, text: UnsafeRawBufferPointer, host: HostID,
                                       receivedAt: Timestamp) -> Observation {
        detect(.leaveHostAlerts(host: host))
        return observeRelayed(event, text: text, host: host, receivedAt: receivedAt)
    }

    /// The detection time of an event of `host` at `time` whose own claim is `own` (an access-log
    /// line's time, which has a zone), or else the message's.
    @inline(__always)
    private mutating func detectionTime(_ own: Timestamp?, _ time: MessageTime, host: HostID) -> Timestamp {
        if let own { return clocks.detectionTime(claimed: own, host: host, received: time.received) }
        return clocks.detectionTime(claimed: time.claimed, zoneless: time.zoneless, host: host, received: time.received)
    }

    /// The one routing of a payload, shared by `analyze`, `observe` and `LineExtractor`: an sshd
    /// line by its `app`, else an access-log request, else a session summary, else `none`.
    @inline(__always)
    static func route<R>(_ buffer: UnsafeRawBufferPointer, text: Range<Int>, app: Range<Int>, pid: Int32,
                         extractor: SSHExtractor, ssh: (SSHLine) -> R, http: (HTTPRequest) -> R,
                         summary: (SessionSummary) -> R, none: R) -> R {
        if !app.isEmpty && SSHExtractor.isSSHD(app: UnsafeRawBufferPointer(rebasing: buffer[app])) {
            guard let line = extractor.extract(buffer, range: text, pid: pid) else { return none }
            return ssh(line)
        }
        var start = text.lowerBound
        while start < text.upperBound && buffer[start] == UInt8(ascii: " ") { start += 1 }
        guard start < text.upperBound, Self.mayStartAddress(buffer[start]) else { return none }
        let trimmed = start..<text.upperBound
        if let request = AccessLogExtractor.extract(buffer, range: trimmed) { return http(request) }
        if let found = SessionSummaryExtractor.extract(buffer, range: trimmed) { return summary(found) }
        return none
    }

    /// Analyzes the text at `text` in `buffer` (routed as `analyze` routes each message's, and
    /// observed as it is read).
    /// `prefetch` is given the address of an sshd line as soon as it is read, before the line is
    /// joined and detected: a caller that will look the address up in its own tables afterwards
    /// can start those loads now, so their cache misses overlap the work in between.
    @discardableResult @inline(__always)
    public mutating func observe(_ buffer: UnsafeRawBufferPointer, text: Range<Int>, app: Range<Int>, pid: Int32,
                                 host: HostID, at time: MessageTime,
                                 prefetch: some AddressPrefetching = NoPrefetching()) -> Observation {
        Self.route(buffer, text: text, app: app, pid: pid, extractor: ssh,
                   ssh: { line in
                       if let ip = line.ip { prefetch.prefetch(ip) }
                       return observeSSH(line, host: host, time: detectionTime(nil, time, host: host))
                   },
                   http: { observeHTTP($0, text: buffer, host: host, time: detectionTime($0.time, time, host: host)) },
                   summary: { observeSessionSummary($0, host: host, receivedAt: time.received) }, none: .none)
    }

    /// Analyzes the sshd message at `text` in `buffer` (a syslog payload, or a bare line of an
    /// auth.log without header); `.none` when it is no sshd message the extractor knows.
    @discardableResult
    public mutating func observeSSH(_ buffer: UnsafeRawBufferPointer, text: Range<Int>, pid: Int32, host: HostID,
                                    at time: MessageTime, prefetch: some AddressPrefetching = NoPrefetching()) -> Observation {
        guard let line = ssh.extract(buffer, range: text, pid: pid) else { return .none }
        if let ip = line.ip { prefetch.prefetch(ip) }
        return observeSSH(line, host: host, time: detectionTime(nil, time, host: host))
    }

    /// Joins one sshd line already extracted of a message with the times `time` to its connection
    /// and detects its events.
    @discardableResult @inline(__always)
    mutating func observeSSH(_ line: SSHLine, host: HostID, at time: MessageTime) -> Observation {
        observeSSH(line, host: host, time: detectionTime(nil, time, host: host))
    }

    /// Counts one access-log request already extracted (ranges into `text`) of a message with the
    /// times `time`; the request's own time, when it has one, is its claim.
    @discardableResult
    public mutating func observeHTTP(_ request: HTTPRequest, text: UnsafeRawBufferPointer, host: HostID,
                                     at time: MessageTime) -> Observation {
        observeHTTP(request, text: text, host: host, time: detectionTime(request.time, time, host: host))
    }

    /// Joins one sshd line to its connection and detects its events at detection time `time`.
    /// Inlined: a caller that reads the result at once (the offline report) then reads it in
    /// place, without a copy.
    @discardableResult @inline(__always)
    private mutating func observeSSH(_ line: SSHLine, host: HostID, time: Timestamp) -> Observation {
        counters.sshLines += 1
        let result = tracker.track(line, host: host, at: time)
        if let joined = result.joined { record(joined, host: host, time: time) }
        if let event = result.event { record(event, host: host, time: time) }
        if keepsSessions, let session = result.session, session.end != nil { finishedSessions.append(session) }
        return .ssh(result, time: time)
    }

    /// Counts one access-log request at detection time `time`.
    private mutating func observeHTTP(_ request: HTTPRequest, text: UnsafeRawBufferPointer, host: HostID,
                                      time: Timestamp) -> Observation {
        counters.httpRequests += 1
        detect(.http(host: host, time: time, clientIP: request.clientIP, status: request.status))
        stats.recordHTTP(host: host, request: request, text: text)
        return .http(request, time: time)
    }

    /// Counts one session summary already extracted, received at `receivedAt`, at its end (a past
    /// event, not a reading of the sender's clock: bounded by `receivedAt`, never learned from).
    @discardableResult
    public mutating func observeSessionSummary(_ summary: SessionSummary, host: HostID, receivedAt: Timestamp) -> Observation {
        counters.sessionSummaries += 1
        let end = clocks.detectionTime(claimed: summary.end, host: host, received: receivedAt, learns: false)
        detect(.sessionSummary(host: host, time: end, summary: summary))
        return .sessionSummary(summary)
    }

    /// Moves detection time forward (resolutions, long sessions) and expires idle connections.
    public mutating func advance(now: Timestamp) {
        detect(.advance(now: now))
        tracker.expire(now: now)
    }

    /// Makes a call to the engine, or records it while detection is deferred.
    @inline(__always)
    private mutating func detect(_ input: DetectionInput) {
        if deferred != nil { deferred!.append(input) } else { engine.apply(input) }
    }

    // MARK: - Detection on another thread

    /// Hands the detection engine over (to other threads: `vigil analyze`'s workers, `serve`'s
    /// detection thread) and from now on records its
    /// calls instead of making them: take them with `takeDeferredDetection(into:)` and apply them
    /// to the engine in that order, then give it back with `resumeDetection(_:)`. Joining
    /// connections, the clocks and the stats stay here. `engine` meanwhile is an empty one with
    /// the same settings: read nothing from it (alerts, counts) until the engine is back.
    public mutating func deferDetection() -> DetectionEngine {
        precondition(deferred == nil, "detection is already deferred")
        var handed = DetectionEngine(settings: engine.settings)
        swap(&handed, &engine)
        deferred = []
        return handed
    }

    /// Whether the engine is away (`deferDetection()`) and its calls are being recorded.
    public var detectionIsDeferred: Bool { deferred != nil }

    /// Runs `body` on the analyzer with `handed` (the engine `deferDetection()` handed over, which
    /// has applied every call taken) as its engine, then hands it back, with what `body` did to it;
    /// detection stays deferred. For reading or changing the engine (stats, a reload) from the
    /// thread that owns the analyzer, without building an engine to stand in meanwhile.
    public mutating func lendingDetection<R>(_ handed: inout DetectionEngine, _ body: (inout Analyzer) -> R) -> R {
        precondition(deferred?.isEmpty == true, "lend the engine once every recorded call is taken")
        swap(&engine, &handed)
        let recording = deferred
        deferred = nil
        let result = body(&self)
        deferred = recording
        swap(&engine, &handed)
        return result
    }

    /// Moves the calls recorded since the last take to the end of `inputs` (emptied first,
    /// its storage reused), in the order they were made.
    public mutating func takeDeferredDetection(into inputs: inout [DetectionInput]) {
        inputs.removeAll(keepingCapacity: true)
        guard deferred != nil else { return }
        swap(&inputs, &deferred!)
    }

    /// Takes back the engine `deferDetection()` handed over, once it applied every call taken
    /// before: the calls recorded since are applied now, and the engine takes calls at once again.
    public mutating func resumeDetection(_ handed: consuming DetectionEngine) {
        guard let rest = deferred else { preconditionFailure("detection is not deferred") }
        engine = handed
        deferred = nil
        engine.apply(rest)
    }

    private mutating func record(_ event: SSHEvent, host: HostID, time: Timestamp) {
        counters.sshEvents += 1
        detect(.ssh(host: host, time: time, event: event))
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

/// One normalised event as it travels from an edge collector to the central one (docs/relay.md):
/// what `Analyzer` recognised in a message, without the message.
///
/// Textual fields (`SSHEvent.user`, `HTTPRequest.client`/`section`) are ranges into a buffer
/// that comes with the event: the observed frame on the edge, `RelayDecoder.text` on the central.
public enum RelayEvent: Sendable, Equatable {
    /// An sshd event with its address already joined from its connection, at its event time.
    case ssh(SSHEvent, time: Timestamp)
    /// An access-log request at its event time (`request.time` is ignored).
    case http(HTTPRequest, time: Timestamp)
    /// A session summary line; its time is its end.
    case sessionSummary(SessionSummary)
}
