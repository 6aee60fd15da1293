import CVigilShim
import Glibc

/// Whole-file reads and writes for small files (config, key and state files); not for logs.
public enum TextFile {
    /// Reads the file at `path` as UTF-8 (invalid bytes repaired), refusing files over `limit` bytes.
    public static func read(_ path: String, limit: Int = 16 << 20) throws(SystemError) -> String {
        String(decoding: try readBytes(path, limit: limit), as: UTF8.self)
    }

    /// Reads the file at `path` as bytes, refusing files over `limit` bytes.
    public static func readBytes(_ path: String, limit: Int = 16 << 20) throws(SystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SystemError("open \(path)", errno: errno) }
        defer { Posix.close(fd) }
        return try readBytes(fd: fd, name: path, limit: limit)
    }

    /// The bytes of the open file `fd` (named `name` in errors) from where it is, at most `limit`.
    public static func readBytes(fd: Int32, name: String, limit: Int) throws(SystemError) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read \(name)", errno: errno)
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > limit { throw SystemError("read \(name)", errno: EFBIG) }
        }
        return bytes
    }

    /// Replaces the file at `path` with `text` so that a reader (or a crash) sees the old file or
    /// the new one, never half of one: written to `path.tmp`, then renamed over it.
    public static func writeAtomically(_ path: String, _ text: String) throws(SystemError) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw SystemError("open \(temporary)", errno: errno) }
        var bytes = Array(text.utf8)
        let failure = bytes.withUnsafeMutableBytes { raw -> SystemError? in
            do throws(SystemError) { try Posix.writeAll(fd, UnsafeRawBufferPointer(raw)) } catch { return error }
            return nil
        }
        Posix.close(fd)
        if let failure { throw failure }
        if rename(temporary, path) != 0 { throw SystemError("rename \(temporary)", errno: errno) }
    }
}
