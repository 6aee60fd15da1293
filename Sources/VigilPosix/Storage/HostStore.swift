import Glibc
public import VigilCore

/// Appends every host's messages to `DIR/hosts/HOST/YYYY-MM-DD.log`, one escaped message per line.
///
/// Lines go to a per-file memory buffer that is written when it passes `writeThresholdBytes` and on `flush()`,
/// which the daemon calls on a short interval and at shutdown. At most `maxOpenFiles` descriptors are kept
/// open (least recently written closed first), so thousands of hosts do not exhaust descriptors. Finding a
/// host's file is a dictionary lookup by `HostID` and day: no allocation per message once the file is known.
///
/// Write errors (a full disk, a permission change) never stop the caller: they are counted in `writeErrors`,
/// remembered in `lastError`, returned by `flush()`, and the data stays buffered to be retried. While
/// writes fail the store `isBlocked`, which the collector turns into backpressure (TCP is not read,
/// UDP not kept); what is buffered is bounded in total, not per host, by `maxBufferedBytes` (lines
/// refused past it are counted in `droppedLines`, except those a caller must not lose, see `append`).
/// A write that stops part-way through a line is cut back to its last whole line, so every file
/// holds whole lines only; the rest is written on the next try. Out of descriptors, the store gives back
/// its open files and then a spare it holds for that day, so it keeps writing. Owned by one thread.
public final class HostStore {
    /// A buffer is written as soon as it holds more than this many bytes.
    public static let writeThresholdBytes = 64 * 1024
    /// A file with no new line for this many consecutive `flush()` calls is forgotten (its descriptor and
    /// buffer released); a later line re-creates it.
    public static let idleFlushesBeforeRelease = 60

    /// The locks of the stores that write the same files (nil: this store writes its files alone).
    public let sharedWrites: StoreWriteLocks?
    /// The data directory; messages live under its `hosts` subdirectory.
    public let directory: String
    /// The rules `enforceRetention(today:)` applies.
    public var retention: StoreRetention
    /// The most file descriptors kept open at once.
    public let maxOpenFiles: Int
    /// `maxOpenFiles` unless given: what the daemon reserves descriptors for.
    public static let defaultMaxOpenFiles = 256
    /// How many unwritten bytes all files together may hold before droppable lines are refused.
    public let maxBufferedBytes: Int
    /// `maxBufferedBytes` unless given.
    public static let defaultMaxBufferedBytes = 64 << 20

    /// Failed open, mkdir or write calls so far.
    public private(set) var writeErrors = 0
    /// Lines refused because `maxBufferedBytes` were waiting.
    public private(set) var droppedLines = 0
    /// The most recent failure, for logs and the stats endpoint.
    public private(set) var lastError: SystemError?
    /// Since a write failed and until a flush wrote everything: the store cannot keep up.
    public private(set) var isBlocked = false
    /// Bytes waiting in memory across all files.
    public private(set) var bufferedBytes = 0

    /// `DIR/hosts`.
    let hostsDirectory: String
    /// Every file with buffered data or recent activity, by index; freed indices are in `freeRecords`.
    /// A message finds its file by index and appends to the record in place: no reference is
    /// copied, so no reference count is touched (a retain is an atomic instruction, which waits
    /// for every memory access in flight, the detection tables' cache misses included). What it
    /// costs instead is the array's uniqueness check: `append` runs 680 instructions per message,
    /// escaping included, against 663 with unretained references to file objects (callgrind on
    /// `vigil serve` receiving 200,000 `vigil-bench load --mix mixed` messages).
    private var records: [DayFile] = []
    /// Indices in `records` no file uses, reused first.
    private var freeRecords: [Int] = []
    /// The index in `records` of every live file.
    private var files: [FileKey: Int] = [:]
    /// Each host's most recently written file (an index in `records`, -1 for none), indexed by
    /// `HostID`: the common case needs no hashing.
    private var latestByHost: [Int32] = []
    /// The indices in `records` of the files whose descriptor is open, at most `maxOpenFiles`.
    private var openFiles: [Int] = []
    /// Ticks on every write; a file's `lastUse` orders the descriptor LRU.
    private var useClock: UInt64 = 0
    /// A descriptor (of `/dev/null`) held back for the day the process runs out: the store always
    /// holds at least one, so it can write while connections fill the rest. Blocked instead, it
    /// would park the TCP connections, which then never close and never give a descriptor back.
    private var spare: FileDescriptor?

    /// Opens (creating when missing) `directory` and `directory/hosts`; fails when they cannot be created or
    /// `hosts` is not writable.
    /// `sharedWrites`: other stores of this process (the ingest shards') may write the same files,
    /// so each write holds that file's lock there: another store's lines never land inside a
    /// line, and a write cut short by a full disk trims back only its own bytes.
    public init(directory: String, retention: StoreRetention = StoreRetention(), maxOpenFiles: Int = defaultMaxOpenFiles,
                maxBufferedBytes: Int = defaultMaxBufferedBytes, sharedWrites: StoreWriteLocks? = nil) throws(SystemError) {
        precondition(maxOpenFiles > 0 && maxBufferedBytes > 0)
        self.sharedWrites = sharedWrites
        self.directory = directory
        self.retention = retention
        self.maxOpenFiles = maxOpenFiles
        self.maxBufferedBytes = maxBufferedBytes
        self.hostsDirectory = directory + "/hosts"
        try makeDirectories(hostsDirectory)
        if access(hostsDirectory, W_OK) != 0 { throw SystemError("access \(hostsDirectory)", errno: errno) }
        spare = FileDescriptor.reserve()
    }

    deinit { close() }

    /// Appends one message as a line of `DIR/hosts/<sanitized name>/<day>.log`, `day` being days since the epoch
    /// (the receive day). `name` is only evaluated the first time this host and day are seen. Returns false
    /// when the line was refused: `maxBufferedBytes` are waiting and the line is `droppable` (a datagram,
    /// which no sender will send again); a line read from a TCP stream or a file is always kept, since the
    /// collector stops reading those while the store is blocked and the excess is bounded by what was in flight.
    @discardableResult
    public func append(host: HostID, name: @autoclosure () -> String, day: Int64, line: UnsafeRawBufferPointer,
                       droppable: Bool = false) -> Bool {
        if droppable && bufferedBytes >= maxBufferedBytes {
            droppedLines += 1
            return false
        }
        let index = Int(host.rawValue)
        if index < latestByHost.count {
            let latest = Int(latestByHost[index])
            if latest >= 0, let (added, full) = records[latest].append(line, ifDay: day) {
                appended(added, full: full, to: latest)
                return true
            }
        }
        let key = FileKey(host: host, day: day)
        let record: Int
        if let known = files[key] {
            record = known
        } else {
            record = addRecord(DayFile(key: key, hostsDirectory: hostsDirectory, hostDirectory: HostName.sanitize(name())))
        }
        if index >= latestByHost.count { latestByHost.append(contentsOf: repeatElement(-1, count: index - latestByHost.count + 1)) }
        latestByHost[index] = Int32(record)
        let (added, full) = records[record].append(line)
        appended(added, full: full, to: record)
        return true
    }

    /// Counts `added` bytes appended to `records[record]`, writing its buffer once it is `full`
    /// (not while the store is blocked: `flush` retries then). Inlined by hand, like
    /// `DayFile.append(_:ifDay:)`: left to the optimizer, the store costs 10 instructions more
    /// per message (callgrind, see `records`).
    @inline(__always)
    private func appended(_ added: Int, full: Bool, to record: Int) {
        bufferedBytes += added
        if full && !isBlocked { _ = write(record) }
    }

    /// Stores `file` at a free index of `records` and returns the index.
    private func addRecord(_ file: DayFile) -> Int {
        let record: Int
        if let free = freeRecords.popLast() {
            record = free
            records[record] = file
        } else {
            record = records.count
            records.append(file)
        }
        files[file.key] = record
        return record
    }

    /// Forgets `records[record]`: closes its descriptor, releases its buffer and frees its index.
    private func removeRecord(_ record: Int) {
        closeDescriptor(of: record)
        let key = records[record].key
        files[key] = nil
        records[record].buffer = []
        freeRecords.append(record)
        let host = Int(key.host.rawValue)
        if host < latestByHost.count && latestByHost[host] == Int32(record) { latestByHost[host] = -1 }
    }

    /// Writes every buffer to its file and forgets files idle for `idleFlushesBeforeRelease` flushes.
    /// Returns the first error met (also counted in `writeErrors`), nil when everything was written,
    /// which also ends `isBlocked`.
    @discardableResult
    public func flush() -> SystemError? {
        var firstError: SystemError?
        var idle: [Int] = []
        for record in files.values {
            records[record].writable = true
            if let error = write(record), firstError == nil { firstError = error }
            records[record].idleFlushes += 1
            if records[record].idleFlushes > Self.idleFlushesBeforeRelease && records[record].buffer.isEmpty { idle.append(record) }
        }
        if firstError == nil { isBlocked = false }
        for record in idle { removeRecord(record) }
        return firstError
    }

    /// Flushes, then closes every descriptor: the next line of each file opens its path again, so a
    /// file renamed away (logrotate) is followed by a new one. Returns the flush's first error.
    @discardableResult
    public func reopenFiles() -> SystemError? { close() }

    /// Flushes, then closes every descriptor. Returns the flush's first error.
    @discardableResult
    public func close() -> SystemError? {
        let error = flush()
        while let record = openFiles.last { closeDescriptor(of: record) }
        spare = nil
        return error
    }

    /// The number of files currently holding an open descriptor (at most `maxOpenFiles`).
    public var openFileCount: Int { openFiles.count }

    // MARK: - Writing

    /// Writes the whole buffer of `records[record]`, keeping what could not be written. A write that
    /// failed part-way through a line is cut back to the last whole line (the file is truncated to it),
    /// so the file never holds half a line; the cut part stays buffered. Returns the error, if any.
    private func write(_ record: Int) -> SystemError? {
        if records[record].buffer.isEmpty { return nil }
        let fd: Int32
        switch descriptor(for: record) {
        case .success(let open): fd = open
        case .failure(let error): return self.record(error, blocking: record)
        }
        let (written, failure) = sharedWriting(records[record].key) { appendWholeLines(records[record].buffer, to: fd) }
        if written == records[record].buffer.count {
            records[record].buffer.removeAll(keepingCapacity: true)
        } else {
            records[record].buffer.removeFirst(written)
        }
        bufferedBytes -= written
        guard let failure else { return nil }
        // Reopen next time: the file may have been replaced or the disk freed.
        closeDescriptor(of: record)
        return self.record(SystemError("write \(records[record].path)", errno: failure), blocking: record)
    }

    /// Appends `buffer` to the end of `fd`; a write that fails part-way through a line is cut back
    /// to the last whole line (the file truncated to it). Returns the bytes of `buffer` now in the
    /// file and the errno of the failure, if any.
    private func appendWholeLines(_ buffer: [UInt8], to fd: Int32) -> (written: Int, failure: Int32?) {
        let sizeBefore = lseek(fd, 0, SEEK_END)
        var written = 0
        let failure: Int32? = buffer.withUnsafeBytes { raw in
            while written < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
                if n > 0 {
                    written += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    return n < 0 ? errno : EIO
                }
            }
            return nil
        }
        if failure != nil && written > 0 {
            let whole = buffer[..<written].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            if whole < written && sizeBefore >= 0 && ftruncate(fd, sizeBefore + off_t(whole)) == 0 { written = whole }
        }
        return (written, failure)
    }

    /// Runs `body` (the appending to one file) under `sharedWrites`' lock for `key`, when there is one.
    private func sharedWriting<R>(_ key: FileKey, _ body: () -> R) -> R {
        guard let sharedWrites else { return body() }
        return sharedWrites.withLock(host: key.host, day: key.day, body)
    }

    /// Counts a failure, blocks the store and stops `append` from retrying this file before the next `flush()`.
    private func record(_ error: SystemError, blocking record: Int) -> SystemError {
        writeErrors += 1
        lastError = error
        records[record].writable = false
        isBlocked = true
        return error
    }

    /// An open descriptor for `records[record]`, opening it (and its host directory) when needed and
    /// closing the least recently written descriptor when `maxOpenFiles` are open. The record keeps
    /// owning the descriptor; the number returned is valid until `closeDescriptor(of:)`.
    private func descriptor(for record: Int) -> Result<Int32, SystemError> {
        useClock += 1
        records[record].lastUse = useClock
        if let open = records[record].descriptor { return .success(open.descriptor.rawValue) }
        if spare == nil { spare = FileDescriptor.reserve() }
        if openFiles.count >= maxOpenFiles, let oldest = openFiles.min(by: { records[$0].lastUse < records[$1].lastUse }) {
            closeDescriptor(of: oldest)
        }
        let path = records[record].path
        var opened = openForAppend(path)
        if case .failure(let error) = opened, isOutOfDescriptors(error.errno) {
            // Out of descriptors: give back those the store holds, the spare last.
            while case .failure(let error) = opened, isOutOfDescriptors(error.errno), let open = openFiles.last {
                closeDescriptor(of: open)
                opened = openForAppend(path)
            }
            if case .failure(let error) = opened, isOutOfDescriptors(error.errno), spare != nil {
                spare = nil
                opened = openForAppend(path)
            }
        }
        if case .failure(let error) = opened, error.errno == ENOENT {
            do throws(SystemError) {
                try makeDirectories(hostsDirectory + "/" + records[record].hostDirectory)
            } catch {
                return .failure(error)
            }
            opened = openForAppend(path)
        }
        switch opened {
        case .failure(let error):
            return .failure(error)
        case .success(let fd):
            records[record].descriptor = OwnedDescriptor(FileDescriptor(owning: fd))
            openFiles.append(record)
            return .success(fd)
        }
    }

    /// Closes the descriptor of `records[record]` if it has one.
    private func closeDescriptor(of record: Int) {
        guard records[record].descriptor != nil else { return }
        records[record].descriptor = nil
        if let index = openFiles.firstIndex(of: record) {
            openFiles.swapAt(index, openFiles.count - 1)
            openFiles.removeLast()
        }
    }

    /// Closes the descriptor of any open file stored as `hostDirectory/day`, before that file is deleted.
    func closeDescriptors(hostDirectory: String, day: Int64) {
        for record in openFiles where records[record].key.day == day && records[record].hostDirectory == hostDirectory {
            closeDescriptor(of: record)
        }
    }
}

/// Which file a message goes to: its host and its receive day.
struct FileKey: Hashable {
    var host: HostID
    var day: Int64
}

/// One host's file for one day: its path, its unwritten bytes and, while open, its descriptor.
struct DayFile {
    let key: FileKey
    /// The sanitized host name, one directory component.
    let hostDirectory: String
    let path: String
    var buffer: [UInt8] = []
    /// The open descriptor, owned here; nil while closed.
    var descriptor: OwnedDescriptor?
    /// `useClock` at the last write, for the descriptor LRU.
    var lastUse: UInt64 = 0
    /// Consecutive flushes without a new line.
    var idleFlushes = 0
    /// False after a failed write until the next flush, so `append` does not retry on every line.
    var writable = true

    init(key: FileKey, hostsDirectory: String, hostDirectory: String) {
        self.key = key
        self.hostDirectory = hostDirectory
        self.path = hostsDirectory + "/" + hostDirectory + "/" + dayFileName(key.day)
    }

    /// Appends one message as an escaped line; returns the bytes added and whether the buffer is now
    /// due to be written (past `HostStore.writeThresholdBytes` and not after a failed write).
    mutating func append(_ line: UnsafeRawBufferPointer) -> (added: Int, full: Bool) {
        idleFlushes = 0
        let before = buffer.count
        appendEscapedLine(line, to: &buffer)
        return (buffer.count - before, buffer.count > HostStore.writeThresholdBytes && writable)
    }

    /// `append(_:)` when this is the file of `day`, else nil: one access to the record for the
    /// common case (the host's latest file).
    @inline(__always)
    mutating func append(_ line: UnsafeRawBufferPointer, ifDay day: Int64) -> (added: Int, full: Bool)? {
        key.day == day ? append(line) : nil
    }
}

/// A `FileDescriptor` behind a reference, for a copyable record (`Array` needs copyable elements):
/// the descriptor closes when its record lets go of the last reference. Nothing else holds one.
final class OwnedDescriptor {
    let descriptor: FileDescriptor
    init(_ descriptor: consuming FileDescriptor) { self.descriptor = descriptor }
}

/// `YYYY-MM-DD.log` for a day count since the epoch.
public func dayFileName(_ day: Int64) -> String {
    let (year, month, dayOfMonth) = CivilDateTime.civilFromDays(day)
    var bytes: [UInt8] = []
    bytes.reserveCapacity(14)
    appendDigits(year, width: 4, to: &bytes)
    bytes.append(UInt8(ascii: "-"))
    appendDigits(month, width: 2, to: &bytes)
    bytes.append(UInt8(ascii: "-"))
    appendDigits(dayOfMonth, width: 2, to: &bytes)
    bytes += ".log".utf8
    return String(decoding: bytes, as: UTF8.self)
}

/// Whether a failed `open` ran out of descriptors (the process's or the system's).
private func isOutOfDescriptors(_ error: Int32) -> Bool {
    error == EMFILE || error == ENFILE
}

/// Opens `path` for appending, creating it with mode 0640; retries on EINTR. The caller takes
/// ownership of the descriptor returned.
private func openForAppend(_ path: String) -> Result<Int32, SystemError> {
    Result { () throws(SystemError) in
        Int32(try Posix.retrying("open \(path)") { Int(open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)) })
    }
}

/// `mkdir -p`: creates `path` and any missing parents with mode 0750; fails when something other than a
/// directory is in the way.
func makeDirectories(_ path: String) throws(SystemError) {
    if mkdir(path, 0o750) == 0 { return }
    let failure = errno
    if failure == EEXIST {
        var info = stat()
        if stat(path, &info) != 0 { throw SystemError("stat \(path)", errno: errno) }
        if info.st_mode & S_IFMT != S_IFDIR { throw SystemError("mkdir \(path)", errno: ENOTDIR) }
        return
    }
    guard failure == ENOENT, let slash = path.lastIndex(of: "/"), slash > path.startIndex else {
        throw SystemError("mkdir \(path)", errno: failure)
    }
    try makeDirectories(String(path[..<slash]))
    if mkdir(path, 0o750) != 0 && errno != EEXIST { throw SystemError("mkdir \(path)", errno: errno) }
}

/// The locks that the stores of one process (the ingest shards', docs/architecture.md) take
/// around each write to a day file they may share: striped by host and day, in memory, so no
/// other process can hold one and they work on any file system (unlike `flock`, which a reader
/// of the files could take, and which NFS turns into per-process locks).
public final class StoreWriteLocks: @unchecked Sendable {
    private let stripes: [ConditionLock]

    public init(stripes: Int = 64) {
        self.stripes = (0..<max(1, stripes)).map { _ in ConditionLock() }
    }

    /// Runs `body` holding the lock of `host`'s file of `day`.
    public func withLock<R>(host: HostID, day: Int64, _ body: () -> R) -> R {
        let mixed = (UInt64(host.rawValue) &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(bitPattern: day)
        return stripes[Int(mixed % UInt64(stripes.count))].withLock(body)
    }
}
