import CVigilShim
import Glibc
public import VigilCore

/// The API's HTTP/1.1 server on the event loop (docs/api.md): keep-alive, one request at a time
/// per connection, and limits so that no client can hold it up:
/// - the request head must arrive whole within `headTimeoutMicros` of its first byte, or of the
///   connection's start (a client sending one byte a second, or nothing, is cut off with 408),
///   and is size-limited (`HTTPRequestLimits`);
/// - an answer must be taken by the client within `writeTimeoutMicros`;
/// - a keep-alive connection silent for `idleTimeoutMicros` is closed;
/// - at most `maxPerSource` connections from one source (an IPv4 address or IPv6 /64,
///   `ConnectionSources`), and at most `maxConnections` in all. At either cap an idle
///   connection (no request in progress) makes room for the newcomer: that source's longest
///   idle one, or at the total cap the longest idle one of the source holding the most; only
///   when none is idle does the newcomer get 503. So clients holding connections open, even
///   from the operator's own address, cannot lock the operator out. Out of descriptors, the
///   listening socket rests for a second instead of spinning.
/// `route` answers each request, at once or later (`Responder`); it runs on the loop thread.
public final class HTTPServer: EventHandler {
    /// How many connections are taken and how long each may take.
    public struct Limits: Sendable {
        public var maxConnections = 1024
        public var maxPerSource = 256
        public var headTimeoutMicros: Int64 = 10_000_000
        public var writeTimeoutMicros: Int64 = 10_000_000
        public var idleTimeoutMicros: Int64 = 60_000_000
        public var request = HTTPRequestLimits()
        public init() {}
    }

    /// Answers one request of one connection, once; answering a connection that has closed
    /// meanwhile does nothing.
    public struct Responder {
        fileprivate weak var connection: HTTPConnection?
        fileprivate let serial: UInt64
        fileprivate let keepAlive: Bool
        fileprivate let head: Bool

        public func respond(_ response: HTTPResponse) {
            guard let connection, connection.serial == serial else { return }
            connection.server?.send(response, on: connection, keepAlive: keepAlive, headOnly: head)
        }
    }

    /// The listening socket, owned here.
    private let socket: FileDescriptor
    /// The listening socket's number.
    public var fd: Int32 { socket.rawValue }
    public let address: SocketAddress
    public let limits: Limits
    private unowned let loop: EventLoop
    private let route: (HTTPRequestHead, SocketAddress, Responder) -> Void
    private var connections: [Int32: HTTPConnection] = [:]
    private var perSource: [IPAddress: Int] = [:]
    private let readBuffer: UnsafeMutableRawBufferPointer
    /// Connections cut off for being too slow, refused at a cap (none idle to make room), and
    /// closed at a cap to make room (`/metrics`).
    public private(set) var timedOut = 0
    public private(set) var refused = 0
    public private(set) var evicted = 0
    /// While out of descriptors: when polling the listening socket resumes.
    private var pausedUntil: Int64?

    public init(address: SocketAddress, limits: Limits = Limits(), loop: EventLoop,
                route: @escaping (HTTPRequestHead, SocketAddress, Responder) -> Void) throws(SystemError) {
        let (bound, boundAddress) = try Sockets.bind(address, type: Int32(SOCK_STREAM.rawValue), backlog: 1024)
        socket = FileDescriptor(owning: bound)
        self.address = boundAddress
        self.limits = limits
        self.loop = loop
        self.route = route
        readBuffer = .allocate(byteCount: 16 * 1024, alignment: 16)
        try loop.register(bound, mask: EventLoop.readable, handler: self)
        loop.every(microseconds: 500_000) { [weak self] _ in self?.sweep() }
    }

    deinit {
        for connection in connections.values { connection.socket = nil }
        readBuffer.deallocate()
    }

    public var openConnections: Int { connections.count }

    /// Closes the listening socket and every connection (shutdown).
    public func close() {
        for connection in Array(connections.values) { close(connection) }
        loop.unregister(fd)
    }

    public func handleEvents(_ events: UInt32, now: Timestamp) {
        for _ in 0..<64 {
            let accepted: Int32, peer: SocketAddress
            switch Sockets.accept(fd) {
            case .success(let result): (accepted, peer) = result
            case .failure(let error):
                if Sockets.isOutOfDescriptors(error.errno) {
                    // Out of descriptors: stop polling the socket for a second instead of spinning
                    // on it (the waiting clients stay in the backlog); `sweep` resumes.
                    loop.modify(fd, mask: 0)
                    pausedUntil = Posix.monotonicMicros() + 1_000_000
                }
                return
            }
            let client = FileDescriptor(owning: accepted)
            let source = ConnectionSources.key(peer.ip)
            let atSourceCap = perSource[source, default: 0] >= limits.maxPerSource
            if atSourceCap || connections.count >= limits.maxConnections {
                guard let victim = ConnectionSources.evictionVictim(connections.values, perSource: perSource, source: \.source,
                                                                    lastActivity: \.lastActivityMicros,
                                                                    eligible: { $0.isIdle && (!atSourceCap || $0.source == source) }) else {
                    refused += 1
                    let busy = HTTPResponse.error(503, "too many connections").serialized(keepAlive: false)
                    _ = busy.withUnsafeBytes { try? Posix.send(client.rawValue, $0) }
                    continue  // `client` closes as it goes
                }
                evicted += 1
                close(victim)
            }
            let connection = HTTPConnection(socket: client, peer: peer, source: source, server: self)
            do { try loop.register(connection.fd, mask: EventLoop.readable | EventLoop.hangup, handler: connection) } catch {
                connection.socket = nil
                continue
            }
            connections[connection.fd] = connection
            perSource[source, default: 0] += 1
        }
    }

    /// What a connection is polled for: its request (readable), nothing while the route works on
    /// its answer (so bytes it sends meanwhile cannot make the loop spin), room for its answer.
    private func interest(_ connection: HTTPConnection, _ mask: UInt32) {
        guard connection.mask != mask else { return }
        connection.mask = mask
        loop.modify(connection.fd, mask: mask)
    }

    /// Reads what the client sent and answers the request it completes; writes more of an answer.
    fileprivate func handle(_ connection: HTTPConnection, events: UInt32) {
        if !connection.output.isEmpty {
            if events & EventLoop.writable != 0 { writePending(connection) }
            return
        }
        if connection.awaiting {
            // Only a hang-up or an error is reported while waiting; the answer would go nowhere.
            if events & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 { close(connection) }
            return
        }
        readRequest(connection)
    }

    private func readRequest(_ connection: HTTPConnection) {
        while true {
            let result: IOResult
            do { result = try Posix.read(connection.fd, into: readBuffer) } catch {
                close(connection)
                return
            }
            switch result {
            case .wouldBlock:
                parse(connection)
                return
            case .processed(0):
                // The client is done sending (a half-close): answer what it asked, then close.
                connection.peerClosed = true
                parse(connection)
                if !connection.awaiting && connection.output.isEmpty { close(connection) }
                return
            case .processed(let n):
                if connection.input.isEmpty && connection.headStartedMicros == nil { connection.headStartedMicros = Posix.monotonicMicros() }
                connection.input.append(contentsOf: UnsafeRawBufferPointer(rebasing: readBuffer[0..<n]))
                if connection.input.count > limits.request.maxHead + 4 {
                    parse(connection)
                    return
                }
            }
        }
    }

    /// Answers the request at the start of the connection's input, if it is complete.
    private func parse(_ connection: HTTPConnection) {
        guard !connection.input.isEmpty, !connection.awaiting else { return }
        let outcome = connection.input.withUnsafeBytes { HTTPRequestParser.parse($0, limits: limits.request) }
        switch outcome {
        case .incomplete:
            return
        case .refused(let error):
            connection.input.removeAll()
            send(.error(error.status, error.message), on: connection, keepAlive: false, headOnly: false)
        case .head(let head, let length):
            connection.input.removeFirst(length)
            connection.headStartedMicros = connection.input.isEmpty ? nil : Posix.monotonicMicros()
            connection.awaiting = true
            interest(connection, 0)
            connection.serial &+= 1
            let isHead = head.method == "HEAD"
            guard head.method == "GET" || isHead else {
                send(HTTPResponse(status: 405, contentType: "application/json",
                                  body: Array(#"{"error":"only GET and HEAD are served"}"#.utf8), extraHeaders: ["Allow: GET, HEAD"]),
                     on: connection, keepAlive: false, headOnly: false)
                return
            }
            route(head, connection.peer, Responder(connection: connection, serial: connection.serial,
                                                   keepAlive: head.keepAlive, head: isHead))
        }
    }

    fileprivate func send(_ response: HTTPResponse, on connection: HTTPConnection, keepAlive: Bool, headOnly: Bool) {
        guard connections[connection.fd] === connection else { return }
        connection.awaiting = false
        connection.keepAlive = keepAlive && !connection.peerClosed
        connection.output = response.serialized(keepAlive: connection.keepAlive, head: headOnly)
        connection.outputOffset = 0
        connection.writeStartedMicros = Posix.monotonicMicros()
        writePending(connection)
    }

    /// Writes what the kernel takes; polls for room when it takes less; on the last byte, closes
    /// or goes on with the next request the client already sent.
    private func writePending(_ connection: HTTPConnection) {
        while connection.outputOffset < connection.output.count {
            let result: IOResult
            do {
                result = try connection.output.withUnsafeBytes {
                    try Posix.send(connection.fd, UnsafeRawBufferPointer(rebasing: $0[connection.outputOffset...]))
                }
            } catch {
                close(connection)
                return
            }
            switch result {
            case .wouldBlock:
                interest(connection, EventLoop.writable)
                return
            case .processed(let n):
                connection.outputOffset += n
            }
        }
        connection.output = []
        connection.outputOffset = 0
        connection.lastActivityMicros = Posix.monotonicMicros()
        if !connection.keepAlive {
            close(connection)
            return
        }
        interest(connection, EventLoop.readable | EventLoop.hangup)
        parse(connection)  // a request sent behind this one
        if !connection.awaiting && connection.output.isEmpty { readRequest(connection) }
    }

    /// Cuts off clients too slow to send a head or to take an answer, and idle keep-alives.
    private func sweep() {
        let now = Posix.monotonicMicros()
        if let until = pausedUntil, now >= until {
            pausedUntil = nil
            loop.modify(fd, mask: EventLoop.readable)
        }
        for connection in Array(connections.values) {
            if let started = connection.headStartedMicros, !connection.awaiting, connection.output.isEmpty,
               now - started > limits.headTimeoutMicros {
                timedOut += 1
                connection.input.removeAll()
                connection.headStartedMicros = nil
                send(.error(408, "request not received in time"), on: connection, keepAlive: false, headOnly: false)
            } else if !connection.output.isEmpty, now - connection.writeStartedMicros > limits.writeTimeoutMicros {
                timedOut += 1
                close(connection)
            } else if connection.input.isEmpty, !connection.awaiting, connection.output.isEmpty,
                      now - connection.lastActivityMicros > limits.idleTimeoutMicros {
                close(connection)
            }
        }
    }

    private func close(_ connection: HTTPConnection) {
        guard connections.removeValue(forKey: connection.fd) != nil else { return }
        loop.unregister(connection.fd)
        connection.socket = nil
        connection.serial &+= 1  // a late answer finds nobody
        if let count = perSource[connection.source], count > 1 { perSource[connection.source] = count - 1 } else {
            perSource.removeValue(forKey: connection.source)
        }
    }
}

/// One client connection of the `HTTPServer`: what it sent that is not answered yet, and the
/// answer being written.
final class HTTPConnection: EventHandler {
    /// The connection's socket, owned here until the server closes it (sets it to nil).
    var socket: FileDescriptor?
    /// The socket's number: the connection's key in the server, still after the socket closed.
    let fd: Int32
    let peer: SocketAddress
    /// What it counts under for the per-source cap (`ConnectionSources.key`).
    let source: IPAddress
    weak var server: HTTPServer?
    var input: [UInt8] = []
    var output: [UInt8] = []
    var outputOffset = 0
    /// Waiting for the route's answer (no further request is read meanwhile).
    var awaiting = false
    var keepAlive = true
    /// The client half-closed: its last request is answered, then the connection closes.
    var peerClosed = false
    /// The events polled for (`HTTPServer.interest`).
    var mask = EventLoop.readable | EventLoop.hangup
    /// Numbers the requests, so an answer to one the connection no longer waits for is dropped.
    var serial: UInt64 = 0
    /// No request in progress: nothing read of one, none being answered or written.
    var isIdle: Bool { input.isEmpty && !awaiting && output.isEmpty }
    /// When the first byte of the head being read arrived (for the first head: when the
    /// connection was accepted, so that one sending nothing is cut off as one sending slowly).
    var headStartedMicros: Int64?
    var writeStartedMicros: Int64 = 0
    var lastActivityMicros: Int64

    init(socket: consuming FileDescriptor, peer: SocketAddress, source: IPAddress, server: HTTPServer) {
        fd = socket.rawValue
        self.socket = consume socket
        self.peer = peer
        self.source = source
        self.server = server
        lastActivityMicros = Posix.monotonicMicros()
        headStartedMicros = lastActivityMicros
    }

    func handleEvents(_ events: UInt32, now: Timestamp) {
        server?.handle(self, events: events)
    }
}
