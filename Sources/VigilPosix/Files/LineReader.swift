import CVigilShim
import Glibc
import VigilCore

/// Reads a file (or stdin) line by line for offline analysis: big reads into one reused buffer,
/// each line handed out as a slice of it (no copy, no `String`), so memory stays flat however
/// large the file is. A line longer than the buffer is cut to it and the rest skipped to its LF.
/// The lines are split by VigilCore's `LineSplitter`, as `FileTailer`'s are.
public final class LineReader {
    /// What the reader reads, for messages (`-` for stdin).
    public let path: String
    private let fd: Int32
    private let ownsFD: Bool
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var atEOF = false
    /// Finds the lines in `buffer[start..<end]` (none held in it: the buffer keeps the unfinished one).
    private var splitter: LineSplitter
    /// Lines cut because they were longer than the buffer.
    public private(set) var truncatedLines = 0

    /// Opens `path` (`-` reads standard input) with a buffer of `bufferBytes` (the longest line kept).
    public init(path: String, bufferBytes: Int = 1 << 20) throws(SystemError) {
        self.path = path
        if path == "-" {
            fd = 0
            ownsFD = false
        } else {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 { throw SystemError("open \(path)", errno: errno) }
            ownsFD = true
            var st = stat()
            if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
                Posix.close(fd)
                throw SystemError("read \(path)", errno: EISDIR)
            }
            _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
        }
        buffer = .allocate(byteCount: max(4096, bufferBytes), alignment: 16)
        splitter = LineSplitter(maxLineBytes: buffer.count)
    }

    deinit {
        if ownsFD { Posix.close(fd) }
        buffer.deallocate()
    }

    /// The next line without its LF (and CR), valid until the next call; nil at the end.
    public func next() throws(SystemError) -> UnsafeRawBufferPointer? {
        while true {
            if let (line, _) = splitter.nextLine(in: UnsafeRawBufferPointer(rebasing: buffer[0..<end]), from: &start) {
                return line
            }
            if atEOF {
                // An unterminated last line (unless it is the rest of a cut one).
                return splitter.lastLine(in: UnsafeRawBufferPointer(rebasing: buffer[0..<end]), from: &start)
            }
            if start > 0 {
                if end > start { memmove(buffer.baseAddress!, buffer.baseAddress! + start, end - start) }
                end -= start
                start = 0
            }
            if end == buffer.count {
                // A line longer than the buffer: hand out what fits, skip the rest.
                start = end
                guard let line = splitter.cut(UnsafeRawBufferPointer(buffer)) else { continue }
                truncatedLines += 1
                return line
            }
            try fill()
        }
    }

    /// Whether the input starts with gzip's magic bytes (1f 8b). Reads its first bytes into the
    /// buffer, where `next()` finds them; call it before the first `next()`.
    public func isGzip() throws(SystemError) -> Bool {
        while end - start < 2 && !atEOF { try fill() }
        return end - start >= 2 && buffer[start] == 0x1F && buffer[start + 1] == 0x8B
    }

    /// One read into the free end of the buffer (retried on EINTR); sets `atEOF` at the end.
    private func fill() throws(SystemError) {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress! + end, buffer.count - end)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read \(path)", errno: errno)
            }
            if n == 0 { atEOF = true } else { end += n }
            return
        }
    }
}
