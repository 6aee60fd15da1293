import Testing
import VigilTestSupport
@testable import VigilCore

/// What the API computes from stored lines and from memory: log queries, the ssh login tally,
/// the recent alerts, each host's activity and the Prometheus text.
@Suite struct APIQueryTests {
    static let day = Timestamp(seconds: CivilDateTime.daysFromCivil(year: 2026, month: 11, day: 22) * 86_400)

    func match(_ query: LogQuery, _ line: String) -> LogQuery.Match? {
        Array(line.utf8).withUnsafeBytes { query.match($0, parser: SyslogParser(), receivedAt: Self.day) }
    }

    @Test func logQueriesFilterByTextProgramAndTime() {
        let sshd = "<38>1 2026-11-22T23:06:48Z vm sshd 18440 - - Failed password for vigiltest from 127.0.0.1 port 59710 ssh2"
        let cron = "<78>Nov 22 23:10:00 vm CRON[99]: (root) CMD (run-parts /etc/cron.hourly)"
        #expect(match(LogQuery(), sshd)?.time == CivilDateTime(year: 2026, month: 11, day: 22, hour: 23, minute: 6, second: 48).timestamp())
        #expect(match(LogQuery(filter: Array("Failed password".utf8)), sshd) != nil)
        #expect(match(LogQuery(filter: Array("failed password".utf8)), sshd) == nil)  // case sensitive, like grep -F
        #expect(match(LogQuery(filter: Array("port 59710 ssh2".utf8)), sshd) != nil)  // at the very end
        #expect(match(LogQuery(program: Array("sshd".utf8)), sshd) != nil)
        #expect(match(LogQuery(program: Array("sshd".utf8)), cron) == nil)
        #expect(match(LogQuery(program: Array("CRON".utf8)), cron) != nil)
        let since = CivilDateTime(year: 2026, month: 11, day: 22, hour: 23, minute: 6, second: 48).timestamp()
        #expect(match(LogQuery(since: since), sshd) != nil)  // at `since` exactly: kept
        #expect(match(LogQuery(since: Timestamp(microseconds: since.microseconds + 1)), sshd) == nil)
        // A line with no time of its own (not syslog) is not dropped by `since`.
        #expect(match(LogQuery(since: since), "plain text line") != nil)
    }

    @Test func logQueryParametersAreReadAndBounded() throws {
        func query(_ target: String) -> Result<LogQuery, HTTPRequestError> {
            guard case .head(let head, _) = Array("GET \(target) HTTP/1.1\r\n\r\n".utf8).withUnsafeBytes({ HTTPRequestParser.parse($0) }) else {
                return .failure(HTTPRequestError(0, "unparsed"))
            }
            return LogQuery.from(head)
        }
        #expect(query("/hosts/h/logs") == .success(LogQuery()))
        #expect(query("/hosts/h/logs?filter=a%20b&file=sshd&count=7&since=2026-11-22")
            == .success(LogQuery(filter: Array("a b".utf8), program: Array("sshd".utf8), since: Self.day, count: 7)))
        #expect(query("/hosts/h/logs?count=1000000") == .success(LogQuery(count: LogQuery.maxCount)))
        guard case .failure(let since) = query("/hosts/h/logs?since=soon"), case .failure(let count) = query("/hosts/h/logs?count=x"),
              case .failure(let long) = query("/hosts/h/logs?filter=" + String(repeating: "a", count: 1025)) else {
            Issue.record("a bad parameter was accepted")
            return
        }
        #expect(since.status == 400 && since.message.contains("since"))
        #expect(count.status == 400 && count.message.contains("count"))
        #expect(long.status == 400 && long.message.contains("filter"))
    }

    /// The captured sshd session through rsyslog: 16 sshd processes talked to a client (the
    /// listener's own lines do not count), 8 `Failed password` lines, 3 accepted logins, 2
    /// unknown users, all from 127.0.0.1.
    @Test func theSSHLoginTallyOfTheCapturedSample() {
        var tally = SSHLoginTally()
        for frame in Fixtures.frames("sshd-normal-rsyslog-tcp-octet.tcp") {
            frame.withUnsafeBytes { tally.add($0, receivedAt: Self.day) }
        }
        #expect(tally.attempts == 16)
        #expect(tally.failures == 8)
        #expect(tally.successes == 3)
        #expect(tally.invalidUsers == 2)
        #expect(tally.topAddresses(10) == [.init(ip: IPAddress(127, 0, 0, 1), attempts: 16, failures: 8, successes: 3)])
    }

    @Test func theTallyRanksAddressesAndIgnoresOtherPrograms() {
        var tally = SSHLoginTally()
        func add(_ line: String) { Array(line.utf8).withUnsafeBytes { tally.add($0, receivedAt: Self.day) } }
        for (pid, ip) in [(10, "203.0.113.7"), (11, "203.0.113.7"), (12, "198.51.100.1")] {
            add("<38>1 2026-11-22T10:00:00Z h sshd \(pid) - - Failed password for root from \(ip) port 4242 ssh2")
        }
        add("<38>1 2026-11-22T10:00:01Z h sshd 11 - - Failed password for root from 203.0.113.7 port 4242 ssh2")
        // A hostile user name cannot plant an address; another program's line is no login.
        add("<38>1 2026-11-22T10:00:02Z h sshd 13 - - Failed password for invalid user x from 192.0.2.1 port 1 ssh2 from 198.51.100.1 port 9 ssh2")
        add("<38>1 2026-11-22T10:00:03Z h nginx 14 - - Failed password for root from 192.0.2.99 port 1 ssh2")
        add("<38>1 2026-11-22T10:00:04Z h sshd 15 - - Server listening on 0.0.0.0 port 22.")
        #expect(tally.attempts == 4)
        #expect(tally.failures == 5)
        #expect(tally.topAddresses(2) == [
            .init(ip: IPAddress(203, 0, 113, 7), attempts: 2, failures: 3, successes: 0),
            .init(ip: IPAddress(198, 51, 100, 1), attempts: 2, failures: 2, successes: 0),
        ])
    }

    func alert(_ id: String, _ rule: RuleID, _ state: Alert.State, at second: Int64) -> Alert {
        Alert(id: id, rule: rule, state: state, severity: .warning, scope: .host, host: "h", ip: nil, count: 1, windowSeconds: 60,
              hosts: ["h"], firstTs: Timestamp(seconds: 0), ts: Timestamp(seconds: second), summary: id)
    }

    @Test func recentAlertsKeepTheNewestAndKnowWhichFireNow() {
        var recent = RecentAlerts(capacity: 3)
        recent.record(alert("a", .sshBruteforce, .firing, at: 1))
        recent.record(alert("b", .httpScan, .firing, at: 2))
        recent.record(alert("a", .sshBruteforce, .resolved, at: 3))
        recent.record(alert("c", .sshBruteforce, .firing, at: 4))  // pushes out the oldest
        #expect(recent.newest(count: 10).map(\.ts.seconds) == [4, 3, 2])
        #expect(recent.newest(count: 2).map(\.ts.seconds) == [4, 3])
        #expect(recent.newest(count: 10, state: .firingNow).map(\.id) == ["c", "b"])
        #expect(recent.newest(count: 10, state: .resolved).map(\.id) == ["a"])
        #expect(recent.newest(count: 10, state: .firingNow, rule: .sshBruteforce).map(\.id) == ["c"])
        #expect(recent.firingCount == 2)
        #expect(recent.fired[.sshBruteforce] == 2 && recent.resolved[.sshBruteforce] == 1 && recent.fired[.httpScan] == 1)
    }

    @Test func hostActivityCountsMessagesAndPrograms() {
        var activity = HostActivity()
        let host = HostID(3)
        func record(_ program: String, at second: Int64) {
            // The name inside a frame, as the collector passes it, with text after it.
            let frame = Array("<13>1 - h \(program) - - - text".utf8)
            let start = 10
            frame.withUnsafeBytes {
                activity.recordMessage(host: host, frame: $0, program: start..<(start + program.utf8.count), at: Timestamp(seconds: second))
            }
        }
        record("sshd", at: 1)
        record("sshd", at: 2)
        record("nginx", at: 3)
        record("", at: 4)
        record("sshd", at: 4)
        record("postfix/smtpd", at: 4)  // longer than a packed name
        record("postfix/smtpd", at: 4)
        record("postfix/smtpX", at: 4)
        for i in 0..<100 { record("app\(i)", at: 5) }  // a sender inventing names: the list stays bounded
        let entry = activity.entry(host)
        #expect(entry?.messages == 108)
        #expect(entry?.lastSeen == Timestamp(seconds: 5))
        #expect(entry?.programs.count == HostActivity.maxProgramsPerHost)
        #expect(entry?.programs.prefix(4).map { String(decoding: $0, as: UTF8.self) } == ["sshd", "nginx", "postfix/smtpd", "postfix/smtpX"])
        #expect(entry?.programsDropped == 100 - UInt64(HostActivity.maxProgramsPerHost - 4))
        #expect(activity.entry(HostID(0)) == HostActivity.Entry(messages: 0, lastSeen: nil, programs: [], programsDropped: 0))
        #expect(activity.entry(HostID(9)) == nil)
        // Names that differ only past the packed bytes, or in length, are not confused.
        let text = Array("sshd\u{0}xyz sshd".utf8)
        text.withUnsafeBytes { b in
            #expect(HostActivity.packedName(b, 0..<0) == 0)
            #expect(HostActivity.packedName(b, 0..<4) != HostActivity.packedName(b, 0..<5))
            // At the end of the buffer (no 8-byte load possible) the same name packs the same.
            #expect(HostActivity.packedName(b, 0..<4) == HostActivity.packedName(b, 9..<13))
            #expect(HostActivity.packedName(b, 0..<8) == 0)
        }
    }

    /// The stats' counts since the start survive the interval resets (the API's ssh failures
    /// and HTTP hits per host come from them).
    @Test func trafficStatsCountSinceTheStartAcrossResets() {
        var stats = TrafficStats()
        let host = HostID(1)
        stats.recordSSH(host: host, event: SSHEvent(kind: .authFailure, count: 3))
        stats.recordSSH(host: host, event: SSHEvent(kind: .invalidUser))
        stats.recordSSH(host: host, event: SSHEvent(kind: .authSuccess))
        stats.reset()
        stats.recordSSH(host: host, event: SSHEvent(kind: .authFailure))
        #expect(stats.host(host).sshFailures == 1)
        #expect(stats.host(host).sshFailuresSinceStart == 5)
        #expect(stats.host(host).hitsSinceStart == 0)
    }

    @Test func prometheusTextHasHelpTypeAndEscapedLabels() {
        var m = PrometheusText()
        m.single("vigil_received_messages_total", .counter, "Messages received.", 42)
        m.family("vigil_sink_dropped_total", .counter, "Alerts dropped,\nby sink.")
        m.sample("vigil_sink_dropped_total", ["sink": #"file:/a"b\c"#], 1)
        m.sample("vigil_sink_dropped_total", ["sink": "line\nfeed"], 0)
        #expect(m.text == """
            # HELP vigil_received_messages_total Messages received.
            # TYPE vigil_received_messages_total counter
            vigil_received_messages_total 42
            # HELP vigil_sink_dropped_total Alerts dropped,\\nby sink.
            # TYPE vigil_sink_dropped_total counter
            vigil_sink_dropped_total{sink="file:/a\\"b\\\\c"} 1
            vigil_sink_dropped_total{sink="line\\nfeed"} 0

            """)
    }
}
