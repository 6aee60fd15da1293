public import VigilCore
public import VigilPosix

/// What a central's relay listener (`relay.listen`, docs/relay.md) does with each frame: only a
/// relay message sealed with the relay key (`RelayDecoder`) and newer than anything its edge sent
/// before (`RelayReplayGuard`) is taken, by `Collector.acceptRelayed`. Everything else is
/// dropped, counted by reason, and logged at most once per interval with its sender. Connections
/// from outside `relay.allow` never get this far (the listener refuses them; counted here).
public final class RelayReceiver: FrameConsumer {
    private let collector: Collector
    private let parser = SyslogParser()
    private var decoder: RelayDecoder
    /// The newest message taken from each edge; saved in `DATA/relay-seen` by the server.
    public private(set) var replayGuard: RelayReplayGuard
    public private(set) var counters = Counters()
    private var limiter: LogLimiter
    private let log: (String) -> Void

    /// What the relay listener did since start.
    public struct Counters: Sendable, Equatable {
        /// Messages rejected, by reason (`bad_mac`, `replayed`, `not_relay`, …).
        public var rejected: [String: Int] = [:]
        /// Connections refused because their source is not in `relay.allow`.
        public var refusedConnections = 0
        /// Connections closed because their stream could not be framed.
        public var framingErrors = 0

        /// Rejected messages of every reason.
        public var rejectedTotal: Int { rejected.values.reduce(0, +) }

        /// `rejected=N refused_connections=N framing_errors=N (reason=N ...)`, for the stats line.
        public var summary: String {
            var out = "rejected=\(rejectedTotal) refused_connections=\(refusedConnections) framing_errors=\(framingErrors)"
            if !rejected.isEmpty { out += " (" + rejected.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + ")" }
            return out
        }
    }

    /// A receiver handing what it accepts to `collector`; `seen` is the replay state saved by an
    /// earlier run; rejections are logged through `log` at most once per `logIntervalMicros`.
    public init(collector: Collector, key: RelayKey, seen: RelayReplayGuard, logIntervalMicros: Int64,
                log: @escaping (String) -> Void) {
        self.collector = collector
        decoder = RelayDecoder(key: key)
        replayGuard = seen
        limiter = LogLimiter(intervalMicroseconds: logIntervalMicros)
        self.log = log
    }

    public func consume(frame: UnsafeRawBufferPointer, truncated: Bool, sender: SocketAddress, transport: Transport, now: Timestamp) {
        let fields = parser.parse(frame, receivedAt: now)
        switch decoder.decode(frame, fields) {
        case .failure(let error):
            reject(error.name, sender: sender, now: now)
        case .success(let decoded):
            let admission = decoder.text.withUnsafeBytes {
                replayGuard.admit(edge: UnsafeRawBufferPointer(rebasing: $0[decoded.edge]), boot: decoded.boot, sequence: decoded.sequence)
            }
            switch admission {
            case .accepted:
                decoder.text.withUnsafeBytes { collector.acceptRelayed(frame, decoded, text: $0, now: now) }
            case .replayed:
                reject("replayed", sender: sender, now: now)
            case .tooManyEdges:
                reject("too_many_edges", sender: sender, now: now)
            }
        }
    }

    /// Counts a rejected message and logs it unless a line was logged less than an interval ago.
    private func reject(_ reason: String, sender: SocketAddress, now: Timestamp) {
        counters.rejected[reason, default: 0] += 1
        let (allowed, held) = limiter.allow(now: now.microseconds)
        guard allowed else { return }
        log("vigil: relay: rejected a message from \(sender.ip) (\(reason))"
            + (held > 0 ? "; \(held) more rejected since the last report" : ""))
    }

    public func releaseFrames() {}

    public func framingError(_ error: FramingError, sender: SocketAddress) {
        counters.framingErrors += 1
    }

    public func connectionEvent(_ event: ConnectionEvent) {
        if case .notAllowed = event { counters.refusedConnections += 1 }
    }
}
