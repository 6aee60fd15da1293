import CVigilShim
import Glibc
import VigilCore

/// Datagrams handed to one sendmmsg call.
let udpBatchSize = 64

/// Datagrams per pre-built block (a multiple of the batch size).
let udpBlockFrames = 4096

/// Sends `--count` datagrams from one connected UDP socket in sendmmsg batches of 64,
/// optionally paced to `--rate` messages per second.
func runUDPLoad(_ options: BenchOptions) -> Result<LoadReport, LoadError> {
    let block = buildFrameBlock(frames: min(options.count, udpBlockFrames), size: options.size, kind: .datagram,
                                connection: 0, timestamp: wallClockNow())
    let fd: Int32
    switch connectedSocket(Int32(SOCK_DGRAM.rawValue), to: options.target) {
    case .success(let opened): fd = opened
    case .failure(let error): return .failure(error)
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

    var sent = 0
    var bytes = 0
    var refusals = 0
    let begin = monotonicNanoseconds()
    while sent < options.count {
        let index = sent % frames
        let batch = min(udpBatchSize, options.count - sent, frames - index)
        let n = vigil_sendmmsg(fd, headers + index, UInt32(batch), 0)
        if n < 0 {
            let code = errno
            if code == EINTR { continue }
            // A connected UDP socket reports an earlier ICMP "port unreachable" here.
            if code == ECONNREFUSED {
                refusals += 1
                if refusals > 1000 { return .failure(LoadError(description: "nothing is listening on \(options.target) (udp)")) }
                continue
            }
            if code == ENOBUFS || code == EAGAIN {
                var pause = timespec(tv_sec: 0, tv_nsec: 100_000)
                nanosleep(&pause, nil)
                continue
            }
            return .failure(.system("sendmmsg", code))
        }
        for i in index..<(index + Int(n)) { bytes += block.ends[i] - (i == 0 ? 0 : block.ends[i - 1]) }
        sent += Int(n)
        if options.rate > 0 {
            let due = begin + UInt64(sent) * 1_000_000_000 / UInt64(options.rate)
            let now = monotonicNanoseconds()
            if due > now {
                let wait = due - now
                var pause = timespec(tv_sec: Int(wait / 1_000_000_000), tv_nsec: Int(wait % 1_000_000_000))
                nanosleep(&pause, nil)
            }
        }
    }
    return .success(LoadReport(messages: sent, bytes: bytes, elapsedNanoseconds: monotonicNanoseconds() - begin))
}
