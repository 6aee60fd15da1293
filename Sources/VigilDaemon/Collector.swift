public import VigilCore
public import VigilPosix

/// The ingest stage of `vigil serve`: parses every frame, names its host, stores it, and counts.
///
/// Runs on the event loop's thread; per message it allocates nothing once a host is known.
public final class Collector: FrameConsumer {
    public private(set) var counters = IngestCounters()
    public private(set) var hosts = HostTable()
    private let parser: SyslogParser
    private let store: HostStore
    /// Scratch space for the textual sender address of messages without a hostname.
    private var senderText: [UInt8] = []

    public init(parser: SyslogParser, store: HostStore) {
        self.parser = parser
        self.store = store
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
            host = senderText.withUnsafeBytes { hosts.intern($0) }
        } else {
            host = hosts.intern(UnsafeRawBufferPointer(rebasing: frame[fields.hostname]))
        }
        store.append(host: host, name: hosts.name(of: host), day: now.epochDay, line: frame)
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

    /// Writes buffered messages to disk.
    public func flush() {
        store.flush()
        counters.storeErrors = UInt64(store.writeErrors)
    }
}
