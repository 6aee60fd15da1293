import CVigilShim
import Glibc
import VigilCore

/// The on-disk overflow of one network sink, `DATA/spool/SINK/` (and `vigil forward`'s spool,
/// `STATE/spool/`, docs/forward.md): an append-only journal of
/// payloads, one per line (`journal`), and the byte offset up to which they were delivered
/// (`delivered`, 20 decimal digits rewritten in place). Order is the journal's order; a restart
/// resumes at the saved offset. When everything is delivered both are reset to empty; while
/// records keep arriving faster than that happens (a sender always a little behind), the
/// delivered part's disk blocks are given back every `reclaimStep` bytes (a hole punched into
/// the file, which keeps its offsets), so the disk holds about what is undelivered, not all
/// that passed through since the spool was last empty.
///
/// Written with plain `write`, without `fsync`: a crash of vigil loses nothing (the page cache
/// survives it), a power cut may lose the last writes. A payload may be delivered twice only if
/// vigil dies between a delivery and the offset update that follows it.
///
/// Not thread-safe: the owning sink calls it under its lock (reads of already-written records may
/// happen outside the lock, since appends never touch them).
final class SinkSpool: @unchecked Sendable {
    let directory: String
    private var journal: FileDescriptor
    private let offsetFile: FileDescriptor
    /// Bytes in the journal.
    private(set) var end: Int
    /// Bytes of the journal already delivered.
    private(set) var deliveredOffset: Int
    /// The journal's blocks before this offset were given back to the file system.
    private(set) var reclaimedOffset = 0
    /// Delivered bytes that, once behind `reclaimedOffset`, are given back at once.
    static let reclaimStep = 1 << 20
    /// False once the file system refused a hole (EOPNOTSUPP): no more tries, one syscall per
    /// delivery saved; the blocks then come back when the spool is empty.
    private var punchesHoles = true

    /// Opens (creating) the spool in `directory`, creating missing parent directories. A journal
    /// whose last line was cut short by a crash is trimmed back to its last complete record.
    init(directory: String) throws(SystemError) {
        self.directory = directory
        try SinkSpool.makeDirectories(directory)
        journal = try FileDescriptor(opening: directory + "/journal", flags: O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, mode: 0o600)
        offsetFile = try FileDescriptor(opening: directory + "/delivered", flags: O_RDWR | O_CREAT | O_CLOEXEC, mode: 0o600)
        let j = journal.rawValue
        var st = stat()
        fstat(j, &st)
        end = Int(st.st_size)
        deliveredOffset = 0
        end = SinkSpool.lastRecordEnd(j, size: end)
        if end < Int(st.st_size) { _ = ftruncate(j, off_t(end)) }
        var digits = [UInt8](repeating: 0, count: 32)
        let n = digits.withUnsafeMutableBytes { pread(offsetFile.rawValue, $0.baseAddress, 32, 0) }
        var saved = 0
        if n > 0 {
            for d in digits.prefix(n) where d >= UInt8(ascii: "0") && d <= UInt8(ascii: "9") {
                saved = saved &* 10 &+ Int(d - UInt8(ascii: "0"))
            }
        }
        deliveredOffset = min(max(0, saved), end)
    }

    /// Whether records wait to be delivered.
    var hasPending: Bool { deliveredOffset < end }

    /// Appends payloads (each without a newline) as records, in one write.
    func append(_ payloads: some Sequence<[UInt8]>) throws(SystemError) {
        var bytes: [UInt8] = []
        for p in payloads {
            bytes.append(contentsOf: p)
            bytes.append(UInt8(ascii: "\n"))
        }
        guard !bytes.isEmpty else { return }
        var failure: SystemError?
        bytes.withUnsafeBytes { b in
            do throws(SystemError) { try Posix.writeAll(journal.rawValue, b) } catch { failure = error }
        }
        if let failure {
            // A partial write must not leave half a record in front of the next one.
            _ = ftruncate(journal.rawValue, off_t(end))
            throw failure
        }
        end += bytes.count
    }

    /// Puts payloads in front of the undelivered records (at close, for what was still queued in
    /// memory): writes `journal.new` with them followed by the undelivered tail, renames it over the
    /// journal and restarts the offset at 0. The offset is zeroed first, so a crash in between can
    /// only deliver some records twice, never skip one.
    func prepend(_ payloads: some Collection<[UInt8]>) throws(SystemError) {
        let temporary = directory + "/journal.new"
        let file = try FileDescriptor(opening: temporary, flags: O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, mode: 0o600)
        var bytes: [UInt8] = []
        for p in payloads {
            bytes.append(contentsOf: p)
            bytes.append(UInt8(ascii: "\n"))
        }
        var failure: SystemError?
        var position = deliveredOffset
        var chunk = [UInt8](repeating: 0, count: 65536)
        while failure == nil {
            bytes.withUnsafeBytes { b in
                do throws(SystemError) { try Posix.writeAll(file.rawValue, b) } catch { failure = error }
            }
            guard position < end else { break }
            let n = chunk.withUnsafeMutableBytes { pread(journal.rawValue, $0.baseAddress, min($0.count, end - position), off_t(position)) }
            if n <= 0 { failure = SystemError("pread \(directory)/journal", errno: n < 0 ? errno : EIO); break }
            bytes = Array(chunk.prefix(n))
            position += n
        }
        if failure == nil {
            writeOffset(0)
            if rename(temporary, directory + "/journal") != 0 {
                failure = SystemError("rename \(temporary)", errno: errno)
                writeOffset(deliveredOffset)
            }
        }
        if let failure {
            unlink(temporary)
            throw failure  // `file` is closed as it goes
        }
        var st = stat()
        fstat(file.rawValue, &st)
        journal = file  // the old journal is closed as it is replaced
        end = Int(st.st_size)
        deliveredOffset = 0
        reclaimedOffset = 0
    }

    /// The record starting at `offset` and the offset after it, or nil at the end or on a read error.
    func record(at offset: Int, limit: Int) -> (payload: [UInt8], next: Int)? {
        var payload: [UInt8] = []
        var position = offset
        var chunk = [UInt8](repeating: 0, count: 8192)
        while position < limit {
            let want = min(chunk.count, limit - position)
            let n = chunk.withUnsafeMutableBytes { pread(journal.rawValue, $0.baseAddress, want, off_t(position)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            if let nl = chunk.prefix(n).firstIndex(of: UInt8(ascii: "\n")) {
                payload.append(contentsOf: chunk[..<nl])
                return (payload, position + nl + 1)
            }
            payload.append(contentsOf: chunk.prefix(n))
            position += n
        }
        return nil
    }

    /// Reads the records from `offset` up to `limit`, about `maxBytes` of them (at least one),
    /// calling `each` with every payload; returns the offset after the last one, nil on a read error.
    func readRecords(at offset: Int, limit: Int, maxBytes: Int, into chunk: inout [UInt8],
                     each: (UnsafeRawBufferPointer) -> Void) -> Int? {
        let want = min(maxBytes, limit - offset)
        guard want > 0 else { return offset }
        if chunk.count < want { chunk = [UInt8](repeating: 0, count: want) }
        let n = chunk.withUnsafeMutableBytes { pread(journal.rawValue, $0.baseAddress, want, off_t(offset)) }
        if n <= 0 { return nil }
        var next = offset
        chunk.withUnsafeBytes { bytes in
            var start = 0
            while start < n, let nl = memchr(bytes.baseAddress! + start, 0x0A, n - start) {
                let end = bytes.baseAddress!.distance(to: UnsafeRawPointer(nl))
                each(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                start = end + 1
            }
            next = offset + start
        }
        if next == offset {
            // One record longer than `maxBytes`.
            guard let (payload, after) = record(at: offset, limit: limit) else { return nil }
            payload.withUnsafeBytes { each($0) }
            return after
        }
        return next
    }

    /// Cuts the journal back to `length` bytes, dropping records appended after it.
    func truncate(to length: Int) {
        guard length < end else { return }
        _ = ftruncate(journal.rawValue, off_t(max(0, length)))
        end = max(0, length)
        deliveredOffset = min(deliveredOffset, end)
        reclaimedOffset = min(reclaimedOffset, end)
    }

    /// Records that everything before `offset` was delivered; when that is the whole journal,
    /// empties it.
    func markDelivered(upTo offset: Int) {
        deliveredOffset = offset
        if deliveredOffset >= end {
            // Journal first: a crash between the two leaves an offset past the end, read as "all delivered".
            _ = ftruncate(journal.rawValue, 0)
            end = 0
            deliveredOffset = 0
            reclaimedOffset = 0
        }
        writeOffset(deliveredOffset)
        if punchesHoles && deliveredOffset - reclaimedOffset >= Self.reclaimStep {
            // After the offset is saved: a restart never resumes inside the hole (its zeros would
            // be sent as a record). Whole 4 KiB blocks only: the block holding the next record stays.
            let upTo = deliveredOffset & ~4095
            // A file system without holes (EOPNOTSUPP) keeps the blocks until the spool is empty.
            if vigil_punch_hole(journal.rawValue, Int64(reclaimedOffset), Int64(upTo - reclaimedOffset)) == 0 {
                reclaimedOffset = upTo
            } else if errno == EOPNOTSUPP {
                punchesHoles = false
            }
        }
    }

    /// Rewrites the `delivered` file in place (fixed width, so one `pwrite` replaces it).
    private func writeOffset(_ offset: Int) {
        var text: [UInt8] = []
        appendDigits(offset, width: 20, to: &text)
        text.append(UInt8(ascii: "\n"))
        _ = text.withUnsafeBytes { pwrite(offsetFile.rawValue, $0.baseAddress, $0.count, 0) }
    }

    /// The offset after the last newline in the first `size` bytes (0 when there is none).
    private static func lastRecordEnd(_ fd: Int32, size: Int) -> Int {
        var position = size
        var chunk = [UInt8](repeating: 0, count: 4096)
        while position > 0 {
            let start = max(0, position - chunk.count)
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, position - start, off_t(start)) }
            if n <= 0 { return 0 }
            if let nl = chunk.prefix(n).lastIndex(of: UInt8(ascii: "\n")) { return start + nl + 1 }
            position = start
        }
        return 0
    }

    /// `mkdir -p`.
    static func makeDirectories(_ path: String) throws(SystemError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { throw SystemError("mkdir \(prefix)", errno: errno) }
        }
    }
}
