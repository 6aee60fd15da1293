import CVigilShim
import Glibc
public import VigilCore

/// Wakes the event loop when anything changes in the directories of followed files (inotify),
/// so tailers are checked at once instead of on the next timer tick.
public final class DirectoryWatcher: EventHandler {
    private let inotify: FileDescriptor
    private let onChange: (Timestamp) -> Void
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    /// Watches the directory of every path (the path itself may not exist yet).
    public init(paths: [String], loop: EventLoop, onChange: @escaping (Timestamp) -> Void) throws(SystemError) {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        if fd < 0 { throw SystemError("inotify_init1", errno: errno) }
        let inotify = FileDescriptor(owning: fd)  // closes on the throws below
        self.onChange = onChange
        let mask = UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE | IN_ATTRIB)
        var watched = Set<String>()
        for path in paths {
            let directory = Self.directory(of: path)
            if watched.insert(directory).inserted && inotify_add_watch(fd, directory, mask) < 0 {
                throw SystemError("inotify_add_watch \(directory)", errno: errno)
            }
        }
        self.inotify = inotify
        try loop.register(fd, mask: EventLoop.readable, handler: self)
    }

    public func handleEvents(_ events: UInt32, now: Timestamp) {
        // The event details do not matter: every tailer re-checks its own file.
        while buffer.withUnsafeMutableBytes({ Glibc.read(inotify.rawValue, $0.baseAddress, $0.count) }) > 0 {}
        onChange(now)
    }

    /// The directory part of a path (`.` for a bare name).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
