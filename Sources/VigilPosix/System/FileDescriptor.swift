import CVigilShim
import Glibc

/// An open file descriptor with one owner: it cannot be copied, so exactly one value closes it,
/// either when it is destroyed (`deinit`, ignoring the result) or through `close()`, which
/// reports the error when the owner must know (a file's last write can fail there).
/// Syscalls borrow it through `rawValue`.
public struct FileDescriptor: ~Copyable, Sendable {
    /// The kernel's number for the descriptor, valid while this value lives.
    public let rawValue: Int32

    /// Takes ownership of `rawValue`, which must be an open descriptor no one else closes.
    public init(owning rawValue: Int32) {
        precondition(rawValue >= 0, "not a descriptor: \(rawValue)")
        self.rawValue = rawValue
    }

    /// Opens `path` (`open(2)`, retrying `EINTR`); fails with `open PATH` and the errno.
    init(opening path: String, flags: Int32, mode: mode_t = 0) throws(SystemError) {
        let fd = try Posix.retrying("open \(path)") { Int(Glibc.open(path, flags, mode)) }
        self.init(owning: Int32(fd))
    }

    /// Closes the descriptor, reporting the error. `EINTR` is not an error here: on Linux the
    /// descriptor is closed even then.
    public consuming func close() throws(SystemError) {
        let fd = rawValue
        discard self
        if Glibc.close(fd) != 0 && errno != EINTR { throw SystemError("close", errno: errno) }
    }

    /// A descriptor of `/dev/null` to hold in reserve for the day the process runs out of
    /// descriptors (closed then to make room for one), or nil when none can be opened.
    static func reserve() -> FileDescriptor? {
        try? FileDescriptor(opening: "/dev/null", flags: O_RDONLY | O_CLOEXEC)
    }

    /// A new non-blocking eventfd (`eventfd(2)`) counting from 0: one thread signals it, another
    /// polls it.
    public static func eventCounter() throws(SystemError) -> FileDescriptor {
        let fd = eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK))
        if fd < 0 { throw SystemError("eventfd", errno: errno) }
        return FileDescriptor(owning: fd)
    }

    deinit { Posix.close(rawValue) }
}
