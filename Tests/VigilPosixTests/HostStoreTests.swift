import Glibc
import Testing
import VigilTestSupport
import VigilCore
@testable import VigilPosix

/// The whole content of a file, or nil when it cannot be opened.
private func contents(_ path: String) -> String? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        if n == 0 { break }
        bytes += chunk[..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

private func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

/// Writes `text` to a new regular file at `path`.
private func writeFile(_ path: String, _ text: String) {
    let file = fopen(path, "wb")!
    _ = text.utf8CString.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count - 1, file) }
    fclose(file)
}

private let nov22 = CivilDateTime.daysFromCivil(year: 2026, month: 11, day: 22)

extension HostStore {
    /// Test convenience: appends a `String` as one message.
    fileprivate func append(_ host: UInt32, _ name: String, day: Int64, _ line: String) {
        var copy = line
        _ = copy.withUTF8 { append(host: HostID(host), name: name, day: day, line: UnsafeRawBufferPointer($0)) }
    }
}

@Suite struct HostStoreTests {
    /// Stores that share their files (ingest shards) write under the file's lock in their
    /// `StoreWriteLocks`: while another holds it, a write waits, so no other store's bytes land
    /// inside its lines and a write cut short trims only its own; two stores' lines arrive whole.
    @Test func storesThatShareFilesWriteUnderTheFilesLock() throws {
        let tmp = TemporaryDirectory()
        let locks = StoreWriteLocks()
        let one = try HostStore(directory: tmp.path + "/data", sharedWrites: locks)
        let two = HandedOver(try HostStore(directory: tmp.path + "/data", sharedWrites: locks))
        one.append(0, "vm", day: nov22, "from one")
        #expect(one.flush() == nil)
        let path = tmp.path + "/data/hosts/vm/2026-11-22.log"
        let held = OneShotFlag(), release = OneShotFlag(), written = OneShotFlag()
        let holder = try startThread(named: "test-hold") {
            locks.withLock(host: HostID(0), day: nov22) {
                held.set()
                release.wait()
            }
        }
        held.wait()
        let writer = try startThread(named: "test-store") {
            two.value.append(0, "vm", day: nov22, "from two")
            _ = two.value.flush()
            written.set()
        }
        // Bounded wait for a write that must not happen while the lock is held.
        let deadline = Posix.monotonicMicros() + 300_000
        while !written.isSet && Posix.monotonicMicros() < deadline { sched_yield() }
        #expect(!written.isSet, "the store wrote while another held the file's lock")
        release.set()
        pthread_join(holder, nil)
        pthread_join(writer, nil)
        #expect(contents(path) == "from one\nfrom two\n")
    }

    @Test func appendsLandInPerHostPerDayFilesAfterFlush() throws {
        let tmp = TemporaryDirectory()
        let store = try HostStore(directory: tmp.path + "/data")
        store.append(0, "vm", day: nov22, "<38>1 2026-11-22T23:06:42.665523+00:00 vm sshd 18396 - - Server listening")
        store.append(0, "vm", day: nov22 + 1, "<38>1 2026-11-23T00:00:01Z vm sshd 18396 - - next day")
        store.append(1, "Edge-TCP-Forward", day: nov22, "<13>2026-11-22T23:06:08.303317+00:00 edge-tcp-forward webapp: hi")
        store.append(2, "../../etc", day: nov22, "<13>hostile")
        store.append(0, "vm", day: nov22, "second line")
        let hosts = tmp.path + "/data/hosts"
        #expect(contents(hosts + "/vm/2026-11-22.log") == nil, "buffered until flush")
        #expect(store.flush() == nil)
        #expect(contents(hosts + "/vm/2026-11-22.log")
                == "<38>1 2026-11-22T23:06:42.665523+00:00 vm sshd 18396 - - Server listening\nsecond line\n")
        #expect(contents(hosts + "/vm/2026-11-23.log") == "<38>1 2026-11-23T00:00:01Z vm sshd 18396 - - next day\n")
        #expect(contents(hosts + "/edge-tcp-forward/2026-11-22.log")
                == "<13>2026-11-22T23:06:08.303317+00:00 edge-tcp-forward webapp: hi\n")
        #expect(contents(hosts + "/.._.._etc/2026-11-22.log") == "<13>hostile\n")
        #expect(!exists(tmp.path + "/etc"))
        // Appending after a flush goes to the end of the same file.
        store.append(0, "vm", day: nov22, "third")
        store.close()
        #expect(contents(hosts + "/vm/2026-11-22.log")?.hasSuffix("second line\nthird\n") == true)
        #expect(store.writeErrors == 0)
    }

    @Test(arguments: [
        ("plain text", "plain text\n"),
        ("a\nb", "a#012b\n"),
        ("nul\u{0}here", "nul#000here\n"),
        ("crlf\r\n", "crlf#015#012\n"),
        ("tab\tkept", "tab\tkept\n"),
        ("esc\u{1B}[31m del\u{7F}", "esc#033[31m del#177\n"),
        ("#012 stays", "#012 stays\n"),
        ("caf\u{E9} \u{2713}", "caf\u{E9} \u{2713}\n"),
        ("", "\n"),
    ])
    func escapesControlBytesLikeRsyslog(message: String, stored: String) {
        var out: [UInt8] = []
        var copy = message
        copy.withUTF8 { appendEscapedLine(UnsafeRawBufferPointer($0), to: &out) }
        #expect(String(decoding: out, as: UTF8.self) == stored)
    }

    /// The word-at-a-time scan must agree with a byte-at-a-time reading at every position and for every byte value.
    @Test func escapingAgreesWithTheBytewiseRuleEverywhere() {
        for length in 0..<40 {
            for position in 0..<max(length, 1) {
                for byte in [UInt8(0), 9, 10, 0x1F, 0x20, 0x7E, 0x7F, 0x80, 0xFF] {
                    var message = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    if length > 0 { message[position] = byte }
                    var out: [UInt8] = []
                    message.withUnsafeBytes { appendEscapedLine($0, to: &out) }
                    var expected: [UInt8] = []
                    for b in message {
                        if (b < 0x20 && b != 9) || b == 0x7F {
                            expected += [UInt8(ascii: "#"), 48 + (b >> 6), 48 + ((b >> 3) & 7), 48 + (b & 7)]
                        } else {
                            expected.append(b)
                        }
                    }
                    expected.append(10)
                    #expect(out == expected, "length \(length) byte \(byte) at \(position)")
                }
            }
        }
    }

    @Test func escapedLinesReachTheFile() throws {
        let tmp = TemporaryDirectory()
        let store = try HostStore(directory: tmp.path)
        store.append(0, "vm", day: nov22, "two\nlines\u{0}")
        store.close()
        #expect(contents(tmp.path + "/hosts/vm/2026-11-22.log") == "two#012lines#000\n")
    }

    @Test func aFullBufferIsWrittenWithoutWaitingForFlush() throws {
        let tmp = TemporaryDirectory()
        let store = try HostStore(directory: tmp.path)
        let line = String(repeating: "x", count: 999)
        for _ in 0..<66 { store.append(0, "vm", day: nov22, line) }
        #expect(contents(tmp.path + "/hosts/vm/2026-11-22.log")?.utf8.count == 66_000)
        #expect(store.bufferedBytes == 0)
    }

    @Test func manyHostsShareABoundedSetOfDescriptors() throws {
        let tmp = TemporaryDirectory()
        let store = try HostStore(directory: tmp.path, maxOpenFiles: 8)
        for round in 0..<3 {
            for host in 0..<100 { store.append(UInt32(host), "host\(host)", day: nov22, "round \(round)") }
            #expect(store.flush() == nil)
            #expect(store.openFileCount <= 8)
        }
        store.close()
        #expect(store.openFileCount == 0)
        for host in 0..<100 {
            #expect(contents(tmp.path + "/hosts/host\(host)/2026-11-22.log") == "round 0\nround 1\nround 2\n")
        }
    }

    @Test func idleFilesAreForgotten() throws {
        let tmp = TemporaryDirectory()
        let store = try HostStore(directory: tmp.path)
        store.append(0, "vm", day: nov22, "once")
        store.flush()
        #expect(store.openFileCount == 1)
        for _ in 0..<HostStore.idleFlushesBeforeRelease { store.flush() }
        #expect(store.openFileCount == 0)
        store.append(0, "vm", day: nov22, "again")
        store.close()
        #expect(contents(tmp.path + "/hosts/vm/2026-11-22.log") == "once\nagain\n")
    }

    @Test func retentionByAgeKeepsTheNewestDays() throws {
        let tmp = TemporaryDirectory()
        let store = try HostStore(directory: tmp.path, retention: StoreRetention(maxAgeDays: 3))
        for offset in 0..<6 {
            store.append(0, "vm", day: nov22 - Int64(offset), "day -\(offset)")
            store.append(1, "old-only", day: nov22 - 5, "old")
        }
        store.flush()
        writeFile(tmp.path + "/hosts/vm/notes.txt", "not a day file")
        let report = store.enforceRetention(today: nov22)
        #expect(report.firstError == nil)
        #expect(report.filesDeleted == 4)
        let vm = tmp.path + "/hosts/vm/"
        #expect(exists(vm + "2026-11-22.log") && exists(vm + "2026-11-21.log") && exists(vm + "2026-11-20.log"))
        #expect(!exists(vm + "2026-11-19.log") && !exists(vm + "2026-11-17.log"))
        #expect(exists(vm + "notes.txt"))
        #expect(!exists(tmp.path + "/hosts/old-only"), "an emptied host directory is removed")
    }

    @Test func retentionBySizeDeletesTheOldestFirst() throws {
        let tmp = TemporaryDirectory()
        let store = try HostStore(directory: tmp.path, retention: StoreRetention(maxTotalBytes: 250))
        let line = String(repeating: "y", count: 99)  // 100 bytes stored
        store.append(0, "a", day: nov22 - 2, line)
        store.append(1, "b", day: nov22 - 1, line)
        store.append(0, "a", day: nov22, line)
        store.append(1, "b", day: nov22, line)
        let report = store.enforceRetention(today: nov22)
        #expect(report.filesDeleted == 2)
        #expect(report.bytesDeleted == 200 && report.bytesKept == 200)
        #expect(!exists(tmp.path + "/hosts/a/2026-11-20.log") && !exists(tmp.path + "/hosts/b/2026-11-21.log"))
        #expect(exists(tmp.path + "/hosts/a/2026-11-22.log") && exists(tmp.path + "/hosts/b/2026-11-22.log"))
    }

    @Test func deletingAnOpenFileDoesNotLoseLaterLines() throws {
        let tmp = TemporaryDirectory()
        let store = try HostStore(directory: tmp.path, retention: StoreRetention(maxTotalBytes: 0))
        store.append(0, "vm", day: nov22, "before")
        #expect(store.enforceRetention(today: nov22).filesDeleted == 1)
        #expect(!exists(tmp.path + "/hosts/vm"))
        store.append(0, "vm", day: nov22, "after")
        #expect(store.flush() == nil)
        #expect(contents(tmp.path + "/hosts/vm/2026-11-22.log") == "after\n")
    }

    @Test func anUnusableDirectoryIsAClearError() {
        let tmp = TemporaryDirectory()
        writeFile(tmp.path + "/file", "x")
        let error = #expect(throws: SystemError.self) {
            _ = try HostStore(directory: tmp.path + "/file/data")
        }
        #expect(error?.errno == ENOTDIR)
        #expect(error?.description == "mkdir \(tmp.path)/file/data/hosts: Not a directory")
    }

    @Test func writeErrorsAreCountedAndTheDataKeptForLater() throws {
        let tmp = TemporaryDirectory()
        let store = try HostStore(directory: tmp.path)
        // A regular file where the host directory should be makes every open fail (even for root).
        writeFile(tmp.path + "/hosts/vm", "in the way")
        store.append(0, "vm", day: nov22, "kept")
        let error = store.flush()
        #expect(error?.errno == ENOTDIR)
        #expect(error?.description.contains("/hosts/vm/2026-11-22.log") == true)
        #expect(store.writeErrors == 1)
        #expect(store.bufferedBytes == 5)
        unlink(tmp.path + "/hosts/vm")
        store.append(0, "vm", day: nov22, "later")
        #expect(store.flush() == nil)
        #expect(contents(tmp.path + "/hosts/vm/2026-11-22.log") == "kept\nlater\n")
        #expect(store.writeErrors == 1)
    }

    /// A full disk (the day file is /dev/full: every write fails with ENOSPC): the store blocks and
    /// keeps everything; datagram lines past the total bound are refused and counted, lines the
    /// caller cannot get again are kept past it; once the disk has room every kept line is written.
    @Test func aFullDiskBlocksTheStoreAndBoundsItsMemoryInTotal() throws {
        let tmp = TemporaryDirectory()
        let store = try HostStore(directory: tmp.path, maxBufferedBytes: 100)
        mkdir(tmp.path + "/hosts/vm", 0o755)
        let file = tmp.path + "/hosts/vm/2026-11-22.log"
        #expect(symlink("/dev/full", file) == 0)
        let line = String(repeating: "z", count: 9)  // 10 bytes stored
        for _ in 0..<8 { store.append(0, "vm", day: nov22, line) }
        #expect(store.flush()?.errno == ENOSPC)
        #expect(store.isBlocked && store.bufferedBytes == 80)
        // Two more datagram lines fit under the bound across hosts; then they are refused.
        var kept = 0
        for host: UInt32 in 0..<5 where appendDatagram(store, host, "\(host)", line) { kept += 1 }
        #expect(kept == 2 && store.droppedLines == 3 && store.bufferedBytes == 100)
        // A line from a stream is never refused.
        store.append(0, "vm", day: nov22, "stream")
        #expect(store.bufferedBytes == 107 && store.droppedLines == 3)
        // Room again: everything kept is written, whole.
        unlink(file)
        #expect(store.flush() == nil)
        #expect(!store.isBlocked && store.bufferedBytes == 0)
        #expect(contents(file) == String(repeating: line + "\n", count: 9) + "stream\n")
    }

    private func appendDatagram(_ store: HostStore, _ host: UInt32, _ name: String, _ line: String) -> Bool {
        var copy = line
        return copy.withUTF8 { store.append(host: HostID(host), name: name, day: nov22, line: UnsafeRawBufferPointer($0), droppable: true) }
    }

    @Test(arguments: [
        ("2026-11-22.log", nov22), ("1970-01-01.log", 0), ("2024-02-29.log", CivilDateTime.daysFromCivil(year: 2024, month: 2, day: 29)),
    ])
    func readsDayFileNames(name: String, day: Int64) {
        #expect(parseDayFileName(name) == day)
        #expect(dayFileName(day) == name)
    }

    @Test(arguments: ["2026-11-22.txt", "2026-13-01.log", "2023-02-29.log", "2026-1-022.log", "notes.log", "2026-11-22.log.1"])
    func ignoresOtherFileNames(name: String) {
        #expect(parseDayFileName(name) == nil)
    }
}
