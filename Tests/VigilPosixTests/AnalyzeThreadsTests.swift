import Glibc
import Testing
import VigilTestSupport
import VigilCore
@testable import VigilPosix
@testable import VigilDaemon

/// `vigil analyze --threads N`: the report, text and JSON, is byte for byte the one of reading
/// the file line by line on one thread, at 1, 2 and 4 threads and at chunk sizes from one line
/// per chunk (where any reordering of chunks changes the report) to more than the file.
@Suite struct AnalyzeThreadsTests {
    static let referenceTime = Timestamp(seconds: 1_795_000_000)
    /// Chunk sizes: one line per chunk, a size that ends chunks inside lines (the chunk then
    /// takes the whole line), and the default (more than the small files).
    static let chunkSizes = [1, 97, LogFiles.defaultChunkBytes]

    func analysis() -> LogAnalysis {
        LogAnalysis(settings: DetectionSettings(), options: .init(referenceTime: Self.referenceTime))
    }

    /// The report of `path` fed one line at a time, as `vigil analyze` read a file before it had threads.
    func lineByLine(_ path: String) throws -> String {
        var a = analysis()
        let source = a.addSource(name: path, host: "h")
        let reader = try LineReader(path: path)
        while let line = try reader.next() { a.feed(line, source: source) }
        a.addCutLines(reader.truncatedLines, source: source)
        a.finish()
        let r = a.report()
        return r.text() + r.json()
    }

    func analyzed(_ path: String, threads: Int, chunkBytes: Int) -> String {
        var a = analysis()
        let failures = LogFiles.analyze([path], host: "h", threads: threads, chunkBytes: chunkBytes, into: &a)
        #expect(failures.isEmpty)
        let r = a.report()
        return r.text() + r.json()
    }

    /// Expects every thread count and chunk size to give the line-by-line report; returns it.
    @discardableResult
    func expectSameReportEverywhere(_ path: String) throws -> String {
        let expected = try lineByLine(path)
        for chunkBytes in Self.chunkSizes {
            for threads in [1, 2, 4] {
                // Not `got == expected` inside #expect: a failure would print both whole reports.
                let same = analyzed(path, threads: threads, chunkBytes: chunkBytes) == expected
                #expect(same, "\(path): threads \(threads), chunks of \(chunkBytes) bytes")
            }
        }
        return expected
    }

    func write(_ bytes: [UInt8], to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        bytes.withUnsafeBytes { _ = Glibc.write(fd, $0.baseAddress, $0.count) }
        Glibc.close(fd)
    }

    func generated(_ options: TrafficGenerator.Options) -> [UInt8] {
        var generator = TrafficGenerator(options: options)
        var all: [UInt8] = []
        var line: [UInt8] = []
        while generator.next(into: &line) {
            all += line
            all.append(UInt8(ascii: "\n"))
            line.removeAll(keepingCapacity: true)
        }
        return all
    }

    @Test func anAuthLogWithAttacksGivesTheSameReportAtEveryThreadCount() throws {
        let path = TemporaryDirectory().path + "/auth.log"
        write(generated(.init(kind: .ssh, format: .auth, count: 20_000, hosts: 3,
                              scenarios: [.bruteforce, .distributed, .longSession, .repeatAccess], seed: 7)), to: path)
        let report = try expectSameReportEverywhere(path)
        #expect(report.contains("bruteforce") && report.contains("distributed"))
    }

    @Test func anAccessLogGivesTheSameReportAtEveryThreadCount() throws {
        let path = TemporaryDirectory().path + "/access.log"
        write(generated(.init(kind: .http, format: .combined, count: 20_000, hosts: 1, scenarios: [.spike, .scan, .errors], seed: 7)),
              to: path)
        let report = try expectSameReportEverywhere(path)
        #expect(report.contains("\"hits\":20000"))
    }

    /// Syslog lines of several programs and hosts: sshd (joined per connection), nginx's access
    /// log over syslog, session summaries, other programs; blank lines, lines with trailing
    /// blanks and CRLF, invalid lines (NUL bytes, invalid UTF-8, a lone line far in the future
    /// that is held until the next line) spread over many chunks.
    @Test func aMixOfSyslogLinesGivesTheSameReportAtEveryThreadCount() throws {
        let ssh = generated(.init(kind: .ssh, format: .syslog, count: 3_000, hosts: 3, scenarios: [.repeatAccess, .bruteforce], seed: 3))
        let http = generated(.init(kind: .http, format: .syslog, count: 3_000, hosts: 2, scenarios: [.scan], seed: 5))
        let sshLines = ssh.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let httpLines = http.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        var mixed: [UInt8] = []
        for i in 0..<max(sshLines.count, httpLines.count) {
            if i < sshLines.count { mixed += sshLines[i] + [UInt8(ascii: "\n")] }
            if i < httpLines.count { mixed += httpLines[i] + [UInt8(ascii: "\n")] }
            switch i % 500 {
            case 7: mixed += Array("<13>1 2026-01-01T00:00:00Z cron1 CRON 99 - - (root) CMD (run-parts)   \t\r\n".utf8)
            case 11: mixed += [0x3C, 0x00, 0x31, 0xFF, 0xFE, 0x20, 0x00, 0x0A]
            case 13: mixed += Array("  \r\n\n".utf8)
            case 17: mixed += Array("not a syslog line \u{00E9}".utf8) + [0xC3, 0x28, 0x0A]
            case 19: mixed += Array("<38>1 2099-01-01T00:00:00Z web1 sshd 4242 - - Invalid user z from 198.51.100.9 port 1\n".utf8)
            default: break
            }
        }
        let path = TemporaryDirectory().path + "/syslog"
        write(mixed, to: path)
        let report = try expectSameReportEverywhere(path)
        #expect(report.contains("invalid"))
    }

    /// NUL bytes and invalid UTF-8 are read as before threads (the figures are those of the
    /// version before `--threads`): in a field they make the line invalid, in a message they
    /// are part of it; quoted invalid lines show U+FFFD and `\u0000`.
    @Test func nulBytesAndInvalidUTF8AreReadAsBefore() throws {
        let lines: [[UInt8]] = [
            Array("<38>1 2026-11-22T10:00:00Z web1 sshd 100 - - Invalid user a".utf8) + [0] + Array("b from 203.0.113.5 port 1".utf8),
            [0x3C, 0x00, 0x31, 0xFF, 0xFE, 0x20, 0x00],
            Array("<38>1 2026-11-22T10:00:01Z web1 sshd 101 - - Failed password for r".utf8) + [0xC3, 0x28]
                + Array("t from 203.0.113.5 port 2 ssh2".utf8),
            Array("not syslog ".utf8) + [0xE9, 0x00] + Array(" at all".utf8),
            Array("<38>1 2026-11-22T10:00:02Z web".utf8) + [0xFF] + Array("1 sshd 102 - - Invalid user b from 203.0.113.5 port 3".utf8),
        ]
        let path = TemporaryDirectory().path + "/nul.log"
        write(lines.flatMap { $0 + [UInt8(ascii: "\n")] }, to: path)
        let report = try expectSameReportEverywhere(path)
        #expect(report.contains(#""lines":5,"invalid_lines":3,"first_invalid":[{"line":2,"text":"<\u00001\#u{FFFD}\#u{FFFD} \u0000"},"#
            + #"{"line":4,"text":"not syslog \#u{FFFD}\u0000 at all"},{"line":5,"#))
        #expect(report.contains(#""ssh":{"failures":1,"invalid_users":1,"#))
    }

    /// A last line without an LF, and lines longer than the small chunk sizes (chunks end inside them).
    @Test func aFileWithoutAFinalNewlineAndLinesLongerThanAChunk() throws {
        var text = ""
        for k in 0..<40 {
            text += "2026-11-22T10:\(10 + k / 2):0\(k % 2)+00:00 web\(k % 3) sshd[\(100 + k)]: Invalid user "
                + String(repeating: "x", count: 150 + k) + " from 203.0.113.\(k % 4) port 4\(k)00\n"
        }
        text += "2026-11-22T11:00:00+00:00 web1 sshd[999]: Invalid user last from 203.0.113.1 port 5000"
        let path = TemporaryDirectory().path + "/auth.log"
        write(Array(text.utf8), to: path)
        let report = try expectSameReportEverywhere(path)
        #expect(report.contains("\"lines\":41"))
    }

    /// A line of 1.5 MiB between ten failed passwords: it is analysed cut to the reader's 1 MiB
    /// and counted as cut (text and JSON), the others are analysed, at every thread count.
    @Test func aLineLongerThanTheReaderKeepsIsCountedAsCut() throws {
        var text = ""
        for k in 0..<10 {
            text += "2026-11-22T10:00:0\(k)+00:00 web1 sshd[\(100 + k)]: Failed password for root from 203.0.113.7 port 4\(k)00 ssh2\n"
            if k == 4 { text += "2026-11-22T10:00:04+00:00 web1 sshd[99]: Received disconnect " + String(repeating: "x", count: 3 << 19) + "\n" }
        }
        let path = TemporaryDirectory().path + "/auth.log"
        write(Array(text.utf8), to: path)
        let report = try expectSameReportEverywhere(path)
        #expect(analyzed(path, threads: 2, chunkBytes: LogFiles.defaultChunkBytes) == report)
        #expect(report.contains("\(path): auth, 11 lines, 0 invalid, 1 cut (too long)\n"))
        #expect(report.contains(#""lines":11,"invalid_lines":0,"first_invalid":[],"cut_lines":1}"#))
        #expect(report.contains(#""ssh":{"failures":10,"#))
    }

    /// A file smaller than one chunk, and an empty one.
    @Test func filesSmallerThanOneChunk() throws {
        let dir = TemporaryDirectory().path
        write(Array((#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 1"# + "\n").utf8), to: dir + "/one.log")
        write([], to: dir + "/empty.log")
        #expect(try expectSameReportEverywhere(dir + "/one.log").contains("\"hits\":1"))
        try expectSameReportEverywhere(dir + "/empty.log")
    }

    /// Lines before the first readable one (the format is detected mid-file, on the calling
    /// thread), and a CSV access log, whose header changes how later lines read (all of it is
    /// read on the calling thread).
    @Test func formatDetectedLateAndCSVInputs() throws {
        let dir = TemporaryDirectory().path
        var late = "garbage\n\n???\n"
        for k in 0..<50 { late += #"10.0.0.\#(k % 7) - - [22/Nov/2026:10:00:\#(10 + k % 50) +0000] "GET /p\#(k % 5)/x HTTP/1.1" 200 \#(k)"# + "\n" }
        write(Array(late.utf8), to: dir + "/late.log")
        var csv = "\"status\",\"remotehost\",\"date\",\"request\",\"bytes\"\n"
        for k in 0..<50 { csv += "\"404\",\"10.0.0.\(k % 3)\",\"1795000\(100 + k)\",\"GET /c\(k % 4) HTTP/1.1\",\"\(k)\"\n" }
        write(Array(csv.utf8), to: dir + "/access.csv")
        #expect(try expectSameReportEverywhere(dir + "/late.log").contains("\"hits\":50"))
        try expectSameReportEverywhere(dir + "/access.csv")
    }
}
