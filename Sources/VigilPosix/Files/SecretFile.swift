import CVigilShim
import Glibc

/// Reads secrets (the relay key) from files that other users cannot read or change.
public enum SecretFile {
    /// Why a secret file was refused, as one sentence that says how to fix it.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The bytes of the file at `path`; refused when the file cannot be read, is a symbolic link
    /// or not a regular file, belongs to neither this user nor root, is readable by every user or
    /// writable by anyone but its owner. (A link, or another user's file, would let that user
    /// choose the secret, or point it at a file whose first line is known.)
    public static func read(_ path: String) throws(Problem) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        if fd < 0 {
            if errno == ELOOP { throw Problem(description: "\(path) is a symbolic link; give the file itself") }
            throw Problem(description: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { Posix.close(fd) }
        var st = stat()
        fstat(fd, &st)
        guard st.st_mode & S_IFMT == S_IFREG else { throw Problem(description: "\(path) is not a regular file") }
        guard st.st_uid == geteuid() || st.st_uid == 0 else {
            throw Problem(description: "\(path) belongs to uid \(st.st_uid), neither this user (uid \(geteuid())) nor root; run `chown \(geteuid()) \(path)`")
        }
        if st.st_mode & 0o022 != 0 || st.st_mode & 0o004 != 0 {
            let mode = String(st.st_mode & 0o777, radix: 8)
            throw Problem(description: "\(path) is open to other users (mode 0\(mode)); run `chmod 600 \(path)`")
        }
        do {
            return try TextFile.readBytes(fd: fd, name: path, limit: 64 * 1024)
        } catch {
            throw Problem(description: "cannot read \(path): \(error)")
        }
    }

    /// The API token kept at `path` (its first line), or a new random one (32 bytes, in hex)
    /// written there with mode 0600 when the file does not exist: a loopback API is never open
    /// without a token, and the token survives restarts.
    public static func loadOrCreateToken(_ path: String) -> Result<String, Problem> {
        var random = [UInt8](repeating: 0, count: 32)
        guard random.withUnsafeMutableBytes({ getrandom($0.baseAddress, 32, 0) }) == 32 else {
            return .failure(Problem(description: "no random bytes for a token: \(String(cString: strerror(errno)))"))
        }
        let token = random.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            guard errno == EEXIST else { return .failure(Problem(description: "cannot create \(path): \(String(cString: strerror(errno)))")) }
            do {
                let text = String(decoding: try read(path), as: UTF8.self)
                let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
                guard !line.isEmpty else { return .failure(Problem(description: "\(path) is empty; delete it to get a new token")) }
                return .success(line)
            } catch {
                return .failure(error)
            }
        }
        defer { Glibc.close(fd) }
        let bytes = Array((token + "\n").utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            return .failure(Problem(description: "cannot write \(path): \(String(cString: strerror(errno)))"))
        }
        return .success(token)
    }
}
