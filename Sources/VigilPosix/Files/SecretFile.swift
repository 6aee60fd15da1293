import Glibc

/// Reads secrets (the relay key) from files that other users cannot read or change.
public enum SecretFile {
    /// Why a secret file was refused, as one sentence that says how to fix it.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The bytes of the file at `path`; refused when the file cannot be read, is not a regular
    /// file, is readable by every user or writable by anyone but its owner.
    public static func read(_ path: String) throws(Problem) -> [UInt8] {
        var st = stat()
        if stat(path, &st) != 0 { throw Problem(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
        guard st.st_mode & S_IFMT == S_IFREG else { throw Problem(description: "\(path) is not a regular file") }
        if st.st_mode & 0o022 != 0 || st.st_mode & 0o004 != 0 {
            let mode = String(st.st_mode & 0o777, radix: 8)
            throw Problem(description: "\(path) is open to other users (mode 0\(mode)); run `chmod 600 \(path)`")
        }
        do {
            return try TextFile.readBytes(path, limit: 64 * 1024)
        } catch {
            throw Problem(description: "cannot read \(path): \(error)")
        }
    }
}
