import CVigilShim
import Glibc
import VigilCore

/// Datagrams handed to one sendmmsg call.
let udpBatchSize = 64

/// Datagrams per pre-built block (a multiple of the batch size).
let udpBlockFrames = 4096

/// Sends `--count` datagrams from `--connections` connected UDP sockets, one thread each, in
/// sendmmsg batches of 64, optionally paced to `--rate` messages per second in total.
func runUDPLoad(_ options: BenchOptions) -> Result<LoadReport, LoadError> {
    let now = wallClockNow()
    var senders: [UDPSender] = []
    for c in 0..<options.connections {
        let count = options.countShare(c)
        let block = buildFrameBlock(frames: min(max(count, 1), udpBlockFrames), size: options.size, kind: .datagram,
                                    connection: c, timestamp: now)
        senders.append(UDPSender(target: options.target, sender: c, block: block, count: count, rate: options.rateShare(c)))
    }
    return runCountingSenders(senders)
}

/// A connected UDP socket for the load, with a 4 MiB send buffer. To an IPv4 loopback target,
/// sender number `sender` sends from 127.0.0.(1 + sender), as a fleet's hosts each send from an
/// address of their own (a `vigil serve` with ingest shards spreads UDP senders over its loops
/// by address).
func datagramSocket(to target: SocketAddress, sender: Int) -> Result<Int32, LoadError> {
    let loopback = target.ip.isIPv4 && target.ip.ipv4Value >> 24 == 127
    let source = loopback ? IPAddress(ipv4: 0x7F00_0001 + UInt32(sender % 254)) : nil
    return connectedSocket(Int32(SOCK_DGRAM.rawValue), to: target, from: source).map { fd in
        setSocketOption(fd, SOL_SOCKET, SO_SNDBUF, 4 << 20)
        return fd
    }
}

/// sendmmsg over a connected UDP socket, for datagrams lying back to back in one buffer that
/// outlives this object: one header per datagram, built once.
final class DatagramBatches {
    private let fd: Int32
    private let target: SocketAddress
    private let iovecs: UnsafeMutablePointer<iovec>
    private let headers: UnsafeMutablePointer<vigil_mmsghdr>
    /// ECONNREFUSED answers so far (ICMP "port unreachable" for earlier datagrams).
    private var refusals = 0

    /// Headers for the datagrams of `buffer` that end (exclusive) at each of `ends`, sent on `fd`.
    init(fd: Int32, target: SocketAddress, buffer: UnsafeMutableRawPointer, ends: [Int]) {
        self.fd = fd
        self.target = target
        iovecs = .allocate(capacity: ends.count)
        headers = .allocate(capacity: ends.count)
        var start = 0
        for i in ends.indices {
            iovecs[i] = iovec(iov_base: buffer + start, iov_len: ends[i] - start)
            var header = msghdr()
            header.msg_iov = iovecs + i
            header.msg_iovlen = 1
            headers[i] = vigil_mmsghdr(msg_hdr: header, msg_len: 0)
            start = ends[i]
        }
    }

    deinit {
        iovecs.deallocate()
        headers.deallocate()
    }

    /// Sends the datagrams `range` (at most `udpBatchSize`) in one sendmmsg call; returns how many
    /// the kernel took. Retries EINTR, pauses 0.1 ms on ENOBUFS and EAGAIN, and gives up after
    /// 1000 refusals (nothing listens).
    func send(_ range: Range<Int>) -> Result<Int, LoadError> {
        while true {
            let n = vigil_sendmmsg(fd, headers + range.lowerBound, UInt32(range.count), 0)
            if n >= 0 { return .success(Int(n)) }
            let code = errno
            switch code {
            case EINTR: continue
            case ECONNREFUSED:
                refusals += 1
                if refusals > 1000 { return .failure(LoadError(description: "nothing is listening on \(target) (udp)")) }
            case ENOBUFS, EAGAIN:
                var pause = timespec(tv_sec: 0, tv_nsec: 100_000)
                nanosleep(&pause, nil)
            default: return .failure(.system("sendmmsg", code))
            }
        }
    }
}

/// One UDP socket's share of the filler load, run on its own thread.
final class UDPSender: CountingSender, @unchecked Sendable {
    let target: SocketAddress
    /// Its number among the load's senders (its source address: `datagramSocket`).
    let sender: Int
    let block: FrameBlock
    let count: Int
    let rate: Int
    /// Set by the sender thread; read after join().
    var sent = 0
    var bytes = 0
    var failure: LoadError?

    init(target: SocketAddress, sender: Int, block: FrameBlock, count: Int, rate: Int) {
        self.target = target
        self.sender = sender
        self.block = block
        self.count = count
        self.rate = rate
    }

    func run() {
        let fd: Int32
        switch datagramSocket(to: target, sender: sender) {
        case .success(let opened): fd = opened
        case .failure(let error): failure = error; return
        }
        defer { close(fd) }

        let frames = block.ends.count
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: block.bytes.count, alignment: 16)
        storage.copyBytes(from: block.bytes)
        defer { storage.deallocate() }
        let batches = DatagramBatches(fd: fd, target: target, buffer: storage.baseAddress!, ends: block.ends)

        let begin = monotonicNanoseconds()
        while sent < count {
            let index = sent % frames
            let batch = index..<(index + min(udpBatchSize, count - sent, frames - index))
            let n: Int
            switch batches.send(batch) {
            case .success(let taken): n = taken
            case .failure(let error): failure = error; return
            }
            bytes += block.length(ofFirst: index + n) - block.length(ofFirst: index)
            sent += n
            if rate > 0 {
                let due = begin + UInt64(sent) * 1_000_000_000 / UInt64(rate)
                let now = monotonicNanoseconds()
                if due > now {
                    let wait = due - now
                    var pause = timespec(tv_sec: Int(wait / 1_000_000_000), tv_nsec: Int(wait % 1_000_000_000))
                    nanosleep(&pause, nil)
                }
            }
        }
    }
}
