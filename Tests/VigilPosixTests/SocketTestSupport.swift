import CVigilShim
import Glibc
import VigilTestSupport
import VigilCore
@testable import VigilPosix

/// Records every frame and event the listeners report.
final class RecordingConsumer: FrameConsumer {
    struct Frame: Equatable {
        var bytes: [UInt8]
        var truncated: Bool
        var sender: SocketAddress
        var text: String { String(decoding: bytes, as: UTF8.self) }
    }
    var frames: [Frame] = []
    var framingErrors: [FramingError] = []
    var events: [ConnectionEvent] = []

    func consume(frame: UnsafeRawBufferPointer, truncated: Bool, sender: SocketAddress, transport: Transport, now: Timestamp) {
        frames.append(Frame(bytes: Array(frame), truncated: truncated, sender: sender))
    }
    func releaseFrames() {}
    func framingError(_ error: FramingError, sender: SocketAddress) { framingErrors.append(error) }
    func connectionEvent(_ event: ConnectionEvent) { events.append(event) }
    func count(_ event: ConnectionEvent) -> Int { events.filter { "\($0)" == "\(event)" }.count }
}

/// Runs the loop until `done()` holds, failing after a bounded number of seconds.
@discardableResult
func pump(_ loop: EventLoop, seconds: Int64 = 20, until done: () -> Bool) -> Bool {
    let deadline = Posix.monotonicMicros() + seconds * 1_000_000
    while !done() {
        if Posix.monotonicMicros() > deadline { return false }
        loop.runOnce(timeoutMilliseconds: 20)
    }
    return true
}

func loopback(_ v6: Bool) -> SocketAddress {
    SocketAddress(ip: v6 ? IPAddress.parse("::1")! : IPAddress(127, 0, 0, 1), port: 0)
}

/// A blocking client socket for tests.
final class TestClient {
    let fd: Int32

    /// A connection to `address`, from the local address `source` when given (any 127.x.y.z
    /// works on Linux loopback, so tests can play several senders).
    init(tcp address: SocketAddress, from source: IPAddress? = nil) throws {
        fd = socket(address.ip.isIPv4 ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if let source {
            let rc = SocketAddress(ip: source, port: 0).withSockAddr { bind(fd, $0, $1) }
            if rc != 0 { throw SystemError("bind", errno: errno) }
        }
        let rc = address.withSockAddr { connect(fd, $0, $1) }
        if rc != 0 { throw SystemError("connect", errno: errno) }
    }

    init(udpFamilyOf address: SocketAddress) {
        fd = socket(address.ip.isIPv4 ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
    }

    /// A UDP socket bound to `source` (any 127.x.y.z on Linux loopback) on a port of its own.
    init(udpFrom source: IPAddress) throws {
        fd = socket(source.isIPv4 ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        let rc = SocketAddress(ip: source, port: 0).withSockAddr { bind(fd, $0, $1) }
        if rc != 0 { throw SystemError("bind", errno: errno) }
    }

    deinit { Glibc.close(fd) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n <= 0 { return }
            offset += n
        }
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    func sendDatagram(_ bytes: [UInt8], to address: SocketAddress) {
        _ = address.withSockAddr { addr, len in
            bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, addr, len) }
        }
    }

    /// Whether the server closed this connection: a read sees end of stream or a reset
    /// (waits at most `milliseconds` for it).
    func isClosedByPeer(milliseconds: Int32 = 2_000) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, milliseconds) == 1 else { return false }
        var byte: UInt8 = 0
        return Glibc.recv(fd, &byte, 1, Int32(MSG_DONTWAIT)) <= 0
    }

    /// Half-closes the sending side so the server sees end of stream.
    func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Local port, to tell connections apart on the server side.
    var localPort: UInt16 { (try? Sockets.localAddress(fd).port) ?? 0 }
}

/// The frames an octet-counted sample holds, as the decoder delivers them: without the LF
/// rsyslog puts inside the count.
func octetFrames(_ bytes: [UInt8]) -> [[UInt8]] {
    Fixtures.octetCountedFrames(bytes).map { $0.last == UInt8(ascii: "\n") ? Array($0.dropLast()) : $0 }
}

/// The frames of an LF-framed sample (empty lines are no frames).
func lineFrames(_ bytes: [UInt8]) -> [[UInt8]] {
    Fixtures.lines(bytes).filter { !$0.isEmpty }
}
