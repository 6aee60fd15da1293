import Glibc
import VigilCore

/// The state file of `vigil forward` on disk (docs/forward.md, "State"), and finding a rotated file
/// by its inode.
enum ForwardStateFile {
    /// The saved state; nil when there is none yet. Throws when it cannot be read or makes no sense.
    static func load(_ path: String) throws(SystemError) -> ForwardState? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw SystemError("open \(path)", errno: errno)
        }
        defer { Posix.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw SystemError("read \(path)", errno: errno) }
            if n == 0 { break }
            bytes.append(contentsOf: chunk.prefix(n))
        }
        switch ForwardState.decode(bytes) {
        case .success(let state): return state
        case .failure(let e): throw SystemError("read \(path) (\(e.message))", errno: EINVAL)
        }
    }

    /// Replaces the state file atomically: writes `PATH.tmp`, then renames it over `PATH`.
    static func save(_ bytes: [UInt8], to path: String) throws(SystemError) {
        let temporary = path + ".tmp"
        let file = try FileDescriptor(opening: temporary, flags: O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o600)
        var failure: SystemError?
        bytes.withUnsafeBytes { b in
            do throws(SystemError) { try Posix.writeAll(file.rawValue, b) } catch { failure = error }
        }
        // A failed close may be the write's failure reported late (NFS, a full quota): not renamed then.
        do throws(SystemError) { try file.close() } catch { failure = failure ?? error }
        if failure == nil && rename(temporary, path) != 0 { failure = SystemError("rename \(temporary)", errno: errno) }
        if let failure {
            unlink(temporary)
            throw failure
        }
    }

    /// A regular file with identity `id` in the directory of `path` (where logrotate puts
    /// `auth.log.1`), or nil.
    static func file(with id: FileIdentity, nextTo path: String) -> String? {
        let directory = DirectoryWatcher.directory(of: path)
        guard let dir = opendir(directory) else { return nil }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            guard UInt64(entry.pointee.d_ino) == id.inode else { continue }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            let candidate = directory + "/" + name
            var st = stat()
            if stat(candidate, &st) == 0 && st.st_mode & S_IFMT == S_IFREG && UInt64(st.st_dev) == id.device
                && UInt64(st.st_ino) == id.inode {
                return candidate
            }
        }
        return nil
    }
}
