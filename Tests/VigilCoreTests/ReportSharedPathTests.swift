import Testing
@testable import VigilCore

/// The offline report and `serve` share one path (`Analyzer`, `TrafficStats`): what the
/// analyzer says it recognised, the uncapped stats the report reads, and the end of input.
@Suite struct ReportSharedPathTests {
    final class Names { var table = HostTable() }
    let now = CivilDateTime(year: 2026, month: 11, day: 25).timestamp()

    /// Each kind of payload comes back as what it is, with the time it was counted at.
    @Test func theAnalyzerSaysWhatItRecognised() {
        let names = Names()
        var a = Analyzer(settings: DetectionSettings())
        let host = names.table.intern("web1")
        let parser = SyslogParser()
        func observe(_ line: String) -> Analyzer.Observation {
            Array(line.utf8).withUnsafeBytes { buf in
                a.analyzeOne(frame: buf, fields: parser.parse(buf, receivedAt: now), host: host, receivedAt: now)
            }
        }
        let t = CivilDateTime(year: 2026, month: 11, day: 22, hour: 10).timestamp()
        guard case .ssh(let result, let at) = observe("<38>1 2026-11-22T10:00:00Z web1 sshd 7 - - Failed password for root from 198.51.100.9 port 5 ssh2") else {
            Issue.record("not ssh"); return
        }
        #expect(at == t && result.event?.kind == .authFailure && result.event?.ip == IPAddress(198, 51, 100, 9))
        // A known sshd line that is no event yet (an IP-less probe held for its address) still says it was sshd.
        guard case .ssh(let quiet, _) = observe("<38>1 2026-11-22T10:00:01Z web1 sshd 8 - - error: kex_exchange_identification: Connection closed by remote host") else {
            Issue.record("not ssh"); return
        }
        #expect(quiet.event == nil)
        guard case .http(let request, let when) = observe(#"<190>1 2026-11-22T10:00:02Z web1 nginx - - - 10.0.0.1 - - [22/Nov/2026:09:59:59 +0000] "GET /a/b HTTP/1.1" 404 5"#) else {
            Issue.record("not http"); return
        }
        // The request's own time wins over the syslog header's.
        #expect(request.status == 404 && when == CivilDateTime(year: 2026, month: 11, day: 22, hour: 9, minute: 59, second: 59).timestamp())
        guard case .sessionSummary(let summary) = observe("<38>1 2026-11-22T10:00:03Z web1 sessions - - - 80.112.125.122 : 18/07/22 01:06 - 18/07/22 01:18") else {
            Issue.record("not a summary"); return
        }
        #expect(summary.durationSeconds == 12 * 60)
        #expect(observe("<38>1 2026-11-22T10:00:04Z web1 cron 1 - - (root) CMD (true)") == .none)
        #expect(a.counters.sshLines == 2 && a.counters.httpRequests == 1 && a.counters.sessionSummaries == 1)
    }

    /// The report's stats are not capped: the 1025th section and 16385th client are named, not "other".
    @Test func unlimitedStatsKeepEverySectionAndClient() {
        var capped = TrafficStats(maxSectionsPerHost: 4, maxClientsPerHost: 4)
        var all = TrafficStats.unlimited
        for i in 0..<10 {
            let line = Array("10.0.0.\(i) - - [22/Nov/2026:10:00:00 +0000] \"GET /s\(i)/x HTTP/1.1\" 200 1".utf8)
            line.withUnsafeBytes { buf in
                let request = AccessLogExtractor.extract(buf)!
                capped.recordHTTP(host: HostID(0), request: request, text: buf)
                all.recordHTTP(host: HostID(0), request: request, text: buf)
            }
        }
        #expect(capped.allHosts().otherSectionHits == 6 && capped.allHosts().otherClientHits == 6)
        let totals = all.allHosts()
        #expect(totals.otherSectionHits == 0 && totals.otherClientHits == 0)
        #expect(totals.topSections(20).count == 10 && totals.clientCount == 10)
        #expect(totals.topClients(1).map(\.ip) == [IPAddress(10, 0, 0, 0)])
    }

    /// Per host and summed over hosts; sshd events by kind.
    @Test func allHostsAddsUpEveryHost() {
        var stats = TrafficStats()
        for (h, path) in [(0, "/a/1"), (1, "/a/2"), (1, "/b")] {
            let line = Array("10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET \(path) HTTP/1.1\" 500 7".utf8)
            line.withUnsafeBytes { stats.recordHTTP(host: HostID(UInt32(h)), request: AccessLogExtractor.extract($0)!, text: $0) }
        }
        stats.recordSSH(host: HostID(2), event: SSHEvent(kind: .invalidUser, count: 3))
        stats.recordSSH(host: HostID(2), event: SSHEvent(kind: .probe))
        let all = stats.allHosts()
        #expect(all.hits == 3 && all.bytes == 21 && all.statusClasses[4] == 3)
        #expect(all.topSections(5).map(\.section) == ["/a", "/b"] && all.topSections(5).map(\.hits) == [2, 1])
        #expect(all.topClients(5).map(\.hits) == [3])
        #expect(all.sshFailures == 3 && all.sshEvents[Int(SSHEvent.Kind.probe.rawValue)] == 1)
        #expect(stats.activeHosts == [HostID(0), HostID(1), HostID(2)] && stats.host(HostID(1)).hits == 2)
        #expect(stats.host(HostID(9)).hits == 0)
    }

    func analyse(_ lines: [String], finish: Bool) -> AnalysisReport {
        var a = LogAnalysis(settings: DetectionSettings(), options: .init(referenceTime: now))
        let source = a.addSource(name: "auth.log", host: "vm")
        for line in lines { Array(line.utf8).withUnsafeBytes { a.feed($0, source: source) } }
        if finish { a.finish() }
        return a.report()
    }

    /// Five failures in a minute make a brute force; after the last line nothing more is known.
    /// At the end of input the attack resolves a window (10 min) after its last failure, and the
    /// session that is still open when the log ends does not fire as "long" at a time the log
    /// does not cover.
    @Test func theEndOfInputResolvesWhatStoppedAndFiresNothingNew() {
        var lines = (0..<5).map { "2026-11-22T10:00:0\($0)+00:00 vm sshd[\(100 + $0)]: Failed password for root from 203.0.113.7 port 4\($0)000 ssh2" }
        lines += [
            "2026-11-22T10:01:00+00:00 vm sshd[200]: Accepted password for alice from 192.0.2.10 port 50000 ssh2",
            "2026-11-22T10:01:00+00:00 vm sshd[200]: pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)",
            "2026-11-22T10:05:00+00:00 vm sshd[300]: Server listening on 0.0.0.0 port 22.",
        ]
        let open = analyse(lines, finish: false)
        #expect(open.alerts.map { "\($0.rule.name) \($0.state.rawValue)" } == ["ssh_bruteforce firing"])
        let ended = analyse(lines, finish: true)
        #expect(ended.alerts.map { "\($0.rule.name) \($0.state.rawValue) \($0.ts.rfc3339())" } == [
            "ssh_bruteforce firing 2026-11-22T10:00:04Z",
            "ssh_bruteforce resolved 2026-11-22T10:10:04Z",
        ])
        #expect(ended.bruteForce.count == 1)
    }

    /// Three sessions of one address within the hour: after the end of input the repeated
    /// access resolves when the first of them leaves the one-hour window.
    @Test func theEndOfInputResolvesRepeatedAccess() {
        var a = LogAnalysis(settings: DetectionSettings(), options: .init(referenceTime: now))
        let source = a.addSource(name: "sessions.log", host: "vm")
        for line in ["80.112.125.122 : 18/07/22 01:06 - 18/07/22 01:18", "80.112.125.122 : 18/07/22 01:20 - 18/07/22 01:25",
                     "80.112.125.122 : 18/07/22 01:30 - 18/07/22 01:31"] {
            Array(line.utf8).withUnsafeBytes { a.feed($0, source: source) }
        }
        a.finish()
        a.finish()  // a second end changes nothing
        let r = a.report()
        #expect(r.alerts.map { "\($0.rule.name) \($0.state.rawValue) \($0.ts.rfc3339())" } == [
            "ssh_repeat_access firing 2022-07-18T01:31:00Z",
            "ssh_repeat_access resolved 2022-07-18T02:18:00Z",
        ])
    }
}
