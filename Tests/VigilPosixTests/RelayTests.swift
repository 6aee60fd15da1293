import Glibc
import Testing
import VigilTestSupport
import VigilCore
import VigilDaemon
@testable import VigilPosix

/// SPEC §9 on loopback: edge collectors relaying to a central one, each a real `Server` with real
/// sockets on 127.0.0.1, their event loops pumped in turn by the test thread.
@Suite struct RelayTests {
    /// A server on 127.0.0.1 port 0 (TCP only) storing under `dir`; `relayTo` makes it an edge.
    static func makeServer(dir: String, relayTo central: SocketAddress? = nil) throws -> Server {
        var config = VigilConfig.defaults
        config.server.udp = []
        config.server.tcp = [ListenAddress(ip: IPAddress(127, 0, 0, 1), port: 0)]
        config.server.dataDirectory = dir
        config.sinks = []
        if let central { config.server.relay = .syslogTCP(host: "127.0.0.1", port: central.port) }
        return try Server(config: config, log: { _ in })
    }

    /// Runs every loop in turn until `done()` holds, failing after a bounded number of seconds.
    static func pumpAll(_ servers: [Server], seconds: Int64 = 20, until done: () -> Bool) -> Bool {
        let deadline = Posix.monotonicMicros() + seconds * 1_000_000
        while !done() {
            if Posix.monotonicMicros() > deadline { return false }
            for server in servers { server.loop.runOnce(timeoutMilliseconds: 5) }
        }
        return true
    }

    static func failure(host: String, pid: Int, ip: String, at time: String) -> String {
        "<38>1 \(time) \(host) sshd \(pid) - - Failed password for root from \(ip) port \(40000 + pid) ssh2\n"
    }

    static func alerts(_ dir: String) throws -> [String] {
        (try? readLines(dir + "/alerts.jsonl")) ?? []
    }

    @Test func oneAddressFailingBehindBothEdgesRaisesDistributedAtTheCentral() throws {
        let root = TemporaryDirectory().path
        let central = try Self.makeServer(dir: root + "/central")
        let edgeA = try Self.makeServer(dir: root + "/edge-a", relayTo: central.boundTCP[0])
        let edgeB = try Self.makeServer(dir: root + "/edge-b", relayTo: central.boundTCP[0])
        let servers = [central, edgeA, edgeB]
        let now = Posix.wallClock().rfc3339(fractionalDigits: 6)
        let attacker = "203.0.113.50"

        // Behind edge A: five failures on web1 (a brute force there) and one on web2; behind edge B: one on db1.
        let a = try TestClient(tcp: edgeA.boundTCP[0])
        for pid in 1...5 { a.send(Self.failure(host: "web1", pid: pid, ip: attacker, at: now)) }
        a.send(Self.failure(host: "web2", pid: 6, ip: attacker, at: now))
        let b = try TestClient(tcp: edgeB.boundTCP[0])
        b.send(Self.failure(host: "db1", pid: 7, ip: attacker, at: now))

        #expect(Self.pumpAll(servers) {
            central.collector.relayCounters.received == 7 && central.collector.alertsRaised >= 1 && edgeA.collector.alertsRaised >= 1
        })
        for server in servers { server.shutdown() }

        // The central saw the address on three hosts across both edges: one global alert naming them.
        let centralAlerts = try Self.alerts(root + "/central")
        #expect(centralAlerts.count == 1)
        #expect(centralAlerts.first?.contains(#""rule":"ssh_distributed","state":"firing""#) == true)
        #expect(centralAlerts.first?.contains(#""ip":"203.0.113.50""#) == true)
        #expect(centralAlerts.first?.contains(#""hosts":["db1","web1","web2"]"#) == true)
        // The brute force on web1 is edge A's to raise; the central counted its own and let it go.
        #expect(central.collector.relayCounters.suppressedAlerts == 1)
        let edgeAlerts = try Self.alerts(root + "/edge-a")
        #expect(edgeAlerts.count == 1)
        #expect(edgeAlerts.first?.contains(#""rule":"ssh_bruteforce","state":"firing""#) == true)
        #expect(edgeAlerts.first?.contains(#""host":"web1""#) == true)
        #expect(try Self.alerts(root + "/edge-b").isEmpty)
        #expect(edgeA.collector.relayCounters.forwarded == 6 && edgeB.collector.relayCounters.forwarded == 1)
        #expect(edgeA.relay?.counters.delivered == 6 && edgeB.relay?.counters.delivered == 1)

        // The central keeps the relay messages like any message, filed under the original host.
        let day = Posix.wallClock().dayString
        let stored = try readLines(root + "/central/hosts/db1/\(day).log")
        #expect(stored.count == 1)
        #expect(stored.first?.contains(#"vigil-relay"#) == true && stored.first?.contains(#"[event@32473 v="1" host="db1""#) == true)
        // The edges keep the original lines.
        #expect(try readLines(root + "/edge-a/hosts/web1/\(day).log").count == 5)
    }

    /// An edge alone sees the address on three of its hosts, but `ssh_distributed` is the central's.
    @Test func anEdgeLeavesGlobalRulesToTheCentral() throws {
        let root = TemporaryDirectory().path
        let central = try Self.makeServer(dir: root + "/central")
        let edge = try Self.makeServer(dir: root + "/edge", relayTo: central.boundTCP[0])
        let now = Posix.wallClock().rfc3339(fractionalDigits: 6)
        let client = try TestClient(tcp: edge.boundTCP[0])
        for (i, host) in ["h1", "h2", "h3"].enumerated() { client.send(Self.failure(host: host, pid: i + 1, ip: "198.51.100.4", at: now)) }
        #expect(Self.pumpAll([central, edge]) { central.collector.alertsRaised == 1 })
        edge.shutdown()
        central.shutdown()
        #expect(edge.collector.alertsRaised == 0)
        #expect(edge.collector.analyzer.engine.keyCount(of: .sshDistributed) == 0)
        #expect(try Self.alerts(root + "/central").first?.contains(#""rule":"ssh_distributed""#) == true)
    }

    /// A message claiming to be a relay message that does not decode is stored and counted, and
    /// feeds nothing.
    @Test func malformedRelayMessagesAreCountedAndKept() throws {
        let dir = TemporaryDirectory().path
        let central = try Self.makeServer(dir: dir)
        let client = try TestClient(tcp: central.boundTCP[0])
        let now = Posix.wallClock().rfc3339()
        client.send("<30>1 \(now) web1 vigil-relay 1 auth_failure [event@32473 v=\"1\" host=\"web1\" time=\"\(now)\" ip=\"999.1.1.1\"]\n")
        client.send("<30>1 \(now) web1 vigil-relay 1 auth_failure [event@32473 v=\"1\" host=\"web1\" time=\"\(now)\" ip=\"192.0.2.1\"]\n")
        #expect(pump(central.loop) { central.collector.counters.received == 2 })
        central.shutdown()
        #expect(central.collector.relayCounters == Collector.RelayCounters(received: 1, malformed: 1))
        #expect(central.collector.analyzer.counters.sshEvents == 1)
        #expect(try readLines(dir + "/hosts/web1/\(Posix.wallClock().dayString).log").count == 2)
    }

    /// While the central is down the relay spools its events, but never more than `maxSpoolPendingBytes`:
    /// past it events are dropped and counted, so an outage cannot fill the edge's disk.
    @Test func relaySpoolIsBounded() throws {
        let dir = TemporaryDirectory()
        let gone = try TestReceiver(.syslogTCP)
        gone.stop()
        let options = NetworkSink.Options(queueCapacity: 1, maxBackoffMicros: 1_000_000, baseBackoffMicros: 1_000_000,
                                          timeoutMillis: 200, drainMicros: 0, maxSpoolPendingBytes: 35)
        let relay = try NetworkSink(name: "relay", spec: .syslogTCP(host: "127.0.0.1", port: gone.port),
                                    spoolDirectory: dir.path + "/relay-spool", options: options, log: { _ in })
        for i in 0..<6 { relay.send(Array("event \(i) .".utf8)) }  // 9 bytes, 10 with its newline in the spool
        let counters = relay.counters
        relay.close()
        #expect(counters.queued == 1 && counters.spooled == 3 && counters.dropped == 2)
    }
}
