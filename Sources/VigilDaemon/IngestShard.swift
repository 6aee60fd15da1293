public import VigilCore
public import VigilPosix

/// One more thread of `vigil serve`'s ingest (docs/architecture.md, "Ingest shards"): an event
/// loop of its own accepting on the server's TCP syslog sockets (the loops race to accept each
/// connection; the one that takes it reads it) and reading a socket of its own on each UDP port
/// (the kernel gives it some senders' datagrams), with its own frame decoders, parser, store and
/// `Collector`, which hands its batches to the server's one `AnalysisThread`, interns hosts in
/// the server's shared `HostDirectory`, and stores the hosts the server's `StoreExchange` gives it,
/// handing the lines of other hosts to the loops that store them.
///
/// Everything it holds belongs to its thread once started. The other loops hand it lines to
/// store and take the lines it hands them through the `StoreExchange`; the server's thread talks
/// to it only through `Mailbox` (under a lock): requests (stop, reopen the store's files) that an eventfd
/// wakes the shard's loop for, and the counters the shard publishes after every wake-up (its
/// hosts' activity every `activityInterval`, and when it stops).
public final class IngestShard {
    /// What the two threads share.
    private final class Mailbox: @unchecked Sendable {
        let lock = ConditionLock()
        // Guarded by `lock`:
        var stopRequested = false
        /// Reopenings asked for, and done by the shard (`waitForReopening` waits for them).
        var reopensAsked = 0
        var reopensDone = 0
        var counters = IngestCounters()
        var activity = HostActivity()
    }

    /// What the shard's thread owns, handed to it once at start.
    private final class Owned: @unchecked Sendable {
        let loop: EventLoop
        let collector: Collector
        var tcp: [TCPListener] = []
        var udp: [UDPListener] = []
        init(loop: EventLoop, collector: Collector) { self.loop = loop; self.collector = collector }
    }

    private let mailbox = Mailbox()
    private let owned: Owned
    /// Wakes the shard's loop for a request.
    private let wake: FileDescriptor
    private let wakeHandler: WakeHandler
    private var thread: JoinableThread?
    /// The shard's number, from 1 (the server's own loop is shard 0), for its thread's name.
    public let number: Int

    /// A shard accepting on the server's `tcp` listeners, reading a socket joining each of its
    /// `udp` ones (bound to be spread over every loop), storing its hosts of `exchange` (it is
    /// loop `number` there) under `settings.dataDirectory` with `storeBounds` and, around each
    /// write, `writeLocks` (shared with the server's store), and analyzing on `analysis`.
    public init(number: Int, tcp: [TCPListener], udp: [UDPListener], settings: VigilConfig.Server, retention: StoreRetention,
                storeBounds: (openFiles: Int, bufferedBytes: Int), writeLocks: StoreWriteLocks, exchange: StoreExchange,
                limits: TCPListener.Limits, hosts: HostDirectory,
                analysis: AnalysisThread, log: @escaping (String) -> Void) throws(SystemError) {
        self.number = number
        let loop = try EventLoop()
        let store = try HostStore(directory: settings.dataDirectory, retention: retention, maxOpenFiles: storeBounds.openFiles,
                                  maxBufferedBytes: storeBounds.bufferedBytes, sharedWrites: writeLocks)
        let gate = ReadGate()
        let collector = Collector(parser: SyslogParser(utcOffsetSeconds: settings.timezoneOffsetSeconds), store: store,
                                  analysis: .feeding(analysis), hosts: hosts, sinks: [], gate: gate,
                                  storeExchange: exchange, loopNumber: number, log: log)
        owned = Owned(loop: loop, collector: collector)
        try exchange.receive(number: number, on: loop) { [weak collector] in collector?.storeHanded($0) }
        for listener in tcp {
            owned.tcp.append(try TCPListener(sharing: listener, maxMessageBytes: settings.maxMessageBytes, limits: limits,
                                             loop: loop, consumer: collector, gate: gate, log: log))
        }
        for listener in udp {
            owned.udp.append(try UDPListener(joining: listener, loop: loop, consumer: collector))
        }
        wake = try FileDescriptor.eventCounter()
        let mailbox = self.mailbox, owned = self.owned
        wakeHandler = WakeHandler(fd: wake.rawValue) {
            let (stop, reopens) = mailbox.lock.withLock { (mailbox.stopRequested, mailbox.reopensAsked) }
            if reopens > mailbox.lock.withLock({ mailbox.reopensDone }) {
                store.reopenFiles()
                mailbox.lock.withLock {
                    mailbox.reopensDone = reopens
                    mailbox.lock.broadcast()
                }
            }
            if stop { owned.loop.stop() }
        }
        try loop.register(wake.rawValue, mask: EventLoop.readable, handler: wakeHandler)
        let tcpListeners = owned.tcp
        loop.afterEachWakeUp { _ in
            let again = collector.handOver(monotonicMicros: Posix.monotonicMicros())
            let counters = collector.counters
            mailbox.lock.withLock { mailbox.counters = counters }
            return again
        }
        loop.every(microseconds: settings.flushInterval.microseconds) { now in
            collector.flush(monotonicMicros: Posix.monotonicMicros())
            let mono = Posix.monotonicMicros()
            for listener in tcpListeners { listener.closeIdleConnections(monotonicMicros: mono, now: now) }
        }
        // Once a second: the copy costs the shard a copy of its activity arrays on its next message.
        loop.every(microseconds: IngestShard.activityInterval) { _ in
            let activity = collector.activity
            mailbox.lock.withLock { mailbox.activity = activity }
        }
    }

    /// Starts the shard's thread: its loop runs until `askToStop`.
    public func start() throws(SystemError) {
        let owned = self.owned, mailbox = self.mailbox
        thread = try JoinableThread(named: "vigil-ingest\(number)") {
            owned.loop.run()
            // Read what connections and sockets already hold, hand it over, write the store.
            let now = Posix.wallClock()
            for listener in owned.tcp { listener.drainAndCloseAll(now: now) }
            for listener in owned.udp { listener.drain(now: now) }
            owned.collector.finishStoring()
            owned.collector.close()
            let counters = owned.collector.counters, activity = owned.collector.activity
            mailbox.lock.withLock {
                mailbox.counters = counters
                mailbox.activity = activity
            }
        }
    }

    /// Asks the shard to stop: to read what its connections and sockets hold, hand it to the
    /// analysis thread and to the loops that store it, store what the other loops hand it until
    /// they have all done so (`StoreExchange.finishReading`), and write its store. The server's
    /// loop then does its own part of that before it waits in `join`.
    public func askToStop() {
        if thread != nil { request { $0.stopRequested = true } }
    }

    /// Waits until the shard, asked to stop, has.
    public func join() {
        thread?.join()
        thread = nil
    }

    /// Asks the shard to write what its store holds and close its files, to open them again by
    /// name on the next line (a reload following a rotation; after retention deleted files).
    /// Returns the ticket `waitForReopening` takes; nil when the shard is not running.
    public func askToReopenFiles() -> Int? {
        guard thread != nil else { return nil }
        let ticket = mailbox.lock.withLock { mailbox.reopensAsked += 1; return mailbox.reopensAsked }
        request { _ in }
        return ticket
    }

    /// Waits until the shard has reopened its files for `ticket`, or until `deadline`
    /// (monotonic µs); false when it had not by then.
    public func waitForReopening(_ ticket: Int, until deadline: Int64) -> Bool {
        mailbox.lock.withLock {
            while mailbox.reopensDone < ticket && Posix.monotonicMicros() < deadline {
                mailbox.lock.wait(untilMonotonicMicros: deadline)
            }
            return mailbox.reopensDone >= ticket
        }
    }

    /// What the shard counted, as of its last wake-up.
    public var counters: IngestCounters { mailbox.lock.withLock { mailbox.counters } }

    /// How often a shard publishes its hosts' activity, µs.
    public static let activityInterval: Int64 = 1_000_000

    /// Its hosts' activity, as of its last publication (or its stop).
    public var activity: HostActivity { mailbox.lock.withLock { mailbox.activity } }

    private func request(_ change: (Mailbox) -> Void) {
        mailbox.lock.withLock { change(mailbox) }
        Posix.signalEventCounter(wake.rawValue)
    }

    /// Reads the eventfd and runs the shard's side of the requests.
    private final class WakeHandler: EventHandler {
        let fd: Int32
        let action: () -> Void
        init(fd: Int32, action: @escaping () -> Void) { self.fd = fd; self.action = action }
        func handleEvents(_ events: UInt32, now: Timestamp) {
            Posix.clearEventCounter(fd)
            action()
        }
    }
}
