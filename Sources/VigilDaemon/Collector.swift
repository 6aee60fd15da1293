public import VigilCore
public import VigilPosix

/// The ingest stage of `vigil serve`: parses every frame, names its host, stores it, analyzes
/// it (sshd and access-log payloads into detection and stats), and hands alerts to the sinks.
///
/// Relaying (docs/relay.md): with a `relay` output this collector is an edge, sealing and
/// forwarding every event it recognises and raising host-scoped alerts only. A central takes
/// relay events only from its relay listener (`RelayReceiver`, which checks each message's MAC
/// and sequence) through `acceptRelayed`: on the syslog ports a relay message is an ordinary
/// log line. Host-scoped alerts about a host whose events arrived from an authenticated edge are
/// that edge's to raise.
///
/// A full disk loses nothing read from TCP: while the store cannot write, the collector closes the
/// `ReadGate`, so the TCP listeners stop reading and the senders' windows push back; it retries the
/// store with a backoff (1 s doubling to 8 s) and opens the gate once everything is written.
/// Datagrams are kept in memory up to the store's total bound, then dropped and counted (`lost`);
/// detection goes on either way. One line is logged when the store blocks and one when it recovers.
///
/// Runs on the event loop's thread; per message it allocates nothing once a host is known
/// (forwarding allocates the message it hands to the relay sender). Frames are stored at once.
/// The analyzer runs where `Placement` says: here, in small batches (see `pending`) always
/// analyzed before the listener reuses their memory, or on an `AnalysisThread`, which gets a
/// copy of each frame (`server.threads`; docs/architecture.md, "Threads").
public final class Collector: FrameConsumer {
    public private(set) var counters = IngestCounters()
    public let hosts: HostDirectory
    /// The analyzer when it runs on this thread; nil when `analysisThread` has it.
    private var analyzer: Analyzer?
    /// The analyzer's own thread, when it has one.
    private let analysisThread: AnalysisThread?
    /// Whether this collector stops `analysisThread` when it closes (an ingest shard only feeds
    /// the thread the server's main collector owns).
    private let ownsAnalysisThread: Bool
    /// This thread's memory of a shared host directory (ingest shards, `HostCache`); nil when
    /// `hosts` is this collector's alone.
    private var hostCache: HostCache?
    /// `analysisThread != nil`, read per message (binding the reference would retain it each time).
    private let analyzesElsewhere: Bool
    /// What is copied for the analysis thread and not submitted yet (empty when there is none).
    private var copied = CopiedBatch()
    /// When the end of a wake-up last handed a batch that was not full to the analysis thread
    /// (monotonic µs).
    private var lastPartialHandOver = Int64.min
    /// How long after one hand-over of a batch that is not full the next may follow
    /// (docs/architecture.md, "Handing over at most once a millisecond"): handing over each
    /// wake-up's few datagrams woke that thread thousands of times a second, and on two shared
    /// cores the context switches cost more than the analysis. In between, the end of a wake-up
    /// keeps the batch back for more; an alert waits up to about twice this longer (the loop's
    /// wait has millisecond steps).
    public static let handOverIntervalMicros: Int64 = 1_000
    private let parser: SyslogParser
    /// The date of the last RFC 3339 timestamp parsed (most frames share it).
    private var timestampMemo = TimestampMemo()
    private let store: HostStore
    private var sinks: [any AlertSink]
    /// Alerts handed to the sinks since start, for counters.
    public private(set) var alertsRaised = 0
    /// What each host sent since the start, for the API's `/hosts` and `/files` (its ssh failures
    /// and HTTP hits are the stats' `…SinceStart` counts).
    public private(set) var activity = HostActivity()
    /// The newest alerts and the counts per rule, for the API's `/alerts` and `/metrics`.
    public private(set) var recentAlerts = RecentAlerts()
    /// Scratch space for the textual sender address of messages without a hostname.
    private var senderText: [UInt8] = []
    /// Where an edge forwards its events and how it seals them; nil on a collector that is no edge.
    private var relay: RelayOutput?
    /// Relay counts but `suppressedAlerts`, which the engine keeps (`relayCounters`).
    private var relayTally = RelayCounters()
    /// What relaying did since start.
    public var relayCounters: RelayCounters {
        var counters = relayTally
        counters.suppressedAlerts = withAnalyzer { $0.engine.alertsLeft }
        return counters
    }
    /// Closed while the store cannot write (shared with the TCP listeners).
    public let gate: ReadGate
    /// With ingest shards: where lines of hosts another loop stores are handed to it
    /// (docs/architecture.md, "The store, divided by host"); nil when this loop stores every host.
    private let storeExchange: StoreExchange?
    /// This loop's number in `storeExchange` (0: the server's loop), and how many loops it has
    /// (0 without one), read per message.
    private let loopNumber: Int
    private let loopCount: Int
    /// The lines read for each other loop's hosts, not handed over yet (indexed by loop).
    private var outgoing: [HandedLines] = []
    /// Whether `storeExchange` was last told that this loop's store cannot write.
    private var reportedBlocked = false
    private let log: (String) -> Void
    /// While the store is blocked: when it blocked, and the next retry (monotonic µs) and its wait.
    private var blockedSince: Int64?
    private var nextRetry: Int64 = 0
    private var retryWait: Int64 = 0

    /// An edge's way to the central: the sender, the signer that seals each message, and the
    /// PROCID written in them.
    public struct RelayOutput {
        public let sender: NetworkSink
        public var signer: RelaySigner
        public let procID: Int

        public init(sender: NetworkSink, signer: RelaySigner, procID: Int) {
            self.sender = sender; self.signer = signer; self.procID = procID
        }
    }

    /// What relaying did since start.
    public struct RelayCounters: Sendable, Equatable {
        /// Events an edge handed to its relay sender.
        public var forwarded = 0
        /// Authenticated relay events taken by a central.
        public var received = 0
        /// Host-scoped alerts a central did not raise: about hosts whose events arrive relayed
        /// (`DetectionEngine.leaveHostAlerts`). An edge raises no global alert to begin with.
        public var suppressedAlerts = 0

        /// A counter block with every value given (zero by default).
        public init(forwarded: Int = 0, received: Int = 0, suppressedAlerts: Int = 0) {
            self.forwarded = forwarded; self.received = received; self.suppressedAlerts = suppressedAlerts
        }
    }

    /// Where the analyzer runs.
    public enum Placement {
        /// On the collector's own thread (`server.threads` 1, and an edge, whose forwarding names
        /// hosts with the collector's host table).
        case inline(Analyzer)
        /// On a thread of its own, which owns it.
        case thread(AnalysisThread)
        /// On a thread another collector owns (an ingest shard's collector feeds the main one's).
        case feeding(AnalysisThread)
    }

    /// A collector; `relay` makes it an edge that seals and forwards its events.
    /// A shared `hosts` (one with a lock) is interned through a `HostCache` of this collector's.
    /// With `storeExchange`, this is loop `loopNumber` of several that divide the store by host:
    /// it stores the lines of the hosts it owns, whichever loop read them, and hands the others over.
    public init(parser: SyslogParser, store: HostStore, analysis: Placement, hosts: HostDirectory, sinks: [any AlertSink],
                relay: RelayOutput? = nil, gate: ReadGate = ReadGate(), storeExchange: StoreExchange? = nil, loopNumber: Int = 0,
                log: @escaping (String) -> Void = { _ in }) {
        precondition(relay == nil || { if case .inline = analysis { true } else { false } }(), "an edge analyzes inline")
        self.storeExchange = storeExchange
        self.loopNumber = loopNumber
        loopCount = storeExchange?.loops ?? 0
        outgoing = Array(repeating: HandedLines(), count: loopCount)
        self.parser = parser
        self.gate = gate
        self.log = log
        self.store = store
        switch analysis {
        case .inline(let analyzer):
            self.analyzer = analyzer
            analysisThread = nil
        case .thread(let thread):
            analyzer = nil
            analysisThread = thread
        case .feeding(let thread):
            analyzer = nil
            analysisThread = thread
        }
        if case .feeding = analysis { ownsAnalysisThread = false } else { ownsAnalysisThread = true }
        if hosts.isShared { hostCache = HostCache(seed: Posix.randomSeed(), maxHosts: hosts.maxHosts) }
        analyzesElsewhere = analysisThread != nil
        self.hosts = hosts
        self.sinks = sinks
        self.relay = relay
        senderText.reserveCapacity(48)
    }

    /// The detection settings of a collector: `base`, without the global rules on an edge
    /// (`DetectionSettings.runsGlobalRules`), whose view of the hosts is the central's.
    public static func detectionSettings(_ base: DetectionSettings, isEdge: Bool) -> DetectionSettings {
        var settings = base
        settings.runsGlobalRules = !isEdge
        return settings
    }

    /// The clock and detection counters for the stats line:
    /// `late=N future=N zone_corrected=N clock_offsets=N evicted_keys=N rates_skipped=N`.
    /// With an analysis thread, `analysis_waits=N` follows: how often ingest waited for it.
    public var detectionSummary: String {
        var line = withAnalyzer { analyzer in
            let c = analyzer.clocks.counters
            let engine = analyzer.engine
            let evicted = RuleID.allCases.reduce(0) { $0 + engine.evictions(of: $1) }
            return "late=\(engine.lateEvents) future=\(c.future) zone_corrected=\(c.zoneCorrected) clock_offsets=\(c.offsetsLearned) "
                + "evicted_keys=\(evicted) rates_skipped=\(engine.ratesSkipped)"
        }
        if let analysisThread { line += " analysis_waits=\(analysisThread.waits)" }
        return line
    }

    /// Runs `body` on the analyzer (reading its stats and counters, reconfiguring it), wherever it
    /// runs; alerts it raises are dispatched with the others.
    public func withAnalyzer<R>(_ body: (inout Analyzer) -> R) -> R {
        if let analysisThread {
            submitCopied()
            return analysisThread.withAnalyzer(body)
        }
        return body(&analyzer!)
    }

    public func consume(frame: UnsafeRawBufferPointer, truncated: Bool, sender: SocketAddress, transport: Transport, now: Timestamp) {
        let fields = parser.parse(frame, receivedAt: now, memo: &timestampMemo)
        counters.received &+= 1
        counters.bytes &+= UInt64(frame.count)
        if truncated { counters.truncated &+= 1 }
        if fields.isParseError { counters.parseErrors &+= 1 }

        let host: HostID
        if fields.hostname.isEmpty {
            senderText.removeAll(keepingCapacity: true)
            sender.ip.append(to: &senderText)
            host = senderText.withUnsafeBytes { intern($0) }
        } else {
            host = intern(UnsafeRawBufferPointer(rebasing: frame[fields.hostname]))
        }
        ingest(frame, fields, host: host, now: now, droppable: transport == .datagram, anyLoopMayStore: true)
    }

    /// One line of a followed file (`[input.file]`): a syslog line is filed under its own host,
    /// anything else (an access-log line) under `defaultHost`. Not syslog is normal here, not an error.
    public func consumeLine(_ line: UnsafeRawBufferPointer, defaultHost: HostID, now: Timestamp) {
        let fields = parser.parse(line, receivedAt: now, memo: &timestampMemo)
        counters.fileLines &+= 1
        let host = fields.hostname.isEmpty ? defaultHost : intern(UnsafeRawBufferPointer(rebasing: line[fields.hostname]))
        ingest(line, fields, host: host, now: now)
        analyzePending()
    }

    /// The id of the host spelled `name`: from `hosts` directly when it is this collector's
    /// alone, through `hostCache` when threads share it.
    @inline(__always)
    public func intern(_ name: UnsafeRawBufferPointer) -> HostID {
        if hostCache == nil { return hosts.table.intern(name) }
        return hostCache!.intern(name, in: hosts)
    }

    /// Frames stored but not analyzed yet: analyzed together (`Analyzer.analyze`, which overlaps
    /// the cache misses of a batch) once the batch is full, or when the listener releases its frames.
    private var pending = Analyzer.Batch()

    public func releaseFrames() { analyzePending() }

    /// Stores (unless `droppable` and the store's bound is reached: counted as lost) one frame,
    /// or hands it to the loop that stores its host when `anyLoopMayStore` (a line from the
    /// network; a followed file's offsets must be those of lines this loop wrote); its analysis
    /// follows in `analyzePending`, or on the analysis thread, in the order it was read.
    private func ingest(_ frame: UnsafeRawBufferPointer, _ fields: SyslogFields, host: HostID, now: Timestamp,
                        droppable: Bool = false, anyLoopMayStore: Bool = false) {
        let owner = anyLoopMayStore && loopCount > 0 ? StoreExchange.owner(of: host, loops: loopCount) : loopNumber
        if owner == loopNumber {
            keep(frame, host: host, day: now.epochDay, droppable: droppable)
        } else {
            outgoing[owner].append(frame, host: host, day: now.epochDay, droppable: droppable)
            if outgoing[owner].isFull { storeExchange!.hand(&outgoing[owner], to: owner, from: loopNumber) }
        }
        activity.recordMessage(host: host, frame: frame, program: fields.appName, at: now)
        if analyzesElsewhere {
            copied.appendMessage(frame: frame, fields: fields, host: host, received: now)
            if copied.isFull { submitCopied() }
            return
        }
        pending.append(frame: frame, fields: fields, host: host, receivedAt: now)
        if pending.isFull { analyzePending() }
    }

    /// Analyzes the pending frames in arrival order; an edge forwards each event it recognised.
    /// (With an analysis thread nothing is pending here: each frame was copied to it.)
    private func analyzePending() {
        guard !pending.isEmpty else { return }
        analyzer!.analyze(&pending) { observation, message in
            guard relay != nil, observation != .none else { return }
            let sender = relay!.sender
            RelayMessage.forEachMessage(of: observation, buffer: message.frame, host: hosts.name(of: message.host),
                                        procID: relay!.procID, signer: &relay!.signer) {
                sender.send($0)
                relayTally.forwarded += 1
            }
        }
    }

    /// An authenticated relay message (`RelayReceiver` checked its MAC and sequence): stored under
    /// the host the event happened on, and its event analyzed as one of that host, whose
    /// host-scoped alerts are from now on its edge's. Never forwarded again, so relays cannot loop.
    /// `text` is what `decoded`'s ranges point into.
    public func acceptRelayed(_ frame: UnsafeRawBufferPointer, _ decoded: RelayDecoded, text: UnsafeRawBufferPointer, now: Timestamp) {
        analyzePending()  // events keep their order
        relayTally.received += 1
        let origin = intern(UnsafeRawBufferPointer(rebasing: text[decoded.host]))
        keep(frame, host: origin, day: now.epochDay, droppable: false)
        activity.recordMessage(host: origin, frame: frame, program: 0..<0, at: now)
        if analyzesElsewhere {
            copied.appendRelayed(decoded.event, text: text, host: origin, received: now)
            if copied.isFull { submitCopied() }
        } else {
            analyzer!.acceptRelayed(decoded.event, text: text, host: origin, receivedAt: now)
        }
    }

    public func framingError(_ error: FramingError, sender: SocketAddress) {
        counters.framingErrors &+= 1
    }

    public func connectionEvent(_ event: ConnectionEvent) {
        switch event {
        case .accepted:
            counters.connectionsAccepted &+= 1
            counters.connectionsOpen &+= 1
        case .closed:
            counters.connectionsOpen &-= 1
        case .perSourceLimit:
            counters.connectionsRefusedPerSource &+= 1
        case .noDescriptors:
            counters.connectionsRefusedNoDescriptors &+= 1
        case .evicted:
            counters.connectionsEvicted &+= 1
        case .frameCut:
            counters.framesCut &+= 1
        case .timedOut:
            counters.connectionsTimedOut &+= 1
        case .notAllowed:
            break  // syslog listeners take every source
        }
    }

    /// The sinks alerts go to from now on (a reload).
    public func replaceSinks(_ new: [any AlertSink]) { sinks = new }

    /// The end of an event-loop wake-up at `monotonicMicros`: what it read goes to the analysis
    /// thread (if any; see `handOver`), and the alerts raised so far to the sinks. Returns nil, or
    /// the monotonic time by which it must be called again (`EventLoop.afterEachWakeUp`).
    public func finishWakeUp(monotonicMicros: Int64) -> Int64? {
        let again = handOver(monotonicMicros: monotonicMicros)
        dispatchAlerts()
        return again
    }

    /// Hands what was copied for the analysis thread over to it, and the lines of other loops'
    /// hosts to those that have room (an ingest shard's end of a wake-up: the main collector
    /// dispatches the alerts). Stops reading TCP when another loop's store cannot write.
    /// A copied batch that is not full goes only `handOverIntervalMicros` after the last one
    /// that went so; until then it is kept back for more, and that time (monotonic µs) is
    /// returned: this must be called again by then. Nil when nothing is kept back.
    public func handOver(monotonicMicros: Int64) -> Int64? {
        var due: Int64?
        if analyzesElsewhere && !copied.isEmpty {
            let next = lastPartialHandOver + Self.handOverIntervalMicros
            if monotonicMicros >= next {
                submitCopied()
                lastPartialHandOver = monotonicMicros
            } else {
                due = next
            }
        }
        handOverLines()
        return due
    }

    /// Hands the lines of other loops' hosts to those that have room; stops reading TCP when
    /// another loop's store cannot write.
    private func handOverLines() {
        guard let storeExchange else { return }
        handOutgoing(to: storeExchange, waiting: false)
        if storeExchange.anyStoreBlocked {
            if gate.isOpen { storeBlocked() }
        } else if blockedSince != nil && !store.isBlocked {
            nextRetry = 0  // the store that blocked writes again: read again at the next flush, not after the backoff
        }
    }

    /// Hands `copied` to the analysis thread (waiting while its queue is full), if there is one.
    private func submitCopied() { analysisThread?.submit(&copied) }

    /// Stores lines another loop read of hosts this loop owns (`StoreExchange`).
    public func storeHanded(_ lines: HandedLines) {
        lines.forEach { line, bytes in
            if keep(bytes, host: line.host, day: line.day, droppable: line.droppable) { counters.storedForOtherLoops &+= 1 }
        }
    }

    /// At stop, once the listeners are drained: hands over every line of other loops' hosts,
    /// then stores what the other loops hand this one until they have all done the same.
    public func finishStoring() {
        guard let storeExchange else { return }
        handOutgoing(to: storeExchange, waiting: true)
        storeExchange.finishReading(loop: loopNumber)
    }

    /// Hands every non-empty batch of `outgoing` to its loop: `waiting` for room, or only to
    /// those that have room now (the others go on filling).
    private func handOutgoing(to storeExchange: StoreExchange, waiting: Bool) {
        for owner in outgoing.indices where !outgoing[owner].isEmpty {
            if waiting {
                storeExchange.hand(&outgoing[owner], to: owner, from: loopNumber)
            } else {
                _ = storeExchange.handIfRoom(&outgoing[owner], to: owner)
            }
        }
    }

    /// Analyzes everything handed over so far (waiting for the analysis thread) and dispatches
    /// the alerts: at shutdown, and for tests that compare what was raised.
    public func finishAnalysis() {
        analyzePending()
        submitCopied()
        analysisThread?.drain()
        dispatchAlerts()
    }

    /// Hands the alerts raised since the last call to every sink.
    public func dispatchAlerts() {
        let alerts = analysisThread?.takeAlerts() ?? analyzer!.engine.takeAlerts()
        guard !alerts.isEmpty else { return }
        for detected in alerts {
            let alert = detected.named(by: hosts.name(of:))
            alertsRaised += 1
            recentAlerts.record(alert)
            for sink in sinks { sink.deliver(alert) }
        }
    }

    /// Moves detection to `now` (quiet periods resolve alerts) and dispatches what that raised.
    public func advance(now: Timestamp) {
        if analyzesElsewhere {
            copied.appendAdvance(now)
            submitCopied()  // its alerts arrive through the loop
        } else {
            analyzer!.advance(now: now)
        }
        dispatchAlerts()
    }

    /// Whether the store cannot write what it holds (a full disk).
    public var isStoreBlocked: Bool { store.isBlocked }
    /// Bytes of messages waiting in memory for the store.
    public var storeBufferedBytes: Int { store.bufferedBytes }

    /// Appends a frame to the store (false: a datagram refused past the store's memory bound,
    /// counted as lost), and closes the gate when the store just blocked.
    @inline(__always)
    @discardableResult
    private func keep(_ frame: UnsafeRawBufferPointer, host: HostID, day: Int64, droppable: Bool) -> Bool {
        let kept = store.append(host: host, name: hosts.name(of: host), day: day, line: frame, droppable: droppable)
        if !kept { counters.lost &+= 1 }
        if store.isBlocked {
            if gate.isOpen { storeBlocked() } else if !reportedBlocked { reportStoreState() }
        }
        return kept
    }

    /// Tells the other loops, on a change, whether this loop's store can write: while it cannot,
    /// they stop reading TCP too, or they would fill its memory with the lines they hand it.
    private func reportStoreState() {
        guard let storeExchange, store.isBlocked != reportedBlocked else { return }
        reportedBlocked = store.isBlocked
        storeExchange.setStoreBlocked(reportedBlocked, loop: loopNumber)
    }

    /// The store cannot write, or another loop's (which this one hands lines to): stop reading
    /// TCP, say so once.
    private func storeBlocked() {
        gate.close()
        reportStoreState()
        let now = Posix.monotonicMicros()
        blockedSince = now
        retryWait = 1_000_000
        nextRetry = now + retryWait
        let why = store.isBlocked ? store.lastError.map { "\($0)" } ?? "write failed" : "another ingest loop's store cannot write"
        log("vigil: store: cannot write (\(why)); reading from TCP paused, datagrams kept in memory up to "
            + "\(store.maxBufferedBytes >> 20) MiB, retrying")
    }

    /// Writes buffered messages to disk; while the store is blocked, only when the backoff says so
    /// (`monotonicMicros`: the loop's monotonic now), opening the gate once everything is written.
    public func flush(monotonicMicros: Int64 = Posix.monotonicMicros()) {
        if blockedSince != nil && monotonicMicros < nextRetry { return }
        store.flush()
        counters.storeErrors = UInt64(store.writeErrors)
        reportStoreState()
        let blocked = store.isBlocked || storeExchange?.anyStoreBlocked == true
        guard let since = blockedSince else {
            if blocked { storeBlocked() }
            return
        }
        if blocked {
            retryWait = min(retryWait * 2, 8_000_000)
            nextRetry = monotonicMicros + retryWait
            return
        }
        blockedSince = nil
        gate.open()
        log("vigil: store: writing again after \((monotonicMicros - since + 500_000) / 1_000_000) s; reading from TCP resumed"
            + " (\(counters.lost) messages lost since start)")
    }

    /// At shutdown: writes what it can; says how many buffered lines could not be written and are lost.
    public func close() {
        submitCopied()
        handOverLines()
        if ownsAnalysisThread { analysisThread?.stop() }
        store.close()
        counters.storeErrors = UInt64(store.writeErrors)
        if store.bufferedBytes > 0 {
            log("vigil: store: \(store.bufferedBytes) bytes of messages could not be written (\(store.lastError.map { "\($0)" } ?? "")) and are lost")
        }
    }
}
