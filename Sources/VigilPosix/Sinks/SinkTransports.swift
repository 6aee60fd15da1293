import CVigilShim
import Glibc
import VigilCore

/// What one delivery attempt of one payload came to.
enum SendOutcome: Equatable {
    /// The receiver has it (TCP/UDP: written to the socket; HTTP: a 2xx answer).
    case delivered
    /// Try again later (connection refused or lost, timeout, HTTP 5xx/408/429); the reason is for the log.
    case retry(String)
    /// The receiver refused it for good (HTTP 4xx); it is dropped and counted.
    case reject(String)
}

/// Why a transport step failed, for the log.
struct TransportFailure: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

/// `POLLRDHUP` (the peer shut down its writing side), which Glibc's module does not export.
private let pollReadHangUp: Int16 = 0x2000

/// Carries payloads to one receiver. Used only by the sink's sender thread; blocking with deadlines.
protocol SinkTransport: AnyObject {
    /// Sends one payload (already encoded for this receiver).
    func send(_ payload: [UInt8]) -> SendOutcome
    /// Closes any connection.
    func disconnect()
}

/// A client socket with deadlines: connects to the addresses `getaddrinfo` gives for a host name
/// (never called on the event loop), and writes and reads with `poll` so no call waits past its
/// timeout, nor past a signal on `cancelFD` (the sink is closing).
final class ClientSocket {
    let host: String
    let port: UInt16
    let type: Int32
    let timeoutMillis: Int32
    let cancelFD: Int32
    /// The connected socket, nil while not connected.
    private var socket: FileDescriptor?
    /// The connected socket's number, -1 while not connected.
    private var fd: Int32 { socket?.rawValue ?? -1 }

    init(host: String, port: UInt16, type: Int32, timeoutMillis: Int32, cancelFD: Int32) {
        self.host = host
        self.port = port
        self.type = type
        self.timeoutMillis = timeoutMillis
        self.cancelFD = cancelFD
        vigil_ignore_sigpipe()
    }

    var isOpen: Bool { socket != nil }

    func close() {
        socket = nil
    }

    /// The addresses of `host` (a literal, `[v6]` literal or a name) for this socket type.
    func resolve() -> Result<[SocketAddress], TransportFailure> {
        var hints = addrinfo()
        hints.ai_socktype = type
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let rc = getaddrinfo(name, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            return .failure(TransportFailure("resolve \(host): " + String(cString: gai_strerror(rc))))
        }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let n = node {
            if let a = n.pointee.ai_addr, let address = SocketAddress(storage: UnsafeRawPointer(a)) { addresses.append(address) }
            node = n.pointee.ai_next
        }
        return addresses.isEmpty ? .failure(TransportFailure("resolve \(host): no address")) : .success(addresses)
    }

    /// Connects (if not connected) to the first address that answers; nil on success, else the reason.
    func connectIfNeeded() -> String? {
        if socket != nil { return nil }
        let addresses: [SocketAddress]
        switch resolve() {
        case .failure(let failure): return failure.reason
        case .success(let a): addresses = a
        }
        var reason = "no address"
        for address in addresses {
            let opened = Glibc.socket(address.family, type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if opened < 0 { reason = "socket: " + String(cString: strerror(errno)); continue }
            let candidate = FileDescriptor(owning: opened)
            let s = candidate.rawValue
            if type == Int32(SOCK_STREAM.rawValue) {
                var one: Int32 = 1
                setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            var rc = address.withSockAddr { Glibc.connect(s, $0, $1) }
            if rc != 0 && errno == EINPROGRESS {
                if wait(s, events: Int16(POLLOUT)) {
                    var error: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(s, SOL_SOCKET, SO_ERROR, &error, &len)
                    rc = error == 0 ? 0 : -1
                    errno = error
                } else {
                    errno = ETIMEDOUT
                }
            }
            if rc == 0 {
                socket = consume candidate
                return nil
            }
            reason = "connect \(address): " + String(cString: strerror(errno))  // `candidate` closes as it goes
        }
        return reason
    }

    /// Waits until `events` are ready on `s`; false when the timeout passes or the sink is closing.
    private func wait(_ s: Int32, events: Int16) -> Bool {
        var p = [pollfd(fd: s, events: events, revents: 0), pollfd(fd: cancelFD, events: Int16(POLLIN), revents: 0)]
        while true {
            let n = poll(&p, 2, timeoutMillis)
            if n < 0 && errno == EINTR { continue }
            return n > 0 && p[1].revents == 0
        }
    }

    /// Whether the peer closed (or reset) an idle connection: checked before reusing it, so a
    /// receiver that restarted is noticed before a payload is written into a dead socket.
    func peerClosed() -> Bool {
        guard fd >= 0 else { return true }
        var p = pollfd(fd: fd, events: Int16(POLLIN) | pollReadHangUp, revents: 0)
        guard poll(&p, 1, 0) > 0 else { return false }
        if p.revents & (pollReadHangUp | Int16(POLLHUP) | Int16(POLLERR)) != 0 { return true }
        var scratch = [UInt8](repeating: 0, count: 4096)
        // Unasked-for bytes on an idle connection: read and ignore; 0 means closed.
        let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)
    }

    /// Writes all of `bytes`; nil on success, else the reason (the connection is then closed).
    func writeAll(_ bytes: [UInt8]) -> String? {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n > 0 { offset += n; continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                if wait(fd, events: Int16(POLLOUT)) { continue }
                close()
                return "write timed out after \(timeoutMillis) ms or sink closing"
            }
            let reason = "write: " + String(cString: strerror(errno))
            close()
            return reason
        }
        return nil
    }

    /// Reads what is available into `buffer` (waiting up to the timeout): bytes read, 0 at end of
    /// stream, or the reason for failure.
    func read(into buffer: inout [UInt8]) -> Result<Int, TransportFailure> {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer.append(contentsOf: chunk.prefix(n))
                return .success(n)
            }
            if n == 0 { return .success(0) }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                if wait(fd, events: Int16(POLLIN)) { continue }
                return .failure(TransportFailure("no answer within \(timeoutMillis) ms or sink closing"))
            }
            return .failure(TransportFailure("read: " + String(cString: strerror(errno))))
        }
    }
}

/// RFC 5424 over UDP: one datagram per alert. A refused port (ICMP reported on a later send) is retried.
final class SyslogUDPTransport: SinkTransport {
    private let socket: ClientSocket

    init(host: String, port: UInt16, timeoutMillis: Int32, cancelFD: Int32) {
        socket = ClientSocket(host: host, port: port, type: Int32(SOCK_DGRAM.rawValue), timeoutMillis: timeoutMillis,
                              cancelFD: cancelFD)
    }

    func send(_ payload: [UInt8]) -> SendOutcome {
        if let reason = socket.connectIfNeeded() { return .retry(reason) }
        if let reason = socket.writeAll(payload) { return .retry(reason) }
        return .delivered
    }

    func disconnect() { socket.close() }
}

/// RFC 5424 over TCP with RFC 6587 octet counting (`LEN SP MSG`), one connection kept open and
/// reopened when the receiver closes it.
final class SyslogTCPTransport: SinkTransport {
    private let socket: ClientSocket

    init(host: String, port: UInt16, timeoutMillis: Int32, cancelFD: Int32) {
        socket = ClientSocket(host: host, port: port, type: Int32(SOCK_STREAM.rawValue), timeoutMillis: timeoutMillis,
                              cancelFD: cancelFD)
    }

    func send(_ payload: [UInt8]) -> SendOutcome {
        if socket.isOpen && socket.peerClosed() { socket.close() }
        if let reason = socket.connectIfNeeded() { return .retry(reason) }
        var frame: [UInt8] = []
        frame.reserveCapacity(payload.count + 8)
        appendDigits(payload.count, width: 1, to: &frame)
        frame.append(UInt8(ascii: " "))
        frame.append(contentsOf: payload)
        if let reason = socket.writeAll(frame) { return .retry(reason) }
        return .delivered
    }

    func disconnect() { socket.close() }
}

/// HTTP/1.1 POST of a JSON body on a kept-alive connection; the status decides the outcome
/// (`HTTPDeliveryVerdict`). A reused connection that the server closed before answering is retried
/// at once on a fresh one (the server never saw that request).
final class HTTPTransport: SinkTransport {
    private let socket: ClientSocket
    private let path: String
    private let hostHeader: String
    private var buffer: [UInt8] = []

    init(host: String, port: UInt16, path: String, timeoutMillis: Int32, cancelFD: Int32) {
        socket = ClientSocket(host: host, port: port, type: Int32(SOCK_STREAM.rawValue), timeoutMillis: timeoutMillis,
                              cancelFD: cancelFD)
        self.path = path
        hostHeader = (host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host) + ":" + String(port)
    }

    func disconnect() { socket.close() }

    func send(_ payload: [UInt8]) -> SendOutcome {
        var request: [UInt8] = []
        request.reserveCapacity(payload.count + 160)
        HTTPClientRequest.appendPostHead(path: path, hostHeader: hostHeader, contentLength: payload.count, to: &request)
        request.append(contentsOf: payload)
        if socket.isOpen && socket.peerClosed() { socket.close() }
        let reused = socket.isOpen
        switch exchange(request) {
        case .answered(let outcome): return outcome
        case .noAnswer(let reason):
            socket.close()
            guard reused else { return .retry(reason) }
            switch exchange(request) {
            case .answered(let outcome): return outcome
            case .noAnswer(let reason):
                socket.close()
                return .retry(reason)
            }
        }
    }

    private enum Exchange {
        case answered(SendOutcome)
        /// Nothing came back: connect, write or read failed before the first byte of an answer.
        case noAnswer(String)
    }

    private func exchange(_ request: [UInt8]) -> Exchange {
        if let reason = socket.connectIfNeeded() { return .noAnswer(reason) }
        if let reason = socket.writeAll(request) { return .noAnswer(reason) }
        buffer.removeAll(keepingCapacity: true)
        while true {
            let parsed = buffer.withUnsafeBytes { HTTPResponseHead.parse($0) }
            switch parsed {
            case .invalid(let reason):
                socket.close()
                return .answered(.retry("bad response: " + reason))
            case .incomplete:
                switch socket.read(into: &buffer) {
                case .failure(let failure):
                    if buffer.isEmpty { return .noAnswer(failure.reason) }
                    socket.close()
                    return .answered(.retry(failure.reason))
                case .success(0):
                    if buffer.isEmpty { return .noAnswer("connection closed without an answer") }
                    socket.close()
                    return .answered(.retry("connection closed mid-answer"))
                case .success:
                    continue
                }
            case .complete(let head):
                if head.status < 200 {
                    buffer.removeFirst(head.headBytes)  // interim answer (100 Continue): the final one follows
                    continue
                }
                return .answered(finish(head))
            }
        }
    }

    /// Body bytes of an answer read at most: a longer body is not read to its end, the connection
    /// is closed instead (the status is all that counts), so a receiver cannot make vigil hold
    /// an endless body in memory.
    static let maxBodyBytes = 64 << 10

    /// Reads the rest of the body so the connection can carry the next request, then maps the status.
    private func finish(_ head: HTTPResponseHead) -> SendOutcome {
        var failure: String?
        let limit = head.headBytes + Self.maxBodyBytes
        switch head.body {
        case .none:
            break
        case .fixed(let length):
            if length > Self.maxBodyBytes {
                failure = "answer body over \(Self.maxBodyBytes) bytes"
                break
            }
            while buffer.count < head.headBytes + length && failure == nil {
                failure = readMore()
            }
        case .chunked:
            while failure == nil {
                let scan = buffer.withUnsafeBytes { ChunkedBody.scan(UnsafeRawBufferPointer(rebasing: $0[head.headBytes...])) }
                if case .complete = scan { break }
                if case .invalid = scan { failure = "bad chunked body"; break }
                failure = buffer.count > limit ? "answer body over \(Self.maxBodyBytes) bytes" : readMore()
            }
        case .untilClose:
            while failure == nil && buffer.count <= limit {
                failure = readMore()
            }
            failure = failure == nil ? "answer body over \(Self.maxBodyBytes) bytes" : nil
        }
        if failure != nil || !head.keepAlive { socket.close() }
        switch HTTPDeliveryVerdict(status: head.status) {
        case .delivered: return .delivered
        case .retry: return .retry("HTTP \(head.status)")
        case .reject: return .reject("HTTP \(head.status)")
        }
    }

    /// Reads more of the answer; nil when bytes came, else why not (end of stream included).
    private func readMore() -> String? {
        switch socket.read(into: &buffer) {
        case .failure(let failure): return failure.reason
        case .success(0): return "end of stream"
        case .success: return nil
        }
    }
}
