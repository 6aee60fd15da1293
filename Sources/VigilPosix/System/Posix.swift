import CVigilShim
import Glibc
public import VigilCore

/// A failed system call: the call's name and its errno.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public var call: String
    public var errno: Int32
    public init(_ call: String, errno: Int32) { self.call = call; self.errno = errno }
    public var description: String { "\(call): \(String(cString: strerror(errno)))" }
}

/// The result of a non-blocking I/O call: bytes moved, or "try again later".
public enum IOResult: Equatable, Sendable {
    case processed(Int)
    case wouldBlock
}

/// The syscall funnel: every call retries `EINTR`, turns `EAGAIN` into `.wouldBlock`,
/// and throws a `SystemError` naming the call for anything else.
public enum Posix {
    @inline(__always)
    static func retrying(_ name: String, _ body: () -> Int) throws(SystemError) -> Int {
        while true {
            let r = body()
            if r >= 0 { return r }
            let e = Glibc.errno
            if e == EINTR { continue }
            throw SystemError(name, errno: e)
        }
    }

    @inline(__always)
    static func nonBlocking(_ name: String, _ body: () -> Int) throws(SystemError) -> IOResult {
        while true {
            let r = body()
            if r >= 0 { return .processed(r) }
            let e = Glibc.errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            throw SystemError(name, errno: e)
        }
    }

    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult {
        try nonBlocking("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// Ignores SIGPIPE process-wide: writing to a closed pipe or reset socket is then an EPIPE
    /// error for that write.
    public static func ignoreBrokenPipes() { vigil_ignore_sigpipe() }

    /// Writes to a socket without SIGPIPE (MSG_NOSIGNAL): a peer that reset the connection is
    /// an EPIPE error for this connection, never a signal that ends the process.
    public static func send(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(SystemError) -> IOResult {
        try nonBlocking("send") { Glibc.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Writes all of `buffer` to a blocking descriptor (files), retrying short writes.
    public static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(SystemError) {
        var offset = 0
        while offset < buffer.count {
            let n = try retrying("write") { Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset) }
            offset += n
        }
    }

    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)  // EINTR after close on Linux still closes the descriptor
    }

    /// The current wall-clock time.
    public static func wallClock() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(microseconds: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000)
    }

    /// Monotonic time in microseconds, for deadlines.
    public static func monotonicMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    /// 64 random bits from the kernel, to seed hash tables that senders must not be able to predict.
    public static func randomSeed() -> UInt64 {
        var seed: UInt64 = 0
        if withUnsafeMutableBytes(of: &seed, { getrandom($0.baseAddress, 8, 0) }) != 8 {
            seed = UInt64(bitPattern: monotonicMicros()) &* 0x9E37_79B9_7F4A_7C15
        }
        return seed
    }

    /// What kind of file `path` names, and when it last changed; nil when it cannot be looked up.
    public struct FileStatus: Sendable {
        public var isDirectory: Bool
        public var modified: Timestamp
    }

    /// `stat(2)` of `path` (following symbolic links); nil when it does not exist or cannot be read.
    public static func status(_ path: String) -> FileStatus? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileStatus(isDirectory: info.st_mode & S_IFMT == S_IFDIR,
                          modified: Timestamp(microseconds: Int64(info.st_mtim.tv_sec) * 1_000_000 + Int64(info.st_mtim.tv_nsec) / 1000))
    }

    /// This machine's host name (`localhost` when it cannot be read).
    public static func machineName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The host of file lines that name none (access-log and summary lines, bare sshd messages),
    /// the same in `analyze`, `follow` and `serve`'s `[input.file]`: `configured` (`--host`,
    /// `input.file.host`) unless nil or empty, else this machine's name; `HostTable` makes it
    /// the host's one name (`HostName`), as for every host a line names itself.
    public static func fileHost(_ configured: String?) -> String {
        if let configured, !configured.isEmpty { return configured }
        return machineName()
    }

    /// How many CPUs this process may run on (its affinity mask, `sched_getaffinity`, so
    /// `taskset` and a cpuset-limited container count; else the CPUs online), at least 1: what
    /// `server.threads` 0 and `vigil analyze`'s default thread count mean. At most 256 (the most
    /// `--threads` takes).
    public static func onlineCPUs() -> Int {
        let allowed = Int(vigil_cpus_allowed())
        return min(256, max(1, allowed > 0 ? allowed : sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Adds one to the eventfd `fd` (`FileDescriptor.eventCounter`), waking the loop that polls it.
    public static func signalEventCounter(_ fd: Int32) {
        var one: UInt64 = 1
        _ = Glibc.write(fd, &one, 8)
    }

    /// Reads the eventfd `fd` back to zero, so it stops being readable until signalled again.
    public static func clearEventCounter(_ fd: Int32) {
        var count: UInt64 = 0
        _ = Glibc.read(fd, &count, 8)
    }

    /// Raises the soft open-file limit to the hard limit so thousands of connections fit, and
    /// returns the soft limit now in force.
    @discardableResult
    public static func raiseFileLimit() -> Int {
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)  // RLIM_INFINITY is the largest value: no cap
    }
}
