import Glibc
import Testing
import VigilTestSupport
@testable import VigilCore
import VigilDaemon
@testable import VigilPosix

/// The whole serve pipeline on loopback: listeners → parser → per-host store, then a graceful shutdown.
@Suite struct ServerTests {
    func makeServer(dir: String, maxMessageBytes: Int = 65_536) throws -> Server {
        var config = VigilConfig.defaults
        config.server.threads = 2  // the loop reads every connection, whatever the CPUs (shards: IngestShardTests)
        let v4 = ListenAddress(ip: IPAddress(127, 0, 0, 1), port: 0), v6 = ListenAddress(ip: IPAddress.parse("::1")!, port: 0)
        config.server.udp = [v4, v6]
        config.server.tcp = [v4, v6]
        config.server.http = []  // the API has its own tests (APIServerTests)
        config.server.dataDirectory = dir
        config.server.maxMessageBytes = maxMessageBytes
        config.sinks = []  // DATA/alerts.jsonl only: the test runner's stdout stays untouched
        config.server.flushInterval = TimeSpan(microseconds: 3_600_000_000)  // only the shutdown flush writes, so the test proves it
        return try Server(config: config, log: { _ in })
    }

    /// The connection cap leaves room under the open-file limit for the store's files, the sinks
    /// and the daemon's own descriptors, shared by the TCP listeners; a generous limit keeps the
    /// configured cap.
    @Test func theConnectionCapFitsTheOpenFileLimit() {
        let reserve = HostStore.defaultMaxOpenFiles + 64
        #expect(Server.connectionCap(configured: 20_000, fileLimit: 1024, listeners: 1, sinks: 0) == 1024 - reserve)
        #expect(Server.connectionCap(configured: 20_000, fileLimit: 1024, listeners: 2, sinks: 2) == (1024 - reserve - 16) / 2)
        #expect(Server.connectionCap(configured: 20_000, fileLimit: 1_048_576, listeners: 2, sinks: 3) == 20_000)
        #expect(Server.connectionCap(configured: 20_000, fileLimit: 100, listeners: 1, sinks: 0) == 1)
        #expect(Server.connectionCap(configured: 20_000, fileLimit: Int.max, listeners: 1, sinks: 0) == 20_000)
        // The API's connections are reserved too, and capped by the limit.
        #expect(Server.apiConnectionCap(fileLimit: 1024, listeners: 1) == 64)
        #expect(Server.apiConnectionCap(fileLimit: 1024, listeners: 2) == 32)
        #expect(Server.apiConnectionCap(fileLimit: 100, listeners: 1) == 16)
        #expect(Server.apiConnectionCap(fileLimit: 1_048_576, listeners: 1) == 1024)
        #expect(Server.connectionCap(configured: 20_000, fileLimit: 1024, listeners: 1, sinks: 0, apiConnections: 64) == 1024 - reserve - 64)
    }

    @Test func messagesLandInTheirHostFileAndShutdownLosesNothing() throws {
        let dir = TemporaryDirectory().path
        let server = try makeServer(dir: dir)
        let tcp = try TestClient(tcp: server.boundTCP[0])
        let tcp6 = try TestClient(tcp: server.boundTCP[1])
        let udp = TestClient(udpFamilyOf: server.boundUDP[0])
        tcp.send(Fixtures.sample("rsyslog-tcp-traditional.tcp"))
        tcp6.send(Fixtures.sample("logger-rfc5424-tcp-octet.tcp"))
        for d in Fixtures.datagrams("rsyslog-udp-proto23.udp") { udp.sendDatagram(d, to: server.boundUDP[0]) }
        udp.sendDatagram(Array("garbage without any syslog header".utf8), to: server.boundUDP[0])
        // Partial last line still in flight when the daemon stops: it was read, so it is kept.
        tcp.send("<13>Nov 22 23:06:08 edge-tcp-traditional webapp: unterminated tail")
        #expect(pump(server.loop) { server.collector.counters.received >= 14 })
        server.shutdown()

        let day = Posix.wallClock().dayString
        let traditional = try readLines("\(dir)/hosts/edge-tcp-traditional/\(day).log")
        #expect(traditional.count == 5)
        #expect(traditional.last == "<13>Nov 22 23:06:08 edge-tcp-traditional webapp: unterminated tail")
        #expect(try readLines("\(dir)/hosts/vm/\(day).log").count == 5)
        #expect(try readLines("\(dir)/hosts/edge-udp-proto23/\(day).log").count == 4)
        #expect(try readLines("\(dir)/hosts/127.0.0.1/\(day).log") == ["garbage without any syslog header"])
        let counters = server.collector.counters
        #expect(counters.received == 15 && counters.parseErrors == 1 && counters.framingErrors == 0)
    }

    @Test func bruteForceOverTCPLandsInAlertsFileBlamingTheRealAddress() throws {
        let dir = TemporaryDirectory().path
        let server = try makeServer(dir: dir)
        let tcp = try TestClient(tcp: server.boundTCP[0])
        let now = Posix.wallClock().rfc3339()
        for pid in 1...5 {
            tcp.send("<38>1 \(now) web1 sshd \(pid) - - Failed password for invalid user x port 1 ssh2 from 198.51.100.9 from 203.0.113.5 port 5 ssh2\n")
        }
        #expect(pump(server.loop) { server.collector.alertsRaised == 1 })
        let alerts = try readLines("\(dir)/alerts.jsonl")
        #expect(alerts.count == 1)
        #expect(alerts.first?.contains(#""rule":"ssh_bruteforce","state":"firing""#) == true)
        #expect(alerts.first?.contains(#""host":"web1","ip":"203.0.113.5""#) == true)
        server.shutdown()
    }

    /// Frames are analyzed in batches after their read: 200 failures from 40 addresses on 4
    /// hosts, interleaved and sent in one write (many batches, some frames split across reads),
    /// raise one brute-force alert per (host, address) and each names its own pair.
    @Test func batchedAnalysisKeepsEachFrameWithItsHostAndAddress() throws {
        let dir = TemporaryDirectory().path
        let server = try makeServer(dir: dir)
        let tcp = try TestClient(tcp: server.boundTCP[0])
        let now = Posix.wallClock().rfc3339()
        var stream = ""
        var expected: Set<String> = []
        for round in 0..<5 {
            for k in 0..<40 {
                let host = "web\(k % 4)", ip = "198.51.100.\(k + 1)"
                stream += "<38>1 \(now) \(host) sshd \(1000 + k * 10 + round) - - Failed password for root from \(ip) port 22 ssh2\n"
                expected.insert(#""host":"\#(host)","ip":"\#(ip)""#)
            }
        }
        tcp.send(stream)
        #expect(pump(server.loop) { server.collector.alertsRaised == 40 })
        let alerts = try readLines("\(dir)/alerts.jsonl")
        #expect(alerts.count == 40)
        #expect(Set(alerts.compactMap { line in expected.first { line.contains($0) } }) == expected)
        #expect(alerts.allSatisfy { $0.contains(#""rule":"ssh_bruteforce","state":"firing""#) })
        server.shutdown()
    }

    @Test func followedFilesAreStoredAndResumeWhereTheyStopped() throws {
        let dir = TemporaryDirectory().path
        let log = dir + "/access.log"
        func append(_ text: String) {
            let fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0o644)
            _ = text.withCString { write(fd, $0, strlen($0)) }
            close(fd)
        }
        append("192.0.2.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /old HTTP/1.1\" 200 5 \"-\" \"curl\"\n")
        func server() throws -> Server {
            var config = VigilConfig.defaults
            config.server.threads = 2  // the loop reads every connection, whatever the CPUs (shards: IngestShardTests)
            config.server.udp = []
            config.server.tcp = []
            config.server.http = []  // the API has its own tests (APIServerTests)
            config.server.dataDirectory = dir
            config.sinks = []
            config.fileInput.paths = [log]
            config.fileInput.host = "web9"
            return try Server(config: config, log: { _ in })
        }
        let first = try server()
        first.fileInputs.check(now: Posix.wallClock())          // starts at the end: the old line is not read
        append("192.0.2.1 - - [22/Nov/2026:10:00:01 +0000] \"GET /one HTTP/1.1\" 200 5 \"-\" \"curl\"\n<13>1 2026-11-22T10:00:02Z web3 app - - - syslog line\n")
        append("192.0.2.1 - - [22/Nov/2026:10:00:03 +0000] \"GET /two")  // unfinished when the daemon stops
        first.fileInputs.check(now: Posix.wallClock())
        first.shutdown()
        append(" HTTP/1.1\" 200 5 \"-\" \"curl\"\n")
        let second = try server()                               // resumes at the saved offset
        second.fileInputs.check(now: Posix.wallClock())
        second.shutdown()
        let day = Posix.wallClock().dayString
        let stored = try readLines("\(dir)/hosts/web9/\(day).log")
        #expect(stored.map { $0.contains("/one") } == [true, false])
        #expect(stored.last?.contains("GET /two HTTP/1.1") == true)
        #expect(try readLines("\(dir)/hosts/web3/\(day).log") == ["<13>1 2026-11-22T10:00:02Z web3 app - - - syslog line"])
        #expect(first.collector.counters.fileLines == 2 && second.collector.counters.fileLines == 1)
        #expect(first.collector.withAnalyzer { $0.counters.httpRequests } == 1 && second.collector.withAnalyzer { $0.counters.httpRequests } == 1)
    }

    /// SIGTERM must reach the signalfd, never a sink's sender thread (whose default action would kill
    /// the process without its graceful shutdown): every thread blocks it.
    @Test func sinkThreadsLeaveShutdownSignalsToTheLoop() throws {
        var config = VigilConfig.defaults
        config.server.threads = 2  // the loop reads every connection, whatever the CPUs (shards: IngestShardTests)
        config.server.udp = []
        config.server.tcp = []
        config.server.http = []  // the API has its own tests (APIServerTests)
        config.server.dataDirectory = TemporaryDirectory().path
        config.sinks = [VigilConfig.Sink(name: "hook", spec: .http(host: "127.0.0.1", port: 9, path: "/"),
                                         queueCapacity: 10, maxBackoff: TimeSpan(microseconds: 1_000_000), maxSpoolBytes: 1 << 20)]
        // Start from a thread that does take the signals, as `vigil serve`'s main thread does.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
        let server = try Server(config: config, log: { _ in })
        let sigterm: UInt64 = 1 << (UInt64(SIGTERM) - 1), sigint: UInt64 = 1 << (UInt64(SIGINT) - 1)
        var senders = 0
        for task in try listDirectory("/proc/self/task") {
            let status = (try? readLines("/proc/self/task/\(task)/status")) ?? []
            guard status.contains(where: { $0.hasPrefix("Name:") && $0.hasSuffix("vigil-sink") }),
                  let line = status.first(where: { $0.hasPrefix("SigBlk:") }),
                  let blocked = UInt64(line.dropFirst(7).drop(while: { $0 == "\t" || $0 == " " }), radix: 16) else { continue }
            senders += 1
            #expect(blocked & sigterm != 0 && blocked & sigint != 0, "sender thread \(task) could take SIGTERM/SIGINT")
        }
        #expect(senders >= 1)
        server.shutdown()
    }

    @Test func hostileHostNamesStayInsideTheDataDirectory() throws {
        let dir = TemporaryDirectory().path
        let server = try makeServer(dir: dir)
        let tcp = try TestClient(tcp: server.boundTCP[0])
        tcp.send("<13>1 2026-11-22T10:00:00Z ../../escape app - - - x\n<13>1 2026-11-22T10:00:00Z a/b app - - - y\n")
        #expect(pump(server.loop) { server.collector.counters.received == 2 })
        server.shutdown()
        let hosts = try listDirectory("\(dir)/hosts")
        #expect(hosts.count == 2)
        #expect(hosts.allSatisfy { !$0.contains("/") && $0 != ".." && $0 != "." })
        #expect(access("\(dir)/escape", F_OK) != 0)
    }
}

func readLines(_ path: String) throws -> [String] {
    guard let bytes = Fixtures.readFile(path) else { throw SystemError("open \(path)", errno: ENOENT) }
    return Fixtures.lines(bytes).map { String(decoding: $0, as: UTF8.self) }
}

func listDirectory(_ path: String) throws -> [String] {
    guard let dir = opendir(path) else { throw SystemError("opendir \(path)", errno: errno) }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}
