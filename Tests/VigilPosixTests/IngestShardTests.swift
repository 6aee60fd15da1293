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
            case 3, 4, 5 where i < 200:
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

    /// A connection to `server`; with `probes`, one that a shard reads (not the server's loop):
    /// connections are opened one by one and each sends a line of a quiet host until one lands
    /// on a shard (all of 8 landing on the server's loop happens once in 6,561).
    func connectionReadByAShard(_ server: Server, probes: Bool) throws -> TestClient {
        var kept: [TestClient] = []
        for _ in 0..<(probes ? 8 : 1) {
            let client = try TestClient(tcp: server.boundTCP[0])
            guard probes else { return client }
            let before = server.ingestLoads
            client.send("<13>1 - probe app - - - which loop\n")
            #expect(pump(server.loop) { server.ingestLoads != before })
            if server.ingestLoads[0] == before[0] { return client }
            kept.append(client)  // open until the test ends, so the next one is a new connection
        }
        Issue.record("no connection landed on a shard")
        return kept[0]
    }

    /// The same stream over one connection raises the same alerts at 1, 2 and 4 threads: one
    /// connection is read by one loop, in order, whichever it is.
    @Test func oneStreamRaisesTheSameAlertsAtEveryThreadCount() throws {
        let now = Posix.wallClock()
        let stream = Self.attackStream(now: now)
        var sets: [Int: [String]] = [:]
        for threads in [1, 2, 4] {
            let dir = TemporaryDirectory().path
            let server = try makeServer(dir: dir, threads: threads)
            let client = try connectionReadByAShard(server, probes: threads > 2)
            let probes = server.ingestCounters.received
            for line in stream { client.send("\(line.utf8.count) \(line)") }
            #expect(pump(server.loop) { server.ingestCounters.received == probes + UInt64(stream.count) }, "\(threads) threads")
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

    /// Connections spread over the loops (4 threads: the server's loop and two shards), every
    /// line lands whole in its host's file, and the counters and activity add up.
    @Test func connectionsSpreadOverTheShardsAndNothingIsLost() throws {
        let dir = TemporaryDirectory().path
        let server = try makeServer(dir: dir, threads: 4)
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
        #expect(pump(server.loop) { server.ingestCounters.received == 650 })
        #expect(server.ingestCounters.connectionsAccepted == 12)
        #expect(server.ingestLoads.filter { $0 > 0 }.count >= 2, "connections spread over the loops: \(server.ingestLoads)")
        server.shutdown()
        let day = Posix.wallClock().dayString
        for c in 0..<12 {
            let lines = try readLines("\(dir)/hosts/conn-\(c)/\(day).log")
            #expect(lines.count == 50 && lines.last?.hasSuffix("line 49") == true, "conn-\(c)")
        }
        #expect(try readLines("\(dir)/hosts/datagrams/\(day).log").count == 50)
        #expect(server.activity.entry(server.collector.hosts.table.id(of: "conn-0")!)?.messages == 50)
        #expect(server.collector.hosts.count == hostsBefore + 13, "each host named once across the loops")
    }

    /// The per-source limit stays the process's: each loop takes its share (rounded up), so a
    /// source opening many connections holds at most the limit in all.
    @Test func oneSourceHoldsNoMoreThanItsLimitAcrossTheShards() throws {
        let dir = TemporaryDirectory().path
        let server = try makeServer(dir: dir, threads: 4, maxPerSource: 3)
        let clients = try (0..<12).map { _ in try TestClient(tcp: server.boundTCP[0]) }
        #expect(pump(server.loop) {
            let c = server.ingestCounters
            return c.connectionsAccepted + c.connectionsRefusedPerSource == 12
        })
        #expect(server.ingestCounters.connectionsAccepted <= 3)
        withExtendedLifetime(clients) {}
        server.shutdown()
    }

    /// 0 threads is the CPUs online; shards are what the loop and the analysis thread leave,
    /// none on an edge.
    @Test func threadsSettingCountsTheShards() {
        #expect(Server.ingestShards(threads: 0, isEdge: false, processors: 2) == 0)
        #expect(Server.ingestShards(threads: 0, isEdge: false, processors: 8) == 6)
        #expect(Server.ingestShards(threads: 3, isEdge: false, processors: 2) == 1)
        #expect(Server.ingestShards(threads: 1, isEdge: false, processors: 8) == 0)
        #expect(Server.ingestShards(threads: 4, isEdge: true, processors: 8) == 0)
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
