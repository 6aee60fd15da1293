import CVigilShim
import Glibc
import VigilCore
import VigilPosix

/// Frames per pre-built block; one block is about 800 KB at the default size.
let tcpBlockFrames = 4096

/// One TCP connection's work, run on its own thread: connect, then write `frames`
/// frames from its block with large write() calls, then close.
final class TCPSender: LoadSender, @unchecked Sendable {
    let target: SocketAddress
    let block: FrameBlock
    let frames: Int
    /// Set by the sender thread before it exits; read after join().
    var failure: LoadError?

    init(target: SocketAddress, block: FrameBlock, frames: Int) {
        self.target = target
        self.block = block
        self.frames = frames
    }

    /// Sends everything; records the first error and stops there.
    func run() {
        let fd: Int32
        switch connectedSocket(Int32(SOCK_STREAM.rawValue), to: target) {
        case .success(let opened): fd = opened
        case .failure(let error): failure = error; return
        }
        defer { close(fd) }
        var remaining = frames
        block.bytes.withUnsafeBytes { raw in
            while remaining > 0 {
                let n = min(remaining, block.ends.count)
                if let error = writeAll(fd, UnsafeRawBufferPointer(rebasing: raw[0..<block.length(ofFirst: n)])) {
                    failure = error
                    return
                }
                remaining -= n
            }
        }
        _ = shutdown(fd, Int32(SHUT_WR))
    }
}

/// Writes all of `bytes` to a blocking socket, retrying short writes and EINTR.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> LoadError? {
    var offset = 0
    while offset < bytes.count {
        let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if n < 0 {
            if errno == EINTR { continue }
            return .system("write", errno)
        }
        offset += n
    }
    return nil
}

/// Runs `--connections` senders in parallel threads and reports the total once all have closed.
func runTCPLoad(_ options: BenchOptions) -> Result<LoadReport, LoadError> {
    let now = wallClockNow()
    let kind: FrameKind = options.framing == .octet ? .octetCounted : .lineFeed
    var senders: [TCPSender] = []
    var totalBytes = 0
    for c in 0..<options.connections {
        let frames = options.countShare(c)
        let block = buildFrameBlock(frames: min(frames, tcpBlockFrames), size: options.size, kind: kind,
                                    connection: c, timestamp: now)
        let whole = frames / max(block.ends.count, 1)
        totalBytes += whole * block.bytes.count + block.length(ofFirst: frames - whole * block.ends.count)
        senders.append(TCPSender(target: options.target, block: block, frames: frames))
    }
    let elapsed: UInt64
    switch runInThreads(senders) {
    case .success(let nanoseconds): elapsed = nanoseconds
    case .failure(let error): return .failure(error)
    }
    return .success(LoadReport(messages: options.count, bytes: totalBytes, elapsedNanoseconds: elapsed))
}

/// One load thread's work; handed to the thread that runs it, read once that thread is joined.
protocol LoadSender: AnyObject, Sendable {
    /// Sends everything, recording the first error in `failure`.
    func run()
    var failure: LoadError? { get }
}

/// A load thread that counts what it sent; read after it is done.
protocol CountingSender: LoadSender {
    var sent: Int { get }
    var bytes: Int { get }
}

/// Runs each sender on its own thread; what they sent together and how long it took, or the
/// first error.
func runCountingSenders(_ senders: [any CountingSender]) -> Result<LoadReport, LoadError> {
    runInThreads(senders.map { $0 }).map { elapsed in
        LoadReport(messages: senders.reduce(0) { $0 + $1.sent }, bytes: senders.reduce(0) { $0 + $1.bytes },
                   elapsedNanoseconds: elapsed)
    }
}

/// Runs each sender on its own thread named `name`; the elapsed time once all are done, or the
/// first error.
func runInThreads(_ senders: [any LoadSender], named name: String = "bench-send") -> Result<UInt64, LoadError> {
    let start = monotonicNanoseconds()
    var threads: [JoinableThread] = []
    for sender in senders {
        do {
            threads.append(try JoinableThread(named: name) { sender.run() })
        } catch {
            for t in threads { t.join() }
            return .failure(.system(error.call, error.errno))
        }
    }
    for t in threads { t.join() }
    let elapsed = monotonicNanoseconds() - start
    if let error = senders.lazy.compactMap(\.failure).first { return .failure(error) }
    return .success(elapsed)
}
