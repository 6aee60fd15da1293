import CVigilShim
import Glibc
import Testing
import VigilTestSupport
import VigilCore
@testable import VigilPosix

/// `vigil forward` against a real octet-counting TCP collector on 127.0.0.1 (`TestReceiver`): the
/// files are read by calling `check` after each file operation, the sender thread delivers, and the
/// tests wait (bounded) for what the collector received.
@Suite(.serialized) struct ForwarderTests {
    func append(_ path: String, _ text: String) {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        Glibc.close(fd)
    }

    func forwarder(_ paths: [String], state: String, port: UInt16, fromStart: Bool = false,
                   spoolMax: Int = 1 << 30, readChunk: Int = 4 << 20, checkBytes: Int = 64 << 20,
                   log: @escaping @Sendable (String) -> Void = { _ in }) throws -> Forwarder {
        let options = Forwarder.Options(target: ForwardTarget(host: "127.0.0.1", port: port), stateDirectory: state,
                                        hostname: "web1", fromStart: fromStart, spoolMaxBytes: spoolMax,
                                        backoff: RetryBackoff(baseMicros: 10_000, maximumMicros: 100_000), timeoutMillis: 2_000,
                                        readChunkBytes: readChunk, checkBytes: checkBytes)
        return try Forwarder(paths: paths, options: options, log: log)
    }

    /// The MSG of every message the collector received, in order.
    func texts(_ receiver: TestReceiver) -> [String] { receiver.payloads.map(Self.text) }

    static func text(_ payload: String) -> String {
        var bytes = Array(payload.utf8)
        return bytes.withUnsafeMutableBytes { b in
            let f = SyslogParser().parse(UnsafeRawBufferPointer(b), receivedAt: Timestamp(seconds: 0))
            return String(decoding: b[f.text], as: UTF8.self)
        }
    }

    /// Waits until the collector holds exactly `expected` (and not more).
    /// A temporary directory holding an empty `name` (so a forwarder starts at its end) and a
    /// collector on 127.0.0.1 to send to; the caller stops the receiver.
    func existingFile(_ name: String) throws -> (dir: String, path: String, receiver: TestReceiver) {
        let dir = TemporaryDirectory().path
        let path = dir + "/" + name
        append(path, "")
        return (dir, path, try TestReceiver(.syslogTCP))
    }

    func expectReceived(_ receiver: TestReceiver, _ expected: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        let ok = receiver.wait { $0.count >= expected.count }
        #expect(ok, sourceLocation: sourceLocation)
        #expect(texts(receiver) == expected, sourceLocation: sourceLocation)
    }

    /// A loopback port with nothing listening on it (a collector that is down).
    func closedPort() throws -> UInt16 {
        let (fd, bound) = try Sockets.bind(SocketAddress(ip: IPAddress(127, 0, 0, 1), port: 0), type: Int32(SOCK_STREAM.rawValue))
        Glibc.close(fd)
        return bound.port
    }

    @Test func appendsArriveOnceAsRFC5424() throws {
        let dir = TemporaryDirectory().path
        let path = dir + "/app.log"
        append(path, "before the start\n")
        let receiver = try TestReceiver(.syslogTCP)
        defer { receiver.stop() }
        let f = try forwarder([path], state: dir + "/state", port: receiver.port)
        f.check(now: Posix.wallClock())
        append(path, "one\ntwo\nthr")
        f.check(now: Posix.wallClock())
        expectReceived(receiver, ["one", "two"])
        append(path, "ee\n")
        f.check(now: Posix.wallClock())
        f.check(now: Posix.wallClock())
        expectReceived(receiver, ["one", "two", "three"])
        #expect(receiver.payloads[0].hasPrefix("<13>1 "))
        #expect(receiver.payloads[0].contains(" web1 app.log - - - one"))
        f.close()
        #expect(texts(receiver).count == 3)
        #expect(f.counters.linesRead == 3 && f.counters.linesSent == 3 && f.counters.spooledBytes == 0)
        var st = stat()
        #expect(stat(dir + "/state", &st) == 0 && st.st_mode & 0o777 == 0o700)
    }

    @Test func aCommitAfterTheSenderEmptiedTheSpoolPointsNoFurtherThanIt() throws {
        // The interleaving that made the sender loop on "spool unreadable": the reader starts a
        // check with nothing new, the sender sends the last records and empties the journal, then
        // the reader commits. The commit must cover only what the journal holds now.
        let dir = TemporaryDirectory().path
        let channel = try ForwardChannel(spool: SinkSpool(directory: dir + "/spool"))
        try channel.append(Array("<13>1 - h a - - - first\n".utf8))
        channel.commit()
        var frames: [UInt8] = []
        var chunk: [UInt8] = []
        let taken = try #require(channel.next(frames: &frames, chunk: &chunk, maxBytes: 1 << 20, log: { _ in }))
        channel.sent(upTo: taken.next, count: taken.count)
        channel.commit()
        #expect(channel.committed == 0 && channel.end == 0)
        try channel.append(Array("<13>1 - h a - - - second\n".utf8))
        channel.commit()
        let second = try #require(channel.next(frames: &frames, chunk: &chunk, maxBytes: 1 << 20, log: { _ in }))
        #expect(second.count == 1 && String(decoding: frames, as: UTF8.self) == "24 <13>1 - h a - - - second")
    }

    @Test func theStateIsSavedOutsideTheChannelsLock() throws {
        // Once the sender has emptied the spool, the next append first saves the state, then the
        // commit saves it again: another thread (the sender) must be able to take the channel's
        // lock during each save.
        let (dir, path, receiver) = try existingFile("app.log")
        defer { receiver.stop() }
        let f = try forwarder([path], state: dir + "/state", port: receiver.port)
        f.check(now: Posix.wallClock())
        append(path, "1\n")
        f.check(now: Posix.wallClock())
        expectReceived(receiver, ["1"])
        #expect(receiver.wait { _ in f.counters.spooledBytes == 0 })
        let channel = f.channel
        var lockTaken: [Bool] = []
        var threads: [pthread_t] = []
        f.writeStateFile = { (bytes: [UInt8], path: String) throws(SystemError) in
            let taken = OneShotFlag()
            threads.append(try startThread(named: "test-take-lock") { channel.lock.withLock {}; taken.set() })
            let deadline = Posix.monotonicMicros() + 5_000_000
            while !taken.isSet && Posix.monotonicMicros() < deadline { sched_yield() }
            lockTaken.append(taken.isSet)
            try ForwardStateFile.save(bytes, to: path)
        }
        append(path, "2\n")
        f.check(now: Posix.wallClock())
        for t in threads { pthread_join(t, nil) }
        #expect(lockTaken == [true, true])
        expectReceived(receiver, ["1", "2"])
    }

    @Test func nothingIsAppendedWhenTheSaveBeforeItFails() throws {
        // Once the sender has emptied the spool, the next append first saves the state. Appending
        // although that save failed would leave records that a restart keeps (the saved spool
        // length covers them) and sends, and then reads again from the file.
        let (dir, path, receiver) = try existingFile("app.log")
        defer { receiver.stop() }
        do {
            let f = try forwarder([path], state: dir + "/state", port: receiver.port)
            f.check(now: Posix.wallClock())
            append(path, "1\n2\n")
            f.check(now: Posix.wallClock())
            expectReceived(receiver, ["1", "2"])
            #expect(receiver.wait { _ in f.counters.spooledBytes == 0 })
            f.writeStateFile = { (_: [UInt8], _: String) throws(SystemError) in throw SystemError("test", errno: EIO) }
            append(path, "3\n")
            f.check(now: Posix.wallClock())
            #expect(f.counters.linesRead == 3 && f.counters.spooledBytes == 0)
            // Dropped without close: no drain, no save (as SIGKILL would).
        }
        let g = try forwarder([path], state: dir + "/state", port: receiver.port)
        g.check(now: Posix.wallClock())
        append(path, "4\n")
        g.check(now: Posix.wallClock())
        expectReceived(receiver, ["1", "2", "3", "4"])
    }

    @Test func renameRotationLosesNothing() throws {
        let (dir, path, receiver) = try existingFile("access.log")
        defer { receiver.stop() }
        let f = try forwarder([path], state: dir + "/state", port: receiver.port)
        f.check(now: Posix.wallClock())
        append(path, "a\nb\n")
        f.check(now: Posix.wallClock())
        append(path, "c\n")
        rename(path, path + ".1")
        append(path + ".1", "d-last-of-old\n")
        append(path, "e-new\n")
        f.check(now: Posix.wallClock())
        append(path, "f\n")
        f.check(now: Posix.wallClock())
        expectReceived(receiver, ["a", "b", "c", "d-last-of-old", "e-new", "f"])
        #expect(f.counters.rotations == 1)
    }

    @Test func copyTruncateLosesNothingReadBeforeTheTruncation() throws {
        let (dir, path, receiver) = try existingFile("app.log")
        defer { receiver.stop() }
        let f = try forwarder([path], state: dir + "/state", port: receiver.port)
        f.check(now: Posix.wallClock())
        append(path, "a\nb\n")
        f.check(now: Posix.wallClock())
        #expect(truncate(path, 0) == 0)
        append(path, "c\n")
        f.check(now: Posix.wallClock())
        expectReceived(receiver, ["a", "b", "c"])
        #expect(f.counters.truncations == 1)
    }

    @Test func restartAfterAKillResumesAtTheSavedPosition() throws {
        let (dir, path, receiver) = try existingFile("app.log")
        defer { receiver.stop() }
        do {
            let f = try forwarder([path], state: dir + "/state", port: receiver.port)
            f.check(now: Posix.wallClock())
            append(path, "1\n2\n")
            f.check(now: Posix.wallClock())
            expectReceived(receiver, ["1", "2"])
            append(path, "3\n")   // written, never read by this one
            // Dropped without close: no drain, no save (as SIGKILL would).
        }
        append(path, "4\n")
        let g = try forwarder([path], state: dir + "/state", port: receiver.port)
        g.check(now: Posix.wallClock())
        expectReceived(receiver, ["1", "2", "3", "4"])
    }

    @Test func halfWrittenSpoolIsCutBackAndNothingIsLostOrRepeated() throws {
        let dir = TemporaryDirectory().path
        let path = dir + "/app.log"
        append(path, "")
        let port = try closedPort()
        do {
            let f = try forwarder([path], state: dir + "/state", port: port)
            f.check(now: Posix.wallClock())
            append(path, "1\n2\n3\n")
            f.check(now: Posix.wallClock())
            #expect(f.counters.linesSent == 0 && f.counters.spooledBytes > 0)
        }
        // A crash between appending to the spool and saving the state: a record past the committed
        // length, and half of another.
        append(dir + "/state/spool/journal", "<13>1 - web1 app.log - - - uncommitted\n<13>1 - web1 app")
        append(path, "4\n")
        let receiver = try TestReceiver(.syslogTCP, port: port)
        defer { receiver.stop() }
        let g = try forwarder([path], state: dir + "/state", port: port)
        g.check(now: Posix.wallClock())
        expectReceived(receiver, ["1", "2", "3", "4"])
        // Everything sent: the spool is emptied.
        #expect(receiver.wait { _ in g.counters.spooledBytes == 0 })
    }

    @Test func collectorDownThenBackGetsEverythingInOrder() throws {
        let dir = TemporaryDirectory().path
        let path = dir + "/app.log"
        append(path, "")
        let port = try closedPort()
        let f = try forwarder([path], state: dir + "/state", port: port)
        f.check(now: Posix.wallClock())
        var expected: [String] = []
        for i in 0..<500 {
            expected.append("line \(i)")
            append(path, "line \(i)\n")
            if i % 100 == 0 { f.check(now: Posix.wallClock()) }
        }
        f.check(now: Posix.wallClock())
        #expect(f.counters.linesRead == 500 && f.counters.linesSent == 0)
        let receiver = try TestReceiver(.syslogTCP, port: port)
        defer { receiver.stop() }
        expectReceived(receiver, expected)
        // The collector restarts: the sender reconnects and goes on.
        receiver.stop()
        append(path, "after 1\n")
        f.check(now: Posix.wallClock())
        let again = try TestReceiver(.syslogTCP, port: port)
        defer { again.stop() }
        append(path, "after 2\n")
        f.check(now: Posix.wallClock())
        expectReceived(again, ["after 1", "after 2"])
        #expect(f.counters.reconnects == 1)
    }

    @Test func fullSpoolPausesReadingUntilItDrains() throws {
        let dir = TemporaryDirectory().path
        let path = dir + "/app.log"
        append(path, "")
        let port = try closedPort()
        let f = try forwarder([path], state: dir + "/state", port: port, spoolMax: 4096, readChunk: 1024)
        f.check(now: Posix.wallClock())
        let line = String(repeating: "x", count: 100)
        var expected: [String] = []
        for i in 0..<200 { expected.append("\(i) \(line)") }
        append(path, expected.joined(separator: "\n") + "\n")
        f.check(now: Posix.wallClock())
        f.check(now: Posix.wallClock())
        #expect(f.counters.spoolFullPauses == 1)
        #expect(f.counters.linesRead < 200)
        let receiver = try TestReceiver(.syslogTCP, port: port)
        defer { receiver.stop() }
        // Each check reads what the drained spool has room for.
        let deadline = Posix.monotonicMicros() + 20_000_000
        while receiver.payloads.count < 200 && Posix.monotonicMicros() < deadline {
            f.check(now: Posix.wallClock())
            _ = receiver.wait(seconds: 1) { $0.count >= 200 || f.counters.spooledBytes == 0 }
        }
        expectReceived(receiver, expected)
    }

    /// A backlog larger than one check reads is read over several checks (each stopping at the
    /// bound and saying it is behind), in order and whole.
    @Test func aBacklogIsReadOverSeveralChecks() throws {
        let (dir, path, receiver) = try existingFile("app.log")
        defer { receiver.stop() }
        let f = try forwarder([path], state: dir + "/state", port: receiver.port, readChunk: 1024, checkBytes: 4096)
        f.check(now: Posix.wallClock())
        let expected = (0..<200).map { "\($0) " + String(repeating: "y", count: 100) }
        append(path, expected.joined(separator: "\n") + "\n")
        f.check(now: Posix.wallClock())
        #expect(f.behind && f.counters.linesRead > 0 && f.counters.linesRead < 60)
        var checks = 1
        while f.behind && checks < 100 {
            f.check(now: Posix.wallClock())
            checks += 1
        }
        #expect(!f.behind && f.counters.linesRead == 200 && checks >= 5)
        expectReceived(receiver, expected)
    }

    @Test func fileRotatedWhileStoppedIsFinishedFirst() throws {
        let (dir, path, receiver) = try existingFile("auth.log")
        defer { receiver.stop() }
        do {
            let f = try forwarder([path], state: dir + "/state", port: receiver.port)
            f.check(now: Posix.wallClock())
            append(path, "a\n")
            f.check(now: Posix.wallClock())
            expectReceived(receiver, ["a"])
            f.close()
        }
        append(path, "b-while-down\nc-unterminated")
        rename(path, path + ".1")
        append(path, "d-new\n")
        let g = try forwarder([path], state: dir + "/state", port: receiver.port)
        g.check(now: Posix.wallClock())
        g.check(now: Posix.wallClock())
        expectReceived(receiver, ["a", "b-while-down", "c-unterminated", "d-new"])
    }

    /// Finding: once the file rotated away during a stop was finished, and until the path's new
    /// file was first read, the position saved for the path was still the old file's: a stop in
    /// between made the next start read the old file again from there (duplicates). Now it is
    /// "the path's file, from its start".
    @Test func aFinishedRotatedFileIsNotReadAgainAfterAStop() throws {
        let dir = TemporaryDirectory().path
        let path = dir + "/auth.log"
        append(path, "a\nb\n")
        var st = stat()
        stat(path, &st)
        let old = ForwardState.Position.file(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), offset: 2)
        rename(path, path + ".1")
        append(path, "c\n")
        let source = ForwardSource(path: path, saved: old, fromStart: false,
                                   message: ForwardMessage(hostname: "h", path: path), log: { _ in })
        var lines: [String] = []
        _ = source.read(maxBytes: 1 << 20) { line, _ in lines.append(String(decoding: line, as: UTF8.self)) }
        #expect(lines == ["b"])
        #expect(source.position == .new)
        _ = source.read(maxBytes: 1 << 20) { line, _ in lines.append(String(decoding: line, as: UTF8.self)) }
        stat(path, &st)
        #expect(lines == ["b", "c"])
        #expect(source.position == .file(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), offset: 2))
    }

    /// A file read as not syslog (its first line decided) is said so once on the log: its sshd
    /// lines, if any, no longer reach the collector's sshd detection.
    @Test func aFileThatIsNotSyslogIsSaidSoOnce() throws {
        let (dir, path, receiver) = try existingFile("access.log")
        defer { receiver.stop() }
        final class Log: @unchecked Sendable { let lock = ConditionLock(); var lines: [String] = [] }
        let log = Log()
        let f = try forwarder([path], state: dir + "/state", port: receiver.port) { line in log.lock.withLock { log.lines.append(line) } }
        f.check(now: Posix.wallClock())
        append(path, "203.0.113.5 - - [03/Dec/2026:09:27:26 +0000] \"GET /a HTTP/1.1\" 200 12\n")
        f.check(now: Posix.wallClock())
        append(path, "203.0.113.5 - - [03/Dec/2026:09:27:27 +0000] \"GET /b HTTP/1.1\" 200 12\n")
        f.check(now: Posix.wallClock())
        expectReceived(receiver, [#"203.0.113.5 - - [03/Dec/2026:09:27:26 +0000] "GET /a HTTP/1.1" 200 12"#,
                                  #"203.0.113.5 - - [03/Dec/2026:09:27:27 +0000] "GET /b HTTP/1.1" 200 12"#])
        f.close()
        let said = log.lock.withLock { log.lines.filter { $0.contains("its first line is not a syslog line") } }
        #expect(said == ["vigil forward: \(path): its first line is not a syslog line; each of its lines is sent whole, as the text of a message of its own (docs/forward.md)"])
    }

    @Test func fileThatAppearsLaterIsReadFromItsStartAlsoAfterARestart() throws {
        let dir = TemporaryDirectory().path
        let path = dir + "/late.log"
        let receiver = try TestReceiver(.syslogTCP)
        defer { receiver.stop() }
        do {
            let f = try forwarder([path], state: dir + "/state", port: receiver.port)
            f.check(now: Posix.wallClock())
            f.close()
        }
        append(path, "first\n")
        let g = try forwarder([path], state: dir + "/state", port: receiver.port)
        g.check(now: Posix.wallClock())
        expectReceived(receiver, ["first"])
    }
}
