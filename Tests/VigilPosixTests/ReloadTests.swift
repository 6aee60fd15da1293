import CVigilShim
import Glibc
import Testing
import VigilTestSupport
@testable import VigilCore
import VigilDaemon
@testable import VigilPosix

/// SIGHUP's reload on a running server: real sockets on 127.0.0.1, the loop pumped by the test.
@Suite struct ReloadTests {
    func config(dir: String, _ configure: (inout VigilConfig) -> Void = { _ in }) -> VigilConfig {
        var config = VigilConfig.defaults
        config.server.threads = 2  // the loop reads every connection, whatever the CPUs (shards: IngestShardTests)
        config.server.udp = []
        config.server.tcp = [ListenAddress(ip: IPAddress(127, 0, 0, 1), port: 0)]
        config.server.http = []  // the API has its own tests (APIServerTests)
        config.server.dataDirectory = dir
        config.server.flushInterval = TimeSpan(microseconds: 50_000)
        config.server.statsInterval = TimeSpan(microseconds: 0)
        config.sinks = []
        configure(&config)
        return config
    }

    func pumpWhile(_ server: Server, seconds: Int64 = 30, _ condition: () -> Bool) -> Bool {
        let deadline = Posix.monotonicMicros() + seconds * 1_000_000
        while condition() {
            if Posix.monotonicMicros() > deadline { return false }
            server.loop.runOnce(timeoutMilliseconds: 5)
        }
        return true
    }

    /// Reloads in the middle of a stream of 60,000 messages lose none of them, whatever changes.
    @Test func reloadsUnderTrafficLoseNothing() throws {
        let dir = TemporaryDirectory().path
        let running = config(dir: dir)
        var lines: [String] = []
        let server = try Server(config: running, log: { lines.append($0) })
        let count = 60_000
        var payload: [UInt8] = []
        for i in 0..<count { payload += Array("<13>1 - web1 app - - - reload traffic \(i)\n".utf8) }
        let client = try TestClient(tcp: server.boundTCP[0])
        _ = vigil_set_nonblocking(client.fd)
        var sent = 0, reloads = 0
        #expect(pumpWhile(server) {
            if sent < payload.count {
                let n = payload.withUnsafeBytes { Glibc.write(client.fd, $0.baseAddress! + sent, min(8_192, $0.count - sent)) }
                if n > 0 { sent += n }
            }
            // A reload every ~12,000 messages read, alternating two configurations.
            if server.collector.counters.received >= UInt64((reloads + 1) * 12_000) && reloads < 4 {
                reloads += 1
                server.reload(config(dir: dir) {
                    $0.rules.sshBruteforce.threshold = 5 + reloads % 2
                    if reloads % 2 == 1 { $0.sinks = [.init(name: "extra", spec: .file(path: dir + "/extra.jsonl"), queueCapacity: 10,
                                                            maxBackoff: .seconds(60), maxSpoolBytes: 1 << 20)] }
                })
            }
            return server.collector.counters.received < UInt64(count)
        })
        server.shutdown()
        #expect(reloads == 4)
        let stored = try readLines(dir + "/hosts/web1/\(Posix.wallClock().dayString).log")
        #expect(stored.count == count)
        #expect(zip(stored, 0..<count).allSatisfy { $0.hasSuffix("reload traffic \($1)") })
        #expect(lines.filter { $0.hasPrefix("vigil: reloaded the configuration; rules started afresh: ssh_bruteforce") }.count == 4)
        #expect(lines.contains { $0.contains("sinks added: extra") } && lines.contains { $0.contains("sinks removed: extra") })
    }

    /// The configuration's sinks, retention and rules take effect; the store's files are reopened so
    /// a rotation done outside is followed; listener changes wait for a restart, and say so.
    @Test func aReloadAppliesSinksRulesAndReopensTheStore() throws {
        let dir = TemporaryDirectory().path
        var lines: [String] = []
        let server = try Server(config: config(dir: dir), log: { lines.append($0) })
        let client = try TestClient(tcp: server.boundTCP[0])
        let now = Posix.wallClock().rfc3339()
        let day = dir + "/hosts/web1/\(Posix.wallClock().dayString).log"
        func failure(_ i: Int) -> String { "<38>1 \(now) web1 sshd \(i) - - Failed password for root from 198.51.100.\(i) port 5\(i) ssh2\n" }
        client.send(failure(1))
        #expect(pumpWhile(server) { (try? readLines(day))?.count != 1 })
        // logrotate moves the file away, then sends SIGHUP.
        rename(day, day + ".1")
        let sinkFile = dir + "/new-sink.jsonl"
        let restart = server.reload(config(dir: dir) {
            $0.rules.sshBruteforce.threshold = 2
            $0.sinks = [.init(name: "new", spec: .file(path: sinkFile), queueCapacity: 10, maxBackoff: .seconds(60), maxSpoolBytes: 1 << 20)]
            $0.server.tcp = [ListenAddress(ip: IPAddress(127, 0, 0, 1), port: 9)]
        })
        #expect(restart.last == "vigil: reload: [server] changed; these take effect after a restart")
        #expect(server.config.server.tcp == config(dir: dir).server.tcp && server.config.rules.sshBruteforce.threshold == 2)
        client.send(failure(2))
        client.send(failure(2))
        #expect(pumpWhile(server) { (try? readLines(sinkFile))?.count != 1 })
        server.shutdown()
        #expect(try readLines(day + ".1").count == 1)
        #expect(try readLines(day).count == 2)  // a new file at the path
        #expect(try readLines(sinkFile).first?.contains(#""rule":"ssh_bruteforce","state":"firing""#) == true)
    }
}
