import Glibc
import Testing
import VigilTestSupport
import VigilCore
import VigilDaemon
@testable import VigilPosix

/// Relaying on loopback (docs/relay.md): edge collectors sealing events for a central's relay
/// listener, and an attacker who can reach every port but has no key. Each a real `Server` with
/// real sockets on 127.0.0.1, their event loops pumped in turn by the test thread.
@Suite struct RelayTests {
    static let key = try! RelayKey(fileContents: Array("relay-test-key-0123456789abcdef0123456789".utf8))

    /// A server on 127.0.0.1 port 0 (TCP only) storing under `dir`; `relayTo` makes it an edge
    /// named `edge`, `central` gives it a relay listener taking edges from `allow`.
    static func makeServer(dir: String, relayTo central: SocketAddress? = nil, edge: String = "edge-a", central isCentral: Bool = false,
                           allow: [String] = ["127.0.0.0/8"], configure: (inout VigilConfig) -> Void = { _ in }) throws -> Server {
        var config = VigilConfig.defaults
        config.server.threads = 2  // the loop reads every connection, whatever the CPUs (shards: IngestShardTests)
        config.server.udp = []
        config.server.tcp = [ListenAddress(ip: IPAddress(127, 0, 0, 1), port: 0)]
        config.server.http = []  // the API has its own tests (APIServerTests)
        config.server.dataDirectory = dir
        config.sinks = []
        config.relay.keyFile = "unused: the key is passed in"
        if let central {
            config.server.relay = .syslogTCP(host: "127.0.0.1", port: central.port)
            config.relay.edgeName = edge
        }
        if isCentral {
            config.relay.listen = [ListenAddress(ip: IPAddress(127, 0, 0, 1), port: 0)]
            config.relay.allow = allow.map { try! CIDR.parse($0).get() }
        }
        configure(&config)
        return try Server(config: config, relayKey: key, log: { _ in })
    }

    static func makeCentral(dir: String, allow: [String] = ["127.0.0.0/8"]) throws -> Server {
        try makeServer(dir: dir, central: true, allow: allow)
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

    /// One sealed relay message, as an edge run `boot` would send as its message `seq`.
    static func sealedFailure(host: String, ip: String, edge: String = "edge-a", boot: UInt64 = 1, seq: UInt64) -> [UInt8] {
        var signer = RelaySigner(key: key, edge: edge, boot: boot, firstSequence: seq)
        var out: [UInt8] = []
        let element = [UInt8]().withUnsafeBytes { text in
            RelayMessage.appendSSH(SSHEvent(kind: .authFailure, ip: IPAddress.parse(ip)!, port: 4242, pid: 7), text: text, host: host,
                                   time: Posix.wallClock(), procID: 1, to: &out)
        }
        signer.seal(&out, elementStart: element)
        return out + [UInt8(ascii: "\n")]
    }

    @Test func oneAddressFailingBehindBothEdgesRaisesDistributedAtTheCentral() throws {
        let root = TemporaryDirectory().path
        let central = try Self.makeCentral(dir: root + "/central")
        let edgeA = try Self.makeServer(dir: root + "/edge-a", relayTo: central.boundRelay[0], edge: "edge-a")
        let edgeB = try Self.makeServer(dir: root + "/edge-b", relayTo: central.boundRelay[0], edge: "edge-b")
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
        #expect(central.relayReceiver?.counters.rejectedTotal == 0)

        // The central keeps the relay messages under the original host.
        let day = Posix.wallClock().dayString
        let stored = try readLines(root + "/central/hosts/db1/\(day).log")
        #expect(stored.count == 1)
        #expect(stored.first?.contains(#"vigil-relay"#) == true && stored.first?.contains(#"kind="auth_failure" host="db1""#) == true)
        // The edges keep the original lines.
        #expect(try readLines(root + "/edge-a/hosts/web1/\(day).log").count == 5)
    }

    /// An edge alone sees the address on three of its hosts, but `ssh_distributed` is the central's.
    @Test func anEdgeLeavesGlobalRulesToTheCentral() throws {
        let root = TemporaryDirectory().path
        let central = try Self.makeCentral(dir: root + "/central")
        let edge = try Self.makeServer(dir: root + "/edge", relayTo: central.boundRelay[0])
        let now = Posix.wallClock().rfc3339(fractionalDigits: 6)
        let client = try TestClient(tcp: edge.boundTCP[0])
        for (i, host) in ["h1", "h2", "h3"].enumerated() { client.send(Self.failure(host: host, pid: i + 1, ip: "198.51.100.4", at: now)) }
        #expect(Self.pumpAll([central, edge]) { central.collector.alertsRaised == 1 })
        edge.shutdown()
        central.shutdown()
        #expect(edge.collector.alertsRaised == 0)
        #expect(edge.collector.withAnalyzer { $0.engine.keyCount(of: .sshDistributed) } == 0)
        #expect(try Self.alerts(root + "/central").first?.contains(#""rule":"ssh_distributed""#) == true)
    }

    /// Finding 1: anyone who reached the syslog port could send relay lines naming web7, web8 and
    /// web9 (ssh_distributed fired for hosts that sent nothing), mark web1 as relayed with one http
    /// line (its real brute force then raised nothing), or add a million failures with `count`.
    /// On the syslog port such a line is now an ordinary log line and nothing more.
    @Test func forgedRelayLinesOnTheSyslogPortAreOnlyLogLines() throws {
        let dir = TemporaryDirectory().path
        let central = try Self.makeCentral(dir: dir)
        let client = try TestClient(tcp: central.boundTCP[0])
        let now = Posix.wallClock().rfc3339()
        for host in ["web7", "web8", "web9"] {
            client.send(#"<30>1 \#(now) \#(host) vigil-relay 4242 auth_failure [event@32473 v="1" host="\#(host)" time="\#(now)" ip="192.0.2.66" port="4242" user="root" count="1000000"]"# + "\n")
        }
        client.send(#"<30>1 \#(now) web1 vigil-relay 4242 http [event@32473 v="1" host="web1" time="\#(now)" ip="192.0.2.67" status="200" bytes="1"]"# + "\n")
        // A sealed message too: the syslog port never takes relay events, whatever they carry.
        client.send(Self.sealedFailure(host: "web9", ip: "192.0.2.66", seq: 1))
        for pid in 1...8 { client.send(Self.failure(host: "web1", pid: pid, ip: "198.51.100.70", at: now)) }
        #expect(pump(central.loop) { central.collector.counters.received == 13 })
        central.shutdown()
        let alerts = try Self.alerts(dir)
        #expect(alerts.count == 1)
        #expect(alerts.first?.contains(#""rule":"ssh_bruteforce","state":"firing""#) == true)
        #expect(alerts.first?.contains(#""host":"web1""#) == true && alerts.first?.contains("198.51.100.70") == true)
        #expect(!alerts.contains { $0.contains("192.0.2.66") })
        #expect(central.collector.relayCounters == Collector.RelayCounters())
        #expect(central.collector.withAnalyzer { $0.counters.sshEvents } == 8 && central.collector.withAnalyzer { $0.counters.httpRequests } == 0)
        // Stored as the lines they are, under the host they name.
        let day = Posix.wallClock().dayString
        #expect(try readLines(dir + "/hosts/web7/\(day).log").count == 1)
    }

    /// On the relay listener only sealed, fresh messages from allowed networks count: the same
    /// forged lines, an altered sealed one, a replayed one and a stranger's connection are refused
    /// and counted, and the first sealed message is taken once.
    @Test func theRelayListenerTakesOnlySealedFreshMessages() throws {
        let dir = TemporaryDirectory().path
        let central = try Self.makeCentral(dir: dir, allow: ["127.0.0.1/32"])
        let edge = try TestClient(tcp: central.boundRelay[0], from: IPAddress(127, 0, 0, 1))
        let now = Posix.wallClock().rfc3339()
        edge.send(#"<30>1 \#(now) web7 vigil-relay 4242 auth_failure [event@32473 v="1" host="web7" time="\#(now)" ip="192.0.2.66"]"# + "\n")
        edge.send("<38>1 \(now) web1 sshd 1 - - Failed password for root from 192.0.2.66 port 1 ssh2\n")
        let genuine = Self.sealedFailure(host: "web2", ip: "192.0.2.68", seq: 1)
        // The address in the element changed from .68 to .69: no longer what the edge sealed.
        let altered = Array(String(decoding: genuine, as: UTF8.self).replacingOnce("192.0.2.68", with: "192.0.2.69").utf8)
        edge.send(altered)
        edge.send(genuine)
        edge.send(genuine)  // captured and sent again
        let stranger = try TestClient(tcp: central.boundRelay[0], from: IPAddress(127, 0, 0, 9))
        stranger.send(Self.sealedFailure(host: "web3", ip: "192.0.2.69", seq: 2))
        let receiver = try #require(central.relayReceiver)
        #expect(pump(central.loop) { receiver.counters.rejectedTotal == 4 && receiver.counters.refusedConnections == 1 })
        central.shutdown()
        #expect(central.collector.relayCounters.received == 1)
        #expect(receiver.counters.rejected == ["unsigned": 1, "not_relay": 1, "bad_mac": 1, "replayed": 1])
        #expect(central.collector.withAnalyzer { $0.counters.sshEvents } == 1)
        #expect(stranger.isClosedByPeer())
    }

    /// Without the key nothing gets in: 3,000 random messages that look like relay messages
    /// (random kinds, hosts, fields, mac values, v1 and v2, bytes of sealed messages flipped).
    @Test func randomRelayLookingMessagesWithoutTheKeyAreNeverTaken() throws {
        let dir = TemporaryDirectory().path
        let central = try Self.makeCentral(dir: dir)
        let client = try TestClient(tcp: central.boundRelay[0])
        var rng = SeededRandom(seed: 0x5EED)
        let kinds = ["auth_failure", "invalid_user", "auth_success", "session_open", "session_close", "probe", "http", "session_summary"]
        let hex = Array("0123456789abcdef".utf8)
        let template = Self.sealedFailure(host: "web1", ip: "192.0.2.1", seq: 1)
        let now = Posix.wallClock().rfc3339()
        let count = 3_000
        for i in 0..<count {
            var message: [UInt8]
            if i % 3 == 0 {
                // A genuine message with one byte of its element changed.
                message = template
                let element = message.firstIndex(of: UInt8(ascii: "["))!
                let at = element + Int(rng.next() % UInt64(message.count - 1 - element))
                // Printable bytes only: a control byte would end the frame (LF, NUL) and the rest
                // would be framed as something else, which is a framing test, not this one.
                var flipped = UInt8(0x20 + rng.next() % 95)
                if flipped == message[at] { flipped = flipped == 0x7E ? 0x20 : flipped + 1 }
                message[at] = flipped
            } else {
                let kind = kinds[Int(rng.next() % UInt64(kinds.count))]
                var mac = ""
                for _ in 0..<64 { mac += String(UnicodeScalar(hex[Int(rng.next() % 16)])) }
                let version = rng.next() % 2 == 0 ? "1" : "2"
                let line = #"<30>1 \#(now) h\#(i) vigil-relay 1 \#(kind) [event@32473 v="\#(version)" kind="\#(kind)" host="web\#(rng.next() % 9)" time="\#(now)" ip="192.0.2.\#(rng.next() % 255)" port="\#(rng.next() % 65536)" count="\#(1 + rng.next() % 1000)" status="404" start="\#(now)" edge="e\#(rng.next() % 4)" boot="\#(rng.next() % 9)" seq="\#(1 + rng.next() % 99)" mac="\#(mac)"]"#
                message = Array(line.utf8) + [0x0A]
            }
            client.send(message)
            if i % 200 == 0 { central.loop.runOnce(timeoutMilliseconds: 0) }
        }
        // Then one genuine message: once it is in, everything sent before it was read.
        client.send(Self.sealedFailure(host: "web2", ip: "192.0.2.2", edge: "edge-z", seq: 1))
        let receiver = try #require(central.relayReceiver)
        #expect(pump(central.loop) { central.collector.relayCounters.received >= 1 })
        central.shutdown()
        #expect(central.collector.relayCounters.received == 1)
        #expect(receiver.counters.rejectedTotal == count && receiver.counters.framingErrors == 0)
        #expect(central.collector.withAnalyzer { $0.counters.sshEvents } == 1 && central.collector.withAnalyzer { $0.counters.httpRequests } == 0)
    }

    /// The central remembers each edge's newest message across a restart (`DATA/relay-seen`):
    /// a message captured before the restart is still a replay after it.
    @Test func replayStateSurvivesARestartOfTheCentral() throws {
        let dir = TemporaryDirectory().path
        let first = Self.sealedFailure(host: "web1", ip: "192.0.2.80", seq: 1)
        let second = Self.sealedFailure(host: "web1", ip: "192.0.2.80", seq: 2)
        do {
            let central = try Self.makeCentral(dir: dir)
            let client = try TestClient(tcp: central.boundRelay[0])
            client.send(first)
            client.send(second)
            #expect(pump(central.loop) { central.collector.relayCounters.received == 2 })
            central.shutdown()
        }
        #expect(try readLines(dir + "/relay-seen") == ["edge-a 1 2"])
        let central = try Self.makeCentral(dir: dir)
        let client = try TestClient(tcp: central.boundRelay[0])
        client.send(second)
        client.send(Self.sealedFailure(host: "web1", ip: "192.0.2.80", seq: 3))
        let receiver = try #require(central.relayReceiver)
        #expect(pump(central.loop) { central.collector.relayCounters.received == 1 && receiver.counters.rejectedTotal == 1 })
        central.shutdown()
        #expect(receiver.counters.rejected == ["replayed": 1])
    }

    /// Each run of an edge seals with a boot number above the last run's, kept in `DATA/relay-boot`,
    /// even when the clock went back, so a restarted edge is never taken for a replay.
    @Test func everyEdgeRunHasALargerBootNumber() throws {
        let dir = TemporaryDirectory().path
        let central = try Self.makeCentral(dir: dir + "/central")
        var boots: [String] = []
        for _ in 0..<2 {
            let edge = try Self.makeServer(dir: dir + "/edge", relayTo: central.boundRelay[0])
            edge.shutdown()
            boots += try readLines(dir + "/edge/relay-boot")
        }
        #expect(boots.count == 2 && UInt64(boots[1])! > UInt64(boots[0])!)
        // A boot file from the future (a clock set back since) still gets exceeded.
        let ahead = UInt64(Posix.wallClock().microseconds) + 3_600_000_000
        try TextFile.writeAtomically(dir + "/edge/relay-boot", "\(ahead)\n")
        let edge = try Self.makeServer(dir: dir + "/edge", relayTo: central.boundRelay[0])
        edge.shutdown()
        #expect(try readLines(dir + "/edge/relay-boot") == ["\(ahead + 1)"])
        central.shutdown()
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
        // The spool takes three (35 bytes), the rest is dropped and counted. One event may be in
        // the sender thread's hands when the counters are read (it took it before the next
        // arrived): then one more was queued and one fewer dropped.
        #expect(counters.spooled == 3 && counters.dropped >= 1)
        #expect(counters.queued + counters.spooled + counters.dropped >= 5)
    }
}

private extension String {
    /// The string with the first `target` (which it must hold) replaced by `replacement`.
    func replacingOnce(_ target: String, with replacement: String) -> String {
        let parts = split(separator: Substring(target), maxSplits: 1, omittingEmptySubsequences: false)
        precondition(parts.count == 2)
        return parts[0] + replacement + parts[1]
    }
}
