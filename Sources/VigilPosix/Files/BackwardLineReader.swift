import Glibc
import VigilCore

/// Reads a file's lines from the last to the first, `blockBytes` at a time from the end, so the
/// newest lines of a large day file are found without reading the rest (docs/api.md, `/logs`).
/// A line longer than `maxLineBytes` is cut to its last `maxLineBytes` bytes. Memory stays
/// within about one block plus the longest line.
public final class BackwardLineReader {
    public let path: String
    private let file: FileDescriptor
    private let fileSize: Int64
    private let blockBytes: Int
    private let maxLineBytes: Int
    /// Where the part of the file not read yet ends.
    private var unreadEnd: Int64
    /// Bytes read but not handed out yet; they precede every line handed out.
    private var pending: [UInt8] = []
    /// Set when a line outgrew `maxLineBytes`: what precedes it up to the next newline is dropped.
    private var dropping = false
    private var reachedFirstLine = false

    public init(path: String, blockBytes: Int = 64 * 1024, maxLineBytes: Int = 1 << 20) throws(SystemError) {
        let file = try FileDescriptor(opening: path, flags: O_RDONLY | O_CLOEXEC)
        var info = stat()
        if fstat(file.rawValue, &info) != 0 { throw SystemError("stat \(path)", errno: errno) }  // `file` closes as it goes
        self.path = path
        self.file = file
        fileSize = Int64(info.st_size)
        unreadEnd = fileSize
        self.blockBytes = max(16, blockBytes)
        self.maxLineBytes = max(1, maxLineBytes)
    }


    /// The previous line (without its `\n`), or nil before the first.
    public func previous() throws(SystemError) -> [UInt8]? {
        while true {
            if let newline = pending.lastIndex(of: UInt8(ascii: "\n")) {
                let line = Array(pending[(newline + 1)...])
                pending.removeSubrange(newline...)
                return line
            }
            if unreadEnd == 0 {
                // What precedes the first newline is the file's first line (even empty).
                if reachedFirstLine || fileSize == 0 { return nil }
                reachedFirstLine = true
                defer { pending = [] }
                return pending
            }
            try readBlock()
        }
    }

    /// Puts the block before what was read in front of `pending`.
    private func readBlock() throws(SystemError) {
        let size = Int(min(Int64(blockBytes), unreadEnd))
        let start = unreadEnd - Int64(size)
        var block = [UInt8](repeating: 0, count: size)
        var got = 0
        while got < size {
            let n = block.withUnsafeMutableBytes { pread(file.rawValue, $0.baseAddress! + got, size - got, off_t(start) + off_t(got)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read \(path)", errno: errno)
            }
            if n == 0 { break }  // the file shrank (rotated and truncated): what was read is all there is
            got += n
        }
        if got < size { block.removeSubrange(got...) }
        // The file's final newline ends its last line; it does not start an empty one.
        if unreadEnd == fileSize, block.last == UInt8(ascii: "\n") { block.removeLast() }
        unreadEnd = start
        if dropping {
            guard let newline = block.lastIndex(of: UInt8(ascii: "\n")) else { return }
            block.removeSubrange((newline + 1)...)
            dropping = false
        }
        pending = block + pending
        if !pending.contains(UInt8(ascii: "\n")) && pending.count > maxLineBytes {
            pending.removeFirst(pending.count - maxLineBytes)
            dropping = unreadEnd > 0
        }
    }
}
