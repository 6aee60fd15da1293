import Testing
import VigilTestSupport
@testable import VigilCore

/// `LogAnalysis` over small hand-made logs whose expectations are computed by hand.
@Suite struct ReportAnalysisTests {
    let now = CivilDateTime(year: 2026, month: 11, day: 25).timestamp()

    func run(_ files: [(String, [String])], format: LogFormat? = nil, host: String? = nil) -> AnalysisReport {
        var a = LogAnalysis(settings: DetectionSettings(), options: .init(format: format, referenceTime: now))
        for (name, lines) in files {
            let source = a.addSource(name: name, host: host ?? name)
            for line in lines { Array(line.utf8).withUnsafeBytes { a.feed($0, source: source) } }
        }
        return a.report()
    }

    @Test(arguments: [
        ("2026-11-22T23:06:43.957518+00:00 vm sshd[18419]: Accepted password for u from 127.0.0.1 port 59700 ssh2", LogFormat.auth),
        ("<38>1 2026-11-22T23:06:43Z vm sshd 18419 - - Failed password for u from 10.0.0.1 port 1 ssh2", .auth),
        ("Nov 22 23:06:42 vm cron[1]: (root) CMD (true)", .syslog),
        ("Failed password for root from 10.0.0.1 port 22 ssh2", .auth),
        ("80.112.125.122 : 18/07/22 01:06 - 18/07/22 01:18", .sessions),
        (#"127.0.0.1 - - [22/Nov/2026:23:06:35 +0000] "GET / HTTP/1.1" 200 43"#, .clf),
        (#"127.0.0.1 - - [22/Nov/2026:23:06:35 +0000] "GET / HTTP/1.1" 200 43 "-" "curl/7.88.1""#, .combined),
        (#""remotehost","rfc931","authuser","date","request","status","bytes""#, .csv),
        (#""10.0.0.2","-","apache",1549573860,"GET /api/user HTTP/1.0",200,1234"#, .csv),
    ])
    func detectsEveryFormat(line: String, format: LogFormat) {
        let detected = Array(line.utf8).withUnsafeBytes {
            LogFormat.detect($0, parser: SyslogParser(), ssh: SSHExtractor(), referenceTime: now)
        }
        #expect(detected == format)
    }

    @Test func garbageIsNoFormat() {
        let detected = Array("hello world, nothing to see".utf8).withUnsafeBytes {
            LogFormat.detect($0, parser: SyslogParser(), ssh: SSHExtractor(), referenceTime: now)
        }
        #expect(detected == nil)
    }

    /// 20 sessions of 1…20 minutes: the nearest rank of p95 is ⌈0.95·20⌉ = 19, so the 19- and
    /// 20-minute sessions are listed. 10.0.0.7 has three of them within the hour.
    @Test func p95SessionsAndRepeatedIPs() {
        var lines: [String] = []
        for m in 1...20 {
            let ip = m <= 3 ? "10.0.0.7" : "10.0.1.\(m)"
            let start = (m - 1) * 2
            func hhmm(_ minutes: Int) -> String {
                let h = minutes / 60, mm = minutes % 60
                return (h < 10 ? "0\(h)" : "\(h)") + ":" + (mm < 10 ? "0\(mm)" : "\(mm)")
            }
            lines.append("\(ip) : 18/07/22 \(hhmm(start)) - 18/07/22 \(hhmm(start + m))")
        }
        // Ends must come in time order for the window rules: sort by end.
        lines.sort { $0.suffix(5) < $1.suffix(5) }
        let r = run([("sessions.log", lines)])
        #expect(r.sources[0].format == .sessions && r.invalidLines == 0)
        #expect(r.ssh.sessions == 20)
        #expect(r.ssh.p95Seconds == 19 * 60)
        #expect(r.ssh.longestSessions.map(\.durationSeconds) == [20 * 60, 19 * 60])
        #expect(r.ssh.medianSeconds == 10 * 60)
        #expect(r.ssh.repeatedIPs.count == 1)
        let rep = r.ssh.repeatedIPs[0]
        #expect(rep.ip == IPAddress(10, 0, 0, 7) && rep.count == 3)
        #expect(rep.first.rfc3339() == "2022-07-18T00:00:00Z" && rep.last.rfc3339() == "2022-07-18T00:04:00Z")
        #expect(r.alerts.map(\.rule) == [.sshRepeatAccess])
    }

    /// 25 requests from one scanner, 404 each, one per second, plus 5 normal ones: the scan
    /// fires on the 20th 404 (at :19) and resolves once the window (T-60s, T] has held only 19
    /// for the quiet period (1 min), i.e. once the 404 at :05 is two minutes old, at 10:02:05.
    @Test func topSectionsStatusClassesAndAlertTimeline() {
        var lines: [String] = []
        for s in 0..<25 {
            let ss = s < 10 ? "0\(s)" : "\(s)"
            lines.append(#"203.0.113.9 - - [22/Nov/2026:10:00:\#(ss) +0000] "GET /admin/x\#(s) HTTP/1.1" 404 10"#)
        }
        for (i, path) in ["/pages/a", "/pages/b", "/", "/pages", "/api/v1"].enumerated() {
            lines.append(#"10.0.0.\#(i) - - [22/Nov/2026:10:00:30 +0000] "GET \#(path) HTTP/1.1" 200 100 "-" "ua""#)
        }
        lines.append(#"10.0.0.1 - - [22/Nov/2026:10:05:00 +0000] "GET / HTTP/1.1" 500 0 "-" "ua""#)
        let r = run([("access.log", lines)])
        #expect(r.sources[0].format == .clf && r.invalidLines == 0)
        #expect(r.http.hits == 31)
        #expect(r.http.bytes == 25 * 10 + 5 * 100)
        #expect(r.http.statusClasses == [0, 5, 0, 25, 1, 0])
        #expect(r.http.topSections.prefix(3).map(\.section) == ["/admin", "/pages", "/"])
        #expect(r.http.topSections.prefix(3).map(\.count) == [25, 3, 2])
        #expect(r.http.topClients.first == AnalysisReport.IPCount(ip: IPAddress(203, 0, 113, 9), count: 25))
        #expect(r.alerts.map { "\($0.rule.name) \($0.state.rawValue) \($0.ts.rfc3339())" } == [
            "http_scan firing 2026-11-22T10:00:19Z",
            "http_scan resolved 2026-11-22T10:02:05Z",
        ])
    }

    @Test func invalidLinesInTheMiddleAreCountedAndNamed() {
        let good = #"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1"#
        let r = run([("a.log", [good, "garbage one", good, "", "garbage two", good])])
        #expect(r.sources[0].lines == 6)
        #expect(r.sources[0].invalidLines == 2)
        #expect(r.sources[0].firstInvalid == [.init(line: 2, text: "garbage one"), .init(line: 5, text: "garbage two")])
        #expect(r.http.hits == 3)
    }

    /// Cut lines are added up per source; the text names them only when there are some, the
    /// JSON always.
    @Test func cutLinesAreCountedPerSource() {
        var a = LogAnalysis(settings: DetectionSettings(), options: .init(referenceTime: now))
        let cut = a.addSource(name: "cut.log", host: "h"), whole = a.addSource(name: "whole.log", host: "h")
        a.addCutLines(2, source: cut)
        a.addCutLines(1, source: cut)
        a.addCutLines(0, source: whole)
        let r = a.report()
        #expect(r.sources.map(\.cutLines) == [3, 0])
        #expect(r.text().hasPrefix("== inputs ==\ncut.log: unknown format, 0 lines, 0 invalid, 3 cut (too long)\n"
            + "whole.log: unknown format, 0 lines, 0 invalid\n"))
        #expect(r.json().hasPrefix(#"{"sources":[{"name":"cut.log","format":null,"lines":0,"invalid_lines":0,"first_invalid":[],"cut_lines":3},"#
            + #"{"name":"whole.log","format":null,"lines":0,"invalid_lines":0,"first_invalid":[],"cut_lines":0}],"#))
    }

    @Test func leadingGarbageDoesNotStopDetection() {
        let r = run([("x.log", ["???", "80.112.125.122 : 18/07/22 01:06 - 18/07/22 01:18"])])
        #expect(r.sources[0].format == .sessions && r.sources[0].firstInvalid.map(\.line) == [1])
    }

    @Test func anEmptyInputGivesAnEmptyReport() {
        let r = run([("empty.log", [])])
        #expect(r.sources == [.init(name: "empty.log", format: nil, lines: 0, invalidLines: 0, firstInvalid: [])])
        #expect(r.lines.isEmpty && r.alerts.isEmpty && r.http.hits == 0 && r.ssh.sessions == 0)
        #expect(r.json().hasPrefix(#"{"sources":[{"name":"empty.log","format":null,"lines":0"#))
    }

    @Test func csvHonoursItsHeaderAndCountsPerHost() {
        let r = run([("web.csv", [#""remotehost","rfc931","authuser","date","request","status","bytes""#,
                                  #""10.0.0.2","-","apache",1549573860,"GET /api/user HTTP/1.0",200,1234"#,
                                  #""10.0.0.3","-","-",1549573861,"POST /api/order HTTP/1.0",503,-"#])], host: "web1")
        #expect(r.lines == [.init(host: "web1", format: .csv, lines: 2)])
        #expect(r.http.statusClasses[1] == 1 && r.http.statusClasses[4] == 1 && r.http.bytes == 1234)
        #expect(r.http.topSections == [.init(section: "/api", count: 2)])
    }

    /// Forty hosts, short and long names, interleaved: more than the report's cache of recent
    /// names holds, so entries are replaced and names sharing an entry must not be confused.
    @Test func linesCountForTheHostTheirHeaderNames() {
        let names = (0..<40).map { i in
            i % 4 == 0 ? "h\(i)" : i % 4 == 1 ? "web-\(i)" : i % 4 == 2 ? "db-\(i).prod.example.com" : "x\(i)y"
        }
        var lines: [String] = []
        for round in 0..<3 {
            for (i, name) in names.enumerated() where round == 0 || i % (round + 1) == 0 {
                lines.append("2026-11-22T23:06:4\(round)Z \(name) cron[1]: (root) CMD (true)")
            }
        }
        let r = run([("syslog", lines)])
        let expected = names.enumerated().map { i, name in
            AnalysisReport.HostFormatCount(host: name, format: .syslog, lines: 1 + (i % 2 == 0 ? 1 : 0) + (i % 3 == 0 ? 1 : 0))
        }
        #expect(r.lines.sorted { $0.host < $1.host } == expected.sorted { $0.host < $1.host })
    }

    /// The sample auth.log: three logins from 127.0.0.1 (repeated), one brute force.
    @Test func realAuthLogSample() {
        let text = String(decoding: Fixtures.sample("sshd-normal-auth.log"), as: UTF8.self)
        let r = run([("auth.log", text.split(separator: "\n").map(String.init))])
        #expect(r.sources[0].format == .auth && r.invalidLines == 0)
        #expect(r.lines == [.init(host: "vm", format: .auth, lines: 62)])
        #expect(r.ssh.sessions == 3)
        #expect(r.ssh.repeatedIPs.map(\.count) == [3])
        #expect(r.bruteForce.count == 1 && r.bruteForce[0].ip == IPAddress(127, 0, 0, 1))
        #expect(r.crossHost.isEmpty)
    }

    @Test func jsonIsOneDocumentWithEverySection() {
        let r = run([("a.log", [#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /x/y HTTP/1.1" 200 1"#])])
        let json = r.json()
        for key in [#""sources":"#, #""lines":"#, #""ssh":"#, #""longest_sessions":"#, #""repeated_ips":"#,
                    #""bruteforce":"#, #""cross_host":"#, #""http":"#, #""top_sections":[{"section":"/x","hits":1}]"#,
                    #""status_classes":{"1xx":0,"2xx":1"#, #""alerts":[]"#] {
            #expect(json.contains(key), "missing \(key)")
        }
        #expect(json.hasSuffix("}\n") && json.filter { $0 == "\n" }.count == 1)
    }

    /// File names (here also the host of lines that name none), users, paths and invalid lines
    /// come from the inputs: with ESC and line feeds in them, the text report forges no line and
    /// holds no ESC, and the JSON report holds no raw control character either.
    @Test func hostileInputsCannotForgeReportLinesOrReachTheTerminal() {
        let failure = "Failed password for invalid user x\u{1b}[31m from 203.0.113.7 port 4242 ssh2"
        let auth = Array(repeating: failure, count: 6) + ["garbage \u{1b}]0;title\u{7}\nFAKE invalid line"]
        let access = (0..<2).map { _ in #"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /a\#u{1b}[31m/x HTTP/1.1" 200 1"# }
        let r = run([("evil\u{1b}[2J\nFAKE.log", auth), ("web\u{1b}[1m", access)])
        // The file name is the host here: as a host it is sanitized (`HostName`), as a source escaped.
        #expect(r.bruteForce.count == 1 && r.bruteForce[0].host == "evil__2j_fake.log")
        let text = r.text()
        let lines = text.split(separator: "\n")
        #expect(!text.utf8.contains(0x1B))
        #expect(!lines.contains { $0.hasPrefix("FAKE") })
        for shown in [#"evil\x1b[2J\nFAKE.log: auth, 7 lines, 1 invalid"#,
                      #"  invalid line 7: garbage \x1b]0;title\x07\nFAKE invalid line"#,
                      #"evil__2j_fake.log auth: 6"#,
                      #"hits per host: web__1m 2"#,
                      #"top sections: /a\x1b[31m 2"#] {
            #expect(lines.contains { $0 == shown }, "missing \(shown)")
        }
        #expect(lines.contains { $0.hasPrefix("  ") && $0.hasSuffix(#" on evil__2j_fake.log within 10m"#) })
        #expect(!r.json().utf8.contains { $0 < 0x20 && $0 != 0x0A })
    }

    /// `read(_:source:into:)` (how several files are merged in time order) reads a line as
    /// `feed` does, and `firstLineTime` is the time the analysis places it at: a syslog header's,
    /// a request's, a session summary's end; none for blank, invalid, undetected and bare sshd
    /// lines or a CSV header. A syslog line of a header only that ends in a tab has its time:
    /// the line is read without its trailing blanks (merging once read it with them, found no
    /// time, and fed it out of time order). Feeding the read chunks gives `feed`'s report.
    @Test func readGivesEachLineTheTimeTheAnalysisPlacesItAt() {
        let t0 = Timestamp(seconds: 1_795_341_600)  // 2026-11-22T10:00:00Z
        let files: [(String, [(String, Timestamp?)])] = [
            ("auth.log", [
                ("", nil),
                ("2026-11-22T10:00:00+00:00 web1 sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2", t0),
                ("Failed password for root from 10.0.0.1 port 22 ssh2", nil),
                ("<38>1 2026-11-22T10:00:30Z web1 sshd - - -\t", Timestamp(seconds: 1_795_341_630)),
                ("2026-11-22T10:05:00+00:00 web1 sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2 \t ",
                 Timestamp(seconds: 1_795_341_900)),
                ("nothing of the sort", nil),
            ]),
            ("access.log", [
                ("  \t", nil),
                (#"10.0.0.2 - - [22/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 43 "-" "curl/7.88.1"  "#, t0),
                ("10.0.0.2 garbage", nil),
            ]),
            ("access.csv", [
                (#""remotehost","rfc931","authuser","date","request","status","bytes""#, nil),
                (#""10.0.0.2","-","-",1795341600,"GET / HTTP/1.1",200,43"#, t0),
            ]),
            ("sessions.log", [("10.0.0.3 : 22/11/26 09:55 - 22/11/26 10:05", Timestamp(seconds: 1_795_341_900))]),
            ("other.log", [("hello world", nil), ("still nothing", nil)]),
        ]
        var read = LogAnalysis(settings: DetectionSettings(), options: .init(referenceTime: now))
        let chunk = LineChunk(reservingBytes: 64)
        for (name, lines) in files {
            let source = read.addSource(name: name, host: "h")
            for (line, time) in lines {
                Array(line.utf8).withUnsafeBytes { read.read($0, source: source, into: chunk) }
                #expect(chunk.firstLineTime == time, "\(name): \(line)")
                read.feed(chunk, source: source)
            }
        }
        let fed = run(files.map { ($0.0, $0.1.map(\.0)) }, host: "h")
        #expect(read.report().text() == fed.text())
        #expect(fed.sources.map(\.format) == [.auth, .combined, .csv, .sessions, nil])
        #expect(fed.sources.map(\.invalidLines) == [1, 1, 0, 0, 2])
    }
}
