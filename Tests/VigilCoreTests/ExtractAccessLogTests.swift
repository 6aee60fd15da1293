import Testing
import VigilTestSupport
@testable import VigilCore

/// Expected fields of one access-log request.
struct HTTPExpect: Sendable, CustomTestStringConvertible {
    var line: String
    var client: String
    var ip: String?
    var user = "-"
    var time: String?
    var request: String
    var method = ""
    var path = ""
    var proto = ""
    var section = ""
    var status: UInt16
    var bytes: Int64
    var referer = ""
    var userAgent = ""
    var testDescription: String { line }

    func check(_ b: UnsafeRawBufferPointer, _ got: HTTPRequest?) {
        guard let got else { Issue.record("not recognised: \(line)"); return }
        #expect(extractString(b, got.client) == client)
        #expect(got.clientIP == ip.flatMap { IPAddress.parse($0) })
        #expect(extractString(b, got.user) == user)
        #expect(got.time?.rfc3339() == time)
        #expect(extractString(b, got.request) == request)
        #expect(extractString(b, got.method) == method)
        #expect(extractString(b, got.path) == path)
        #expect(extractString(b, got.proto) == proto)
        #expect(extractString(b, got.section) == section)
        #expect(got.status == status)
        #expect(got.bytes == bytes)
        #expect(extractString(b, got.referer) == referer)
        #expect(extractString(b, got.userAgent) == userAgent)
    }
}

@Suite struct ExtractAccessLogTests {
    static let t0 = "2026-11-22T23:06:35Z"

    /// The 17 lines of nginx-access-curl.log (and of nginx-syslog-curl.udp), in order.
    static let nginx: [HTTPExpect] = {
        func row(_ req: String, _ m: String, _ p: String, _ proto: String, _ s: String, _ status: UInt16, _ bytes: Int64,
                 user: String = "-", client: String = "127.0.0.1", ref: String = "-", ua: String = "curl/7.88.1") -> HTTPExpect {
            HTTPExpect(line: req, client: client, ip: client, user: user, time: t0, request: req, method: m, path: p, proto: proto,
                       section: s, status: status, bytes: bytes, referer: ref, userAgent: ua)
        }
        return [
            row("GET / HTTP/1.1", "GET", "/", "HTTP/1.1", "/", 200, 43),
            row("GET /index.html HTTP/1.1", "GET", "/index.html", "HTTP/1.1", "/index.html", 200, 43),
            row("GET /?q=caf%C3%A9&x=1 HTTP/1.1", "GET", "/?q=caf%C3%A9&x=1", "HTTP/1.1", "/", 200, 43,
                ref: "https://example.com/?a=\\x22b\\x22", ua: "Mozilla/5.0 (X11; Linux x86_64) \\x22quoted\\x22 agent"),
            row("GET /missing/page1.php HTTP/1.1", "GET", "/missing/page1.php", "HTTP/1.1", "/missing", 404, 153),
            row("GET /missing/page2.php HTTP/1.1", "GET", "/missing/page2.php", "HTTP/1.1", "/missing", 404, 153),
            row("GET /missing/page3.php HTTP/1.1", "GET", "/missing/page3.php", "HTTP/1.1", "/missing", 404, 153),
            row("GET /missing/page4.php HTTP/1.1", "GET", "/missing/page4.php", "HTTP/1.1", "/missing", 404, 153),
            row("GET /missing/page5.php HTTP/1.1", "GET", "/missing/page5.php", "HTTP/1.1", "/missing", 404, 153),
            row("GET /missing/page6.php HTTP/1.1", "GET", "/missing/page6.php", "HTTP/1.1", "/missing", 404, 153),
            row("GET /api/users HTTP/1.1", "GET", "/api/users", "HTTP/1.1", "/api", 502, 157),
            row("POST /api/login HTTP/1.1", "POST", "/api/login", "HTTP/1.1", "/api", 502, 157),
            row("HEAD /health.txt HTTP/1.1", "HEAD", "/health.txt", "HTTP/1.1", "/health.txt", 200, 0),
            row("GET /health.txt HTTP/1.0", "GET", "/health.txt", "HTTP/1.0", "/health.txt", 200, 3),
            row("GET /private/area HTTP/1.1", "GET", "/private/area", "HTTP/1.1", "/private", 404, 153, user: "alice"),
            row("GET /ipv6 HTTP/1.1", "GET", "/ipv6", "HTTP/1.1", "/ipv6", 404, 153, client: "::1"),
            row("GARBAGE", "", "", "", "", 400, 157, ua: "-"),
            row("GET /ctl\\x01\\x7F%ZZ HTTP/1.1", "GET", "/ctl\\x01\\x7F%ZZ", "HTTP/1.1", "/ctl\\x01\\x7F%ZZ", 400, 157, ua: "-"),
        ]
    }()

    @Test func everyLineOfTheNginxFile() {
        let lines = Fixtures.sampleLines("nginx-access-curl.log")
        #expect(lines.count == Self.nginx.count)
        for (line, want) in zip(lines, Self.nginx) {
            withExtractBytes(line) { b in want.check(b, AccessLogExtractor.extract(b)) }
        }
    }

    @Test func everyDatagramNginxSentOverSyslog() {
        let datagrams = Fixtures.datagrams("nginx-syslog-curl.udp")
        #expect(datagrams.count == Self.nginx.count)
        for (frame, want) in zip(datagrams, Self.nginx) {
            // `<190>Nov 22 23:06:35 vm nginx: TEXT` — the syslog parser hands over TEXT.
            let tag = Array("nginx: ".utf8)
            let start = (0...(frame.count - tag.count)).first { Array(frame[$0..<($0 + tag.count)]) == tag }! + tag.count
            frame.withUnsafeBytes { b in want.check(b, AccessLogExtractor.extract(b, range: start..<b.count)) }
        }
    }

    static let rows: [HTTPExpect] = [
        // Common Log Format (no referer, no agent), time zone offsets, `-` bytes.
        HTTPExpect(line: "10.1.2.3 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326",
                   client: "10.1.2.3", ip: "10.1.2.3", user: "frank", time: "2000-10-10T20:55:36Z", request: "GET /apache_pb.gif HTTP/1.0",
                   method: "GET", path: "/apache_pb.gif", proto: "HTTP/1.0", section: "/apache_pb.gif", status: 200, bytes: 2326),
        HTTPExpect(line: "10.1.2.3 - - [01/Jan/2027:00:30:00 +0100] \"GET /pages/create HTTP/1.1\" 304 -",
                   client: "10.1.2.3", ip: "10.1.2.3", time: "2026-12-31T23:30:00Z", request: "GET /pages/create HTTP/1.1",
                   method: "GET", path: "/pages/create", proto: "HTTP/1.1", section: "/pages", status: 304, bytes: 0),
        // Combined with Apache's `\"` escapes, a host name as client, an IPv6 client.
        HTTPExpect(line: "crawler.example.org - - [22/Nov/2026:23:06:35 +0000] \"GET /a?x=/b HTTP/1.1\" 200 5 \"-\" \"say \\\"hi\\\" bot\"",
                   client: "crawler.example.org", ip: nil, time: t0, request: "GET /a?x=/b HTTP/1.1", method: "GET", path: "/a?x=/b",
                   proto: "HTTP/1.1", section: "/a", status: 200, bytes: 5, referer: "-", userAgent: "say \\\"hi\\\" bot"),
        HTTPExpect(line: "2001:db8::1 - - [22/Nov/2026:23:06:35 +0000] \"POST /api/v1/items#frag HTTP/2.0\" 201 12 \"https://x/\" \"ua\"",
                   client: "2001:db8::1", ip: "2001:db8::1", time: t0, request: "POST /api/v1/items#frag HTTP/2.0", method: "POST",
                   path: "/api/v1/items#frag", proto: "HTTP/2.0", section: "/api", status: 201, bytes: 12, referer: "https://x/", userAgent: "ua"),
        // Malformed request lines: `-`, an empty one, a proxy probe with an absolute URL, HTTP/0.9, spaces in the target.
        HTTPExpect(line: "203.0.113.9 - - [22/Nov/2026:23:06:35 +0000] \"-\" 400 0 \"-\" \"-\"",
                   client: "203.0.113.9", ip: "203.0.113.9", time: t0, request: "-", status: 400, bytes: 0, referer: "-", userAgent: "-"),
        HTTPExpect(line: "203.0.113.9 - - [22/Nov/2026:23:06:35 +0000] \"\" 400 0 \"-\" \"-\"",
                   client: "203.0.113.9", ip: "203.0.113.9", time: t0, request: "", status: 400, bytes: 0, referer: "-", userAgent: "-"),
        HTTPExpect(line: "203.0.113.9 - - [22/Nov/2026:23:06:35 +0000] \"CONNECT http://example.com:443/x/y HTTP/1.1\" 405 0 \"-\" \"-\"",
                   client: "203.0.113.9", ip: "203.0.113.9", time: t0, request: "CONNECT http://example.com:443/x/y HTTP/1.1",
                   method: "CONNECT", path: "http://example.com:443/x/y", proto: "HTTP/1.1", section: "/x", status: 405, bytes: 0,
                   referer: "-", userAgent: "-"),
        HTTPExpect(line: "203.0.113.9 - - [22/Nov/2026:23:06:35 +0000] \"GET /old\" 200 10",
                   client: "203.0.113.9", ip: "203.0.113.9", time: t0, request: "GET /old", method: "GET", path: "/old",
                   section: "/old", status: 200, bytes: 10),
        HTTPExpect(line: "203.0.113.9 - - [22/Nov/2026:23:06:35 +0000] \"GET /a b/c HTTP/1.1\" 400 10",
                   client: "203.0.113.9", ip: "203.0.113.9", time: t0, request: "GET /a b/c HTTP/1.1", method: "GET", path: "/a b/c",
                   proto: "HTTP/1.1", section: "/a b", status: 400, bytes: 10),
        HTTPExpect(line: "203.0.113.9 - - [22/Nov/2026:23:06:35 +0000] \"OPTIONS * HTTP/1.1\" 200 0",
                   client: "203.0.113.9", ip: "203.0.113.9", time: t0, request: "OPTIONS * HTTP/1.1", method: "OPTIONS", path: "*",
                   proto: "HTTP/1.1", section: "", status: 200, bytes: 0),
        // A user name with spaces and a fake date in it; an unreadable date keeps the request.
        HTTPExpect(line: "192.0.2.4 - a [b] c [22/Nov/2026:23:06:35 +0000] \"GET / HTTP/1.1\" 401 0",
                   client: "192.0.2.4", ip: "192.0.2.4", user: "a [b] c", time: t0, request: "GET / HTTP/1.1", method: "GET",
                   path: "/", proto: "HTTP/1.1", section: "/", status: 401, bytes: 0),
        HTTPExpect(line: "192.0.2.4 - - [32/Nov/2026:23:06:35 +0000] \"GET / HTTP/1.1\" 200 1",
                   client: "192.0.2.4", ip: "192.0.2.4", time: nil, request: "GET / HTTP/1.1", method: "GET",
                   path: "/", proto: "HTTP/1.1", section: "/", status: 200, bytes: 1),
    ]

    @Test(arguments: rows) func recognisesVariant(_ row: HTTPExpect) {
        withExtractBytes(row.line) { b in row.check(b, AccessLogExtractor.extract(b)) }
    }

    @Test(arguments: [
        "", "-", "hello world", "127.0.0.1 - -",
        "127.0.0.1 - - [22/Nov/2026:23:06:35 +0000]",                             // truncated before the request
        "127.0.0.1 - - [22/Nov/2026:23:06:35 +0000] \"GET / HTTP/1.1",            // unterminated request
        "127.0.0.1 - - [22/Nov/2026:23:06:35 +0000] \"GET / HTTP/1.1\"",          // no status
        "127.0.0.1 - - [22/Nov/2026:23:06:35 +0000] \"GET / HTTP/1.1\" abc 12",   // status not a number
        "127.0.0.1 - - [22/Nov/2026:23:06:35 +0000] \"GET / HTTP/1.1\" 200 1x",   // bytes not a number
        "Nov 22 23:06:42 vm sshd[18396]: Server listening on 127.0.0.1 port 2222.",
    ])
    func rejects(_ line: String) {
        withExtractBytes(line) { #expect(AccessLogExtractor.extract($0) == nil) }
    }

    @Test(.timeLimit(.minutes(1))) func hostileLinesCostLinearTime() {
        // 64 KiB of ` [` with a `]` at the end: a quadratic search for the date would not finish.
        let line = "1.2.3.4 - " + String(repeating: " [", count: 32_000) + "]"
        withExtractBytes(line) { #expect(AccessLogExtractor.extract($0) == nil) }
        let ssh = "Failed password for " + String(repeating: " from 1.2.3.4 port 22 ssh2:", count: 2_400) + " from 203.0.113.5 port 5 ssh2"
        withExtractBytes(ssh) { #expect(SSHExtractor().extract($0, pid: 1)?.ip == IPAddress(203, 0, 113, 5)) }
    }

    @Test func rangesOutsideTheBufferAreEmpty() {
        withExtractBytes("127.0.0.1 - - [22/Nov/2026:23:06:35 +0000] \"GET / HTTP/1.1\" 200 1") { b in
            #expect(AccessLogExtractor.extract(b, range: 500..<900) == nil)
            #expect(SSHExtractor().extract(b, range: 500..<900, pid: 1) == nil)
            #expect(SessionSummaryExtractor.extract(b, range: 500..<900) == nil)
            var csv = CSVAccessLogReader()
            #expect(csv.read(b, range: 500..<900) == .invalid)
        }
    }

    @Test func csvWithHeader() {
        var reader = CSVAccessLogReader()
        let lines = [
            "\"remotehost\",\"rfc931\",\"authuser\",\"date\",\"request\",\"status\",\"bytes\"",
            "\"10.0.0.2\",\"-\",\"apache\",1549573860,\"GET /api/user HTTP/1.0\",200,1234",
            "\"10.0.0.4\",\"-\",\"apache\",1549573861,\"POST /report/a/b HTTP/1.0\",503,-",
            "\"2001:db8::3\",\"-\",\"-\",1549573862,\"GET /say?\"\"x\"\" HTTP/1.0\",404,0",
            "\"10.0.0.5\",\"-\",\"-\",1549573863,\"GARBAGE\",400,12",
            "\"10.0.0.2\",\"-\",\"apache\",notatime,\"GET / HTTP/1.0\",200,1",
            "\"10.0.0.2\",\"-\",\"apache\",1549573860,\"GET / HTTP/1.0\",200",          // no bytes column: still a request
            "\"10.0.0.2\",\"-\",\"apache\",1549573860,\"GET / HTTP/1.0",                // unterminated quote
            "",
        ]
        var got: [CSVAccessLogReader.Line] = []
        var fields: [[String]] = []
        for line in lines {
            withExtractBytes(line) { b in
                let r = reader.read(b)
                got.append(r)
                if case .request(let q) = r {
                    fields.append([extractString(b, q.client), q.clientIP?.description ?? "nil", extractString(b, q.user),
                                   q.time?.rfc3339() ?? "nil", extractString(b, q.method), extractString(b, q.path),
                                   extractString(b, q.proto), extractString(b, q.section), "\(q.status)", "\(q.bytes)"])
                }
            }
        }
        #expect(got.first == .header)
        #expect(got.dropFirst().map { if case .request = $0 { true } else { false } } == [true, true, true, true, false, true, false, false])
        #expect(fields == [
            ["10.0.0.2", "10.0.0.2", "apache", "2019-02-07T21:11:00Z", "GET", "/api/user", "HTTP/1.0", "/api", "200", "1234"],
            ["10.0.0.4", "10.0.0.4", "apache", "2019-02-07T21:11:01Z", "POST", "/report/a/b", "HTTP/1.0", "/report", "503", "0"],
            ["2001:db8::3", "2001:db8::3", "-", "2019-02-07T21:11:02Z", "GET", "/say?\"\"x\"\"", "HTTP/1.0", "/say", "404", "0"],
            ["10.0.0.5", "10.0.0.5", "-", "2019-02-07T21:11:03Z", "", "", "", "", "400", "12"],
            ["10.0.0.2", "10.0.0.2", "apache", "2019-02-07T21:11:00Z", "GET", "/", "HTTP/1.0", "/", "200", "0"],
        ])
    }

    @Test func csvHeaderOrderIsHonoured() {
        var reader = CSVAccessLogReader()
        withExtractBytes("status,date,request,remotehost") { #expect(reader.read($0) == .header) }
        withExtractBytes("404,1549573860,\"GET /x/y HTTP/1.1\",10.9.8.7") { b in
            guard case .request(let q) = reader.read(b) else { Issue.record("not a request"); return }
            #expect(q.status == 404)
            #expect(q.clientIP == IPAddress(10, 9, 8, 7))
            #expect(extractString(b, q.section) == "/x")
            #expect(q.time == Timestamp(seconds: 1_549_573_860))
        }
        // A header without the columns needed to read requests is refused and changes nothing.
        withExtractBytes("remotehost,bytes") { #expect(reader.read($0) == .invalid) }
        withExtractBytes("500,1549573860,\"GET / HTTP/1.1\",10.9.8.7") { b in
            guard case .request(let q) = reader.read(b) else { Issue.record("not a request"); return }
            #expect(q.status == 500)
        }
    }

    @Test(arguments: [("/pages/create", "/pages"), ("/", "/"), ("/a?x=/b", "/a"), ("/index.html", "/index.html"),
                      ("/pages/", "/pages"), ("//double", "/"), ("", ""), ("*", ""), ("https://h/x/y?z", "/x"), ("https://h", "")])
    func sectionOfAPath(_ path: String, _ section: String) {
        withExtractBytes(path) { b in #expect(extractString(b, AccessLogExtractor.section(b, 0..<b.count)) == section) }
    }
}
