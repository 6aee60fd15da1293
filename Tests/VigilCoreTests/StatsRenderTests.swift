import Testing
import VigilTestSupport
#if canImport(Glibc)
import Glibc
#endif
@testable import VigilCore

@Suite struct StatsRenderTests {
    /// The lines of a fixture file.
    static func lines(_ name: String) -> [[UInt8]] { Fixtures.lines(Fixtures.sample(name)) }

    /// A minimal Combined Log Format reader for the test: client, status, bytes and the section
    /// (the path up to its second `/`) as a range into the line. The real extractor lives in Extract/.
    static func request(_ line: [UInt8]) -> HTTPRequest {
        let space = line.firstIndex(of: UInt8(ascii: " "))!
        let ip = line[..<space].withUnsafeBytes { IPAddress.parse($0) }
        var r = HTTPRequest(clientIP: ip)
        let quote1 = line.firstIndex(of: UInt8(ascii: "\""))!
        let quote2 = line[(quote1 + 1)...].firstIndex(of: UInt8(ascii: "\""))!
        let tail = line[(quote2 + 2)...].split(separator: UInt8(ascii: " "), maxSplits: 2)
        r.status = UInt16(String(decoding: tail[0], as: UTF8.self)) ?? 0
        r.bytes = Int64(String(decoding: tail[1], as: UTF8.self)) ?? 0
        let request = line[(quote1 + 1)..<quote2]
        if let sp = request.firstIndex(of: UInt8(ascii: " ")) {
            let pathStart = sp + 1
            var end = pathStart
            var slashes = 0
            while end < quote2, line[end] != UInt8(ascii: " "), line[end] != UInt8(ascii: "?") {
                if line[end] == UInt8(ascii: "/") { slashes += 1; if slashes == 2 { break } }
                end += 1
            }
            r.section = pathStart..<end
        }
        return r
    }

    @Test func nginxSampleRendersPerHostAndAll() {
        var stats = TrafficStats()
        let web1 = HostID(0), web2 = HostID(1)
        let lines = Self.lines("nginx-access-curl.log")
        #expect(lines.count == 17)
        for line in lines {
            line.withUnsafeBytes { stats.recordHTTP(host: web1, request: Self.request(line), text: $0) }
        }
        // Two more requests on a second host, and some sshd events.
        for line in lines.prefix(2) {
            line.withUnsafeBytes { stats.recordHTTP(host: web2, request: Self.request(line), text: $0) }
        }
        stats.recordSSH(host: web2, event: SSHEvent(kind: .authFailure, count: 3))
        stats.recordSSH(host: web2, event: SSHEvent(kind: .invalidUser))
        stats.recordSSH(host: web2, event: SSHEvent(kind: .authSuccess))
        stats.recordSSH(host: web2, event: SSHEvent(kind: .sessionOpen, pid: 1))
        stats.recordSSH(host: web2, event: SSHEvent(kind: .sessionOpen, pid: 2))
        stats.recordSSH(host: web2, event: SSHEvent(kind: .sessionClose, pid: 1))

        let at = CivilDateTime(year: 2026, month: 11, day: 22, hour: 23, minute: 6, second: 40).timestamp()
        let block = stats.render(at: at, intervalSeconds: 10, top: 3, hostName: { ["web1", "web2"][Int($0.rawValue)] })
        #expect(block == """
            stats at 2026-11-22T23:06:40Z over 10s
            all hosts: hits 19 (1.90/s) bytes 2070 | 2xx 7 3xx 0 4xx 10 5xx 2 | ssh failures 4 successes 1 open sessions 1
              top sections: /missing 6, / 3, /api 2, (other) 1
              top clients: 127.0.0.1 18, ::1 1
            host web1: hits 17 (1.70/s) bytes 1984 | 2xx 5 3xx 0 4xx 10 5xx 2 | ssh failures 0 successes 0 open sessions 0
              top sections: /missing 6, / 2, /api 2, (other) 1
              top clients: 127.0.0.1 16, ::1 1
            host web2: hits 2 (0.20/s) bytes 86 | 2xx 2 3xx 0 4xx 0 5xx 0 | ssh failures 4 successes 1 open sessions 1
              top sections: / 1, /index.html 1
              top clients: 127.0.0.1 2

            """)
    }

    @Test func resetClearsTheIntervalButKeepsOpenSessions() {
        var stats = TrafficStats()
        let line = Array(#"203.0.113.7 - - [22/Nov/2026:23:06:35 +0000] "GET /pages/create HTTP/1.1" 200 43 "-" "curl/7.88.1""#.utf8)
        line.withUnsafeBytes { stats.recordHTTP(host: HostID(0), request: Self.request(line), text: $0) }
        stats.recordSSH(host: HostID(0), event: SSHEvent(kind: .sessionOpen, pid: 9))
        let name: (HostID) -> String = { _ in "web1" }
        let first = stats.render(at: Timestamp(seconds: 0), intervalSeconds: 10, hostName: name)
        #expect(first.contains("top sections: /pages 1\n"))
        #expect(first.contains("top clients: 203.0.113.7 1\n"))
        stats.reset()
        let second = stats.render(at: Timestamp(seconds: 10), intervalSeconds: 10, hostName: name)
        #expect(second == """
            stats at 1970-01-01T00:00:10Z over 10s
            all hosts: hits 0 (0.00/s) bytes 0 | 2xx 0 3xx 0 4xx 0 5xx 0 | ssh failures 0 successes 0 open sessions 1
            host web1: hits 0 (0.00/s) bytes 0 | 2xx 0 3xx 0 4xx 0 5xx 0 | ssh failures 0 successes 0 open sessions 1

            """)
    }

    @Test func distinctSectionsAndClientsAreCapped() {
        var stats = TrafficStats(maxSectionsPerHost: 2, maxClientsPerHost: 1)
        for (i, path) in ["/a/1", "/b", "/c/x", "/a/2"].enumerated() {
            let line = Array("10.0.0.\(i) - - [22/Nov/2026:23:06:35 +0000] \"GET \(path) HTTP/1.1\" 200 1 \"-\" \"-\"".utf8)
            line.withUnsafeBytes { stats.recordHTTP(host: HostID(0), request: Self.request(line), text: $0) }
        }
        let block = stats.render(at: Timestamp(seconds: 0), intervalSeconds: 1, hostName: { _ in "h" })
        #expect(block.contains("host h: hits 4 (4.00/s) bytes 4"))
        #expect(block.contains("  top sections: /a 2, /b 1, (other) 1\n"))
        #expect(block.contains("  top clients: 10.0.0.0 1, (other) 3\n"))
    }

    /// Host names and paths come from senders: a host name with a line feed must not forge a
    /// line of the block (here a fake alert), and no ESC may reach the terminal.
    @Test func hostileHostNamesAndSectionsCannotForgeLinesOrReachTheTerminal() {
        let names = ["evil\nFAKE 2026-11-22T10:00:00Z FIRING critical ssh_bruteforce web1 10.0.0.1", "evil\u{1b}[2J"]
        var stats = TrafficStats()
        let line = Array("10.0.0.1 - - [22/Nov/2026:23:06:35 +0000] \"GET /a\u{1b}[31m/x HTTP/1.1\" 200 5 \"-\" \"-\"".utf8)
        for h in names.indices {
            line.withUnsafeBytes { stats.recordHTTP(host: HostID(UInt32(h)), request: Self.request(line), text: $0) }
        }
        let block = stats.render(at: Timestamp(seconds: 0), intervalSeconds: 1, hostName: { names[Int($0.rawValue)] })
        let lines = block.split(separator: "\n", omittingEmptySubsequences: false)
        // The header, then three lines (counters, sections, clients) each for all hosts and the two hosts.
        #expect(lines.count == 1 + 3 * 3 + 1 && lines.last == "")
        #expect(!lines.contains { $0.hasPrefix("FAKE") })
        #expect(!block.utf8.contains(0x1B))
        #expect(lines[4] == #"host evil\nFAKE 2026-11-22T10:00:00Z FIRING critical ssh_bruteforce web1 10.0.0.1: hits 1 (1.00/s) bytes 5"#
            + " | 2xx 1 3xx 0 4xx 0 5xx 0 | ssh failures 0 successes 0 open sessions 0")
        #expect(lines[7].hasPrefix(#"host evil\x1b[2J: hits 1"#))
        #expect(lines[8] == #"  top sections: /a\x1b[31m 1"#)
    }
}
