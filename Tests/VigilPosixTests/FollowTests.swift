import Glibc
import Testing
import VigilTestSupport
import VigilCore
@testable import VigilPosix
import VigilDaemon

/// `vigil follow`'s engine, driven by `check(now:)` after each file operation (no sleeps):
/// every access-log line reaches the analyzer exactly once across rotations.
@Suite struct FollowTests {
    final class Output { var lines: [String] = [] }

    func append(_ path: String, _ n: Int, from first: Int) {
        var text = ""
        for i in first..<(first + n) {
            text += #"10.0.0.\#(i % 250) - - [25/Nov/2026:10:00:00 +0000] "GET /p\#(i) HTTP/1.1" 200 1"# + "\n"
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        Glibc.close(fd)
    }

    let now = CivilDateTime(year: 2026, month: 11, day: 25, hour: 10).timestamp()

    func follower(_ paths: [String], _ out: Output, _ notices: Output) -> Follower {
        Follower(paths: paths, settings: DetectionSettings(), host: "web1", output: { out.lines.append($0) },
                 notice: { notices.lines.append($0) })
    }

    @Test func appendsAreSeen() throws {
        let path = TemporaryDirectory().path + "/access.log"
        append(path, 3, from: 0)
        let out = Output(), notices = Output()
        let f = follower([path], out, notices)
        f.check(now: now)
        #expect(f.counters.httpRequests == 0)   // starts at the end
        append(path, 5, from: 3)
        f.check(now: now)
        #expect(f.counters.httpRequests == 5)
        #expect(notices.lines == ["vigil follow: following \(path)"])
    }

    @Test func renameRotationAndCopyTruncateLoseAndRepeatNothing() throws {
        let path = TemporaryDirectory().path + "/access.log"
        append(path, 0, from: 0)
        let out = Output(), notices = Output()
        let f = follower([path], out, notices)
        f.check(now: now)
        append(path, 4, from: 0)
        rename(path, path + ".1")
        append(path + ".1", 2, from: 4)    // the writer finishes into the renamed file
        append(path, 3, from: 6)           // the new file
        f.check(now: now)
        #expect(f.counters.httpRequests == 9)
        #expect(notices.lines.contains("vigil follow: \(path) was rotated; following the new file"))
        // copytruncate: copied away, then cut to zero, then written again.
        truncate(path, 0)
        append(path, 2, from: 9)
        f.check(now: now)
        #expect(f.counters.httpRequests == 11)
        #expect(notices.lines.contains("vigil follow: \(path) was truncated; reading from its start"))
    }

    @Test func aFileThatAppearsLaterIsPickedUp() throws {
        let path = TemporaryDirectory().path + "/later.log"
        let out = Output(), notices = Output()
        let f = follower([path], out, notices)
        f.check(now: now)
        f.check(now: now)
        #expect(notices.lines == ["vigil follow: \(path) does not exist yet; waiting for it to appear"])
        append(path, 2, from: 0)
        f.check(now: now)
        #expect(f.counters.httpRequests == 2)
    }

    @Test func alertsPrintAsTheyFireAndStatsOnDemand() throws {
        let path = TemporaryDirectory().path + "/access.log"
        append(path, 0, from: 0)
        let out = Output(), notices = Output()
        var settings = DetectionSettings()
        settings[.httpScan].threshold = 3
        let f = Follower(paths: [path], settings: settings, host: "web1", output: { out.lines.append($0) },
                         notice: { notices.lines.append($0) })
        f.check(now: now)
        var text = ""
        for s in 0..<3 { text += #"203.0.113.9 - - [25/Nov/2026:10:00:0\#(s) +0000] "GET /x HTTP/1.1" 404 1"# + "\n" }
        let fd = open(path, O_WRONLY | O_APPEND)
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        Glibc.close(fd)
        f.check(now: now.adding(seconds: 3))
        #expect(out.lines.count == 1 && out.lines[0].contains("FIRING warning http_scan * 203.0.113.9"))
        f.printStats(now: now.adding(seconds: 10))
        #expect(out.lines.last?.contains("all hosts: hits 3 ") == true)
    }

    /// The host name (`--host`, or this machine's name) and the paths and users in followed files
    /// are not the follower's own: the alerts and the stats block it prints hold no control
    /// character but the line feeds that end lines.
    @Test func hostileHostsAndPathsReachTheOutputEscaped() throws {
        let path = TemporaryDirectory().path + "/access.log"
        append(path, 0, from: 0)
        let out = Output(), notices = Output()
        var settings = DetectionSettings()
        settings[.httpScan].threshold = 3
        settings[.sshBruteforce].threshold = 2
        let f = Follower(paths: [path], settings: settings, host: "web\u{1b}[1m", output: { out.lines.append($0) },
                         notice: { notices.lines.append($0) })
        f.check(now: now)
        var text = ""
        for s in 0..<3 { text += "203.0.113.9 - - [25/Nov/2026:10:00:0\(s) +0000] \"GET /x\u{1b}[2J/\(s) HTTP/1.1\" 404 1\n" }
        for s in 0..<2 {
            text += "Nov 25 10:00:0\(s) sshd[7]: Failed password for invalid user \u{1b}]0;pwn\u{7}\u{9b}31m from 198.51.100.4 port 22 ssh2\n"
        }
        let fd = open(path, O_WRONLY | O_APPEND)
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        Glibc.close(fd)
        f.check(now: now.adding(seconds: 3))
        f.printStats(now: now.adding(seconds: 10))
        #expect(out.lines.count == 3)
        for printed in out.lines {
            let bytes = Array(printed.utf8)
            #expect(!bytes.contains { ($0 < 0x20 && $0 != 0x0A) || $0 == 0x7F }, "raw control in \(printed)")
            #expect(!bytes.indices.dropLast().contains { bytes[$0] == 0xC2 && (0x80...0x9F).contains(bytes[$0 + 1]) })
        }
        let block = out.lines.last ?? ""
        // A host's name is sanitized (`HostName`): nothing of it is left to escape.
        #expect(block.contains(#"host web__1m: hits 3 "#))
        #expect(block.contains(#"  top sections: /x\x1b[2J 3"#))
        #expect(out.lines.contains { $0.contains(#"ssh_bruteforce web__1m 198.51.100.4: "#) })
    }
}
