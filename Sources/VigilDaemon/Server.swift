import Glibc
public import VigilCore
public import VigilPosix

/// A running `vigil serve`: listeners on one event loop feeding the collector and the store.
///
/// SIGHUP reloads the configuration (`reload`) without dropping a connection, a buffered message
/// or the state of an unchanged rule; SIGTERM and SIGINT stop it after reading what connections hold.
public final class Server {
    public let loop: EventLoop
    public let collector: Collector
    private let store: HostStore
    private var udpListeners: [UDPListener] = []
    private var tcpListeners: [TCPListener] = []
    /// More threads of ingest on the same syslog addresses (`server.threads` 3 or more;
    /// docs/architecture.md, "Ingest shards"); empty when this loop reads them alone.
    private var shards: [IngestShard] = []
    /// How the loops divide the store by host, with shards (docs/architecture.md, "The store,
    /// divided by host"); this loop is number 0 there.
    private let storeExchange: StoreExchange?
    /// A central's relay listeners (`relay.listen`) and what takes their messages.
    private var relayListeners: [TCPListener] = []
    public let relayReceiver: RelayReceiver?
    /// Where the relay receiver's replay state is kept across restarts.
    private let relaySeenPath: String
    private var signals: ShutdownSignals?
    /// `[input.file]`: files followed like senders.
    public let fileInputs: FileInputs
    private let log: (String) -> Void
    /// Standard output for the stdout sink and the stats block, never blocking the loop.
    public let console: ConsoleWriter
    /// `DATA/alerts.jsonl`, then the configured sinks.
    public var sinks: [any AlertSink] { [alertsFile] + configuredSinks.map(\.sink) }
    private let alertsFile: FileSink
    /// Each configured sink with the settings it was made from (a reload keeps the unchanged ones).
    private var configuredSinks: [(config: VigilConfig.Sink, sink: any AlertSink)]
    /// The configuration in force.
    public private(set) var config: VigilConfig
    /// The edge's sender to the central collector (`--relay`); nil when this is no edge.
    public let relay: NetworkSink?
    /// Each TCP listener's connection cap: `server.max_connections`, lowered to fit the open-file limit.
    public let connectionCap: Int
    /// Each API listener's connection cap (`apiConnectionCap(fileLimit:listeners:)`).
    public let apiConnectionCap: Int
    /// The HTTP API (`server.http`, docs/api.md): its listeners, routes and query thread.
    private var apiServers: [HTTPServer] = []
    public private(set) var api: APIService?
    private var apiWork: BackgroundWork?
    /// Where the API token was generated, when none was configured (logged at start).
    private var generatedTokenPath: String?

    /// Binds every listener and opens the store; throws naming the address or path at fault.
    /// `relayKey` is required when the configuration makes this an edge or a central
    /// (`VigilConfig.Relay.needsKey`): the caller reads it (`SecretFile`) and reports its problems.
    /// `apiToken`: the configured API token; without one, the API (when `server.http` is set, on
    /// loopback only: `serveConfiguration` refuses others) uses the one in `DATA/api-token`,
    /// generated there on the first start.
    public init(config: VigilConfig, relayKey: RelayKey? = nil, apiToken: String? = nil,
                log: @escaping (String) -> Void) throws(SystemError) {
        let settings = config.server
        self.log = log
        self.config = config
        precondition(relayKey != nil || !config.relay.needsKey(settings), "the configuration needs the relay key")
        // Before the sinks start their threads, which inherit this mask (see ShutdownSignals.block).
        ShutdownSignals.block()
        // A client that resets a connection vigil is writing to must never end the process:
        // sockets are written with MSG_NOSIGNAL, and SIGPIPE is ignored for anything else.
        Posix.ignoreBrokenPipes()
        let fileLimit = Posix.raiseFileLimit()
        loop = try EventLoop()
        let shardCount = Server.ingestShards(threads: settings.threads, isEdge: settings.relay != nil)
        // The store's bounds (open files, memory) and the connection limits are the process's,
        // divided between the loops that read syslog.
        let shares = shardCount + 1
        let storeBounds = (openFiles: HostStore.defaultMaxOpenFiles / shares, bufferedBytes: HostStore.defaultMaxBufferedBytes / shares)
        let writeLocks = StoreWriteLocks()
        store = try HostStore(directory: settings.dataDirectory, retention: Server.retention(config),
                              maxOpenFiles: storeBounds.openFiles, maxBufferedBytes: storeBounds.bufferedBytes,
                              sharedWrites: shardCount > 0 ? writeLocks : nil)
        // Before anything is written into it (alerts, the API token): this user's own, or another
        // user could have planted links there (docs/architecture.md, "Who owns what").
        try OwnDirectory.check(settings.dataDirectory, deniedModeBits: 0o022)
        let asked = Server.threadCount(settings.threads)
        let detectionThreads = Server.detectsOnOwnThread(threads: settings.threads, isEdge: settings.relay != nil) ? 1 : 0
        if shardCount > 0 {
            // Which thread does what, since the layout changes with the count (docs/architecture.md, "Threads").
            let used = shardCount + 2 + detectionThreads
            log("vigil: threads: the loop, \(shardCount) ingest shard\(shardCount == 1 ? "" : "s"), analysis"
                + (detectionThreads == 1 ? ", detection" : "")
                + (used < asked ? " (\(used) of the \(asked) asked: at most \(Server.maxIngestShards) ingest shards)" : ""))
        }
        console = ConsoleWriter()
        alertsFile = try FileSink(path: settings.dataDirectory + "/alerts.jsonl", log: log)
        var made: [(config: VigilConfig.Sink, sink: any AlertSink)] = []
        for sink in config.sinks {
            made.append((sink, try Server.makeSink(sink, dataDirectory: settings.dataDirectory, console: console, log: log)))
        }
        configuredSinks = made
        let sinks = [alertsFile] + made.map(\.sink)
        let hosts = HostDirectory(table: HostTable(seed: Posix.randomSeed(), maxHosts: settings.maxHosts),
                                  lock: shardCount > 0 ? ConditionLock() : nil)
        let start = Posix.wallClock()
        relay = try Server.makeRelay(config)
        var relayOutput: Collector.RelayOutput?
        if let relay, let relayKey {
            let edge = config.relay.edgeName.isEmpty ? Server.edgeName(Posix.machineName()) : config.relay.edgeName
            let boot = try Server.nextBoot(path: settings.dataDirectory + "/relay-boot", now: start)
            relayOutput = Collector.RelayOutput(sender: relay, signer: RelaySigner(key: relayKey, edge: edge, boot: boot),
                                                procID: Int(getpid()))
        }
        let detection = Collector.detectionSettings(DetectionSettings(config: config), isEdge: relay != nil)
        for note in detection.fitNotes { log("vigil: \(note)") }
        let analyzer = Analyzer(settings: detection,
                                ssh: SSHExtractor(countFailedPublickey: config.detection.countPublickeyFailures),
                                idPrefix: Server.runPrefix(start), hashSeed: Posix.randomSeed())
        let gate = ReadGate()
        let placement: Collector.Placement = Server.analyzesOnOwnThread(threads: settings.threads, isEdge: relayOutput != nil)
            ? .thread(try AnalysisThread(analyzer: analyzer, detectsOnOwnThread: detectionThreads == 1)) : .inline(analyzer)
        if case .thread(let thread) = placement { try thread.watch(on: loop) }
        storeExchange = shardCount > 0 ? try StoreExchange(loops: shardCount + 1) : nil
        collector = Collector(parser: SyslogParser(utcOffsetSeconds: settings.timezoneOffsetSeconds), store: store,
                              analysis: placement, hosts: hosts, sinks: sinks, relay: relayOutput, gate: gate,
                              storeExchange: storeExchange, loopNumber: 0, log: log)
        try storeExchange?.receive(number: 0, on: loop) { [weak collector] in collector?.storeHanded($0) }
        // With ingest shards every loop reads a socket of each UDP port, each sender's datagrams
        // on one of them (docs/architecture.md, "UDP on every loop").
        for address in settings.udp {
            udpListeners.append(try UDPListener(address: address.socketAddress, maxMessageBytes: settings.maxMessageBytes,
                                                receiveBufferBytes: settings.udpReceiveBufferBytes, sharedWithLoops: shardCount > 0,
                                                loop: loop, consumer: collector))
        }
        let logMicros = settings.statsInterval.microseconds > 0 ? settings.statsInterval.microseconds : 10_000_000
        apiConnectionCap = settings.http.isEmpty ? 0 : Server.apiConnectionCap(fileLimit: fileLimit, listeners: settings.http.count)
        connectionCap = Server.connectionCap(configured: settings.maxConnections, fileLimit: fileLimit,
                                             listeners: settings.tcp.count + config.relay.listen.count, sinks: sinks.count,
                                             apiConnections: apiConnectionCap * settings.http.count, shards: shardCount)
        if connectionCap < settings.maxConnections {
            log("vigil: max_connections lowered to \(connectionCap) per TCP listener to fit the open-file limit of \(fileLimit)")
        }
        let limits = TCPListener.Limits(maxConnections: connectionCap, maxPerSource: settings.maxConnectionsPerSource,
                                        idleTimeoutMicros: settings.idleTimeout.microseconds, logIntervalMicros: logMicros,
                                        maxPartialBytes: settings.maxPartialFrameBytes)
        // Each syslog loop takes its part of the limits (rounded up): a source's connections are
        // spread over the loops, so no source holds much more than its limit.
        let syslogLimits = TCPListener.Limits(maxConnections: (connectionCap + shares - 1) / shares,
                                              maxPerSource: (settings.maxConnectionsPerSource + shares - 1) / shares,
                                              idleTimeoutMicros: limits.idleTimeoutMicros, logIntervalMicros: logMicros,
                                              maxPartialBytes: (settings.maxPartialFrameBytes + shares - 1) / shares)
        for address in settings.tcp {
            tcpListeners.append(try TCPListener(address: address.socketAddress, maxMessageBytes: settings.maxMessageBytes,
                                                limits: syslogLimits, loop: loop, consumer: collector, gate: gate, log: log))
        }
        relaySeenPath = settings.dataDirectory + "/relay-seen"
        if !config.relay.listen.isEmpty, let relayKey {
            let seen = (try? TextFile.read(relaySeenPath)).map(RelayReplayGuard.init(savedText:)) ?? RelayReplayGuard()
            let receiver = RelayReceiver(collector: collector, key: relayKey, seen: seen, logIntervalMicros: logMicros, log: log)
            let allow = config.relay.allow
            for address in config.relay.listen {
                relayListeners.append(try TCPListener(address: address.socketAddress, maxMessageBytes: settings.maxMessageBytes,
                                                      limits: limits, loop: loop, consumer: receiver, gate: gate,
                                                      admits: { peer in allow.contains { $0.contains(peer.ip) } }, log: log))
            }
            relayReceiver = receiver
        } else {
            relayReceiver = nil
        }
        fileInputs = try FileInputs(input: config.fileInput, dataDirectory: settings.dataDirectory,
                                    collector: collector, loop: loop, log: log)
        if case .thread(let analysis) = placement {
            for number in stride(from: 1, through: shardCount, by: 1) {
                shards.append(try IngestShard(number: number, tcp: tcpListeners, udp: udpListeners, settings: settings, retention: Server.retention(config),
                                              storeBounds: storeBounds, writeLocks: writeLocks, exchange: storeExchange!,
                                              limits: syslogLimits, hosts: hosts,
                                              analysis: analysis, log: log))
            }
            if !shards.isEmpty {
                for listener in udpListeners { try listener.spreadBySource(sockets: shards.count + 1) }
            }
        }
        let collector = self.collector
        let tcp = tcpListeners + relayListeners
        let store = self.store
        let files = fileInputs
        loop.every(microseconds: settings.flushInterval.microseconds) { [unowned self] now in
            files.check(now: now)  // inotify wakes the loop at once; this catches what it cannot see (NFS)
            collector.flush(monotonicMicros: Posix.monotonicMicros())
            // Only positions whose lines are on disk: a crash then re-reads, never skips.
            if !collector.isStoreBlocked { files.saveOffsets() }
            self.saveRelaySeen()
            for sink in self.sinks { sink.flush() }
            let mono = Posix.monotonicMicros()
            for listener in tcp { listener.closeIdleConnections(monotonicMicros: mono, now: now) }
        }
        let console = self.console
        // Alerts raised by a batch of input go out right after it; quiet periods resolve on a tick.
        loop.afterEachWakeUp { _ in collector.finishWakeUp(monotonicMicros: Posix.monotonicMicros()) }
        loop.every(microseconds: 250_000) { now in collector.advance(now: now) }
        let statsMicros = settings.statsInterval.microseconds
        if statsMicros > 0 {
            let networkSinks = sinks.compactMap { $0 as? NetworkSink }
            let fileSinks = sinks.compactMap { $0 as? FileSink }
            let relay = self.relay
            let receiver = relayReceiver
            loop.every(microseconds: statsMicros) { [unowned self] now in
                log("vigil: " + self.statsLine)
                for sink in networkSinks { log("vigil: sink \(sink.name) " + sink.counters.summary) }
                for sink in fileSinks { log("vigil: sink \(sink.name) " + sink.summary) }
                let counters = collector.relayCounters
                if let relay {
                    log("vigil: relay \(relay.spec) forwarded=\(counters.forwarded) | sender " + relay.counters.summary)
                }
                if let receiver {
                    log("vigil: relay listener received=\(counters.received) suppressed_alerts=\(counters.suppressedAlerts) "
                        + receiver.counters.summary)
                }
                let block = collector.withAnalyzer { analyzer in
                    defer { analyzer.stats.reset() }
                    return analyzer.stats.render(at: now, intervalSeconds: max(1, statsMicros / 1_000_000),
                                                 hostName: { hosts.name(of: $0) })
                }
                console.writeLine(block)
            }
        }
        loop.every(microseconds: 3_600_000_000) { [unowned self] now in
            // The shards write through descriptors of their own: none may go on into a deleted file.
            if store.enforceRetention(today: now.epochDay).filesDeleted > 0 { self.reopenShardFiles() }
        }
        store.enforceRetention(today: Posix.wallClock().epochDay)
        if !settings.http.isEmpty { try startAPI(settings, token: apiToken, started: start) }
        do {
            for shard in shards { try shard.start() }
        } catch {
            storeExchange?.abandon()  // no loop waits for one that never ran
            for shard in shards { shard.askToStop() }  // those started; the others have no thread
            for shard in shards { shard.join() }
            throw error
        }
    }

    /// What every syslog loop received: this one's collector's counts and each shard's, as of
    /// its last wake-up.
    public var ingestCounters: IngestCounters {
        var total = collector.counters
        for shard in shards { total.add(shard.counters) }
        return total
    }

    /// Has every shard write what it holds and reopen its files by name, and waits for them all
    /// (at most 5 s together; a shard later than that is named in the log), so lines read
    /// afterwards go to the files opened anew.
    private func reopenShardFiles() {
        let tickets = shards.map { $0.askToReopenFiles() }
        let deadline = Posix.monotonicMicros() + 5_000_000
        for (shard, ticket) in zip(shards, tickets) {
            guard let ticket else { continue }
            // The shard may be waiting to hand this loop a batch before it gets to the request:
            // this loop stores what waits for it meanwhile (`StoreExchange`).
            var reopened = false
            while !reopened && Posix.monotonicMicros() < deadline {
                storeExchange?.deliver(to: 0)
                reopened = shard.waitForReopening(ticket, until: min(deadline, Posix.monotonicMicros() + 10_000))
            }
            if !reopened { reopened = shard.waitForReopening(ticket, until: 0) }  // an earlier shard used the time
            if !reopened {
                log("vigil: store: ingest shard \(shard.number) had not reopened its files after 5 s; it will on its next wake-up")
            }
        }
    }

    /// The counters line logged every stats interval and at stop (README, "Stats block"); with
    /// ingest shards it ends with `store_waits=N`, how often a loop found no room to hand lines
    /// to the loop storing their host (`StoreExchange.waits`).
    private var statsLine: String {
        ingestCounters.summaryLine + " " + collector.detectionSummary + (storeExchange.map { " store_waits=\($0.waits)" } ?? "")
    }

    /// What each syslog loop counted, the server's own first (each shard's as of its last
    /// wake-up): how the senders were spread, and the store (`storedForOtherLoops`).
    public var countersByLoop: [IngestCounters] { [collector.counters] + shards.map(\.counters) }

    /// What each syslog loop counted of each host since the start, the server's own first (a
    /// shard's as of its last publication): `HostActivity.combined` makes one host's entry.
    public var activityParts: [HostActivity] { [collector.activity] + shards.map(\.activity) }

    /// Binds the API's listeners and starts its query thread.
    private func startAPI(_ settings: VigilConfig.Server, token configured: String?, started: Timestamp) throws(SystemError) {
        var token = configured
        if token == nil {
            let path = settings.dataDirectory + "/api-token"
            switch SecretFile.loadOrCreateToken(path) {
            case .success(let loaded): token = loaded
            case .failure(let problem): throw SystemError("api token (\(problem))", errno: EACCES)
            }
            generatedTokenPath = path
        }
        let work = try BackgroundWork(loop: loop)
        let api = APIService(server: self, token: token!, dataDirectory: settings.dataDirectory, work: work, started: started)
        var limits = HTTPServer.Limits()
        limits.maxConnections = apiConnectionCap
        limits.maxPerSource = min(limits.maxPerSource, apiConnectionCap)
        for address in settings.http {
            apiServers.append(try HTTPServer(address: address.socketAddress, limits: limits, loop: loop) { head, peer, responder in
                api.route(head, peer: peer, responder: responder)
            })
        }
        self.api = api
        apiWork = work
    }

    /// One configured sink; a network sink spools to `DATA/spool/NAME/` and starts its sender thread here.
    static func makeSink(_ sink: VigilConfig.Sink, dataDirectory: String, console: ConsoleWriter,
                         log: @escaping (String) -> Void) throws(SystemError) -> any AlertSink {
        switch sink.spec {
        case .stdout: return StdoutSink(console: console)
        case .file(let path): return try FileSink(path: path, log: log)
        case .syslogUDP, .syslogTCP, .http, .alertmanager:
            let options = NetworkSink.Options(queueCapacity: sink.queueCapacity, maxBackoffMicros: sink.maxBackoff.microseconds,
                                              maxSpoolPendingBytes: Int(sink.maxSpoolBytes))
            return try NetworkSink(name: sink.name, spec: sink.spec,
                                   spoolDirectory: NetworkSink.spoolDirectory(dataDirectory: dataDirectory, sinkName: sink.name),
                                   options: options)
        }
    }

    // MARK: - Reload

    /// Takes a new configuration (SIGHUP): the rules, thresholds and allowlist (only rules whose
    /// settings changed start afresh, see `DetectionEngine.reconfigure`), the sinks (unchanged ones
    /// are kept with their queues and spools, removed ones closed after spooling what they hold,
    /// new ones opened) and the retention. The store's files and the file sinks are reopened, so
    /// a rotation done outside (logrotate) is followed. Connections, buffered messages and every
    /// other state stay. Settings that need a restart (listeners, the data directory, limits,
    /// intervals, the relay) are named in the log and keep their running values. Returns the log
    /// lines it wrote. `config` must be valid (`VigilConfig.build`): a bad file is refused before.
    @discardableResult
    public func reload(_ new: VigilConfig) -> [String] {
        var lines: [String] = []
        func say(_ line: String) { lines.append(line); log(line) }
        // Rules, thresholds, allowlist.
        let settings = Collector.detectionSettings(DetectionSettings(config: new), isEdge: relay != nil)
        let ssh = SSHExtractor(countFailedPublickey: new.detection.countPublickeyFailures)
        let fresh = collector.withAnalyzer { $0.reconfigure(settings, ssh: ssh) }
        collector.dispatchAlerts()  // what the changed rules resolved
        // Sinks: keep the unchanged ones, close the removed ones, open the new ones.
        var kept: [(config: VigilConfig.Sink, sink: any AlertSink)] = []
        var added: [String] = [], removed: [String] = []
        var old = configuredSinks
        for sink in new.sinks {
            if let i = old.firstIndex(where: { $0.config == sink }) {
                kept.append(old.remove(at: i))
                continue
            }
            do {
                kept.append((sink, try Server.makeSink(sink, dataDirectory: config.server.dataDirectory, console: console, log: log)))
                added.append(sink.name)
            } catch {
                say("vigil: reload: sink \(sink.name) cannot be opened (\(error)); it is left out")
            }
        }
        for (sinkConfig, sink) in old {
            sink.flush()
            (sink as? NetworkSink)?.close()
            removed.append(sinkConfig.name)
        }
        configuredSinks = kept
        collector.replaceSinks(sinks)
        // Retention; files reopened for rotations done outside.
        store.retention = Server.retention(new)
        store.reopenFiles()
        reopenShardFiles()
        for case let sink as FileSink in sinks { sink.reopenFile() }
        // What only a restart applies.
        let restart = Server.restartOnlyChanges(from: config, to: new)
        config = Server.applying(new, keepingRestartOnlyOf: config)
        var summary = "vigil: reloaded the configuration"
        if !fresh.isEmpty { summary += "; rules started afresh: " + fresh.map(\.name).joined(separator: ", ") }
        if !added.isEmpty { summary += "; sinks added: " + added.joined(separator: ", ") }
        if !removed.isEmpty { summary += "; sinks removed: " + removed.joined(separator: ", ") }
        summary += "; store files reopened"
        say(summary)
        if !restart.isEmpty { say("vigil: reload: " + restart.joined(separator: ", ") + " changed; these take effect after a restart") }
        return lines
    }

    /// Whether the analyzer gets a thread of its own (`server.threads`, docs/architecture.md
    /// "Threads"): `threads` (0: the CPUs this process may use) of 2 or more, except on an edge, whose relay
    /// forwarding names hosts with the loop's host table, so it analyzes on the loop's thread.
    public static func analyzesOnOwnThread(threads: Int, isEdge: Bool, processors: Int = Posix.onlineCPUs()) -> Bool {
        threadCount(threads, processors: processors) >= 2 && !isEdge
    }

    /// Whether detection is a stage of its own beside the analysis thread (`vigil-detect`,
    /// docs/architecture.md "Threads"): with 4 threads or more, not on an edge. At 2 threads the
    /// loop is the slower stage, so a third reads syslog (an ingest shard); with the loop's work
    /// divided the analysis thread is the slowest, so a fourth takes detection off it.
    public static func detectsOnOwnThread(threads: Int, isEdge: Bool, processors: Int = Posix.onlineCPUs()) -> Bool {
        threadCount(threads, processors: processors) >= 4 && !isEdge
    }

    /// The threads `server.threads` asks for: `threads`, or `processors` for 0.
    static func threadCount(_ threads: Int, processors: Int = Posix.onlineCPUs()) -> Int {
        threads == 0 ? processors : threads
    }

    /// How many ingest shards read syslog beside the server's own loop (docs/architecture.md,
    /// "Ingest shards"): with `threads` (0: the CPUs this process may use) of 3 or more, all but
    /// the loop's, the analysis thread's and the detection thread's, at most `maxIngestShards`;
    /// none on an edge, which analyzes on its loop.
    public static func ingestShards(threads: Int, isEdge: Bool, processors: Int = Posix.onlineCPUs()) -> Int {
        guard !isEdge else { return 0 }
        let detection = detectsOnOwnThread(threads: threads, isEdge: isEdge, processors: processors) ? 1 : 0
        return min(maxIngestShards, max(0, threadCount(threads, processors: processors) - 2 - detection))
    }

    /// The most ingest shards: eight loops read syslog at most. The one analysis thread takes
    /// about 2.1 M messages a second (detection on its own thread), which three loops already
    /// bring (docs/architecture.md).
    public static let maxIngestShards = 7

    /// The retention `config` asks for.
    static func retention(_ config: VigilConfig) -> StoreRetention {
        StoreRetention(maxAgeDays: config.storage.maxAgeDays > 0 ? config.storage.maxAgeDays : nil,
                       maxTotalBytes: config.storage.maxTotalBytes > 0 ? config.storage.maxTotalBytes : nil)
    }

    /// The settings that differ between `old` and `new` and that only a restart applies.
    static func restartOnlyChanges(from old: VigilConfig, to new: VigilConfig) -> [String] {
        var changed: [String] = []
        if old.server != new.server { changed.append("[server]") }
        if old.relay != new.relay { changed.append("[relay]") }
        if old.fileInput != new.fileInput { changed.append("[input.file]") }
        if old.api != new.api { changed.append("[api]") }
        return changed
    }

    /// `new` with the restart-only settings of `running`: what the server runs with after a reload.
    static func applying(_ new: VigilConfig, keepingRestartOnlyOf running: VigilConfig) -> VigilConfig {
        var result = new
        result.server = running.server
        result.relay = running.relay
        result.fileInput = running.fileInput
        result.api = running.api
        return result
    }

    /// Each TCP listener's connection cap: `configured`, or what the open-file limit leaves for
    /// `listeners` listeners once the store (its open files, divided between the loops), the
    /// sinks, the API's connections, the daemon's own descriptors (epoll, signals, inotify, the
    /// spool, standard streams) and each ingest shard's (epoll, eventfd, spares, its copies of
    /// the listening sockets) have theirs.
    public static func connectionCap(configured: Int, fileLimit: Int, listeners: Int, sinks: Int, apiConnections: Int = 0,
                                     shards: Int = 0) -> Int {
        let reserve = HostStore.defaultMaxOpenFiles + 64 + 8 * sinks + apiConnections + (4 + 2 * listeners) * shards
        let room = max(0, fileLimit - reserve) / max(1, listeners)
        return max(1, min(configured, room))
    }

    /// Each API listener's connection cap: 1,024, or a sixteenth of the open-file limit shared by
    /// the listeners (at least 16), so clients of the API cannot take the descriptors syslog needs.
    public static func apiConnectionCap(fileLimit: Int, listeners: Int) -> Int {
        max(16, min(1024, fileLimit / 16 / max(1, listeners)))
    }

    /// The name an edge signs with when `relay.edge_name` is empty: this machine's name, cut to
    /// what a relay message carries (anything else becomes `_`).
    static func edgeName(_ machine: String) -> String {
        let kept = machine.utf8.prefix(RelaySigner.maxEdgeBytes).map { c -> UInt8 in
            [c].withUnsafeBytes { RelaySigner.isValidEdgeName($0) } ? c : UInt8(ascii: "_")
        }
        return kept.isEmpty ? "edge" : String(decoding: kept, as: UTF8.self)
    }

    /// This edge run's boot number: later than the last run's (kept at `path`) even if the clock
    /// went back, so the central never takes this run's messages for replays. Saved before use.
    static func nextBoot(path: String, now: Timestamp) throws(SystemError) -> UInt64 {
        let last = (try? TextFile.read(path)).flatMap { UInt64($0.split(separator: "\n").first ?? "") } ?? 0
        let boot = max(UInt64(max(0, now.microseconds)), last + 1)
        try TextFile.writeAtomically(path, "\(boot)\n")
        return boot
    }

    /// Writes the relay receiver's replay state to `DATA/relay-seen` when it changed.
    private var savedRelaySeen = ""
    private func saveRelaySeen() {
        guard let relayReceiver else { return }
        let text = relayReceiver.replayGuard.savedText
        guard text != savedRelaySeen else { return }
        do {
            try TextFile.writeAtomically(relaySeenPath, text)
            savedRelaySeen = text
        } catch {
            log("vigil: relay: cannot save \(relaySeenPath): \(error)")
        }
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
    public var boundRelay: [SocketAddress] { relayListeners.map(\.address) }
    public var boundHTTP: [SocketAddress] { apiServers.map(\.address) }
    /// API connections cut off for being too slow, refused at a cap (none idle to make room), and
    /// closed at a cap to make room for a newcomer, on every API listener.
    public var apiConnectionsCutOff: (timedOut: Int, refused: Int, evicted: Int) {
        apiServers.reduce((0, 0, 0)) { ($0.0 + $1.timedOut, $0.1 + $1.refused, $0.2 + $1.evicted) }
    }

    /// Stops on SIGTERM/SIGINT and calls `onReload` on SIGHUP (installs the handler; call on the
    /// thread that runs the loop). `onReload` reads the configuration again and hands it to
    /// `reload`, or refuses it.
    public func handleSignals(onReload: @escaping () -> Void) throws(SystemError) {
        let loop = self.loop
        let log = self.log
        signals = try ShutdownSignals(loop: loop) { signo in
            if signo == SIGHUP {
                onReload()
                return
            }
            log("vigil: signal \(signo), shutting down")
            loop.stop()
        }
    }

    /// Runs until stopped, then reads what connections already hold, and flushes everything.
    public func run() {
        for address in boundUDP { log("vigil: listening udp \(address)") }
        for address in boundTCP { log("vigil: listening tcp \(address)") }
        for address in boundRelay { log("vigil: listening relay \(address)") }
        for address in boundHTTP { log("vigil: listening http \(address)") }
        if let generatedTokenPath, !boundHTTP.isEmpty { log("vigil: api: the bearer token is in \(generatedTokenPath)") }
        log("vigil: ready")
        fileInputs.check(now: Posix.wallClock())
        loop.run()
        shutdown()
    }

    /// Drains connections and writes every buffered message to disk.
    public func shutdown() {
        let now = Posix.wallClock()
        for server in apiServers { server.close() }
        apiWork?.stop()
        for listener in udpListeners { listener.drain(now: now) }
        for listener in tcpListeners + relayListeners { listener.drainAndCloseAll(now: now) }
        // Each shard hands over what its connections held, and all loops store what the others
        // hand them until every one has read everything (this one too: `finishStoring`).
        for shard in shards { shard.askToStop() }
        collector.finishStoring()
        for shard in shards { shard.join() }
        fileInputs.check(now: now)
        saveRelaySeen()
        collector.finishAnalysis()
        for sink in sinks {
            sink.flush()
            (sink as? NetworkSink)?.close()
        }
        relay?.close()
        collector.close()
        if !collector.isStoreBlocked { fileInputs.saveOffsets() }
        console.flush()
        log("vigil: " + statsLine)
    }
}
