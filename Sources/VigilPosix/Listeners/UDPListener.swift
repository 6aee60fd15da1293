import CVigilShim
import Glibc
public import VigilCore

/// A UDP syslog listener: one datagram is one message (without a trailing LF, CR or NUL), read in
/// batches with recvmmsg. With ingest shards, each loop has one, all bound to the same port
/// (`sharedWithLoops`, `joining`), each taking its senders' datagrams (docs/architecture.md, "UDP on
/// every loop").
public final class UDPListener: EventHandler {
    /// The bound socket, owned here.
    private let socket: FileDescriptor
    /// The bound socket's number.
    public var fd: Int32 { socket.rawValue }
    public let address: SocketAddress
    private let consumer: any FrameConsumer
    private let slotBytes: Int
    private let receiveBufferBytes: Int
    private let batch = 64
    private let buffer: UnsafeMutableRawBufferPointer
    private let headers: UnsafeMutablePointer<vigil_mmsghdr>
    private let iovecs: UnsafeMutablePointer<iovec>
    private let names: UnsafeMutablePointer<sockaddr_storage>

    /// Binds `address`; datagrams longer than `maxMessageBytes` are truncated and flagged. With
    /// `sharedWithLoops`, other loops' sockets may then join the port (`joining`), and
    /// `spreadBySource` says which of them gets a datagram.
    public convenience init(address: SocketAddress, maxMessageBytes: Int, receiveBufferBytes: Int, sharedWithLoops: Bool = false,
                            loop: EventLoop, consumer: any FrameConsumer) throws(SystemError) {
        let (bound, boundAddress) = try Sockets.bind(address, type: Int32(SOCK_DGRAM.rawValue),
                                                     sharing: sharedWithLoops ? .opening : .none)
        try self.init(socket: FileDescriptor(owning: bound), address: boundAddress, maxMessageBytes: maxMessageBytes,
                      receiveBufferBytes: receiveBufferBytes, loop: loop, consumer: consumer)
    }

    /// One more socket on `first`'s port (bound `sharedWithLoops`), for another loop: its share
    /// of the senders' datagrams, read for `consumer`.
    public convenience init(joining first: UDPListener, loop: EventLoop, consumer: any FrameConsumer) throws(SystemError) {
        let (bound, boundAddress) = try Sockets.bind(first.address, type: Int32(SOCK_DGRAM.rawValue), sharing: .joining)
        try self.init(socket: FileDescriptor(owning: bound), address: boundAddress, maxMessageBytes: first.slotBytes,
                      receiveBufferBytes: first.receiveBufferBytes, loop: loop, consumer: consumer)
    }

    /// Once the `sockets` sockets on this one's port (it and those `joining` it) are bound: each
    /// sender's datagrams go to one of them, by its address (`Sockets.spreadBySource`).
    public func spreadBySource(sockets: Int) throws(SystemError) {
        try Sockets.spreadBySource(fd, sockets: sockets)
    }

    private init(socket: consuming FileDescriptor, address: SocketAddress, maxMessageBytes: Int, receiveBufferBytes: Int,
                 loop: EventLoop, consumer: any FrameConsumer) throws(SystemError) {
        Sockets.setReceiveBuffer(socket.rawValue, bytes: receiveBufferBytes)
        self.socket = socket
        self.address = address
        self.consumer = consumer
        slotBytes = maxMessageBytes
        self.receiveBufferBytes = receiveBufferBytes
        buffer = .allocate(byteCount: slotBytes * batch, alignment: 16)
        headers = .allocate(capacity: batch)
        iovecs = .allocate(capacity: batch)
        names = .allocate(capacity: batch)
        try loop.register(fd, mask: EventLoop.readable, handler: self)
    }

    deinit {
        buffer.deallocate(); headers.deallocate(); iovecs.deallocate(); names.deallocate()
    }

    /// LF, CR and NUL: what senders end a datagram with.
    @inline(__always)
    static func isTerminator(_ byte: UInt8) -> Bool { byte == 0x0A || byte == 0x0D || byte == 0 }

    public func handleEvents(_ events: UInt32, now: Timestamp) {
        // Bounded number of batches per wake-up so TCP connections get their turn.
        _ = readBatches(32, now: now)
    }

    /// Reads what the socket holds, at stop: until it is empty (or, against a sender faster than
    /// this, 64 times a wake-up's worth).
    public func drain(now: Timestamp) {
        for _ in 0..<64 where readBatches(32, now: now) {}
    }

    /// Reads at most `limit` batches; true when the last was full (more may wait).
    private func readBatches(_ limit: Int, now: Timestamp) -> Bool {
        for _ in 0..<limit {
            for i in 0..<batch {
                iovecs[i] = iovec(iov_base: buffer.baseAddress! + i * slotBytes, iov_len: slotBytes)
                headers[i] = vigil_mmsghdr()
                headers[i].msg_hdr.msg_iov = iovecs + i
                headers[i].msg_hdr.msg_iovlen = 1
                headers[i].msg_hdr.msg_name = UnsafeMutableRawPointer(names + i)
                headers[i].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            }
            let n = vigil_recvmmsg(fd, headers, UInt32(batch), Int32(MSG_DONTWAIT))
            if n <= 0 { return false }
            for i in 0..<Int(n) {
                var length = min(Int(headers[i].msg_len), slotBytes)
                let truncated = headers[i].msg_hdr.msg_flags & Int32(MSG_TRUNC) != 0
                // A datagram ended by LF, CRLF or NUL (rsyslog's RFC 5424 template over UDP) is
                // one message: the terminator is framing, not content.
                let slot = buffer.baseAddress! + i * slotBytes
                while length > 0, !truncated, Self.isTerminator(slot.load(fromByteOffset: length - 1, as: UInt8.self)) { length -= 1 }
                let sender = SocketAddress(storage: names + i) ?? SocketAddress(ip: IPAddress(high: 0, low: 0), port: 0)
                consumer.consume(frame: UnsafeRawBufferPointer(rebasing: buffer[(i * slotBytes)..<(i * slotBytes + length)]),
                                 truncated: truncated, sender: sender, transport: .datagram, now: now)
            }
            consumer.releaseFrames()
            if Int(n) < batch { return false }
        }
        return true
    }
}
