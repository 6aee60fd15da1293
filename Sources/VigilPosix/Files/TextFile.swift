import CVigilShim
import Glibc

/// Whole-file reads for small text files (config, token files); not for logs.
public enum TextFile {
    /// Reads the file at `path` as UTF-8 (invalid bytes repaired), refusing files over `limit` bytes.
    public static func read(_ path: String, limit: Int = 16 << 20) throws(SystemError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SystemError("open \(path)", errno: errno) }
        defer { Posix.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read \(path)", errno: errno)
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > limit { throw SystemError("read \(path)", errno: EFBIG) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
