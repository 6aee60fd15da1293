import CVigilShim
import Glibc
import Testing
import VigilTestSupport
@testable import VigilCore
import VigilDaemon
@testable import VigilPosix

/// A full disk under a running server: the day file is /dev/full (every write fails with ENOSPC)
/// until the test makes room. Real sockets on 127.0.0.1; the loop is pumped by the test thread.
@Suite struct StoreFullTests {
    func makeServer(dir: String) throws -> Server {
        var config = VigilConfig.defaults
        config.server.threads = 2  // the loop reads every connection, whatever the CPUs (shards: IngestShardTests)
        let v4 = ListenAddress(ip: IPAddress(127, 0, 0, 1), port: 0)
        config.server.udp = [v4]
        config.server.tcp = [v4]
        config.server.http = []  // the API has its own tests (APIServerTests)
        config.server.dataDirectory = dir
        config.server.flushInterval = TimeSpan(microseconds: 100_000)
        config.server.statsInterval = TimeSpan(microseconds: 0)
        config.sinks = []
        return try Server(config: config, log: { _ in })
    }

    /// Finding: 150,000 messages over TCP into a full disk lost 74,199 to 86,882 of them, silently.
    /// Now reading stops while the store cannot write — the sender's writes block, its TCP window
    /// pushes back — memory stays bounded, and once there is room every message lands, in order.
    @Test func aFullDiskPushesBackOnTCPAndLosesNothing() throws {
        let dir = TemporaryDirectory().path
        let server = try makeServer(dir: dir)
        let day = Posix.wallClock().dayString
        mkdir(dir + "/hosts/web1", 0o750)
        let file = dir + "/hosts/web1/\(day).log"
        #expect(symlink("/dev/full", file) == 0)

        let count = 200_000
        var payload: [UInt8] = []
        for i in 0..<count { payload += Array("<13>1 - web1 app - - - message \(i) of a full disk\n".utf8) }
        let client = try TestClient(tcp: server.boundTCP[0])
        _ = vigil_set_nonblocking(client.fd)
        var sent = 0
        /// Writes what the kernel takes now; true when everything was sent.
        func send() -> Bool {
            while sent < payload.count {
                let n = payload.withUnsafeBytes { Glibc.write(client.fd, $0.baseAddress! + sent, min(65_536, $0.count - sent)) }
                if n <= 0 { return false }
                sent += n
            }
            return true
        }
        // Until the store blocks and the sender can write no more: the push-back reached it.
        var stalledRounds = 0
        #expect(pumpWhile(server) {
            let before = sent
            _ = send()
            stalledRounds = sent == before && !server.collector.gate.isOpen ? stalledRounds + 1 : 0
            return stalledRounds < 50
        })
        #expect(!server.collector.gate.isOpen && server.collector.isStoreBlocked)
        #expect(sent < payload.count, "the sender was not pushed back")
        // What waits in memory is what was in flight when the store blocked, not the backlog.
        #expect(server.collector.storeBufferedBytes < 1 << 20)
        #expect(server.collector.counters.received < UInt64(count) && server.collector.counters.lost == 0)

        // Room again: the rest is read and everything is written.
        unlink(file)
        #expect(pumpWhile(server, seconds: 30) { !send() || server.collector.counters.received < UInt64(count) || server.collector.isStoreBlocked })
        server.shutdown()
        let lines = try readLines(file)
        #expect(lines.count == count)
        #expect(lines.first == "<13>1 - web1 app - - - message 0 of a full disk")
        #expect(lines.last == "<13>1 - web1 app - - - message \(count - 1) of a full disk")
        #expect(zip(lines, 0..<count).allSatisfy { $0.hasPrefix("<13>1 - web1 app - - - message \($1) ") })
        #expect(server.collector.gate.isOpen && server.collector.counters.storeErrors >= 1)
    }

    /// Datagrams cannot be pushed back on: while the store is blocked they wait in memory up to its
    /// bound, past it they are dropped and counted (`lost`) — and still analyzed: detection goes on.
    @Test func datagramsPastTheBoundAreCountedAsLostAndStillDetected() throws {
        let dir = TemporaryDirectory().path
        let store = try HostStore(directory: dir, maxBufferedBytes: 1_000)
        let names = HostDirectory()
        let analyzer = Analyzer(settings: DetectionSettings())
        let collector = Collector(parser: SyslogParser(), store: store, analysis: .inline(analyzer), hosts: names, sinks: [])
        let now = Posix.wallClock()
        mkdir(dir + "/hosts/web1", 0o750)
        symlink("/dev/full", dir + "/hosts/web1/\(now.dayString).log")
        let sender = SocketAddress(ip: IPAddress(127, 0, 0, 1), port: 514)
        func datagram(_ i: Int) {
            var line = Array("<38>1 \(now.rfc3339()) web1 sshd \(i) - - Failed password for root from 198.51.100.90 port \(i) ssh2".utf8)
            line.withUnsafeMutableBytes { collector.consume(frame: UnsafeRawBufferPointer($0), truncated: false, sender: sender,
                                                            transport: .datagram, now: now) }
            collector.releaseFrames()
        }
        datagram(0)
        collector.flush(monotonicMicros: 0)  // the write fails: the store blocks
        #expect(collector.isStoreBlocked && !collector.gate.isOpen)
        for i in 1..<40 { datagram(i) }
        #expect(collector.counters.lost > 0 && collector.storeBufferedBytes <= 1_000 + 100)
        #expect(collector.withAnalyzer { $0.counters.sshEvents } == 40)
        #expect(collector.withAnalyzer { $0.engine.takeAlerts() }.contains { $0.rule == .sshBruteforce })
    }

    /// Runs the loop (5 ms waits) while `condition()` holds, at most `seconds`; false on timeout.
    func pumpWhile(_ server: Server, seconds: Int64 = 20, _ condition: () -> Bool) -> Bool {
        let deadline = Posix.monotonicMicros() + seconds * 1_000_000
        while condition() {
            if Posix.monotonicMicros() > deadline { return false }
            server.loop.runOnce(timeoutMilliseconds: 5)
        }
        return true
    }
}
