import Glibc
import Testing
import VigilTestSupport
@testable import VigilCore
import VigilDaemon
@testable import VigilPosix

/// `server.threads` 3 or more: ingest shards read the syslog ports beside the server's loop
/// (docs/architecture.md, "Ingest shards"), over real loopback sockets.
@Suite struct IngestShardTests {
    func makeServer(dir: String, threads: Int, maxPerSource: Int = 64) throws -> Server {
        var config = VigilConfig.defaults
        config.server.tcp = [ListenAddress(ip: IPAddress(127, 0, 0, 1), port: 0)]
        config.server.udp = [ListenAddress(ip: IPAddress(127, 0, 0, 1), port: 0)]
        config.server.http = []
        config.server.dataDirectory = dir
        config.server.threads = threads
        config.server.maxConnectionsPerSource = maxPerSource
        config.sinks = []
        return try Server(config: config, log: { _ in })
    }

    /// Attacks on twelve hosts, all dated now: one address failing on web-01 six times (brute
    /// force), one failing once on each of five hosts (distributed), one asking 25 missing pages
    /// spread over the hosts (scan), among ordinary logins and requests.
    static func attackStream(now: Timestamp) -> [String] {
        let t = now.rfc3339()
        var clf: [UInt8] = []
        TrafficGenerator.appendCLFTime(now, to: &clf)
        let time = String(decoding: clf, as: UTF8.self)
        var lines: [String] = []
        for i in 0..<240 {
            let host = "web-\(String(i % 12 + 1).leftPadded(2))"
            switch i % 8 {
            case 0: lines.append("<38>1 \(t) \(host) sshd \(1000 + i) - - Accepted publickey for deploy from 192.0.2.\(i % 50 + 1) port 4\(i) ssh2")
            case 1 where i < 48: lines.append("<38>1 \(t) web-01 sshd \(2000 + i) - - Failed password for root from 203.0.113.7 port 5\(i) ssh2")
            case 2 where i < 40: lines.append("<38>1 \(t) \(host) sshd \(3000 + i) - - Failed password for admin from 198.51.100.23 port 6\(i) ssh2")
            case 3...5 where i < 200:
                lines.append("<190>1 \(t) \(host) nginx - - - 203.0.113.99 - - [\(time)] \"GET /wp-\(i).php HTTP/1.1\" 404 153 \"-\" \"scan\"")
            default: lines.append("<190>1 \(t) \(host) nginx - - - 192.0.2.\(i % 50 + 1) - - [\(time)] \"GET / HTTP/1.1\" 200 612 \"-\" \"ok\"")
            }
        }
        return lines
    }

    /// The alerts in `alerts.jsonl` without their ids (which carry each run's start time), sorted.
    func alertSet(_ dir: String) throws -> [String] {
        try readLines("\(dir)/alerts.jsonl").map { line in
            var parts = line.split(separator: "\"", omittingEmptySubsequences: false).map(String.init)
            if let i = parts.indices.first(where: { parts[$0] == "id" && $0 + 2 < parts.count && parts[$0 + 1] == ":" }) { parts[i + 2] = "" }
            return parts.joined(separator: "\"")
        }.sorted()
    }

    /// Waits (at most 20 s, without running the server's loop, so only shards can take a
    /// connection) until the shards have read `count` messages.
    func shardsRead(_ server: Server, _ count: UInt64) -> Bool {
        let deadline = Posix.monotonicMicros() + 20_000_000
        while server.countersByLoop.dropFirst().reduce(0, { $0 + $1.received }) < count {
            if Posix.monotonicMicros() > deadline { return false }
            sched_yield()
        }
        return true
    }

    /// The same stream over one connection raises the same alerts at 1, 2 and 4 threads: one
    /// connection is read by one loop, in order; at 4 threads a shard reads it (the server's loop
    /// does not run until the shard has read it all) and detection has a thread of its own.
    @Test func oneStreamRaisesTheSameAlertsAtEveryThreadCount() throws {
        let now = Posix.wallClock()
        let stream = Self.attackStream(now: now)
        var sets: [Int: [String]] = [:]
        for threads in [1, 2, 4] {
            let dir = TemporaryDirectory().path
            let server = try makeServer(dir: dir, threads: threads)
            let client = try TestClient(tcp: server.boundTCP[0])
            for line in stream { client.send("\(line.utf8.count) \(line)") }
            if threads > 2 { #expect(shardsRead(server, UInt64(stream.count)), "a shard read the stream") }
            #expect(pump(server.loop) { server.ingestCounters.received == UInt64(stream.count) }, "\(threads) threads")
            server.shutdown()
            sets[threads] = try alertSet(dir)
        }
        let one = sets[1] ?? []
        for rule in ["ssh_bruteforce", "ssh_distributed", "http_scan"] {
            #expect(one.contains { $0.contains("\"rule\":\"\(rule)\"") }, "\(rule) fired")
        }
        #expect(sets[2] == one)
        #expect(sets[4] == one)
    }

    /// Connections are taken by the shards (5 threads: the server's loop and two shards; the
    /// server's loop does not run until they have read them), datagrams by the loop their
    /// sender's address picks, every line lands whole in its host's file, and the counters and
    /// activity add up.
    @Test func connectionsSpreadOverTheShardsAndNothingIsLost() throws {
        let dir = TemporaryDirectory().path
        let server = try makeServer(dir: dir, threads: 5)
        let hostsBefore = server.collector.hosts.count  // the file input's default host
        let clients = try (0..<12).map { _ in try TestClient(tcp: server.boundTCP[0]) }
        let udp = TestClient(udpFamilyOf: server.boundUDP[0])
        let t = Posix.wallClock().rfc3339()
        for round in 0..<50 {
            for (c, client) in clients.enumerated() {
                client.send("<13>1 \(t) conn-\(c) app - - - line \(round)\n")
            }
            udp.sendDatagram(Array("<13>1 \(t) datagrams app - - - line \(round)".utf8), to: server.boundUDP[0])
        }
        #expect(shardsRead(server, 600))
        #expect(pump(server.loop) { server.ingestCounters.received == 650 })
        #expect(server.ingestCounters.connectionsAccepted == 12)
        server.shutdown()
        let day = Posix.wallClock().dayString
        for c in 0..<12 {
            let lines = try readLines("\(dir)/hosts/conn-\(c)/\(day).log")
            #expect(lines.count == 50 && lines.last?.hasSuffix("line 49") == true, "conn-\(c)")
        }
        #expect(try readLines("\(dir)/hosts/datagrams/\(day).log").count == 50)
        let conn0 = server.collector.hosts.snapshot().id(of: "conn-0")!
        #expect(HostActivity.combined(server.activityParts.compactMap { $0.entry(conn0) })?.messages == 50)
        #expect(server.collector.hosts.count == hostsBefore + 13, "each host named once across the loops")
    }

    /// The store, divided by host (docs/architecture.md): one connection carrying 24 hosts (a
    /// relay) is read by one loop, and each host's lines are stored by the loop that owns it, so
    /// the two other loops store exactly the lines of their hosts, and every host's file holds
    /// its lines whole and in the order they were sent.
    @Test func oneConnectionCarryingManyHostsSpreadsTheStoreOverTheLoops() throws {
        let dir = TemporaryDirectory().path
        let server = try makeServer(dir: dir, threads: 5)
        let client = try TestClient(tcp: server.boundTCP[0])
        let t = Posix.wallClock().rfc3339()
        let hostCount = 24, rounds = 40
        for round in 0..<rounds {
            for h in 0..<hostCount { client.send("<13>1 \(t) relayed-\(h) app - - - line \(round)\n") }
        }
        #expect(pump(server.loop) { server.ingestCounters.received == UInt64(hostCount * rounds) })
        server.shutdown()
        let byLoop = server.countersByLoop
        let readers = byLoop.indices.filter { byLoop[$0].received > 0 }
        #expect(readers.count == 1, "one loop reads the connection: \(byLoop.map(\.received))")
        let day = Posix.wallClock().dayString
        let names = server.collector.hosts.snapshot()
        var expected = Array(repeating: UInt64(0), count: byLoop.count)
        for h in 0..<hostCount {
            let lines = try readLines("\(dir)/hosts/relayed-\(h)/\(day).log")
            #expect(lines.map { String($0.split(separator: " ").suffix(2).joined(separator: " ")) } == (0..<rounds).map { "line \($0)" },
                    "relayed-\(h)")
            let owner = StoreExchange.owner(of: names.id(of: "relayed-\(h)")!, loops: byLoop.count)
            if owner != readers.first { expected[owner] += UInt64(rounds) }
        }
        #expect(byLoop.map(\.storedForOtherLoops) == expected)
        #expect(expected.filter { $0 > 0 }.count == 2, "both other loops own some of the hosts")
    }

    /// UDP on every loop (docs/architecture.md): at 5 threads each of the three loops reads a
    /// socket of the port, and the kernel gives each sender's datagrams to one of them by its
    /// address, whatever its source port. Senders on eight addresses, each datagram from a new
    /// socket (as `logger` sends), are read by more than one loop, each sender by one loop only
    /// (so its lines keep their order), and every line is stored, in order.
    @Test func datagramsAreSpreadOverTheLoopsBySender() throws {
        let dir = TemporaryDirectory().path
        let server = try makeServer(dir: dir, threads: 5)
        let t = Posix.wallClock().rfc3339()
        let senders = (2...9).map { IPAddress(127, 0, 0, UInt8($0)) }
        for round in 0..<40 {
            for (s, source) in senders.enumerated() {
                try TestClient(udpFrom: source).sendDatagram(Array("<13>1 \(t) sender-\(s) app - - - line \(round)".utf8),
                                                            to: server.boundUDP[0])
            }
        }
        #expect(pump(server.loop) { server.ingestCounters.received == UInt64(40 * senders.count) })
        server.shutdown()
        let day = Posix.wallClock().dayString
        let names = server.collector.hosts.snapshot()
        var loopsUsed = Set<Int>()
        for s in senders.indices {
            let lines = try readLines("\(dir)/hosts/sender-\(s)/\(day).log")
            #expect(lines.map { String($0.split(separator: " ").suffix(2).joined(separator: " ")) } == (0..<40).map { "line \($0)" }, "sender-\(s)")
            let id = names.id(of: "sender-\(s)")!
            let loops = server.activityParts.indices.filter { (server.activityParts[$0].entry(id)?.messages ?? 0) > 0 }
            #expect(loops.count == 1, "sender-\(s) read by loops \(loops)")
            loopsUsed.formUnion(loops)
        }
        #expect(loopsUsed.count >= 2, "datagrams read by loops \(loopsUsed.sorted())")
    }

    /// While its sockets share the port with the shards' (SO_REUSEPORT), a second server on it
    /// fails to start, with shards or without (its first socket binds without SO_REUSEPORT and
    /// finds the port in use), and the first keeps receiving every datagram.
    @Test func aSecondVigilCannotShareTheUDPPort() throws {
        let dir = TemporaryDirectory().path
        let first = try makeServer(dir: dir, threads: 5)
        for threads in [5, 2] {
            var config = VigilConfig.defaults
            config.server.tcp = []
            config.server.udp = [ListenAddress(ip: IPAddress(127, 0, 0, 1), port: first.boundUDP[0].port)]
            config.server.http = []
            config.server.dataDirectory = TemporaryDirectory().path
            config.server.threads = threads
            config.sinks = []
            #expect(throws: SystemError.self, "\(threads) threads") { _ = try Server(config: config, log: { _ in }) }
        }
        let t = Posix.wallClock().rfc3339()
        for k in 0..<30 {
            try TestClient(udpFrom: IPAddress(127, 0, 0, UInt8(2 + k % 6))).sendDatagram(
                Array("<13>1 \(t) kept app - - - line \(k)".utf8), to: first.boundUDP[0])
        }
        #expect(pump(first.loop) { first.ingestCounters.received == 30 })
        first.shutdown()
    }

    /// Loops that share a listening socket accept one connection per wake-up each, so a burst
    /// of connections is spread over the loops awake instead of taken whole by the first.
    @Test func sharedListenersAcceptOneConnectionPerWakeUp() throws {
        let loop = try EventLoop(), other = try EventLoop()
        let consumer = RecordingConsumer(), second = RecordingConsumer()
        let limits = TCPListener.Limits(maxConnections: 100, maxPerSource: 100, idleTimeoutMicros: 60_000_000)
        let first = try TCPListener(address: SocketAddress(ip: IPAddress(127, 0, 0, 1), port: 0), maxMessageBytes: 1024,
                                    limits: limits, loop: loop, consumer: consumer)
        let shared = try TCPListener(sharing: first, maxMessageBytes: 1024, limits: limits, loop: other, consumer: second)
        let clients = try (0..<3).map { _ in try TestClient(tcp: first.address) }
        first.handleEvents(EventLoop.readable, now: Posix.wallClock())
        #expect(first.openConnections == 1)
        shared.handleEvents(EventLoop.readable, now: Posix.wallClock())
        first.handleEvents(EventLoop.readable, now: Posix.wallClock())
        #expect(first.openConnections == 2 && shared.openConnections == 1)
        withExtendedLifetime(clients) {}
    }

    /// The per-source limit stays the process's: each loop takes its share (rounded up: 1 of 3
    /// on three loops, at 5 threads), so a source opening many connections holds at most the
    /// limit in all.
    @Test func oneSourceHoldsNoMoreThanItsLimitAcrossTheShards() throws {
        let dir = TemporaryDirectory().path
        let server = try makeServer(dir: dir, threads: 5, maxPerSource: 3)
        let clients = try (0..<12).map { _ in try TestClient(tcp: server.boundTCP[0]) }
        #expect(pump(server.loop) {
            let c = server.ingestCounters
            return c.connectionsAccepted + c.connectionsRefusedPerSource == 12
        })
        #expect(server.ingestCounters.connectionsAccepted <= 3)
        withExtendedLifetime(clients) {}
        server.shutdown()
    }

    /// A reload reaches the shards' stores: after a rotation (the day file renamed away) and a
    /// reload, a shard writes the host's next lines to a new file at the old path, and the lines
    /// before the reload stay whole in the rotated one.
    @Test func aReloadReopensTheShardsFiles() throws {
        let dir = TemporaryDirectory().path
        var config = VigilConfig.defaults
        config.server.tcp = [ListenAddress(ip: IPAddress(127, 0, 0, 1), port: 0)]
        config.server.udp = []
        config.server.http = []
        config.server.dataDirectory = dir
        config.server.threads = 3
        config.server.flushInterval = TimeSpan(microseconds: 20_000)
        config.sinks = []
        let server = try Server(config: config, log: { _ in })
        let client = try TestClient(tcp: server.boundTCP[0])
        let t = Posix.wallClock().rfc3339()
        for n in 0..<20 { client.send("<13>1 \(t) rotated app - - - before \(n)\n") }
        #expect(shardsRead(server, 20))
        let path = "\(dir)/hosts/rotated/\(Posix.wallClock().dayString).log"
        // The shard flushes every 20 ms: wait (bounded) for the twenty lines on disk.
        let deadline = Posix.monotonicMicros() + 20_000_000
        while ((try? readLines(path))?.count ?? 0) < 20 && Posix.monotonicMicros() < deadline { sched_yield() }
        #expect(rename(path, path + ".1") == 0)
        server.reload(config)
        for n in 0..<10 { client.send("<13>1 \(t) rotated app - - - after \(n)\n") }
        #expect(shardsRead(server, 30))
        server.shutdown()
        #expect(try readLines(path + ".1") == (0..<20).map { "<13>1 \(t) rotated app - - - before \($0)" })
        #expect(try readLines(path) == (0..<10).map { "<13>1 \(t) rotated app - - - after \($0)" })
    }

    /// 0 threads is the CPUs online; shards are what the loop, the analysis thread and (from 4
    /// threads) the detection thread leave, none on an edge.
    @Test func threadsSettingCountsTheShards() {
        #expect(Server.ingestShards(threads: 0, isEdge: false, processors: 2) == 0)
        #expect(Server.ingestShards(threads: 0, isEdge: false, processors: 8) == 5)
        #expect(Server.ingestShards(threads: 3, isEdge: false, processors: 2) == 1)
        #expect(Server.ingestShards(threads: 4, isEdge: false, processors: 2) == 1)
        #expect(Server.ingestShards(threads: 1, isEdge: false, processors: 8) == 0)
        #expect(Server.ingestShards(threads: 4, isEdge: true, processors: 8) == 0)
        #expect(Server.ingestShards(threads: 10, isEdge: false, processors: 2) == 7)
        #expect(Server.ingestShards(threads: 12, isEdge: false, processors: 2) == 7)
        #expect(!Server.detectsOnOwnThread(threads: 3, isEdge: false))
        #expect(Server.detectsOnOwnThread(threads: 4, isEdge: false))
        #expect(Server.detectsOnOwnThread(threads: 0, isEdge: false, processors: 4))
        #expect(!Server.detectsOnOwnThread(threads: 8, isEdge: true))
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
