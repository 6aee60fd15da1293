import CVigilShim
import Glibc
import VigilCore

/// Frames handed to one write() by a TCP `RealisticSender` (a UDP one hands `udpBatchSize`
/// datagrams to one sendmmsg).
let realisticChunkFrames = 256

/// One connection sending realistic frames (`TrafficBlock`) stamped with the wall clock, each with
/// the next of `ips` source addresses (from the `firstAddress`-th on), optionally paced to `rate` msgs/s; stops after `count`
/// messages or at `deadline` (monotonic ns), whichever comes first. Over TCP the frames are
/// octet-counted; over UDP each is one datagram, without framing. Runs on its own thread; results
/// are read after `join()`.
final class RealisticSender: CountingSender, @unchecked Sendable {
    let target: SocketAddress
    /// Its number among the load's senders (its source address, over UDP: `datagramSocket`).
    let sender: Int
    let transport: Transport
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

    /// A sender of `mix` frames from `hosts` hosts; `rate` 0 sends as fast as the socket takes them.
    init(target: SocketAddress, transport: Transport, mix: TrafficMix, hosts: Int, ips: Int, firstAddress: Int = 0,
         sender: Int = 0, count: Int, rate: Int, deadline: UInt64) {
        self.target = target
        self.sender = sender
        self.transport = transport
        self.block = transport == .tcp
            ? TrafficBlock(frames: tcpBlockFrames, mix: mix, hosts: hosts, kind: .octetCounted, start: wallClockNow())
            : TrafficBlock(frames: udpBlockFrames, mix: mix, hosts: hosts, kind: .datagram, start: wallClockNow())
        self.addresses = AddressCycle(count: ips, first: firstAddress)
        self.count = count
        self.rate = rate
        self.deadline = deadline
    }

    /// Connects and sends; records the first error and stops there.
    func run() {
        let fd: Int32
        switch transport == .tcp ? connectedSocket(Int32(SOCK_STREAM.rawValue), to: target) : datagramSocket(to: target, sender: sender) {
        case .success(let opened): fd = opened
        case .failure(let error): failure = error; return
        }
        let begin = monotonicNanoseconds()
        defer {
            close(fd)
            elapsedNanoseconds = monotonicNanoseconds() - begin
        }
        let datagrams = transport == .udp
            ? DatagramBatches(fd: fd, target: target, buffer: block.bytes.baseAddress!, ends: block.ends) : nil
        let chunkFrames = datagrams == nil ? realisticChunkFrames : udpBatchSize
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
            let frames = min(chunkFrames, count - sent, block.count - next)
            for t in next..<(next + frames) {
                block.rewriteAddress(t, addresses)
                block.rewriteClock(t, clock)
                addresses.advance()
            }
            // Frames the socket took; over UDP the rest of the batch is rewritten again next time.
            let taken: Int
            if let datagrams {
                switch datagrams.send(next..<(next + frames)) {
                case .success(let n): taken = n
                case .failure(let error): failure = error; return
                }
            } else {
                if let error = writeAll(fd, block.frames(next..<(next + frames))) {
                    failure = error
                    return
                }
                taken = frames
            }
            sent += taken
            bytes += block.frames(next..<(next + taken)).count
            next = (next + taken) % block.count
        }
        if transport == .tcp { _ = shutdown(fd, Int32(SHUT_WR)) }
    }
}

/// `vigil-bench load --tcp|--udp … --mix M`: `--connections` realistic senders, each with its
/// share of `--count` and of `--rate` (0: full speed), and each starting at its own part of the
/// `--ips` addresses, so that together they cycle through all of them.
func runRealisticLoad(_ options: BenchOptions, mix: TrafficMix) -> Result<LoadReport, LoadError> {
    let senders = (0..<options.connections).map { c in
        RealisticSender(target: options.target, transport: options.transport, mix: mix, hosts: options.hosts, ips: options.ips,
                        firstAddress: options.ips / options.connections * c, sender: c, count: options.countShare(c),
                        rate: options.rateShare(c), deadline: .max)
    }
    return runCountingSenders(senders)
}
