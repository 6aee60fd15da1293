public import VigilCore
public import VigilPosix

/// The ingest stage of `vigil serve`: parses every frame, names its host, stores it, analyzes
/// it (sshd and access-log payloads into detection and stats), and hands alerts to the sinks.
///
/// Relaying (SPEC §9, docs/relay.md): with a `relay` sender this collector is an edge, forwarding
/// every event it recognises and raising host-scoped alerts only. Any collector takes the relay
/// messages it receives (APP-NAME `vigil-relay`) as the events of their original host at their
/// original time, and leaves the host-scoped alerts about such hosts to their edge.
///
/// Runs on the event loop's thread; per message it allocates nothing once a host is known
/// (forwarding allocates the message it hands to the relay sender). Frames are stored at once
/// and analyzed in small batches (see `pending`), always before the listener reuses their memory.
public final class Collector: FrameConsumer {
    public private(set) var counters = IngestCounters()
    public let hosts: HostDirectory
    public var analyzer: Analyzer
    private let parser: SyslogParser
    /// The date of the last RFC 3339 timestamp parsed (most frames share it).
    private var timestampMemo = TimestampMemo()
    private let store: HostStore
    private let sinks: [any AlertSink]
    /// Alerts handed to the sinks since start, for counters.
    public private(set) var alertsRaised = 0
    /// Scratch space for the textual sender address of messages without a hostname.
    private var senderText: [UInt8] = []
    /// Where an edge forwards its events; nil on a collector that is no edge.
    private let relay: NetworkSink?
    /// The PROCID written in forwarded messages.
    private let relayProcID: Int
    private var relayDecoder = RelayDecoder()
    /// Indexed by host: whether events of that host arrived relayed.
    private var relayedHosts: [Bool] = []
    /// The names of the hosts in `relayedHosts`, to recognise alerts about them.
    private var relayedHostNames: Set<String> = []
    public private(set) var relayCounters = RelayCounters()

    /// What relaying did since start.
    public struct RelayCounters: Sendable, Equatable {
        /// Events an edge handed to its relay sender.
        public var forwarded = 0
        /// Relay messages taken as events.
        public var received = 0
        /// Messages marked `vigil-relay` that did not decode (stored, not analyzed).
        public var malformed = 0
        /// Alerts not dispatched: global ones on an edge, host-scoped ones about relayed hosts.
        public var suppressedAlerts = 0

        /// A counter block with every value given (zero by default).
        public init(forwarded: Int = 0, received: Int = 0, malformed: Int = 0, suppressedAlerts: Int = 0) {
            self.forwarded = forwarded; self.received = received; self.malformed = malformed; self.suppressedAlerts = suppressedAlerts
        }

        /// `forwarded=N received=N malformed=N suppressed_alerts=N`, for the stats line.
        public var summary: String {
            "forwarded=\(forwarded) received=\(received) malformed=\(malformed) suppressed_alerts=\(suppressedAlerts)"
        }
    }

    /// A collector; `relay` makes it an edge that forwards its events there, `relayProcID` going in their PROCID.
    public init(parser: SyslogParser, store: HostStore, analyzer: Analyzer, hosts: HostDirectory, sinks: [any AlertSink],
                relay: NetworkSink? = nil, relayProcID: Int = 0) {
        self.parser = parser
        self.store = store
        self.analyzer = analyzer
        self.hosts = hosts
        self.sinks = sinks
        self.relay = relay
        self.relayProcID = relayProcID
        senderText.reserveCapacity(48)
    }

    /// The detection settings of a collector: `base`, minus the global-only rules on an edge
    /// (`ssh_distributed`, `http_scan`), whose view of the hosts is the central's.
    public static func detectionSettings(_ base: DetectionSettings, isEdge: Bool) -> DetectionSettings {
        var settings = base
        if isEdge {
            settings[.sshDistributed].enabled = false
            settings[.httpScan].enabled = false
        }
        return settings
    }

    public func consume(frame: UnsafeRawBufferPointer, truncated: Bool, sender: SocketAddress, now: Timestamp) {
        let fields = parser.parse(frame, receivedAt: now, memo: &timestampMemo)
        counters.received &+= 1
        counters.bytes &+= UInt64(frame.count)
        if truncated { counters.truncated &+= 1 }
        if fields.isParseError { counters.parseErrors &+= 1 }

        let host: HostID
        if fields.hostname.isEmpty {
            senderText.removeAll(keepingCapacity: true)
            sender.ip.append(to: &senderText)
            host = senderText.withUnsafeBytes { hosts.table.intern($0) }
        } else {
            host = hosts.table.intern(UnsafeRawBufferPointer(rebasing: frame[fields.hostname]))
        }
        ingest(frame, fields, host: host, now: now)
    }

    /// One line of a followed file (`[input.file]`): a syslog line is filed under its own host,
    /// anything else (an access-log line) under `defaultHost`. Not syslog is normal here, not an error.
    public func consumeLine(_ line: UnsafeRawBufferPointer, defaultHost: HostID, now: Timestamp) {
        let fields = parser.parse(line, receivedAt: now, memo: &timestampMemo)
        counters.fileLines &+= 1
        let host = fields.hostname.isEmpty ? defaultHost : hosts.table.intern(UnsafeRawBufferPointer(rebasing: line[fields.hostname]))
        ingest(line, fields, host: host, now: now)
        analyzePending()
    }

    /// Frames stored and read (`Analyzer.extract`) but not analyzed yet: each is analyzed once
    /// up to `pendingLimit` are read, or when the listener releases its frames, so the table
    /// lookups of a batch are all started (`Analyzer.prefetch`, then `prefetchState` for what
    /// the buckets point to) before any is waited for and their cache misses overlap instead
    /// of stalling one message after another.
    private var pending: [Pending] = []
    private static let pendingLimit = 32

    /// One frame waiting for its analysis: what was read from it, and its host and event time.
    private struct Pending {
        var frame: UnsafeRawBufferPointer
        var extraction: Analyzer.Extraction
        var host: HostID
        var time: Timestamp
    }

    public func releaseFrames() { analyzePending() }

    private func ingest(_ frame: UnsafeRawBufferPointer, _ fields: SyslogFields, host: HostID, now: Timestamp) {
        store.append(host: host, name: hosts.table.name(of: host), day: now.epochDay, line: frame)
        if RelayDecoder.isRelay(frame, fields) {
            analyzePending()  // events keep their order
            receiveRelayed(frame, fields, now: now)
            return
        }
        let extraction = analyzer.extract(frame: frame, fields: fields)
        analyzer.prefetch(extraction, host: host)
        pending.append(Pending(frame: frame, extraction: extraction, host: host, time: analyzer.eventTime(fields, receivedAt: now)))
        if pending.count >= Self.pendingLimit { analyzePending() }
    }

    /// Analyzes the pending frames in arrival order; an edge forwards each event it recognised.
    private func analyzePending() {
        // The buckets asked for as each frame was read have arrived by now: ask for what they
        // point to, then analyze.
        for i in pending.indices { analyzer.prefetchState(pending[i].extraction, host: pending[i].host) }
        for i in pending.indices {
            let p = pending[i]
            let observation = analyzer.observe(p.extraction, text: p.frame, host: p.host, time: p.time)
            if let relay, observation != .none {
                RelayMessage.forEachMessage(of: observation, buffer: p.frame, host: hosts.table.name(of: p.host), procID: relayProcID) {
                    relay.send($0)
                    relayCounters.forwarded += 1
                }
            }
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// A relay message: its event goes to the analyzer as one of its original host (never forwarded
    /// again, so relays cannot loop); one that does not decode is only counted.
    private func receiveRelayed(_ frame: UnsafeRawBufferPointer, _ fields: SyslogFields, now: Timestamp) {
        guard case .success(let decoded) = relayDecoder.decode(frame, fields) else {
            relayCounters.malformed += 1
            return
        }
        relayCounters.received += 1
        relayDecoder.text.withUnsafeBytes { text in
            let origin = hosts.table.intern(UnsafeRawBufferPointer(rebasing: text[decoded.host]))
            let i = Int(origin.rawValue)
            if i >= relayedHosts.count { relayedHosts.append(contentsOf: repeatElement(false, count: i + 1 - relayedHosts.count)) }
            if !relayedHosts[i] {
                relayedHosts[i] = true
                relayedHostNames.insert(hosts.table.name(of: origin))
            }
            analyzer.observeRelayed(decoded.event, text: text, host: origin, receivedAt: now)
        }
    }

    /// Whether `alert` is left to another collector: a global one on an edge (the central has the
    /// global view), a host-scoped one about a host whose events arrive relayed (its edge raises it).
    private func leavesToOthers(_ alert: Alert) -> Bool {
        switch alert.scope {
        case .global: return relay != nil
        case .host: return alert.host.map { relayedHostNames.contains($0) } ?? false
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
        case .rejected:
            counters.connectionsRejected &+= 1
        case .timedOut:
            counters.connectionsTimedOut &+= 1
        }
    }

    /// Hands the alerts raised since the last call to every sink.
    public func dispatchAlerts() {
        let alerts = analyzer.engine.takeAlerts()
        guard !alerts.isEmpty else { return }
        for alert in alerts {
            if leavesToOthers(alert) {
                relayCounters.suppressedAlerts += 1
                continue
            }
            alertsRaised += 1
            for sink in sinks { sink.deliver(alert) }
        }
    }

    /// Moves detection to `now` (quiet periods resolve alerts) and dispatches what that raised.
    public func advance(now: Timestamp) {
        analyzer.advance(now: now)
        dispatchAlerts()
    }

    /// Writes buffered messages to disk.
    public func flush() {
        store.flush()
        counters.storeErrors = UInt64(store.writeErrors)
    }
}
