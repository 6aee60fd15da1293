import CVigilShim
import Glibc
import VigilCore

/// Writes text to a descriptor (stdout) without ever blocking the event loop: what the
/// reader does not take yet is kept, up to `capacity` bytes, and written on the next call;
/// beyond that, whole lines are dropped and counted. No control character other than the
/// line feeds between lines ever reaches the descriptor (`TerminalText.escapedBlock`).
public final class ConsoleWriter {
    /// Borrowed (standard output by default) and never closed here, so not a `FileDescriptor`.
    private let fd: Int32
    private let capacity: Int
    private var pending: [UInt8] = []
    /// Lines dropped because the reader fell more than `capacity` bytes behind.
    public private(set) var droppedLines = 0

    private var madeNonBlocking = false

    /// A writer to `fd` that keeps at most `capacity` bytes for a reader that is behind.
    public init(fd: Int32 = 1, capacity: Int = 1 << 20) {
        self.fd = fd
        self.capacity = capacity
    }

    /// Bytes accepted but not yet taken by the reader.
    public var pendingBytes: Int { pending.count }

    /// Queues `text` plus a newline and writes as much as the reader accepts. `text` is one
    /// line or a block of lines whose untrusted fields the caller escaped
    /// (`TerminalText.escaped`); anything else that a terminal would obey is escaped here.
    public func writeLine(_ line: String) {
        let text = TerminalText.escapedBlock(line)
        let size = text.utf8.count + 1
        if pending.count + size > capacity {
            flush()
            if pending.count + size > capacity {
                droppedLines += 1
                return
            }
        }
        pending.append(contentsOf: text.utf8)
        pending.append(UInt8(ascii: "\n"))
        flush()
    }

    /// Writes what is pending, stopping (not waiting) when the reader is full.
    public func flush() {
        if !madeNonBlocking {
            // Only once there is something to write: a writer that never writes leaves the descriptor alone.
            _ = vigil_set_nonblocking(fd)
            madeNonBlocking = true
        }
        var written = 0
        while written < pending.count {
            let n = pending.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n > 0 {
                written += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                break  // EAGAIN: try again later; EPIPE or other: the reader is gone, keep and count on overflow
            }
        }
        if written > 0 { pending.removeFirst(written) }
    }
}
