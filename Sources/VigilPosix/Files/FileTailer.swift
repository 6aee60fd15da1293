import CVigilShim
import Glibc
import VigilCore

/// Where a tailer starts reading a file it opens for the first time.
public enum TailStart: Sendable, Equatable {
    /// At the current end: only lines written from now on (tail -F default).
    case end
    /// From the first byte.
    case beginning
    /// At a saved offset of the file with this device and inode; from the beginning when the
    /// file is another one now (it was rotated) or shorter than the offset (it was truncated).
    case saved(FileIdentity, offset: Int64)
}

/// Why `path` can never be followed: it is a directory, a FIFO, a device or a socket (a tailer
/// reads regular files by offset), or its directory does not exist (a file that does not exist
/// yet, or cannot be read yet, is waited for instead). Nil when it can be.
public func unfollowableReason(_ path: String) -> String? {
    var st = stat()
    if stat(path, &st) == 0 {
        switch st.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "\(path) is a directory; give the log file in it"
        default: return "\(path) is not a regular file (a FIFO, a device or a socket cannot be followed)"
        }
    }
    let directory = DirectoryWatcher.directory(of: path)
    if stat(directory, &st) != 0 { return "\(path): its directory \(directory) does not exist" }
    if st.st_mode & S_IFMT != S_IFDIR { return "\(path): \(directory) is not a directory" }
    return nil
}

/// A file's identity on disk, to notice that a path now names another file.
public struct FileIdentity: Hashable, Sendable {
    public var device: UInt64
    public var inode: UInt64
    public init(device: UInt64, inode: UInt64) { self.device = device; self.inode = inode }
}

/// What a tailer noticed during a check, for the operator's console.
public enum TailNotice: Equatable, Sendable {
    case waitingForFile(String)
    case opened(String)
    case truncated(String)
    case rotated(String)
    case unreadable(String, SystemError)
}

extension TailNotice: CustomStringConvertible {
    /// One line for the operator's console.
    public var description: String {
        switch self {
        case .waitingForFile(let p): return "\(p) does not exist yet; waiting for it to appear"
        case .opened(let p): return "following \(p)"
        case .truncated(let p): return "\(p) was truncated; reading from its start"
        case .rotated(let p): return "\(p) was rotated; following the new file"
        case .unreadable(let p, let e): return "cannot read \(p): \(e)"
        }
    }
}

extension SystemError: Equatable {
    public static func == (a: SystemError, b: SystemError) -> Bool { a.call == b.call && a.errno == b.errno }
}

/// Follows one growing log file with `tail -F` semantics: survives rename rotation (the old
/// file is read to its end, then the new one from its start) and copytruncate (reading restarts
/// at 0), and waits for a file that does not exist yet.
///
/// A file that exists but cannot be read (no permission, a directory) is reported once and tried
/// again after a wait that doubles from 1 s up to 30 s, or at once when its inode, mode or change
/// time changed (a `chmod`, a new file): never on every check, so nothing spins on it.
///
/// A symbolic link at the path is followed only when it belongs to root or to vigil's own user
/// (as Kubernetes' `/var/log/containers` links do), checked at every open: one of another user
/// is refused, reported as unreadable. Otherwise a user who can write to the log's directory
/// could swap the log for a link to a file only vigil may read (while vigil runs or before it
/// starts) and have it read as the rotated log, then stored or shipped.
///
/// All the work happens in `check`, which reads whatever is new; inotify (or a timer) only
/// decides when to call it, so tests drive it directly without sleeping.
public final class FileTailer {
    public let path: String
    private var start: TailStart
    /// The file being read, nil while there is none.
    private var file: FileDescriptor?
    private var identity: FileIdentity?
    /// Bytes consumed from the open file.
    public private(set) var offset: Int64 = 0
    private var splitter: LineSplitter
    private var buffer: UnsafeMutableRawBufferPointer
    private var reportedMissing = false
    /// While the file exists but cannot be opened: the errno reported (0 otherwise), when to try
    /// again (monotonic µs), the next wait, and the file's fingerprint when it failed.
    private var failure: Int32 = 0
    private var retryAt: Int64 = 0
    private var retryWait: Int64 = 0
    private var failedChange: Fingerprint?
    /// Times `open` was tried while the file could not be read (for tests of the pacing).
    private(set) var failedOpens = 0
    static let firstRetryMicros: Int64 = 1_000_000
    static let longestRetryMicros: Int64 = 30_000_000

    public init(path: String, start: TailStart = .end, maxLineBytes: Int = 65_536) {
        self.path = path
        self.start = start
        splitter = LineSplitter(maxLineBytes: maxLineBytes)
        buffer = .allocate(byteCount: 256 * 1024, alignment: 16)
    }

    deinit {
        buffer.deallocate()
    }

    /// The identity of the file being read and the offset of the first byte not yet delivered
    /// as a line (an unfinished last line is read again after a resume): what to save to resume.
    public var position: (FileIdentity, Int64)? { identity.map { ($0, offset - Int64(splitter.pendingCount)) } }

    /// The last check read the file to its end (false when it stopped at its `maxBytes`).
    public private(set) var caughtUp = true

    /// Reads everything new (at most `maxBytes`), calling `onLine` for each
    /// complete line; returns what it noticed. Rotation is looked for only once the open file was
    /// read to its end (`caughtUp`). `now` (monotonic µs) paces the retries of a file that cannot be read.
    @discardableResult
    public func check(now: Int64 = Posix.monotonicMicros(), maxBytes: Int = .max,
                      onLine: (UnsafeRawBufferPointer, Bool) -> Void) -> [TailNotice] {
        var notices: [TailNotice] = []
        caughtUp = true
        if file == nil {
            if failure != 0 && now < retryAt && changeTime() == failedChange { return notices }
            openFile(&notices, now: now)
        }
        guard let fd = file?.rawValue else { return notices }
        // copytruncate: the file shrank below what was read.
        var st = stat()
        if fstat(fd, &st) == 0 && Int64(st.st_size) < offset {
            notices.append(.truncated(path))
            splitter.reset()
            offset = 0
            lseek(fd, 0, SEEK_SET)
        }
        caughtUp = drain(maxBytes: maxBytes, onLine: onLine)
        if !caughtUp { return notices }
        // Rename rotation: the path now names another file (or none). The old file was just read
        // to its end; anything unterminated in it is a complete last line.
        var pathStat = stat()
        let pathExists = stat(path, &pathStat) == 0
        if !pathExists || FileIdentity(device: UInt64(pathStat.st_dev), inode: UInt64(pathStat.st_ino)) != identity {
            if pathExists {
                notices.append(.rotated(path))
                splitter.finish(onLine: onLine)
                file = nil
                start = .beginning
                openFile(&notices, now: now)
                if file != nil { caughtUp = drain(maxBytes: maxBytes, onLine: onLine) }
            }
        }
        return notices
    }

    /// What changes when a file is replaced or its mode is changed: inode, mode and change time.
    private struct Fingerprint: Equatable {
        var inode: UInt64, mode: UInt32, seconds: Int, nanoseconds: Int
    }

    /// The path's fingerprint, nil when it cannot be read.
    private func changeTime() -> Fingerprint? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Fingerprint(inode: UInt64(st.st_ino), mode: st.st_mode, seconds: st.st_ctim.tv_sec, nanoseconds: st.st_ctim.tv_nsec)
    }

    /// The file cannot be read for `error`: said once per kind of error, tried again later.
    private func unreadable(_ error: SystemError, _ notices: inout [TailNotice], now: Int64) {
        failedOpens += 1
        if error.errno != failure { notices.append(.unreadable(path, error)) }
        failure = error.errno
        retryWait = min(max(Self.firstRetryMicros, retryWait * 2), Self.longestRetryMicros)
        retryAt = now + retryWait
        failedChange = changeTime()
    }

    /// Opens the path without following a symbolic link there unless it belongs to root or to
    /// this user (see `FileTailer`); a link swapped meanwhile for another is not followed.
    private func openFollowingTrustedLink() throws(SystemError) -> FileDescriptor {
        let flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK
        do throws(SystemError) {
            return try FileDescriptor(opening: path, flags: flags | O_NOFOLLOW)
        } catch where error.errno == ELOOP {
            var link = stat()
            guard lstat(path, &link) == 0, link.st_mode & S_IFMT == S_IFLNK else { throw error }
            guard link.st_uid == 0 || link.st_uid == geteuid() else {
                throw SystemError("open \(path) (a symbolic link of uid \(link.st_uid), which is not followed)", errno: ELOOP)
            }
            let opened = try FileDescriptor(opening: path, flags: flags)
            var again = stat()
            guard lstat(path, &again) == 0, again.st_ino == link.st_ino, again.st_uid == link.st_uid else {
                throw SystemError("open \(path) (its symbolic link changed while it was opened)", errno: ELOOP)
            }
            return opened
        }
    }

    private func openFile(_ notices: inout [TailNotice], now: Int64) {
        let opened: FileDescriptor
        do throws(SystemError) {
            // Non-blocking: opening a FIFO would otherwise wait, with the event loop, for a writer.
            opened = try openFollowingTrustedLink()
        } catch {
            if error.errno == ENOENT {
                if !reportedMissing { notices.append(.waitingForFile(path)) }
                reportedMissing = true
                failure = 0
            } else {
                unreadable(error, &notices, now: now)
            }
            return
        }
        var st = stat()
        fstat(opened.rawValue, &st)
        switch st.st_mode & S_IFMT {
        case S_IFREG:
            break
        case S_IFDIR:
            unreadable(SystemError("read \(path)", errno: EISDIR), &notices, now: now)
            return
        default:
            // A FIFO, a device or a socket has no offsets to resume at or sizes to compare.
            unreadable(SystemError("read \(path)", errno: ESPIPE), &notices, now: now)
            return
        }
        failure = 0
        retryWait = 0
        let id = FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        let size = Int64(st.st_size)
        switch start {
        case .end:
            offset = size
        case .beginning:
            offset = 0
        case .saved(let savedID, let savedOffset):
            offset = (savedID == id && savedOffset <= size) ? savedOffset : 0
        }
        lseek(opened.rawValue, off_t(offset), SEEK_SET)
        file = consume opened
        identity = id
        reportedMissing = false
        // Every file after the first one is read from its start (it appeared after rotation).
        start = .beginning
        splitter.reset()
        notices.append(.opened(path))
    }

    /// Reads to the end of the file, or until `maxBytes` were read; true when it reached the end.
    /// A read error is not the end: false, so that no rotation is acted on (and the old file's
    /// rest given up) before the file could be read to its end; the next check tries again.
    private func drain(maxBytes: Int, onLine: (UnsafeRawBufferPointer, Bool) -> Void) -> Bool {
        guard let fd = file?.rawValue else { return true }
        var read = 0
        while read < maxBytes {
            let n = Glibc.read(fd, buffer.baseAddress, min(buffer.count, maxBytes - read))
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return false }
            if n == 0 { return true }
            offset += Int64(n)
            read += n
            splitter.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), onLine: onLine)
        }
        return false
    }

    /// Delivers an unterminated last line as complete (the file is done with: a rotated file read
    /// to its end).
    public func finish(onLine: (UnsafeRawBufferPointer, Bool) -> Void) {
        splitter.finish(onLine: onLine)
    }
}
