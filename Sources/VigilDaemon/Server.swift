import Glibc
public import VigilCore
public import VigilPosix

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
    public init(config: VigilConfig, log: @escaping (String) -> Void) throws(SystemError) {
        let settings = config.server
        self.log = log
        Posix.raiseFileLimit()
        loop = try EventLoop()
        let retention = StoreRetention(maxAgeDays: config.storage.maxAgeDays > 0 ? config.storage.maxAgeDays : nil,
                                       maxTotalBytes: config.storage.maxTotalBytes > 0 ? config.storage.maxTotalBytes : nil)
        store = try HostStore(directory: settings.dataDirectory, retention: retention)
        collector = Collector(parser: SyslogParser(utcOffsetSeconds: settings.timezoneOffsetSeconds), store: store)
        for address in settings.udp {
            udpListeners.append(try UDPListener(address: address.socketAddress, maxMessageBytes: settings.maxMessageBytes,
                                                receiveBufferBytes: settings.udpReceiveBufferBytes,
                                                loop: loop, consumer: collector))
        }
        for address in settings.tcp {
            tcpListeners.append(try TCPListener(address: address.socketAddress, maxMessageBytes: settings.maxMessageBytes,
                                                maxConnections: settings.maxConnections,
                                                idleTimeoutMicros: settings.idleTimeout.microseconds,
                                                loop: loop, consumer: collector))
        }
        let collector = self.collector
        let tcp = tcpListeners
        let store = self.store
        loop.every(microseconds: settings.flushInterval.microseconds) { now in
            collector.flush()
            let mono = Posix.monotonicMicros()
            for listener in tcp { listener.closeIdleConnections(monotonicMicros: mono, now: now) }
        }
        if settings.statsInterval.microseconds > 0 {
            loop.every(microseconds: settings.statsInterval.microseconds) { _ in
                log("vigil: " + collector.counters.summaryLine)
            }
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
