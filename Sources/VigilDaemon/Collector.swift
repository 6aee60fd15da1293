public import VigilCore
public import VigilPosix

/// The ingest stage of `vigil serve`: parses every frame, names its host, stores it, analyzes
/// it (sshd and access-log payloads into detection and stats), and hands alerts to the sinks.
///
/// Runs on the event loop's thread; per message it allocates nothing once a host is known.
public final class Collector: FrameConsumer {
    public private(set) var counters = IngestCounters()
    public let hosts: HostDirectory
    public var analyzer: Analyzer
    private let parser: SyslogParser
    private let store: HostStore
    private let sinks: [any AlertSink]
    /// Alerts handed to the sinks since start, for counters.
    public private(set) var alertsRaised = 0
    /// Scratch space for the textual sender address of messages without a hostname.
    private var senderText: [UInt8] = []

    public init(parser: SyslogParser, store: HostStore, analyzer: Analyzer, hosts: HostDirectory, sinks: [any AlertSink]) {
        self.parser = parser
        self.store = store
        self.analyzer = analyzer
        self.hosts = hosts
        self.sinks = sinks
        senderText.reserveCapacity(48)
    }

    public func consume(frame: UnsafeRawBufferPointer, truncated: Bool, sender: SocketAddress, now: Timestamp) {
        let fields = parser.parse(frame, receivedAt: now)
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
        let fields = parser.parse(line, receivedAt: now)
        counters.fileLines &+= 1
        let host = fields.hostname.isEmpty ? defaultHost : hosts.table.intern(UnsafeRawBufferPointer(rebasing: line[fields.hostname]))
        ingest(line, fields, host: host, now: now)
    }

    private func ingest(_ frame: UnsafeRawBufferPointer, _ fields: SyslogFields, host: HostID, now: Timestamp) {
        store.append(host: host, name: hosts.table.name(of: host), day: now.epochDay, line: frame)
        analyzer.observe(frame: frame, fields: fields, host: host, receivedAt: now)
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
