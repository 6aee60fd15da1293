import CVigilShim
import Glibc
public import VigilCore

/// A TCP syslog listener: accepts connections and frames each one independently.
///
/// No sender can lock others out (docs/relay.md, "Threat model"): one source (an IPv4 address,
/// or an IPv6 /64) holds at most `Limits.maxPerSource` connections; at the cap of
/// `Limits.maxConnections`, a new connection is admitted by closing the connection idle the
/// longest of the source holding the most; and when the process runs out of descriptors the
/// listener stops polling its socket (instead of spinning on `EMFILE`) until a connection closes
/// or a second passes, turning waiting clients away politely with a spare descriptor. Each of
/// these is counted (`ConnectionEvent`) and logged at most once per `Limits.logIntervalMicros`.
///
/// The frames connections are in the middle of (a partial frame waits for its end) hold at most
/// `Limits.maxPartialBytes` together: past it, the oldest partial frames are cut short (delivered
/// truncated, counted), so thousands of connections each holding most of a large frame cannot
/// exhaust memory; memory freed that way, or by connections closing, is handed back to the kernel.
///
/// While its `ReadGate` is closed (the store cannot write) it reads nothing: a connection that
/// becomes ready is taken off the loop (parked) until the gate opens, so the kernel's TCP window
/// pushes back on the sender and nothing read is lost.
public final class TCPListener: EventHandler {
    /// How many connections are taken, from whom, and for how long.
    public struct Limits: Sendable {
        /// Connections open at once.
        public var maxConnections: Int
        /// Connections open at once from one source.
        public var maxPerSource: Int
        /// A connection silent this long is closed.
        public var idleTimeoutMicros: Int64
        /// Least time between two log lines about refused or evicted connections.
        public var logIntervalMicros: Int64
        /// Bytes all connections' partial frames may hold together.
        public var maxPartialBytes: Int

        public init(maxConnections: Int, maxPerSource: Int, idleTimeoutMicros: Int64, logIntervalMicros: Int64 = 10_000_000,
                    maxPartialBytes: Int = 64 << 20) {
            self.maxConnections = max(1, maxConnections)
            self.maxPerSource = max(1, maxPerSource)
            self.idleTimeoutMicros = idleTimeoutMicros
            self.logIntervalMicros = logIntervalMicros
            self.maxPartialBytes = max(1, maxPartialBytes)
        }
    }

    /// The listening socket, owned here.
    private let socket: FileDescriptor
    /// The listening socket's number.
    public var fd: Int32 { socket.rawValue }
    public let address: SocketAddress
    private unowned let loop: EventLoop
    private let consumer: any FrameConsumer
    private let maxMessageBytes: Int
    public let limits: Limits
    /// Whether a peer may connect at all (the relay listener's allow list); nil: anyone.
    private let admits: ((SocketAddress) -> Bool)?
    private let log: (String) -> Void
    private var logLimiter: LogLimiter
    /// One read buffer shared by every connection of this listener (the loop is single-threaded).
    let readBuffer: UnsafeMutableRawBufferPointer
    private var connections: [Int32: TCPConnection] = [:]
    /// Open connections per source (`ConnectionSources.key`).
    private var perSource: [IPAddress: Int] = [:]
    /// A descriptor held in reserve: when accept fails for lack of descriptors, it is closed so
    /// one waiting client can be accepted and closed at once instead of hanging, then reopened.
    private var spare: FileDescriptor?
    /// While out of descriptors: the monotonic time after which polling the socket resumes.
    private var pausedUntil: Int64?
    /// Closed while what is read cannot be kept; nil: always read.
    private let gate: ReadGate?
    /// Connections taken off the loop while the gate is closed.
    private var parked: [TCPConnection] = []
    /// At shutdown every connection is read whatever the gate says.
    private var draining = false
    /// Bytes held in all connections' partial frames, and the most held since memory was last
    /// handed back to the kernel.
    public private(set) var partialBytes = 0
    private var partialHighWater = 0
    /// Numbers partial frames in the order they started, to cut the oldest first.
    private var partialClock: UInt64 = 0
    /// Connections accepted per wake-up at most: 256, or 1 when several loops poll the socket
    /// (`init(sharing:…)`), so a burst of connections (every sender reconnecting after a restart)
    /// is spread over the loops awake instead of taken whole by the first.
    private var acceptsPerWakeUp = 256

    /// Binds `address` and starts accepting; `admits` (when given) decides which peers may
    /// connect at all; `log` gets the (rate-limited) lines about refused connections.
    public convenience init(address: SocketAddress, maxMessageBytes: Int, limits: Limits, loop: EventLoop, consumer: any FrameConsumer,
                            gate: ReadGate? = nil, admits: ((SocketAddress) -> Bool)? = nil,
                            log: @escaping (String) -> Void = { _ in }) throws(SystemError) {
        let (bound, boundAddress) = try Sockets.bind(address, type: Int32(SOCK_STREAM.rawValue))
        try self.init(socket: FileDescriptor(owning: bound), address: boundAddress, maxMessageBytes: maxMessageBytes, limits: limits,
                      loop: loop, consumer: consumer, gate: gate, admits: admits, log: log)
    }

    /// Accepts on `other`'s listening socket too, from `loop` (an ingest shard's): through a
    /// duplicate of its descriptor, so no other socket, and no other process, can bind the port.
    /// The loops that poll one socket race to accept each connection; the one that takes it reads
    /// it, in order, to its end. `other` takes every peer (a syslog listener).
    public convenience init(sharing other: TCPListener, maxMessageBytes: Int, limits: Limits, loop: EventLoop,
                            consumer: any FrameConsumer, gate: ReadGate? = nil,
                            log: @escaping (String) -> Void = { _ in }) throws(SystemError) {
        precondition(other.admits == nil, "only a listener that takes every peer is shared")
        let copy = fcntl(other.fd, F_DUPFD_CLOEXEC, 0)
        if copy < 0 { throw SystemError("dup \(other.address)", errno: errno) }
        try self.init(socket: FileDescriptor(owning: copy), address: other.address, maxMessageBytes: maxMessageBytes, limits: limits,
                      loop: loop, consumer: consumer, gate: gate, admits: nil, log: log)
        acceptsPerWakeUp = 1
        other.acceptsPerWakeUp = 1
    }

    private init(socket: consuming FileDescriptor, address: SocketAddress, maxMessageBytes: Int, limits: Limits, loop: EventLoop,
                 consumer: any FrameConsumer, gate: ReadGate?, admits: ((SocketAddress) -> Bool)?,
                 log: @escaping (String) -> Void) throws(SystemError) {
        self.socket = socket
        self.address = address
        self.loop = loop
        self.consumer = consumer
        self.maxMessageBytes = maxMessageBytes
        self.limits = limits
        self.admits = admits
        self.gate = gate
        self.log = log
        logLimiter = LogLimiter(intervalMicroseconds: limits.logIntervalMicros)
        readBuffer = .allocate(byteCount: 256 * 1024, alignment: 16)
        spare = FileDescriptor.reserve()
        try loop.register(fd, mask: EventLoop.readable, handler: self)
        gate?.onOpen { [weak self] in self?.resumeReading() }
    }

    deinit {
        for connection in connections.values { connection.socket = nil }
        readBuffer.deallocate()
    }

    public var openConnections: Int { connections.count }

    /// Whether the listener stopped polling its socket for lack of descriptors.
    public var isPaused: Bool { pausedUntil != nil }

    /// Connections waiting, unpolled, for the gate to open.
    public var parkedConnections: Int { parked.count }

    public func handleEvents(_ events: UInt32, now: Timestamp) {
        for _ in 0..<acceptsPerWakeUp {
            let accepted: Int32, peer: SocketAddress
            switch Sockets.accept(fd) {
            case .success(let result): (accepted, peer) = result
            case .failure(let error):
                if Sockets.isOutOfDescriptors(error.errno) { outOfDescriptors(error.errno) }
                return  // EAGAIN: nothing more to accept
            }
            let client = FileDescriptor(owning: accepted)
            if let admits, !admits(peer) {
                refuse(client, .notAllowed, "connection from \(peer.ip) refused: not in the allow list")
                continue
            }
            let source = ConnectionSources.key(peer.ip)
            if perSource[source, default: 0] >= limits.maxPerSource {
                refuse(client, .perSourceLimit, "connection from \(peer.ip) refused: its source holds \(limits.maxPerSource) connections already")
                continue
            }
            if connections.count >= limits.maxConnections { evictOne(now: now) }
            let connection = TCPConnection(socket: client, peer: peer, source: source, listener: self, maxMessageBytes: maxMessageBytes)
            do {
                try loop.register(connection.fd, mask: EventLoop.readable | EventLoop.hangup, handler: connection)
            } catch {
                connection.socket = nil
                continue
            }
            connections[connection.fd] = connection
            perSource[source, default: 0] += 1
            consumer.connectionEvent(.accepted)
        }
    }

    /// Closes a just-accepted connection at once, counting and (rate-limited) logging why.
    private func refuse(_ client: consuming FileDescriptor, _ event: ConnectionEvent, _ why: String) {
        _ = consume client
        consumer.connectionEvent(event)
        note(why)
    }

    /// Logs `line` unless a line was logged less than an interval ago.
    private func note(_ line: String) {
        let (allowed, held) = logLimiter.allow(now: Posix.monotonicMicros())
        if allowed { log("vigil: tcp \(address): \(line)" + (held > 0 ? " (and \(held) more since the last report)" : "")) }
    }

    /// `accept` failed for lack of descriptors: the clients waiting in the queue are accepted one
    /// by one with the spare descriptor and closed at once (they see the connection end, not
    /// silence), and the socket is left unpolled for a second, or until a connection closes, so
    /// the loop does not spin.
    private func outOfDescriptors(_ error: Int32) {
        var refused = 0
        if spare != nil {
            spare = nil
            while refused < 256 {
                let client = vigil_accept_nonblocking(fd, nil, nil)
                if client < 0 { break }
                Posix.close(client)
                refused += 1
            }
            spare = FileDescriptor.reserve()
        }
        for _ in 0..<max(1, refused) { consumer.connectionEvent(.noDescriptors) }
        note("out of file descriptors (\(String(cString: strerror(error)))); refusing connections until some close")
        if pausedUntil == nil { loop.modify(fd, mask: 0) }
        pausedUntil = Posix.monotonicMicros() + 1_000_000
    }

    /// Polls the socket again after a pause for lack of descriptors.
    private func resume() {
        guard pausedUntil != nil else { return }
        pausedUntil = nil
        loop.modify(fd, mask: EventLoop.readable)
    }

    /// At the cap: closes the connection idle the longest among those of the source holding the
    /// most connections, so a source that filled the listener pays for the room, not the others.
    private func evictOne(now: Timestamp) {
        guard let victim = ConnectionSources.evictionVictim(connections.values, perSource: perSource,
                                                            source: \.source, lastActivity: \.lastActivityMicros) else { return }
        consumer.connectionEvent(.evicted)
        note("at the cap of \(limits.maxConnections) connections: closed the longest idle one, from \(victim.peer.ip)")
        readReady(victim, now: now, ignoringGate: true)  // what it sent is kept, whatever the gate says
        if connections[victim.fd] != nil { close(victim, now: now) }
    }

    /// Reads what a connection has ready and hands its frames to the consumer; parks it instead
    /// while the gate is closed.
    /// `ignoringGate`: read even while the gate is closed (a connection about to be closed).
    func readReady(_ connection: TCPConnection, now: Timestamp, ignoringGate: Bool = false) {
        connection.lastActivityMicros = Posix.monotonicMicros()
        // Bounded reads per wake-up so one busy sender cannot starve the others; at shutdown,
        // everything the kernel holds (it was acknowledged to the sender).
        for _ in 0..<(draining ? Int.max : 16) {
            if let gate, !gate.isOpen, !draining, !ignoringGate {
                park(connection)
                return
            }
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
            consumer.consume(frame: frame, truncated: truncated, sender: peer, transport: .stream, now: now)
            // A frame pieced together from several reads lives in the decoder's own buffer,
            // which it reuses as soon as this returns.
            if !Self.lies(frame, within: bytes) { consumer.releaseFrames() }
        })
        consumer.releaseFrames()
        notePartial(connection)
        if partialBytes > limits.maxPartialBytes { cutOldestPartials(now: now) }
        if let error {
            consumer.framingError(error, sender: peer)
            drop(connection)
            return false
        }
        return true
    }

    /// Brings `partialBytes` up to date with what `connection`'s decoder holds now.
    private func notePartial(_ connection: TCPConnection) {
        let held = connection.decoder.bufferedByteCount
        if held == connection.partialHeld { return }
        if connection.partialHeld == 0 {
            partialClock &+= 1
            connection.partialSince = partialClock
        }
        partialBytes += held - connection.partialHeld
        partialHighWater = max(partialHighWater, partialBytes)
        connection.partialHeld = held
    }

    /// Cuts partial frames, oldest first, until they hold at most three quarters of the bound.
    private func cutOldestPartials(now: Timestamp) {
        let target = limits.maxPartialBytes / 4 * 3
        let holders = connections.values.filter { $0.partialHeld > 0 }.sorted { $0.partialSince < $1.partialSince }
        let consumer = self.consumer
        for connection in holders {
            if partialBytes <= target { break }
            let peer = connection.peer
            if connection.decoder.cut(onFrame: { frame, truncated in
                consumer.consume(frame: frame, truncated: truncated, sender: peer, transport: .stream, now: now)
                consumer.releaseFrames()
            }) {
                consumer.connectionEvent(.frameCut)
            }
            notePartial(connection)
        }
        note("partial frames held more than \(limits.maxPartialBytes >> 20) MiB: the oldest were cut short")
    }

    /// Closes a connection at end of stream, delivering a final unterminated frame.
    func close(_ connection: TCPConnection, now: Timestamp) {
        let consumer = self.consumer
        let peer = connection.peer
        let error = connection.decoder.finish(onFrame: { frame, truncated in
            consumer.consume(frame: frame, truncated: truncated, sender: peer, transport: .stream, now: now)
            consumer.releaseFrames()  // the decoder's buffer is released when `finish` returns
        })
        if let error { consumer.framingError(error, sender: peer) }
        notePartial(connection)
        drop(connection)
    }

    /// Whether `frame` is a slice of `bytes`.
    private static func lies(_ frame: UnsafeRawBufferPointer, within bytes: UnsafeRawBufferPointer) -> Bool {
        guard let f = frame.baseAddress, let b = bytes.baseAddress else { return false }
        return f >= b && f + frame.count <= b + bytes.count
    }

    /// Takes a connection off the loop until the gate opens (level-triggered epoll would report it
    /// ready over and over, and a hang-up is reported whatever the mask).
    private func park(_ connection: TCPConnection) {
        guard !connection.isParked else { return }
        loop.unregister(connection.fd)
        connection.isParked = true
        parked.append(connection)
    }

    /// Polls the parked connections again: the gate opened.
    private func resumeReading() {
        let now = Posix.monotonicMicros()
        for connection in parked where connection.isParked {
            connection.isParked = false
            connection.lastActivityMicros = now  // it was not idle: it was not read
            do {
                try loop.register(connection.fd, mask: EventLoop.readable | EventLoop.hangup, handler: connection)
            } catch {
                drop(connection)
            }
        }
        parked.removeAll()
    }

    private func drop(_ connection: TCPConnection) {
        partialBytes -= connection.partialHeld
        connection.partialHeld = 0
        if !connection.isParked { loop.unregister(connection.fd) }
        connection.isParked = false
        connection.socket = nil
        connections[connection.fd] = nil
        let left = perSource[connection.source, default: 1] - 1
        perSource[connection.source] = left > 0 ? left : nil
        consumer.connectionEvent(.closed)
        resume()  // a descriptor came free
    }

    /// Closes connections that sent nothing for longer than the idle timeout (half-open or stalled
    /// peers), after reading whatever they did send, and polls the socket again after a pause for
    /// lack of descriptors. `monotonicMicros` is the loop's monotonic now.
    public func closeIdleConnections(monotonicMicros: Int64, now: Timestamp) {
        if let until = pausedUntil, monotonicMicros >= until { resume() }
        // Partial frames that were freed (cut, completed, their connections closed) leave glibc's
        // heap holding the memory; hand it back once enough is free.
        if partialHighWater - partialBytes > 8 << 20 {
            _ = vigil_malloc_trim()
            partialHighWater = partialBytes
        }
        let limit = monotonicMicros - limits.idleTimeoutMicros
        for connection in Array(connections.values) where connection.lastActivityMicros < limit && !connection.isParked {
            consumer.connectionEvent(.timedOut)
            readReady(connection, now: now)
            if connections[connection.fd] != nil { close(connection, now: now) }
        }
    }

    /// At shutdown: reads whatever every connection has already received, then closes them all.
    public func drainAndCloseAll(now: Timestamp) {
        draining = true
        for connection in Array(connections.values) {
            readReady(connection, now: now)
            if connections[connection.fd] != nil { close(connection, now: now) }
        }
        loop.unregister(fd)
    }
}

/// One accepted TCP connection and its framing state.
final class TCPConnection: EventHandler {
    /// The connection's socket, owned here until the listener closes it (sets it to nil).
    var socket: FileDescriptor?
    /// The socket's number: the connection's key in the listener, still after the socket closed.
    let fd: Int32
    let peer: SocketAddress
    /// What it counts under for the per-source limit (`ConnectionSources.key`).
    let source: IPAddress
    unowned let listener: TCPListener
    var decoder: FrameDecoder
    var lastActivityMicros: Int64
    /// Off the loop while the listener's gate is closed.
    var isParked = false
    /// What the decoder held at the last look (`TCPListener.notePartial`), and when its partial
    /// frame started (the listener's count).
    var partialHeld = 0
    var partialSince: UInt64 = 0

    init(socket: consuming FileDescriptor, peer: SocketAddress, source: IPAddress, listener: TCPListener, maxMessageBytes: Int) {
        fd = socket.rawValue
        self.socket = consume socket
        self.peer = peer
        self.source = source
        self.listener = listener
        decoder = FrameDecoder(maxMessageBytes: maxMessageBytes)
        lastActivityMicros = Posix.monotonicMicros()
    }

    func handleEvents(_ events: UInt32, now: Timestamp) {
        listener.readReady(self, now: now)
    }
}
