import Glibc
import Testing
import VigilTestSupport
@testable import VigilCore
import VigilDaemon
@testable import VigilPosix

/// The HTTP API of `vigil serve` on loopback (docs/api.md): authentication on every endpoint,
/// host names from URLs, each endpoint's answer, and many clients at once.
@Suite struct APIServerTests {
    static let token = "s3cret-token"

    func makeServer(dir: String) throws -> Server {
        var config = VigilConfig.defaults
        config.server.threads = 2  // the loop reads every connection, whatever the CPUs (shards: IngestShardTests)
        let v4 = ListenAddress(ip: IPAddress(127, 0, 0, 1), port: 0)
        config.server.udp = []
        config.server.tcp = [v4]
        config.server.http = [v4]
        config.server.dataDirectory = dir
        config.sinks = []
        config.server.flushInterval = TimeSpan(microseconds: 20_000)
        return try Server(config: config, apiToken: Self.token, log: { _ in })
    }

    /// Sends `lines` over TCP and runs the loop until they are stored.
    func ingest(_ server: Server, _ lines: [String]) throws {
        let tcp = try TestClient(tcp: server.boundTCP[0])
        let before = server.collector.counters.received
        for line in lines { tcp.send(line + "\n") }
        #expect(pump(server.loop) { server.collector.counters.received >= before + UInt64(lines.count) })
        server.collector.flush()
    }

    func get(_ server: Server, _ path: String, token: String? = token) throws -> HTTPTestResponse {
        let client = try HTTPTestClient(server.boundHTTP[0])
        client.get(path, token: token)
        guard let response = client.response(server.loop) else { throw SystemError("no response to \(path)", errno: ETIMEDOUT) }
        return response
    }

    static let protected = ["/metrics", "/stats", "/hosts", "/hosts/web1/files", "/hosts/web1/logs", "/hosts/web1/ssh/logins", "/alerts"]

    @Test func everyEndpointButHealthAndThePageWantsTheToken() throws {
        let server = try makeServer(dir: TemporaryDirectory().path)
        defer { server.shutdown() }
        try ingest(server, ["<13>1 2026-12-03T10:00:00Z web1 app 1 - - hello"])
        for path in Self.protected {
            for token in [nil, "wrong", Self.token + "x", String(Self.token.dropLast())] {
                let refused = try get(server, path, token: token)
                #expect(refused.status == 401, "\(path) with \(token ?? "no token")")
                #expect(refused.headers["www-authenticate"] == #"Bearer realm="vigil""#)
                #expect(refused.body == #"{"error":"missing or wrong bearer token"}"#)
            }
            #expect(try get(server, path).status == 200, "\(path)")
        }
        let health = try get(server, "/healthz", token: nil)
        #expect(health.status == 200 && health.body == #"{"status":"ok"}"#)
        let page = try get(server, "/", token: nil)
        #expect(page.status == 200 && page.headers["content-type"]?.hasPrefix("text/html") == true && page.body.contains("<html"))
        #expect(server.api?.counters.unauthorized == Self.protected.count * 4)
    }

    @Test func hostNamesFromTheURLNeverReachTheFileSystemUnchecked() throws {
        let dir = TemporaryDirectory().path
        let server = try makeServer(dir: dir)
        defer { server.shutdown() }
        try ingest(server, ["<13>1 2026-12-03T10:00:00Z web1 app 1 - - hello"])
        for path in ["/hosts/../logs", "/hosts/%2e%2e/logs", "/hosts/..%2f..%2fetc/logs", "/hosts/a%2fb/logs", "/hosts/%00/logs",
                     "/hosts/WEB1/logs", "/hosts/web1%0a/logs", "/hosts/" + String(repeating: "a", count: 256) + "/files",
                     "/hosts/%2e/files"] {
            let response = try get(server, path)
            #expect(response.status == 400, "\(path)")
            #expect(response.body == #"{"error":"invalid host name"}"#)
        }
        #expect(try get(server, "/hosts/nosuchhost/logs").status == 404)
        #expect(try get(server, "/hosts/web1/nothing").status == 404)
        #expect(try get(server, "/nothing").status == 404)
        // A host known only from its directory (an earlier run) is found.
        try makeDirectories(dir + "/hosts/old-host")
        #expect(try get(server, "/hosts/old-host/logs").status == 200)
    }

    @Test func logsAreNewestFirstAcrossDaysWithFilterProgramAndSince() throws {
        let dir = TemporaryDirectory().path
        let server = try makeServer(dir: dir)
        defer { server.shutdown() }
        // An earlier day, as a previous run left it.
        try makeDirectories(dir + "/hosts/web1")
        let old = (1...3).map { "<38>1 2026-11-20T10:00:0\($0)Z web1 sshd 7 - - Failed password for root from 192.0.2.\($0) port 1 ssh2\n" }
        try TextFile.writeAtomically(dir + "/hosts/web1/2026-11-20.log", old.joined())
        let now = Posix.wallClock().rfc3339()
        try ingest(server, (1...5).map { "<38>1 \(now) web1 sshd 8 - - Failed password for root from 203.0.113.\($0) port 1 ssh2" }
            + ["<78>1 \(now) web1 CRON 9 - - Failed password is not a cron word"])

        let newest = try get(server, "/hosts/web1/logs?filter=Failed%20password&file=sshd&count=7")
        #expect(newest.status == 200)
        let ips = newest.body.split(separator: "from ").dropFirst().map { $0.prefix(while: { $0 != " " }) }
        #expect(ips == ["203.0.113.5", "203.0.113.4", "203.0.113.3", "203.0.113.2", "203.0.113.1", "192.0.2.3", "192.0.2.2"])
        #expect(newest.body.contains(#""day":"2026-11-20","ts":"2026-11-20T10:00:03Z","file":"sshd","line":"<38>1 2026-11-20T10:00:03Z"#))
        #expect(!newest.body.contains("CRON"))
        let recent = try get(server, "/hosts/web1/logs?since=" + Posix.wallClock().dayString)
        #expect(recent.body.components(ofLiteral: #""line":"#) == 6)
        let cron = try get(server, "/hosts/web1/logs?file=CRON")
        #expect(cron.body.components(ofLiteral: #""line":"#) == 1)
        #expect(try get(server, "/hosts/web1/logs?count=0").status == 400)
        let files = try get(server, "/hosts/web1/files")
        #expect(files.body == #"{"data":[{"file":"CRON","url":"/hosts/web1/logs?file=CRON"},{"file":"sshd","url":"/hosts/web1/logs?file=sshd"}]}"#)
        let hosts = try get(server, "/hosts")
        #expect(hosts.body.hasPrefix(#"{"data":[{"host":"web1","url":"/hosts/web1/files","last_seen":""#))
        #expect(hosts.body.hasSuffix(#","messages":6,"ssh_failures":5,"http_hits":0}]}"#))
    }

    @Test func sshLoginsCountTheDistinctSSHDProcessesOfTheDay() throws {
        let server = try makeServer(dir: TemporaryDirectory().path)
        defer { server.shutdown() }
        let tcp = try TestClient(tcp: server.boundTCP[0])
        tcp.send(Fixtures.sample("sshd-normal-rsyslog-tcp-octet.tcp"))
        #expect(pump(server.loop) { server.collector.counters.received >= 62 })
        server.collector.flush()
        let today = try get(server, "/hosts/vm/ssh/logins")
        #expect(today.body == #"{"data":[{"host":"vm","day":""# + Posix.wallClock().dayString
            + #"","attempts":16,"failures":8,"successes":3,"invalid_users":2,"top_ips":[{"ip":"127.0.0.1","attempts":16,"failures":8,"successes":3}]}]}"#)
        let empty = try get(server, "/hosts/vm/ssh/logins?day=2020-01-01")
        #expect(empty.body.contains(#""attempts":0,"failures":0"#))
        #expect(try get(server, "/hosts/vm/ssh/logins?day=2020-13-01").status == 400)
    }

    @Test func alertsStatsAndMetricsShowWhatFired() throws {
        let server = try makeServer(dir: TemporaryDirectory().path)
        defer { server.shutdown() }
        let now = Posix.wallClock().rfc3339()
        try ingest(server, (1...5).map { "<38>1 \(now) web1 sshd \($0) - - Failed password for root from 203.0.113.9 port 1 ssh2" })
        #expect(pump(server.loop) { server.collector.alertsRaised == 1 })
        let firing = try get(server, "/alerts?state=firing&rule=ssh_bruteforce")
        #expect(firing.body.hasPrefix(#"{"data":[{"id":"#) && firing.body.contains(#""rule":"ssh_bruteforce","state":"firing""#))
        #expect(try get(server, "/alerts?state=resolved").body == #"{"data":[]}"#)
        #expect(try get(server, "/alerts?rule=http_scan").body == #"{"data":[]}"#)
        #expect(try get(server, "/alerts?state=maybe").status == 400)
        #expect(try get(server, "/alerts?rule=nope").status == 400)
        let stats = try get(server, "/stats")
        #expect(stats.body.contains(#""received":5,"#) && stats.body.contains(#"{"rule":"ssh_bruteforce","fired":1,"resolved":0}"#))
        let metrics = try get(server, "/metrics")
        #expect(metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        #expect(metrics.body.contains("\nvigil_received_messages_total 5\n"))
        #expect(metrics.body.contains("\nvigil_alerts_fired_total{rule=\"ssh_bruteforce\"} 1\n"))
        #expect(metrics.body.contains("vigil_sink_delivered_total{sink=\"file:"))
        // Every sample's family has HELP and TYPE, once.
        let lines = metrics.body.split(separator: "\n")
        let families = lines.filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] }
        #expect(Set(families).count == families.count)
        for sample in lines where !sample.hasPrefix("#") {
            let name = sample.prefix(while: { $0 != " " && $0 != "{" })
            #expect(families.contains(name), "\(sample)")
        }
    }

    @Test func twoHundredClientsAtOnceAreAllAnswered() throws {
        let server = try makeServer(dir: TemporaryDirectory().path)
        defer { server.shutdown() }
        try ingest(server, ["<13>1 2026-12-03T10:00:00Z web1 app 1 - - hello"])
        let clients = try (0..<200).map { _ in try HTTPTestClient(server.boundHTTP[0]) }
        for (i, client) in clients.enumerated() { client.get(i % 2 == 0 ? "/stats" : "/hosts", token: Self.token) }
        var answered = [HTTPTestResponse?](repeating: nil, count: clients.count)
        #expect(pump(server.loop) {
            for (i, client) in clients.enumerated() where answered[i] == nil {
                client.readAvailable()
                answered[i] = client.takeResponse()
            }
            return answered.allSatisfy { $0 != nil }
        })
        #expect(answered.allSatisfy { $0?.status == 200 })
    }

    @Test func keepAliveAnswersPipelinedRequestsInOrder() throws {
        let server = try makeServer(dir: TemporaryDirectory().path)
        defer { server.shutdown() }
        let client = try HTTPTestClient(server.boundHTTP[0])
        // Both in one write: the second waits until the first (a query thread job) is answered.
        client.client.send("GET /hosts HTTP/1.1\r\nAuthorization: Bearer \(Self.token)\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n")
        let first = client.response(server.loop), second = client.response(server.loop)
        #expect(first?.body == #"{"data":[]}"#)
        #expect(second?.body == #"{"status":"ok"}"#)
        client.get("/healthz", close: true)
        #expect(client.response(server.loop)?.headers["connection"] == "close")
        #expect(client.isClosed(server.loop))
    }
}

extension String {
    /// How many times `literal` occurs.
    func components(ofLiteral literal: String) -> Int { split(separator: literal, omittingEmptySubsequences: false).count - 1 }
}
