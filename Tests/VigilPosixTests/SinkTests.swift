import CVigilShim
import Glibc
import Testing
import VigilTestSupport
import VigilCore
@testable import VigilPosix

@Suite struct SinkTests {
    func alert(_ n: Int) -> Alert {
        Alert(id: "run-\(n)", rule: .sshBruteforce, state: .firing, severity: .warning, scope: .host, host: "web1",
              ip: IPAddress(203, 0, 113, 7), count: 5, windowSeconds: 600, hosts: ["web1"],
              firstTs: Timestamp(seconds: 1_795_000_000), ts: Timestamp(seconds: 1_795_000_009), summary: "summary \(n)")
    }

    @Test func fileSinkAppendsOneJSONLinePerAlertAtOnce() throws {
        let dir = TemporaryDirectory().path
        let sink = try FileSink(path: dir + "/alerts.jsonl")
        sink.deliver(alert(1))
        #expect(try readLines(dir + "/alerts.jsonl") == [alert(1).jsonLine()])  // no flush needed
        sink.deliver(alert(2))
        #expect(try readLines(dir + "/alerts.jsonl") == [alert(1).jsonLine(), alert(2).jsonLine()])
        #expect(sink.dropped == 0)
    }

    /// Finding (a review): alert files were created world-readable (0644) while the store's files
    /// are 0640; a `file:` sink outside the data directory showed every alert's hosts, addresses
    /// and users to any local user. Created 0640 now.
    @Test func anAlertFileIsNotWorldReadable() throws {
        let dir = TemporaryDirectory().path
        let sink = try FileSink(path: dir + "/alerts.jsonl")
        sink.deliver(alert(1))
        var st = stat()
        #expect(stat(dir + "/alerts.jsonl", &st) == 0)
        #expect(st.st_mode & 0o777 == 0o640)
    }

    @Test func fileSinkInAMissingDirectoryFailsAtStartNamingThePath() {
        #expect(throws: SystemError.self) { try FileSink(path: "/nonexistent-dir/alerts.jsonl") }
    }

    /// Finding: on a full disk alerts.jsonl lost alerts without a word (30,200 of 32,000). Now an
    /// alert that cannot be written waits in memory, in order, up to the bound (past it alerts are
    /// dropped and counted), and is written once the disk has room; one line says so each way.
    @Test func fileSinkKeepsWhatItCannotWriteAndWritesItLater() throws {
        let dir = TemporaryDirectory().path
        let path = dir + "/alerts.jsonl"
        symlink("/dev/full", path)  // every write fails with ENOSPC
        let logged = Lines()
        let size = alert(1).jsonLine().utf8.count + 1
        let sink = try FileSink(path: path, maxPendingBytes: 3 * size, log: { logged.all.append($0) })
        for n in 1...5 { sink.deliver(alert(n)) }
        sink.flush()
        #expect(sink.written == 0 && sink.dropped == 2 && sink.pendingBytes == 3 * size && sink.lastError?.errno == ENOSPC)
        #expect(logged.all.count == 2)  // the failure once, the drops once
        unlink(path)  // room again
        sink.flush()
        #expect(try readLines(path) == [alert(1), alert(2), alert(3)].map { $0.jsonLine() })
        #expect(sink.written == 3 && sink.pendingBytes == 0 && sink.lastError == nil)
        #expect(logged.all.count == 3 && logged.all.last?.contains("writing alerts to \(path) again") == true)
        sink.deliver(alert(6))
        #expect(try readLines(path).last == alert(6).jsonLine())
    }

    final class Lines { var all: [String] = [] }

    @Test func consoleWriterNeverBlocksOnAReaderThatDoesNotRead() {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let console = ConsoleWriter(fd: fds[1], capacity: 4096)
        let line = String(repeating: "x", count: 999)
        for _ in 0..<1_000 { console.writeLine(line) }  // 1 MB into a 64 KiB pipe nobody reads: must return
        #expect(console.droppedLines > 0)
        // Once the reader drains the pipe, every line that was kept comes through, whole and in order.
        _ = vigil_set_nonblocking(fds[0])
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var total = 0
        while true {
            let n = read(fds[0], &buffer, buffer.count)
            if n > 0 { total += n }
            console.flush()
            if n <= 0 && console.pendingBytes == 0 { break }
        }
        #expect(total == (1_000 - console.droppedLines) * 1_000)
    }

    /// What `serve` prints on stdout goes through `writeLine`: whatever a caller hands it, only
    /// the line feeds between lines reach the descriptor, every other control as an escape.
    @Test func consoleWriterEscapesEveryControlButTheLineFeedsBetweenLines() {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let console = ConsoleWriter(fd: fds[1], capacity: 4096)
        console.writeLine("host evil\u{1b}[2J\u{9b}31m\r\nline two\u{7}\u{202e}")
        var hostile = alert(1)
        hostile.host = "evil\nFAKE 2026-11-22T10:00:00Z FIRING critical ssh_bruteforce web1 10.0.0.1\u{1b}[2J"
        StdoutSink(console: console).deliver(hostile)
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = read(fds[0], &buffer, buffer.count)
        let written = Array(buffer.prefix(max(0, n)))
        #expect(!written.contains { ($0 < 0x20 && $0 != 0x0A) || $0 == 0x7F })
        #expect(!written.indices.dropLast().contains { written[$0] == 0xC2 && (0x80...0x9F).contains(written[$0 + 1]) })
        let lines = String(decoding: written, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 4 && lines.last == "")
        #expect(lines[0] == #"host evil\x1b[2J\u{009b}31m\r"#)
        #expect(lines[1] == #"line two\x07\u{202e}"#)
        #expect(lines[2].contains(#" evil\nFAKE 2026-11-22T10:00:00Z FIRING critical ssh_bruteforce web1 10.0.0.1\x1b[2J "#))
    }
}
