import CVigilShim
import Glibc
public import VigilCore

/// Sends syslog messages to a collector over UDP (one datagram each, `sendmmsg` in batches)
/// or TCP (RFC 6587 octet counting, written in large batches), spread round-robin over
/// several connections. Blocking sockets: the sender goes as fast as the collector takes.
public final class SyslogSender {
    /// UDP or TCP.
    public enum Transport: String, Sendable {
        case udp, tcp
    }

    /// A collector address `udp://HOST:PORT` or `tcp://HOST:PORT` (HOST an IP literal,
    /// `[v6]`, or `localhost`).
    public struct Target: Sendable, Equatable, CustomStringConvertible {
        public var transport: Transport
        public var address: SocketAddress

        /// Parses a target; the error is a one-line message.
        public static func parse(_ text: String) -> Result<Target, ConfigValueError> {
            let transport: Transport
            let rest: Substring
            if text.hasPrefix("udp://") { transport = .udp; rest = text.dropFirst(6) }
            else if text.hasPrefix("tcp://") { transport = .tcp; rest = text.dropFirst(6) }
            else { return .failure(ConfigValueError("bad target \"\(text)\": expected udp://HOST:PORT or tcp://HOST:PORT")) }
            let hostPort = rest.hasPrefix("localhost:") ? "127.0.0.1" + rest.dropFirst(9) : String(rest)
            switch ListenAddress.parse(hostPort) {
            case .failure(let e): return .failure(ConfigValueError("bad target \"\(text)\": \(e.message)"))
            case .success(let a):
                guard a.port != 0 else { return .failure(ConfigValueError("bad target \"\(text)\": port 0")) }
                return .success(Target(transport: transport, address: a.socketAddress))
            }
        }

        public var description: String { "\(transport.rawValue)://\(address)" }
    }

    public let target: Target
    /// One socket per connection, closed in `deinit` (raw numbers: an array cannot hold the
    /// non-copyable `FileDescriptor`).
    private var fds: [Int32] = []
    private var next = 0
    /// TCP: framed bytes waiting; UDP: message bytes back to back, with `ends`.
    private var batch: [UInt8] = []
    private var ends: [Int] = []
    private let batchBytes = 256 * 1024
    private let batchMessages = 64
    public private(set) var messagesSent = 0
    public private(set) var bytesSent = 0

    /// Opens `connections` sockets to `target`.
    public init(target: Target, connections: Int = 1) throws(SystemError) {
        self.target = target
        vigil_ignore_sigpipe()
        for _ in 0..<max(1, connections) {
            let type = target.transport == .tcp ? SOCK_STREAM : SOCK_DGRAM
            let fd = socket(target.address.family, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd < 0 { throw SystemError("socket", errno: errno) }
            fds.append(fd)
            var size: Int32 = 4 << 20
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            if target.address.withSockAddr({ connect(fd, $0, $1) }) != 0 {
                throw SystemError("connect \(target)", errno: errno)
            }
        }
        batch.reserveCapacity(batchBytes + 70_000)
    }

    deinit {
        for fd in fds { Posix.close(fd) }
    }

    /// Queues one message (no framing); a full batch is sent at once.
    public func send(_ message: UnsafeRawBufferPointer) throws(SystemError) {
        if target.transport == .tcp {
            appendDigits(message.count, width: 0, to: &batch)
            batch.append(UInt8(ascii: " "))
        }
        batch.append(contentsOf: message)
        ends.append(batch.count)
        if batch.count >= batchBytes || (target.transport == .udp && ends.count >= batchMessages) { try flush() }
    }

    /// Sends everything queued.
    public func flush() throws(SystemError) {
        guard !ends.isEmpty else { return }
        let fd = fds[next]
        next = (next + 1) % fds.count
        if target.transport == .tcp {
            var failure: SystemError?
            batch.withUnsafeBytes { b in
                do throws(SystemError) { try Posix.writeAll(fd, b) } catch { failure = error }
            }
            if let failure { throw failure }
        } else {
            try sendDatagrams(fd)
        }
        messagesSent += ends.count
        bytesSent += batch.count
        batch.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
    }

    private func sendDatagrams(_ fd: Int32) throws(SystemError) {
        let count = ends.count
        var iovecs = [iovec](repeating: iovec(), count: count)
        var headers = [vigil_mmsghdr](repeating: vigil_mmsghdr(), count: count)
        var failure: SystemError?
        batch.withUnsafeMutableBytes { raw in
            iovecs.withUnsafeMutableBufferPointer { iov in
                var start = 0
                for i in 0..<count {
                    iov[i] = iovec(iov_base: raw.baseAddress! + start, iov_len: ends[i] - start)
                    headers[i].msg_hdr.msg_iov = iov.baseAddress! + i
                    headers[i].msg_hdr.msg_iovlen = 1
                    start = ends[i]
                }
            }
            var sent = 0
            while sent < count {
                let n = headers.withUnsafeMutableBufferPointer {
                    vigil_sendmmsg(fd, $0.baseAddress! + sent, UInt32(count - sent), 0)
                }
                if n < 0 {
                    if errno == EINTR { continue }
                    // Nobody listening yet (ICMP port unreachable): UDP loses the batch, as syslog over UDP does.
                    if errno == ECONNREFUSED { return }
                    failure = SystemError("sendmmsg \(target)", errno: errno)
                    return
                }
                sent += Int(n)
            }
        }
        withExtendedLifetime(iovecs) {}
        if let failure { throw failure }
    }
}
