import Glibc

/// The directories vigil writes its state into (`serve`'s data directory, `forward`'s state
/// directory) must be its own: another user who owns one, or may write into it, could put a
/// symbolic link where vigil writes and have it write (as root, say) into any file, or choose
/// what vigil reads back (the API token).
public enum OwnDirectory {
    /// Refuses `path` unless it is a directory (not a symbolic link) owned by this user with none
    /// of `deniedModeBits` set (0o022: group or others may write).
    public static func check(_ path: String, deniedModeBits: UInt32) throws(SystemError) {
        var st = stat()
        if lstat(path, &st) != 0 { throw SystemError("stat \(path)", errno: errno) }
        guard st.st_mode & S_IFMT == S_IFDIR else {
            throw SystemError("\(path) is not a directory (a symbolic link is refused; give the directory itself)", errno: ENOTDIR)
        }
        guard st.st_uid == geteuid() else {
            throw SystemError("\(path) belongs to uid \(st.st_uid), not to this user (uid \(geteuid())): run vigil as that user or `chown -R \(geteuid()) \(path)`",
                              errno: EPERM)
        }
        if UInt32(st.st_mode) & deniedModeBits != 0 {
            throw SystemError("\(path) is open to other users (mode 0\(String(st.st_mode & 0o777, radix: 8))): run `chmod go-w \(path)`",
                              errno: EPERM)
        }
    }
}
