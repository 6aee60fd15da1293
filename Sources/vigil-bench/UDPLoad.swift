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
        let count = options.count / options.connections + (c < options.count % options.connections ? 1 : 0)
        let rate = options.rate / options.connections + (c < options.rate % options.connections ? 1 : 0)
        let block = buildFrameBlock(frames: min(max(count, 1), udpBlockFrames), size: options.size, kind: .datagram,
                                    connection: c, timestamp: now)
        senders.append(UDPSender(target: options.target, block: block, count: count, rate: options.rate > 0 ? max(rate, 1) : 0))
    }
    switch runInThreads(senders) {
    case .failure(let error): return .failure(error)
    case .success(let elapsed):
        return .success(LoadReport(messages: senders.reduce(0) { $0 + $1.sent }, bytes: senders.reduce(0) { $0 + $1.bytes },
                                   elapsedNanoseconds: elapsed))
    }
}

/// One UDP socket's share of the load, run on its own thread.
final class UDPSender: LoadSender, @unchecked Sendable {
    let target: SocketAddress
    let block: FrameBlock
    let count: Int
    let rate: Int
    /// Set by the sender thread; read after pthread_join.
    var sent = 0
    var bytes = 0
    var failure: LoadError?

    init(target: SocketAddress, block: FrameBlock, count: Int, rate: Int) {
        self.target = target
        self.block = block
        self.count = count
        self.rate = rate
    }

    func run() {
        let fd: Int32
        switch connectedSocket(Int32(SOCK_DGRAM.rawValue), to: target) {
        case .success(let opened): fd = opened
        case .failure(let error): failure = error; return
        }
        defer { close(fd) }
        setSocketOption(fd, SOL_SOCKET, SO_SNDBUF, 4 << 20)

        let frames = block.ends.count
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: block.bytes.count, alignment: 16)
        storage.copyBytes(from: block.bytes)
        let iovecs = UnsafeMutablePointer<iovec>.allocate(capacity: frames)
        let headers = UnsafeMutablePointer<vigil_mmsghdr>.allocate(capacity: frames)
        defer {
            storage.deallocate()
            iovecs.deallocate()
            headers.deallocate()
        }
        var start = 0
        for i in 0..<frames {
            iovecs[i] = iovec(iov_base: storage.baseAddress! + start, iov_len: block.ends[i] - start)
            var header = msghdr()
            header.msg_iov = iovecs + i
            header.msg_iovlen = 1
            headers[i] = vigil_mmsghdr(msg_hdr: header, msg_len: 0)
            start = block.ends[i]
        }

        var refusals = 0
        let begin = monotonicNanoseconds()
        while sent < count {
            let index = sent % frames
            let batch = min(udpBatchSize, count - sent, frames - index)
            let n = vigil_sendmmsg(fd, headers + index, UInt32(batch), 0)
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                // A connected UDP socket reports an earlier ICMP "port unreachable" here.
                if code == ECONNREFUSED {
                    refusals += 1
                    if refusals > 1000 { failure = LoadError(description: "nothing is listening on \(target) (udp)"); return }
                    continue
                }
                if code == ENOBUFS || code == EAGAIN {
                    var pause = timespec(tv_sec: 0, tv_nsec: 100_000)
                    nanosleep(&pause, nil)
                    continue
                }
                failure = .system("sendmmsg", code)
                return
            }
            for i in index..<(index + Int(n)) { bytes += block.ends[i] - (i == 0 ? 0 : block.ends[i - 1]) }
            sent += Int(n)
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
