import Glibc
import Testing
import VigilTestSupport
import VigilCore
@testable import VigilPosix
@testable import VigilDaemon

/// `LogFiles.analyze` over real files: streaming, merging, and failures.
@Suite struct AnalyzeFilesTests {
    func write(_ path: String, _ text: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        Glibc.close(fd)
    }

    func analysis() -> LogAnalysis {
        LogAnalysis(settings: DetectionSettings(), options: .init(referenceTime: Timestamp(seconds: 1_795_000_000)))
    }

    @Test func aMissingFileIsReportedAfterTheOthersAreAnalysed() throws {
        let dir = TemporaryDirectory().path
        write(dir + "/a.log", #"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1"# + "\n")
        write(dir + "/b.log", "")
        var a = analysis()
        let failures = LogFiles.analyze([dir + "/a.log", dir + "/missing.log", dir + "/b.log"], host: "h", into: &a)
        #expect(failures == [LogFiles.Failure(path: dir + "/missing.log", reason: .system(SystemError("open \(dir)/missing.log", errno: ENOENT)),
                                              skipped: true)])
        #expect(failures.first?.description == "\(dir)/missing.log: No such file or directory (skipped)")
        let r = a.report()
        #expect(r.sources.map(\.name) == [dir + "/a.log", dir + "/b.log"])
        #expect(r.sources.map(\.lines) == [1, 0])
        #expect(r.http.hits == 1)
    }

    /// A gzip-compressed file (by its magic bytes, whatever its name) is skipped whole with the
    /// command that reads it; a directory is skipped too; the others are analysed.
    @Test func gzipAndDirectoriesAreSkippedWithOneLineEach() throws {
        let dir = TemporaryDirectory().path
        write(dir + "/a.log", #"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1"# + "\n")
        // The first bytes of `echo x | gzip`.
        write(dir + "/auth.log.2", "\u{1F}")
        let fd = open(dir + "/auth.log.2", O_WRONLY | O_APPEND)
        var rest: [UInt8] = [0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03]
        _ = Glibc.write(fd, &rest, rest.count)
        Glibc.close(fd)
        write(dir + "/short", "\u{1F}")
        mkdir(dir + "/sub", 0o755)
        var a = analysis()
        let failures = LogFiles.analyze([dir + "/auth.log.2", dir + "/a.log", dir + "/sub", dir + "/short"], host: "h", into: &a)
        #expect(failures.map(\.path) == [dir + "/auth.log.2", dir + "/sub"])
        #expect(failures.allSatisfy { $0.skipped })
        #expect(failures.map(\.description) == [
            "\(dir)/auth.log.2 is gzip-compressed; run: zcat \(dir)/auth.log.2 | vigil analyze -",
            "\(dir)/sub: Is a directory (skipped)",
        ])
        #expect(failures.map(\.why) == ["gzip-compressed", "Is a directory"])
        var r = a.report()
        #expect(r.sources.map(\.name) == [dir + "/a.log", dir + "/short"])
        #expect(r.http.hits == 1)
        r.skipped = failures.map { AnalysisReport.SkippedInput(name: $0.path, reason: $0.why) }
        #expect(r.text().contains("\n\(dir)/sub: skipped, Is a directory\n"))
        #expect(r.json().contains(#""skipped":[{"name":"\#(dir)/auth.log.2","reason":"gzip-compressed"},"#))
    }

    /// Three hosts' auth logs, each only two failures from one address: only merged in time
    /// order do they make one cross-host finding (read one after another, the second file's
    /// lines would be late).
    @Test func severalFilesAreMergedInTimeOrder() throws {
        let dir = TemporaryDirectory().path
        var paths: [String] = []
        for h in 1...3 {
            var text = ""
            for k in 0..<2 {
                text += "2026-11-22T10:0\(k):0\(h)+00:00 web\(h) sshd[\(100 + h)]: Invalid user admin from 203.0.113.7 port 4\(h)\(k)00\n"
            }
            text += "2026-11-22T10:05:0\(h)+00:00 web\(h) sshd[\(200 + h)]: Server listening on 0.0.0.0 port 22.\n"
            let path = dir + "/auth\(h).log"
            write(path, text)
            paths.append(path)
        }
        var a = analysis()
        #expect(LogFiles.analyze(paths, host: "h", into: &a).isEmpty)
        let r = a.report()
        #expect(r.lateEvents == 0)
        #expect(r.crossHost.count == 1 && r.crossHost[0].hosts == ["web1", "web2", "web3"])
        #expect(r.bruteForce.isEmpty)
    }

    /// Merged files count their cut lines each, as one file does (`AnalyzeThreadsTests`).
    @Test func cutLinesAreCountedPerFileWhenFilesAreMerged() throws {
        let dir = TemporaryDirectory().path
        let request = #"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 1"#
        write(dir + "/a.log", request + "\n" + String(repeating: "x", count: 3 << 19) + "\n" + request + "\n")
        write(dir + "/b.log", request + "\n")
        var a = analysis()
        #expect(LogFiles.analyze([dir + "/a.log", dir + "/b.log"], host: "h", into: &a).isEmpty)
        let r = a.report()
        #expect(r.sources.map(\.cutLines) == [1, 0])
        #expect(r.sources.map(\.lines) == [3, 1])
        #expect(r.http.hits == 3)
    }

    @Test func longLinesAndAMissingFinalNewlineAreRead() throws {
        let dir = TemporaryDirectory().path
        let long = String(repeating: "x", count: 5000)
        let last = #"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 1"#
        write(dir + "/c.log", "\(long)\r\n" + last)
        let reader = try LineReader(path: dir + "/c.log", bufferBytes: 4096)
        var lines: [Int] = []
        while let line = try reader.next() { lines.append(line.count) }
        #expect(lines == [4096, last.utf8.count])
        #expect(reader.truncatedLines == 1)
    }

    /// A CRLF file without a final newline: its last line loses its CR as every other line does
    /// (as `vigil follow` reads it), so a status at the end of a request line still parses.
    @Test func aLastLineWithoutItsLFLosesItsCR() throws {
        let dir = TemporaryDirectory().path
        write(dir + "/crlf.log", "first\r\nlast 200\r")
        let reader = try LineReader(path: dir + "/crlf.log")
        var lines: [String] = []
        while let line = try reader.next() { lines.append(String(decoding: line, as: UTF8.self)) }
        #expect(lines == ["first", "last 200"])
    }
}
