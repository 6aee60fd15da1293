import CVigilShim
import Glibc
public import VigilCore

/// A TCP syslog listener: accepts connections and frames each one independently.
public final class TCPListener: EventHandler {
    public let fd: Int32
    public let address: SocketAddress
    private unowned let loop: EventLoop
    private let consumer: any FrameConsumer
    private let maxMessageBytes: Int
    private let maxConnections: Int
    private let idleTimeoutMicros: Int64
    /// One read buffer shared by every connection of this listener (the loop is single-threaded).
    let readBuffer: UnsafeMutableRawBufferPointer
    private var connections: [Int32: TCPConnection] = [:]

    public init(address: SocketAddress, maxMessageBytes: Int, maxConnections: Int, idleTimeoutMicros: Int64,
                loop: EventLoop, consumer: any FrameConsumer) throws(SystemError) {
        (fd, self.address) = try Sockets.bind(address, type: Int32(SOCK_STREAM.rawValue))
        self.loop = loop
        self.consumer = consumer
        self.maxMessageBytes = maxMessageBytes
        self.maxConnections = maxConnections
        self.idleTimeoutMicros = idleTimeoutMicros
        readBuffer = .allocate(byteCount: 256 * 1024, alignment: 16)
        try loop.register(fd, mask: EventLoop.readable, handler: self)
    }

    deinit {
        for connection in connections.values { Posix.close(connection.fd) }
        Posix.close(fd)
        readBuffer.deallocate()
    }

    public var openConnections: Int { connections.count }

    public func handleEvents(_ events: UInt32, now: Timestamp) {
        for _ in 0..<256 {
            var storage = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { vigil_accept_nonblocking(fd, $0, &len) }
            }
            if client < 0 {
                // EAGAIN: nothing more to accept. EMFILE and friends: try again on the next wake-up.
                return
            }
            if connections.count >= maxConnections {
                Posix.close(client)
                consumer.connectionEvent(.rejected)
                continue
            }
            let peer = withUnsafeBytes(of: &storage) { SocketAddress(storage: $0.baseAddress!) }
                ?? SocketAddress(ip: IPAddress(high: 0, low: 0), port: 0)
            let connection = TCPConnection(fd: client, peer: peer, listener: self, maxMessageBytes: maxMessageBytes)
            do {
                try loop.register(client, mask: EventLoop.readable | EventLoop.hangup, handler: connection)
            } catch {
                Posix.close(client)
                continue
            }
            connections[client] = connection
            consumer.connectionEvent(.accepted)
        }
    }

    /// Reads what a connection has ready and hands its frames to the consumer.
    func readReady(_ connection: TCPConnection, now: Timestamp) {
        connection.lastActivityMicros = Posix.monotonicMicros()
        // Bounded reads per wake-up so one busy sender cannot starve the others.
        for _ in 0..<16 {
            let result: IOResult
            do {
                result = try Posix.read(connection.fd, into: readBuffer)
            } catch {
                close(connection, now: now)
                return
            }
            switch result {
            case .wouldBlock:
                return
            case .processed(0):
                close(connection, now: now)
                return
            case .processed(let n):
                if !deliver(connection, UnsafeRawBufferPointer(rebasing: readBuffer[0..<n]), now: now) { return }
                if n < readBuffer.count { return }
            }
        }
    }

    /// Feeds bytes to the connection's decoder; false when the connection was closed for a framing error.
    private func deliver(_ connection: TCPConnection, _ bytes: UnsafeRawBufferPointer, now: Timestamp) -> Bool {
        let consumer = self.consumer
        let peer = connection.peer
        let error = connection.decoder.feed(bytes, onFrame: { frame, truncated in
            consumer.consume(frame: frame, truncated: truncated, sender: peer, now: now)
            // A frame pieced together from several reads lives in the decoder's own buffer,
            // which it reuses as soon as this returns.
            if !Self.lies(frame, within: bytes) { consumer.releaseFrames() }
        })
        consumer.releaseFrames()
        if let error {
            consumer.framingError(error, sender: peer)
            drop(connection)
            return false
        }
        return true
    }

    /// Closes a connection at end of stream, delivering a final unterminated frame.
    func close(_ connection: TCPConnection, now: Timestamp) {
        let consumer = self.consumer
        let peer = connection.peer
        let error = connection.decoder.finish(onFrame: { frame, truncated in
            consumer.consume(frame: frame, truncated: truncated, sender: peer, now: now)
            consumer.releaseFrames()  // the decoder's buffer is released when `finish` returns
        })
        if let error { consumer.framingError(error, sender: peer) }
        drop(connection)
    }

    /// Whether `frame` is a slice of `bytes`.
    private static func lies(_ frame: UnsafeRawBufferPointer, within bytes: UnsafeRawBufferPointer) -> Bool {
        guard let f = frame.baseAddress, let b = bytes.baseAddress else { return false }
        return f >= b && f + frame.count <= b + bytes.count
    }

    private func drop(_ connection: TCPConnection) {
        loop.unregister(connection.fd)
        Posix.close(connection.fd)
        connections[connection.fd] = nil
        consumer.connectionEvent(.closed)
    }

    /// Closes connections that sent nothing for longer than the idle timeout (half-open or stalled
    /// peers), after reading whatever they did send. `monotonicMicros` is the loop's monotonic now.
    public func closeIdleConnections(monotonicMicros: Int64, now: Timestamp) {
        let limit = monotonicMicros - idleTimeoutMicros
        for connection in Array(connections.values) where connection.lastActivityMicros < limit {
            consumer.connectionEvent(.timedOut)
            readReady(connection, now: now)
            if connections[connection.fd] != nil { close(connection, now: now) }
        }
    }

    /// At shutdown: reads whatever every connection has already received, then closes them all.
    public func drainAndCloseAll(now: Timestamp) {
        for connection in Array(connections.values) {
            readReady(connection, now: now)
            if connections[connection.fd] != nil { close(connection, now: now) }
        }
        loop.unregister(fd)
    }
}

/// One accepted TCP connection and its framing state.
final class TCPConnection: EventHandler {
    let fd: Int32
    let peer: SocketAddress
    unowned let listener: TCPListener
    var decoder: FrameDecoder
    var lastActivityMicros: Int64

    init(fd: Int32, peer: SocketAddress, listener: TCPListener, maxMessageBytes: Int) {
        self.fd = fd
        self.peer = peer
        self.listener = listener
        decoder = FrameDecoder(maxMessageBytes: maxMessageBytes)
        lastActivityMicros = Posix.monotonicMicros()
    }

    func handleEvents(_ events: UInt32, now: Timestamp) {
        listener.readReady(self, now: now)
    }
}
