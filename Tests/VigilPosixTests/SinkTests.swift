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

    @Test func fileSinkInAMissingDirectoryFailsAtStartNamingThePath() {
        #expect(throws: SystemError.self) { try FileSink(path: "/nonexistent-dir/alerts.jsonl") }
    }

    @Test func fileSinkCountsWhatItCannotWriteAndRecovers() throws {
        let dir = TemporaryDirectory().path
        let path = dir + "/sub/alerts.jsonl"
        mkdir(dir + "/sub", 0o755)
        let sink = try FileSink(path: path)
        // /dev/full answers every write with ENOSPC: swap it in as the sink's file.
        unlink(path)
        symlink("/dev/full", path)
        let reopened = try FileSink(path: path)
        reopened.deliver(alert(1))
        #expect(reopened.dropped == 1 && reopened.lastError?.errno == ENOSPC)
        sink.deliver(alert(2))  // the first sink still holds the unlinked file: it keeps working
        #expect(sink.dropped == 0)
    }

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
}
