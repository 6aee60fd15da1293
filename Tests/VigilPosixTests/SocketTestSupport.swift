import Glibc
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

    func consume(frame: UnsafeRawBufferPointer, truncated: Bool, sender: SocketAddress, now: Timestamp) {
        frames.append(Frame(bytes: Array(frame), truncated: truncated, sender: sender))
    }
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

    init(tcp address: SocketAddress) throws {
        fd = socket(address.ip.isIPv4 ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = address.withSockAddr { connect(fd, $0, $1) }
        if rc != 0 { throw SystemError("connect", errno: errno) }
    }

    init(udpFamilyOf address: SocketAddress) {
        fd = socket(address.ip.isIPv4 ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
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

    /// Half-closes the sending side so the server sees end of stream.
    func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Local port, to tell connections apart on the server side.
    var localPort: UInt16 { (try? Sockets.localAddress(fd).port) ?? 0 }
}

/// Reads a captured sample (Tests/Fixtures/samples).
func sample(_ name: String) -> [UInt8] {
    let path = String(#filePath).split(separator: "/").dropLast(2).joined(separator: "/")
    let full = "/" + path + "/Fixtures/samples/" + name
    guard let file = fopen(full, "rb") else { return [] }
    defer { fclose(file) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n <= 0 { break }
        out.append(contentsOf: chunk[0..<n])
    }
    return out
}

/// Splits a `.udp` sample into its datagrams using the `.len` file.
func datagrams(_ name: String) -> [[UInt8]] {
    let data = sample(name)
    let lengths = String(decoding: sample(name + ".len"), as: UTF8.self).split(separator: "\n").compactMap { Int($0) }
    var out: [[UInt8]] = []
    var offset = 0
    for length in lengths {
        out.append(Array(data[offset..<(offset + length)]))
        offset += length
    }
    return out
}

/// Splits an octet-counted `.tcp` sample into frames, without the LF rsyslog puts inside the count.
func octetFrames(_ bytes: [UInt8]) -> [[UInt8]] {
    var out: [[UInt8]] = []
    var i = 0
    while i < bytes.count {
        var n = 0
        while bytes[i] != UInt8(ascii: " ") { n = n * 10 + Int(bytes[i] - 48); i += 1 }
        i += 1
        var frame = Array(bytes[i..<(i + n)])
        if frame.last == UInt8(ascii: "\n") { frame.removeLast() }
        out.append(frame)
        i += n
    }
    return out
}

/// Splits an LF-framed sample into frames.
func lineFrames(_ bytes: [UInt8]) -> [[UInt8]] {
    bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).map(Array.init)
}
