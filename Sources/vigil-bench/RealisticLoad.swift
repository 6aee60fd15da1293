import CVigilShim
import Glibc
import VigilCore

/// Frames handed to one write() by `RealisticSender`.
let realisticChunkFrames = 256

/// One TCP connection sending realistic octet-counted frames (`TrafficBlock`) stamped with the
/// wall clock, each with the next of `ips` source addresses, optionally paced to `rate` msgs/s;
/// stops after `count` messages or at `deadline` (monotonic ns), whichever comes first.
/// Runs on its own thread; results are read after `pthread_join`.
final class RealisticSender: @unchecked Sendable {
    let target: SocketAddress
    let block: TrafficBlock
    let count: Int
    let rate: Int
    let deadline: UInt64
    private var addresses: AddressCycle
    /// Messages and bytes written; set by the sender thread.
    private(set) var sent = 0
    private(set) var bytes = 0
    /// How long the sending took.
    private(set) var elapsedNanoseconds: UInt64 = 0
    /// The first error, if any.
    private(set) var failure: LoadError?

    /// A sender of `mix` frames; `rate` 0 sends as fast as the connection takes them.
    init(target: SocketAddress, mix: TrafficMix, ips: Int, count: Int, rate: Int, deadline: UInt64) {
        self.target = target
        self.block = TrafficBlock(frames: tcpBlockFrames, mix: mix, kind: .octetCounted, start: wallClockNow())
        self.addresses = AddressCycle(count: ips)
        self.count = count
        self.rate = rate
        self.deadline = deadline
    }

    /// Connects and sends; records the first error and stops there.
    func run() {
        let fd: Int32
        switch connectedSocket(Int32(SOCK_STREAM.rawValue), to: target) {
        case .success(let opened): fd = opened
        case .failure(let error): failure = error; return
        }
        let begin = monotonicNanoseconds()
        defer {
            close(fd)
            elapsedNanoseconds = monotonicNanoseconds() - begin
        }
        var second = Int64.min
        var clock = ClockText(wallClockNow())
        var next = 0
        while sent < count {
            let now = monotonicNanoseconds()
            if now >= deadline { break }
            if rate > 0 {
                let due = begin + UInt64(sent) * 1_000_000_000 / UInt64(rate)
                if due > now {
                    let wait = min(due - now, 1_000_000)
                    var pause = timespec(tv_sec: 0, tv_nsec: Int(wait))
                    nanosleep(&pause, nil)
                    continue
                }
            }
            let wall = wallClockNow()
            if wall.seconds != second {
                second = wall.seconds
                clock = ClockText(wall)
            }
            let frames = min(realisticChunkFrames, count - sent, block.count - next)
            for t in next..<(next + frames) {
                block.rewriteAddress(t, addresses)
                block.rewriteClock(t, clock)
                addresses.advance()
            }
            let from = next == 0 ? 0 : block.ends[next - 1]
            let chunk = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(block.bytes)[from..<block.ends[next + frames - 1]])
            if let error = writeAll(fd, chunk) {
                failure = error
                return
            }
            sent += frames
            bytes += chunk.count
            next = (next + frames) % block.count
        }
        _ = shutdown(fd, Int32(SHUT_WR))
    }
}

/// Starts `body` on a new thread; returns the thread, or the pthread_create error.
func startThread(_ body: @escaping @Sendable () -> Void) -> Result<pthread_t, LoadError> {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    var thread = pthread_t()
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    let rc = pthread_create(&thread, nil, { raw in
        Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, context)
    if rc != 0 {
        Unmanaged<Box>.fromOpaque(context).release()
        return .failure(.system("pthread_create", rc))
    }
    return .success(thread)
}

/// `vigil-bench load --tcp … --mix M`: `--connections` realistic senders at full speed.
func runRealisticTCPLoad(_ options: BenchOptions, mix: TrafficMix, ips: Int) -> Result<LoadReport, LoadError> {
    var senders: [RealisticSender] = []
    for c in 0..<options.connections {
        let frames = options.count / options.connections + (c < options.count % options.connections ? 1 : 0)
        senders.append(RealisticSender(target: options.target, mix: mix, ips: ips, count: frames, rate: 0, deadline: .max))
    }
    let start = monotonicNanoseconds()
    var threads: [pthread_t] = []
    for sender in senders {
        switch startThread({ sender.run() }) {
        case .success(let thread): threads.append(thread)
        case .failure(let error):
            for t in threads { pthread_join(t, nil) }
            return .failure(error)
        }
    }
    for t in threads { pthread_join(t, nil) }
    let elapsed = monotonicNanoseconds() - start
    if let error = senders.lazy.compactMap(\.failure).first { return .failure(error) }
    return .success(LoadReport(messages: senders.reduce(0) { $0 + $1.sent }, bytes: senders.reduce(0) { $0 + $1.bytes },
                               elapsedNanoseconds: elapsed))
}
