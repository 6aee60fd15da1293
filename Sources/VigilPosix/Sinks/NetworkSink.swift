import CVigilShim
import Glibc
public import VigilCore

/// A sink that delivers over the network (docs/sinks.md): `syslog+udp://`, `syslog+tcp://`, `http://`,
/// `alertmanager://`. `deliver` (on the event loop) only encodes the alert and hands it to a
/// bounded in-memory queue, or to the disk spool `DATA/spool/NAME/` when the queue is full or the
/// receiver is down; a sender thread of its own delivers, retrying with exponential backoff and
/// jitter. Alerts arrive in the order `deliver` saw them, also across a restart: while anything is
/// spooled new alerts are spooled behind it, and at close the queue is put in front of the spool.
public final class NetworkSink: AlertSink {
    /// Per-sink counters, as a consistent snapshot.
    public struct Counters: Sendable, Equatable {
        /// Alerts the receiver took (2xx, or written to the socket for syslog).
        public var delivered = 0
        /// Failed attempts that will be tried again.
        public var retried = 0
        /// Alerts written to the disk spool (queue full, receiver down, or pending at shutdown).
        public var spooled = 0
        /// Alerts given up on: refused by the receiver (HTTP 4xx) or not storable when the queue was full.
        public var dropped = 0
        /// Alerts waiting in memory now.
        public var queued = 0
        /// Alerts waiting in the spool now.
        public var spoolPending = 0

        /// `delivered=N retried=N spooled=N dropped=N queued=N spool_pending=N`, for the stats line.
        public var summary: String {
            "delivered=\(delivered) retried=\(retried) spooled=\(spooled) dropped=\(dropped) queued=\(queued) spool_pending=\(spoolPending)"
        }

        /// A counter block with every value given (for tests and the stats line).
        public init(delivered: Int = 0, retried: Int = 0, spooled: Int = 0, dropped: Int = 0, queued: Int = 0, spoolPending: Int = 0) {
            self.delivered = delivered; self.retried = retried; self.spooled = spooled
            self.dropped = dropped; self.queued = queued; self.spoolPending = spoolPending
        }
    }

    /// Timing knobs; the defaults suit production, tests shorten them.
    public struct Options: Sendable {
        /// Alerts kept in memory before spilling to disk (`queue_capacity`).
        public var queueCapacity: Int
        /// The retry schedule (`max_backoff` is its maximum).
        public var backoff: RetryBackoff
        /// Connect, write and answer timeout, in milliseconds.
        public var timeoutMillis: Int32
        /// How long `close()` lets the sender empty the memory queue before spooling the rest.
        public var drainMicros: Int64
        /// Most bytes waiting in the spool; a payload past it is dropped and counted. nil: no limit
        /// (alerts are few); the relay, which spools every event while the central is down, sets one.
        public var maxSpoolPendingBytes: Int?

        /// Options for a configured sink: backoff from 0.5 s doubling up to `maxBackoffMicros`.
        public init(queueCapacity: Int, maxBackoffMicros: Int64, baseBackoffMicros: Int64 = 500_000,
                    timeoutMillis: Int32 = 5_000, drainMicros: Int64 = 2_000_000, maxSpoolPendingBytes: Int? = nil) {
            self.queueCapacity = max(1, queueCapacity)
            self.maxSpoolPendingBytes = maxSpoolPendingBytes
            backoff = RetryBackoff(baseMicros: baseBackoffMicros, maximumMicros: maxBackoffMicros)
            self.timeoutMillis = timeoutMillis
            self.drainMicros = drainMicros
        }
    }

    public let name: String
    /// The receiver, as configured.
    public let spec: SinkSpec
    private let state: SinkState
    private let encode: (Alert) -> [UInt8]
    private var thread: pthread_t?

    /// Opens the spool `spoolDirectory` (creating it) and starts the sender thread, which begins with
    /// whatever an earlier run left spooled. `spec` must be one of the four network kinds.
    /// `log` is called from the sender thread. Throws when the spool cannot be opened.
    public init(name: String, spec: SinkSpec, spoolDirectory: String, options: Options,
                log: @escaping @Sendable (String) -> Void = NetworkSink.logToStderr) throws(SystemError) {
        self.name = name
        self.spec = spec
        let cancel = try FileDescriptor.eventCounter()
        let cancelFD = cancel.rawValue
        let transport: any SinkTransport
        switch spec {
        case .syslogUDP(let host, let port):
            transport = SyslogUDPTransport(host: host, port: port, timeoutMillis: options.timeoutMillis, cancelFD: cancelFD)
            encode = NetworkSink.syslogEncoder()
        case .syslogTCP(let host, let port):
            transport = SyslogTCPTransport(host: host, port: port, timeoutMillis: options.timeoutMillis, cancelFD: cancelFD)
            encode = NetworkSink.syslogEncoder()
        case .http(let host, let port, let path):
            transport = HTTPTransport(host: host, port: port, path: path, timeoutMillis: options.timeoutMillis, cancelFD: cancelFD)
            encode = { alert in
                var out: [UInt8] = []
                alert.appendJSON(to: &out)
                return out
            }
        case .alertmanager(let host, let port):
            transport = HTTPTransport(host: host, port: port, path: AlertmanagerBody.path, timeoutMillis: options.timeoutMillis, cancelFD: cancelFD)
            encode = { alert in
                var out: [UInt8] = []
                AlertmanagerBody.append(alert, to: &out)
                return out
            }
        case .stdout, .file:
            preconditionFailure("NetworkSink built for \(spec)")
        }
        let spool = try SinkSpool(directory: spoolDirectory)
        state = SinkState(name: name, spool: spool, options: options, cancel: cancel, log: log)
        let sender = Sender(state: state, transport: transport, backoff: options.backoff)
        thread = try startThread(named: "vigil-sink") { sender.run() }
        if spool.hasPending { log("vigil: sink \(name): \(state.counters.spoolPending) spooled alerts to deliver first") }
    }

    deinit { close() }

    /// Encodes the alert and queues it (or spools it); never waits for the network.
    public func deliver(_ alert: Alert) {
        state.enqueue(encode(alert))
    }

    /// Queues a payload already encoded for this receiver (one RFC 5424 message for the syslog kinds,
    /// framed by the transport), exactly like an encoded alert: the relay's events travel this way.
    public func send(_ payload: [UInt8]) {
        state.enqueue(payload)
    }

    /// Alerts refused by the receiver or lost because neither queue nor spool could take them.
    public var dropped: Int { state.counters.dropped }

    /// A snapshot of the counters.
    public var counters: Counters { state.counters }
    public var metrics: SinkMetrics {
        let c = counters
        return SinkMetrics(delivered: c.delivered, failed: c.retried, spooled: c.spooled, dropped: c.dropped)
    }

    /// Stops the sender: it gets up to `drainMicros` to empty the memory queue, then whatever is
    /// still queued is spooled for the next start. Idempotent; `deinit` calls it.
    public func close() {
        guard let t = thread else { return }
        thread = nil
        state.stop(drainMicros: state.options.drainMicros)
        pthread_join(t, nil)
        state.spoolRemaining()
    }

    /// Writes one line to stderr with a single `write` (safe from any thread), escaped as a whole
    /// by `TerminalText.escaped` like every line vigil writes to a terminal.
    public static let logToStderr: @Sendable (String) -> Void = { line in
        var bytes = Array(TerminalText.escaped(line).utf8)
        bytes.append(UInt8(ascii: "\n"))
        _ = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }

    /// The directory a sink named `name` spools to under `dataDirectory`: `DATA/spool/NAME`, with
    /// every byte outside `[A-Za-z0-9._-]` replaced by `_` (and `.`/`..` made harmless).
    public static func spoolDirectory(dataDirectory: String, sinkName: String) -> String {
        var safe = String(decoding: sinkName.utf8.map { b -> UInt8 in
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"): return b
            default: return UInt8(ascii: "_")
            }
        }, as: UTF8.self)
        if safe.isEmpty || safe.allSatisfy({ $0 == "." }) { safe = "_" + safe }
        return dataDirectory + "/spool/" + safe
    }

    private static func syslogEncoder() -> (Alert) -> [UInt8] {
        let hostname = Posix.machineName()
        let pid = Int(getpid())
        return { alert in
            var out: [UInt8] = []
            AlertSyslogMessage.append(alert, hostname: hostname, procID: pid, to: &out)
            return out
        }
    }
}

/// What the event loop and the sender thread share; every field is guarded by `lock`.
///
/// Order: every queued alert is older than every spooled one, and every spooled one older than
/// every unspooled one. `enqueue` only queues while the spool and the unspooled list are empty
/// (and the queue has room and the receiver is not known to be down), so whatever spills goes
/// behind the queue; the sender delivers the queue first, then the spool, then the unspooled
/// list. At close, what is still queued is put in front of the spool (`SinkSpool.prepend`).
///
/// Unspooled: alerts the disk refused (a full disk) while they had to be spooled wait in memory
/// (with the queue, at most `queueCapacity` in all) instead of being dropped; they go to the spool as soon as it takes
/// writes again (the next alert, or the sender's next failed attempt), or are delivered from
/// memory once the receiver is back.
final class SinkState: @unchecked Sendable {
    let name: String
    let options: NetworkSink.Options
    let log: @Sendable (String) -> Void
    let lock = ConditionLock()
    private let spool: SinkSpool
    private var queue: [[UInt8]] = []
    private var head = 0
    private var unspooled: [[UInt8]] = []
    private var stopping = false
    /// The last attempt failed: new alerts go straight to the spool until one is delivered.
    private var down = false
    private var recordsPending = 0
    private var counts = NetworkSink.Counters()
    /// An eventfd that, once signalled, makes the sender's socket waits give up (the sink is closing).
    private let cancel: FileDescriptor
    /// Lines about dropped alerts come at most once per 10 s, however many are dropped.
    private var dropLog = LogLimiter(intervalMicroseconds: 10_000_000)

    init(name: String, spool: SinkSpool, options: NetworkSink.Options, cancel: consuming FileDescriptor,
         log: @escaping @Sendable (String) -> Void) {
        self.cancel = cancel
        self.name = name
        self.spool = spool
        self.options = options
        self.log = log
        recordsPending = SinkState.countRecords(spool)
    }

    var counters: NetworkSink.Counters {
        lock.withLock {
            var c = counts
            c.queued = queue.count - head + unspooled.count
            c.spoolPending = recordsPending
            return c
        }
    }

    private var queueIsEmpty: Bool { head == queue.count }

    /// Event loop: takes one payload. Queued when the queue has room, nothing is spooled and the
    /// receiver is not down; else spooled, or kept unspooled while the disk refuses.
    func enqueue(_ payload: [UInt8]) {
        lock.withLock {
            if !spool.hasPending && unspooled.isEmpty && !down && !stopping && queue.count - head < options.queueCapacity {
                queue.append(payload)
            } else if spoolUnspooledLocked() {
                switch spoolLocked(CollectionOfOne(payload)) {
                case .spooled: break
                case .overCap: counts.dropped += 1
                case .diskRefused: keepUnspooledLocked(payload)
                }
            } else {
                keepUnspooledLocked(payload)
            }
            lock.broadcast()
        }
    }

    /// What became of payloads handed to `spoolLocked`.
    private enum SpoolOutcome { case spooled, overCap, diskRefused }

    /// Writes payloads to the spool (mutex held), counting them as spooled; `overCap` when the spool
    /// holds `maxSpoolPendingBytes`, `diskRefused` when the write fails, each logged at most once per 10 s.
    private func spoolLocked(_ payloads: some Collection<[UInt8]>) -> SpoolOutcome {
        if let limit = options.maxSpoolPendingBytes {
            let adding = payloads.reduce(0) { $0 + $1.count + 1 }
            if spool.end - spool.deliveredOffset + adding > limit {
                logDrop("the spool holds \(limit) bytes (max_spool_bytes); dropping new alerts (counted)")
                return .overCap
            }
        }
        do throws(SystemError) {
            try spool.append(payloads)
            counts.spooled += payloads.count
            recordsPending += payloads.count
            return .spooled
        } catch {
            logDrop("cannot spool \(payloads.count) alert(s): \(error); keeping up to \(options.queueCapacity) in memory")
            return .diskRefused
        }
    }

    /// Keeps a payload the disk refused in memory, behind the spool; dropped once `queueCapacity`
    /// alerts are in memory (queued and unspooled together).
    private func keepUnspooledLocked(_ payload: [UInt8]) {
        if unspooled.count + queue.count - head < options.queueCapacity {
            unspooled.append(payload)
        } else {
            counts.dropped += 1
            logDrop("\(unspooled.count) alerts wait in memory for the disk; dropping new ones (counted)")
        }
    }

    /// Moves the unspooled alerts to the end of the spool; true when none are left in memory.
    private func spoolUnspooledLocked() -> Bool {
        guard !unspooled.isEmpty else { return true }
        switch spoolLocked(unspooled) {
        case .spooled:
            unspooled.removeAll()
            return true
        case .overCap:
            counts.dropped += unspooled.count
            unspooled.removeAll()
            return true
        case .diskRefused:
            return false
        }
    }

    /// Logs a line about dropped alerts unless one was logged in the last 10 s (mutex held).
    private func logDrop(_ text: String) {
        let (allowed, held) = dropLog.allow(now: Posix.monotonicMicros())
        if allowed { log("vigil: sink \(name): " + text + (held > 0 ? " (\(held) more such since the last report)" : "")) }
    }

    /// Where the next payload comes from.
    enum Item {
        case memory([UInt8])
        case spooled([UInt8], next: Int)
        case unspooled([UInt8])
    }

    /// Sender: waits for the next payload (queue first, then spool); nil when stopping.
    func next() -> Item? {
        lock.withLock {
            while true {
                if stopping { return nil }
                if !queueIsEmpty { return .memory(queue[head]) }
                if spool.hasPending {
                    let (offset, end) = (spool.deliveredOffset, spool.end)
                    if let (payload, next) = spool.record(at: offset, limit: end) {
                        return .spooled(payload, next: next)
                    }
                    log("vigil: sink \(name): spool unreadable at byte \(offset), skipping the rest")
                    counts.dropped += recordsPending
                    recordsPending = 0
                    spool.markDelivered(upTo: end)
                    continue
                }
                if let first = unspooled.first { return .unspooled(first) }
                lock.wait(untilMonotonicMicros: Posix.monotonicMicros() + 60_000_000)
            }
        }
    }

    /// Sender: the outcome of one attempt at `item`.
    func finished(_ item: Item, outcome: SendOutcome) {
        lock.withLock {
            switch outcome {
            case .delivered, .reject:
                down = false
                if case .delivered = outcome { counts.delivered += 1 }
                if case .reject(let reason) = outcome {
                    counts.dropped += 1
                    logDrop("alert refused (\(reason)), dropped")
                }
                switch item {
                case .memory: popLocked()
                case .spooled(_, let next):
                    spool.markDelivered(upTo: next)
                    recordsPending = spool.hasPending ? recordsPending - 1 : 0
                case .unspooled: unspooled.removeFirst()
                }
            case .retry:
                counts.retried += 1
                down = true
                // The receiver is down: what waits in memory goes to disk at once (in front of the
                // spool, order kept), so a crash or SIGKILL during the outage loses none of it;
                // and what the disk refused earlier is tried again.
                spillQueueLocked(when: "after a failed attempt")
                _ = spoolUnspooledLocked()
            }
            lock.broadcast()
        }
    }

    private func popLocked() {
        head += 1
        if head == queue.count {
            queue.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
    }

    /// Sender: waits out a backoff; returns false when stopping.
    func pause(micros: Int64) -> Bool {
        let deadline = Posix.monotonicMicros() + micros
        return lock.withLock {
            while !stopping && Posix.monotonicMicros() < deadline {
                lock.wait(untilMonotonicMicros: deadline)
            }
            return !stopping
        }
    }

    /// Closing: lets the sender empty the memory queue for up to `drainMicros`, then stops it.
    func stop(drainMicros: Int64) {
        let deadline = Posix.monotonicMicros() + drainMicros
        lock.withLock {
            while !queueIsEmpty && !down && Posix.monotonicMicros() < deadline {
                lock.wait(untilMonotonicMicros: deadline)
            }
            stopping = true
            lock.broadcast()
        }
        var one: UInt64 = 1
        _ = Glibc.write(cancel.rawValue, &one, 8)
    }

    /// After the sender stopped: whatever is still queued goes in front of the spool, and what the
    /// disk refused behind it, for the next start.
    func spoolRemaining() {
        lock.withLock {
            spillQueueLocked(when: "at close")
            if !spoolUnspooledLocked() {
                counts.dropped += unspooled.count
                unspooled.removeAll()
            }
        }
    }

    /// Moves the memory queue in front of the spool (mutex held). When the disk refuses, the queue
    /// stays in memory (it is still delivered first), except at close, where it is dropped and counted.
    private func spillQueueLocked(when: String) {
        guard !queueIsEmpty else { return }
        let remaining = queue[head...]
        do throws(SystemError) {
            try spool.prepend(remaining)
            counts.spooled += remaining.count
            recordsPending += remaining.count
        } catch {
            guard stopping else {
                logDrop("cannot spool \(remaining.count) queued alert(s) \(when): \(error); they stay in memory")
                return
            }
            counts.dropped += remaining.count
            logDrop("cannot spool \(remaining.count) queued alert(s) \(when): \(error)")
        }
        queue.removeAll()
        head = 0
    }

    /// Records between the saved offset and the end of the journal (at start).
    private static func countRecords(_ spool: SinkSpool) -> Int {
        var n = 0
        var offset = spool.deliveredOffset
        while offset < spool.end, let (_, next) = spool.record(at: offset, limit: spool.end) {
            n += 1
            offset = next
        }
        return n
    }
}

/// The sender thread's loop: next payload, one attempt, backoff on failure.
private final class Sender: @unchecked Sendable {
    let state: SinkState
    let transport: any SinkTransport
    let backoff: RetryBackoff
    private var random: UInt64 = Posix.randomSeed() | 1

    init(state: SinkState, transport: any SinkTransport, backoff: RetryBackoff) {
        self.state = state
        self.transport = transport
        self.backoff = backoff
    }

    func run() {
        var failures = 0
        while let item = state.next() {
            let payload: [UInt8]
            switch item {
            case .memory(let p), .spooled(let p, _), .unspooled(let p): payload = p
            }
            let outcome = transport.send(payload)
            state.finished(item, outcome: outcome)
            guard case .retry(let reason) = outcome else {
                if failures > 0 { state.log("vigil: sink \(state.name): delivering again after \(failures) failed attempt(s)") }
                failures = 0
                continue
            }
            failures += 1
            if failures == 1 { state.log("vigil: sink \(state.name): \(reason); retrying with backoff, spooling meanwhile") }
            // xorshift64: jitter only, never security.
            random ^= random << 13; random ^= random >> 7; random ^= random << 17
            if !state.pause(micros: backoff.delayMicros(attempt: failures, random: random)) { break }
        }
        transport.disconnect()
    }
}
