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
    /// `[input.file]`: files followed like senders.
    public let fileInputs: FileInputs
    private let log: (String) -> Void
    /// Standard output for the stdout sink and the stats block, never blocking the loop.
    public let console: ConsoleWriter
    public let sinks: [any AlertSink]
    /// The edge's sender to the central collector (`--relay`); nil when this is no edge.
    public let relay: NetworkSink?

    /// Binds every listener and opens the store; throws naming the address or path at fault.
    public init(config: VigilConfig, log: @escaping (String) -> Void) throws(SystemError) {
        let settings = config.server
        self.log = log
        // Before the sinks start their threads, which inherit this mask (see ShutdownSignals.block).
        ShutdownSignals.block()
        Posix.raiseFileLimit()
        loop = try EventLoop()
        let retention = StoreRetention(maxAgeDays: config.storage.maxAgeDays > 0 ? config.storage.maxAgeDays : nil,
                                       maxTotalBytes: config.storage.maxTotalBytes > 0 ? config.storage.maxTotalBytes : nil)
        store = try HostStore(directory: settings.dataDirectory, retention: retention)
        console = ConsoleWriter()
        sinks = try Server.makeSinks(config, console: console)
        let hosts = HostDirectory(table: HostTable(seed: Posix.randomSeed(), maxHosts: settings.maxHosts))
        let start = Posix.wallClock()
        relay = try Server.makeRelay(config)
        let analyzer = Analyzer(settings: Collector.detectionSettings(DetectionSettings(config: config), isEdge: relay != nil),
                                ssh: SSHExtractor(countFailedPublickey: config.detection.countPublickeyFailures),
                                clampsToReceiveTime: true, idPrefix: Server.runPrefix(start), hashSeed: Posix.randomSeed(),
                                hostName: { hosts.table.name(of: $0) })
        collector = Collector(parser: SyslogParser(utcOffsetSeconds: settings.timezoneOffsetSeconds), store: store,
                              analyzer: analyzer, hosts: hosts, sinks: sinks, relay: relay, relayProcID: Int(getpid()))
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
        fileInputs = try FileInputs(input: config.fileInput, dataDirectory: settings.dataDirectory,
                                    collector: collector, loop: loop, log: log)
        let collector = self.collector
        let tcp = tcpListeners
        let store = self.store
        let files = fileInputs
        loop.every(microseconds: settings.flushInterval.microseconds) { now in
            files.check(now: now)  // inotify wakes the loop at once; this catches what it cannot see (NFS)
            collector.flush()
            files.saveOffsets()
            let mono = Posix.monotonicMicros()
            for listener in tcp { listener.closeIdleConnections(monotonicMicros: mono, now: now) }
        }
        let console = self.console
        // Alerts raised by a batch of input go out right after it; quiet periods resolve on a tick.
        loop.afterEachWakeUp { _ in collector.dispatchAlerts() }
        loop.every(microseconds: 250_000) { now in collector.advance(now: now) }
        let statsMicros = settings.statsInterval.microseconds
        if statsMicros > 0 {
            let networkSinks = sinks.compactMap { $0 as? NetworkSink }
            let relay = self.relay
            loop.every(microseconds: statsMicros) { now in
                log("vigil: " + collector.counters.summaryLine)
                for sink in networkSinks { log("vigil: sink \(sink.name) " + sink.counters.summary) }
                if let relay {
                    log("vigil: relay \(relay.spec) " + collector.relayCounters.summary + " | sender " + relay.counters.summary)
                } else if collector.relayCounters != Collector.RelayCounters() {
                    log("vigil: relay " + collector.relayCounters.summary)
                }
                console.writeLine(collector.analyzer.stats.render(at: now, intervalSeconds: max(1, statsMicros / 1_000_000),
                                                                  hostName: { hosts.table.name(of: $0) }))
                collector.analyzer.stats.reset()
            }
        }
        loop.every(microseconds: 3_600_000_000) { now in
            store.enforceRetention(today: now.epochDay)
        }
        store.enforceRetention(today: Posix.wallClock().epochDay)
    }

    /// `DATA/alerts.jsonl` (always) plus the configured sinks; network sinks spool to `DATA/spool/NAME/`
    /// and start their sender threads here.
    static func makeSinks(_ config: VigilConfig, console: ConsoleWriter) throws(SystemError) -> [any AlertSink] {
        var sinks: [any AlertSink] = [try FileSink(path: config.server.dataDirectory + "/alerts.jsonl")]
        for sink in config.sinks {
            switch sink.spec {
            case .stdout: sinks.append(StdoutSink(console: console))
            case .file(let path): sinks.append(try FileSink(path: path))
            case .syslogUDP, .syslogTCP, .http, .alertmanager:
                let options = NetworkSink.Options(queueCapacity: sink.queueCapacity, maxBackoffMicros: sink.maxBackoff.microseconds)
                sinks.append(try NetworkSink(name: sink.name, spec: sink.spec,
                                             spoolDirectory: NetworkSink.spoolDirectory(dataDirectory: config.server.dataDirectory,
                                                                                        sinkName: sink.name),
                                             options: options))
            }
        }
        return sinks
    }

    /// The edge's relay sender when `server.relay` is set: a network sender like an alert sink's,
    /// spooling to `DATA/relay-spool/` (outside `DATA/spool/`, so no sink name can collide with it),
    /// with room for 100 000 events in memory and at most 1 GiB waiting on disk.
    static func makeRelay(_ config: VigilConfig) throws(SystemError) -> NetworkSink? {
        guard let spec = config.server.relay else { return nil }
        let options = NetworkSink.Options(queueCapacity: 100_000, maxBackoffMicros: 30_000_000, maxSpoolPendingBytes: 1 << 30)
        return try NetworkSink(name: "relay", spec: spec, spoolDirectory: config.server.dataDirectory + "/relay-spool", options: options)
    }

    /// A prefix that makes alert ids unique across restarts: the start time in hex.
    static func runPrefix(_ start: Timestamp) -> String {
        String(UInt64(truncatingIfNeeded: start.microseconds), radix: 16) + "-"
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
        fileInputs.check(now: Posix.wallClock())
        loop.run()
        shutdown()
    }

    /// Drains connections and writes every buffered message to disk.
    public func shutdown() {
        let now = Posix.wallClock()
        for listener in udpListeners { listener.handleEvents(EventLoop.readable, now: now) }
        for listener in tcpListeners { listener.drainAndCloseAll(now: now) }
        fileInputs.check(now: now)
        collector.flush()
        fileInputs.saveOffsets()
        collector.dispatchAlerts()
        relay?.close()
        store.close()
        console.flush()
        log("vigil: " + collector.counters.summaryLine)
    }
}
