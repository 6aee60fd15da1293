import Glibc
public import VigilCore
public import VigilPosix

/// What `vigil serve` needs to run, already validated.
public struct ServerSettings: Sendable {
    public var udp: [SocketAddress] = []
    public var tcp: [SocketAddress] = []
    public var dataDirectory = "./vigil-data"
    public var maxMessageBytes = 65_536
    public var udpReceiveBufferBytes = 8 * 1024 * 1024
    public var maxConnections = 20_000
    public var idleTimeoutMicros: Int64 = 300_000_000
    public var flushIntervalMicros: Int64 = 1_000_000
    public var statsIntervalMicros: Int64 = 10_000_000
    public var utcOffsetSeconds = 0
    public var retention = StoreRetention(maxAgeDays: 30, maxTotalBytes: nil)

    public init() {}
}

/// A running `vigil serve`: listeners on one event loop feeding the collector and the store.
public final class Server {
    public let loop: EventLoop
    public let collector: Collector
    private let store: HostStore
    private var udpListeners: [UDPListener] = []
    private var tcpListeners: [TCPListener] = []
    private var signals: ShutdownSignals?
    private let log: (String) -> Void

    /// Binds every listener and opens the store; throws naming the address or path at fault.
    public init(settings: ServerSettings, log: @escaping (String) -> Void) throws(SystemError) {
        self.log = log
        Posix.raiseFileLimit()
        loop = try EventLoop()
        store = try HostStore(directory: settings.dataDirectory, retention: settings.retention)
        collector = Collector(parser: SyslogParser(utcOffsetSeconds: settings.utcOffsetSeconds), store: store)
        for address in settings.udp {
            udpListeners.append(try UDPListener(address: address, maxMessageBytes: settings.maxMessageBytes,
                                                receiveBufferBytes: settings.udpReceiveBufferBytes,
                                                loop: loop, consumer: collector))
        }
        for address in settings.tcp {
            tcpListeners.append(try TCPListener(address: address, maxMessageBytes: settings.maxMessageBytes,
                                                maxConnections: settings.maxConnections,
                                                idleTimeoutMicros: settings.idleTimeoutMicros,
                                                loop: loop, consumer: collector))
        }
        let collector = self.collector
        let tcp = tcpListeners
        let store = self.store
        loop.every(microseconds: settings.flushIntervalMicros) { now in
            collector.flush()
            let mono = Posix.monotonicMicros()
            for listener in tcp { listener.closeIdleConnections(monotonicMicros: mono, now: now) }
        }
        loop.every(microseconds: settings.statsIntervalMicros) { _ in
            log("vigil: " + collector.counters.summaryLine)
        }
        loop.every(microseconds: 3_600_000_000) { now in
            store.enforceRetention(today: now.epochDay)
        }
        store.enforceRetention(today: Posix.wallClock().epochDay)
    }

    /// The addresses actually bound (real ports when 0 was asked), for logs and tests.
    public var boundUDP: [SocketAddress] { udpListeners.map(\.address) }
    public var boundTCP: [SocketAddress] { tcpListeners.map(\.address) }

    /// Stops on SIGTERM/SIGINT (installs the handler; call on the thread that runs the loop).
    public func stopOnSignals() throws(SystemError) {
        let loop = self.loop
        let log = self.log
        signals = try ShutdownSignals(loop: loop) { signo in
            log("vigil: signal \(signo), shutting down")
            loop.stop()
        }
    }

    /// Runs until stopped, then reads what connections already hold, and flushes everything.
    public func run() {
        for address in boundUDP { log("vigil: listening udp \(address)") }
        for address in boundTCP { log("vigil: listening tcp \(address)") }
        log("vigil: ready")
        loop.run()
        shutdown()
    }

    /// Drains connections and writes every buffered message to disk.
    public func shutdown() {
        let now = Posix.wallClock()
        for listener in udpListeners { listener.handleEvents(EventLoop.readable, now: now) }
        for listener in tcpListeners { listener.drainAndCloseAll(now: now) }
        collector.flush()
        store.close()
        log("vigil: " + collector.counters.summaryLine)
    }
}
