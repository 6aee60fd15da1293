import CVigilShim
import Glibc
import Testing
import VigilTestSupport
import VigilCore
@testable import VigilPosix

/// Real sockets on 127.0.0.1 and ::1, ports picked by the kernel; the loop is pumped
/// from the test thread until the expected frames arrived (bounded), never slept on.
@Suite struct ListenerTests {
    func tcpListener(_ loop: EventLoop, _ consumer: RecordingConsumer, v6: Bool = false, maxMessageBytes: Int = 65_536,
                     maxConnections: Int = 20_000, maxPerSource: Int = 20_000, idleTimeoutMicros: Int64 = 60_000_000,
                     admits: ((SocketAddress) -> Bool)? = nil) throws -> TCPListener {
        try TCPListener(address: loopback(v6), maxMessageBytes: maxMessageBytes,
                        limits: .init(maxConnections: maxConnections, maxPerSource: maxPerSource, idleTimeoutMicros: idleTimeoutMicros),
                        loop: loop, consumer: consumer, admits: admits)
    }

    @Test(arguments: [false, true])
    func udpDatagramsArriveWhole(v6: Bool) throws {
        let loop = try EventLoop()
        let consumer = RecordingConsumer()
        let listener = try UDPListener(address: loopback(v6), maxMessageBytes: 65_536, receiveBufferBytes: 1 << 20,
                                       loop: loop, consumer: consumer)
        let expected = Fixtures.datagrams("logger-rfc5424-udp.udp") + Fixtures.datagrams("nginx-syslog-curl.udp")
        let client = TestClient(udpFamilyOf: listener.address)
        for d in expected { client.sendDatagram(d, to: listener.address) }
        #expect(pump(loop) { consumer.frames.count == expected.count })
        #expect(consumer.frames.map(\.bytes) == expected)
        #expect(consumer.frames.allSatisfy { !$0.truncated && $0.sender.ip == (v6 ? IPAddress.parse("::1")! : IPAddress(127, 0, 0, 1)) })
    }

    /// Finding: rsyslog's RFC 5424 template over UDP ends every datagram with LF, which was stored
    /// as `#012` (and `vigil analyze` then missed every sshd line of those files). A trailing LF,
    /// CRLF or NUL is framing; one inside the message stays.
    @Test func aDatagramsTrailingLineEndIsFraming() throws {
        let loop = try EventLoop()
        let consumer = RecordingConsumer()
        let listener = try UDPListener(address: loopback(false), maxMessageBytes: 65_536, receiveBufferBytes: 1 << 20,
                                       loop: loop, consumer: consumer)
        let rsyslog = Fixtures.datagrams("rsyslog-udp-proto23.udp")
        #expect(rsyslog.allSatisfy { $0.last == UInt8(ascii: "\n") })
        let crafted = ["<13>1 - h a - - - crlf\r\n", "<13>1 - h a - - - nul\0", "<13>1 - h a - - - inner\nline\n\n"].map { Array($0.utf8) }
        let client = TestClient(udpFamilyOf: listener.address)
        for d in rsyslog + crafted { client.sendDatagram(d, to: listener.address) }
        #expect(pump(loop) { consumer.frames.count == rsyslog.count + crafted.count })
        #expect(consumer.frames.prefix(rsyslog.count).map(\.bytes) == rsyslog.map { Array($0.dropLast()) })
        #expect(consumer.frames.suffix(crafted.count).map(\.text) ==
            ["<13>1 - h a - - - crlf", "<13>1 - h a - - - nul", "<13>1 - h a - - - inner\nline"])
    }

    /// Finding: UDP sockets were bound with SO_REUSEADDR, with which Linux lets any process of
    /// any user that sets it too bind the same port, and hands every datagram to the socket bound
    /// last: a local user could take vigil's whole UDP syslog stream and leave it silent. An
    /// attacker's socket, SO_REUSEADDR set, is now refused (EADDRINUSE), and vigil keeps receiving.
    @Test(arguments: [false, true])
    func noOtherSocketCanBindTheUDPPort(v6: Bool) throws {
        let loop = try EventLoop()
        let consumer = RecordingConsumer()
        let listener = try UDPListener(address: loopback(v6), maxMessageBytes: 65_536, receiveBufferBytes: 1 << 20,
                                       loop: loop, consumer: consumer)
        let thief = socket(listener.address.family, Int32(SOCK_DGRAM.rawValue), 0)
        defer { Glibc.close(thief) }
        var one: Int32 = 1
        setsockopt(thief, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if v6 { setsockopt(thief, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size)) }
        let rc = listener.address.withSockAddr { Glibc.bind(thief, $0, $1) }
        let bindError = errno
        #expect(rc == -1 && bindError == EADDRINUSE)
        let client = TestClient(udpFamilyOf: listener.address)
        client.sendDatagram(Array("<13>1 - h a - - - still here".utf8), to: listener.address)
        #expect(pump(loop) { consumer.frames.count == 1 })
    }

    /// At stop a socket is read until it is empty, not just a wake-up's worth (32 batches of
    /// 64): 5,000 datagrams waiting are all read by one `drain`. (Loopback delivers a datagram
    /// into the socket before `sendto` returns.)
    @Test func drainReadsEveryDatagramWaiting() throws {
        let loop = try EventLoop()
        let consumer = RecordingConsumer()
        let listener = try UDPListener(address: loopback(false), maxMessageBytes: 1024, receiveBufferBytes: 64 << 20,
                                       loop: loop, consumer: consumer)
        let client = TestClient(udpFamilyOf: listener.address)
        for i in 0..<5_000 { client.sendDatagram(Array("<13>1 - h a - - - \(i)".utf8), to: listener.address) }
        listener.drain(now: Posix.wallClock())
        #expect(consumer.frames.count == 5_000)
    }

    @Test func udpDatagramLongerThanLimitIsTruncatedAndFlagged() throws {
        let loop = try EventLoop()
        let consumer = RecordingConsumer()
        let listener = try UDPListener(address: loopback(false), maxMessageBytes: 1024, receiveBufferBytes: 1 << 20,
                                       loop: loop, consumer: consumer)
        let client = TestClient(udpFamilyOf: listener.address)
        let big = Array("<13>1 - h a - - - ".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: 3000)
        client.sendDatagram(big, to: listener.address)
        client.sendDatagram(Array("<13>1 - h a - - - after".utf8), to: listener.address)
        #expect(pump(loop) { consumer.frames.count == 2 })
        #expect(consumer.frames[0].truncated && consumer.frames[0].bytes == Array(big[0..<1024]))
        #expect(!consumer.frames[1].truncated && consumer.frames[1].text.hasSuffix("after"))
    }

    @Test(arguments: [
        ("logger-rfc5424-tcp-octet.tcp", true), ("rsyslog-tcp-proto23-octet.tcp", true),
        ("sshd-normal-rsyslog-tcp-octet.tcp", true), ("logger-rfc5424-tcp-lf.tcp", false),
        ("rsyslog-tcp-traditional.tcp", false), ("rsyslog-tcp-forward.tcp", false),
    ])
    func tcpSamplesFrameExactly(file: String, octet: Bool) throws {
        for v6 in [false, true] {
            let loop = try EventLoop()
            let consumer = RecordingConsumer()
            let listener = try tcpListener(loop, consumer, v6: v6)
            let bytes = Fixtures.sample(file)
            let expected = octet ? octetFrames(bytes) : lineFrames(bytes)
            let client = try TestClient(tcp: listener.address)
            client.send(bytes)
            client.shutdownWrite()
            #expect(pump(loop) { consumer.count(.closed) == 1 })
            #expect(consumer.frames.map(\.text) == expected.map { String(decoding: $0, as: UTF8.self) }, "\(file) v6=\(v6)")
            #expect(consumer.framingErrors.isEmpty)
        }
    }

    @Test func framesSplitAcrossReadsAtEveryByte() throws {
        let loop = try EventLoop()
        let consumer = RecordingConsumer()
        let listener = try tcpListener(loop, consumer)
        let bytes = Fixtures.sample("logger-rfc5424-tcp-octet.tcp") + Fixtures.sample("logger-rfc5424-tcp-lf.tcp")
        let expected = octetFrames(Fixtures.sample("logger-rfc5424-tcp-octet.tcp")) + lineFrames(Fixtures.sample("logger-rfc5424-tcp-lf.tcp"))
        let client = try TestClient(tcp: listener.address)
        #expect(pump(loop) { consumer.count(.accepted) == 1 })
        for byte in bytes {
            client.send([byte])
            loop.runOnce(timeoutMilliseconds: 0)
        }
        client.shutdownWrite()
        #expect(pump(loop) { consumer.count(.closed) == 1 })
        #expect(consumer.frames.map(\.text) == expected.map { String(decoding: $0, as: UTF8.self) })
    }

    /// A consumer may hold frames until the listener releases them (the collector analyzes a
    /// read's frames as a batch): held pointers, copied only at `releaseFrames()`, must still
    /// hold every message intact, also frames pieced together from several reads (which live
    /// in the decoder's buffer) and the last frame of a closing connection.
    @Test func heldFramesStayIntactUntilReleased() throws {
        final class HoldingConsumer: FrameConsumer {
            var held: [UnsafeRawBufferPointer] = []
            var frames: [String] = []
            var closed = 0
            func consume(frame: UnsafeRawBufferPointer, truncated: Bool, sender: SocketAddress, transport: Transport, now: Timestamp) {
                held.append(frame)
            }
            func releaseFrames() {
                frames += held.map { String(decoding: $0, as: UTF8.self) }
                held.removeAll()
            }
            func framingError(_ error: FramingError, sender: SocketAddress) {}
            func connectionEvent(_ event: ConnectionEvent) { if case .closed = event { closed += 1 } }
        }
        let loop = try EventLoop()
        let consumer = HoldingConsumer()
        let listener = try TCPListener(address: loopback(false), maxMessageBytes: 65_536,
                                       limits: .init(maxConnections: 10, maxPerSource: 10, idleTimeoutMicros: 60_000_000),
                                       loop: loop, consumer: consumer)
        let octet = Fixtures.sample("logger-rfc5424-tcp-octet.tcp"), lines = Fixtures.sample("logger-rfc5424-tcp-lf.tcp")
        var expected = (octetFrames(octet) + lineFrames(lines)).map { String(decoding: $0, as: UTF8.self) }
        let client = try TestClient(tcp: listener.address)
        // Pieces of 1 to 37 bytes: frames end mid-read, span reads, and several share a read.
        var bytes = octet + lines
        var size = 1
        while !bytes.isEmpty {
            client.send(Array(bytes.prefix(size)))
            bytes.removeFirst(min(size, bytes.count))
            size = size % 37 + 1
            loop.runOnce(timeoutMilliseconds: 0)
        }
        client.send(Array("<13>1 - h app - - - unterminated last frame".utf8))
        expected.append("<13>1 - h app - - - unterminated last frame")
        client.shutdownWrite()
        #expect(pump(loop) { consumer.closed == 1 })
        #expect(consumer.held.isEmpty)
        #expect(consumer.frames == expected)
    }

    @Test func manyConnectionsAtOnceEachKeepsItsOrder() throws {
        let loop = try EventLoop()
        let consumer = RecordingConsumer()
        let listener = try tcpListener(loop, consumer)
        let connections = 2_000
        var clients: [TestClient] = []
        for c in 0..<connections {
            let client = try TestClient(tcp: listener.address)
            client.send("<13>1 - host\(c % 7) app - - - conn \(c) msg 0\n<13>1 - host app - - - conn \(c) msg 1\n")
            clients.append(client)
            if c % 100 == 0 { loop.runOnce(timeoutMilliseconds: 0) }  // keep the accept backlog drained
        }
        #expect(pump(loop) { consumer.frames.count == connections * 2 })
        #expect(consumer.count(.accepted) == connections)
        var perPort: [UInt16: [String]] = [:]
        for f in consumer.frames { perPort[f.sender.port, default: []].append(f.text) }
        for client in clients {
            let texts = perPort[client.localPort] ?? []
            #expect(texts.count == 2 && texts[0].hasSuffix("msg 0") && texts[1].hasSuffix("msg 1"))
        }
        clients.forEach { $0.shutdownWrite() }
        #expect(pump(loop) { consumer.count(.closed) == connections })
    }

    @Test func badFramingClosesOnlyThatConnection() throws {
        let loop = try EventLoop()
        let consumer = RecordingConsumer()
        let listener = try tcpListener(loop, consumer, maxMessageBytes: 1024)
        let good = try TestClient(tcp: listener.address)
        let garbageCount = try TestClient(tcp: listener.address)
        let absurdCount = try TestClient(tcp: listener.address)
        let oversized = try TestClient(tcp: listener.address)
        good.send("<13>1 - good app - - - before\n")
        garbageCount.send("12a <13>1 - bad app - - - x")
        absurdCount.send("99999999999 <13>1 - bad app - - - x")
        let big = "<13>1 - big app - - - " + String(repeating: "y", count: 5000)
        let next = "<13>1 - big app - - - next"
        oversized.send("\(big.utf8.count) \(big)\(next.utf8.count) \(next)")
        good.send("<13>1 - good app - - - after\n")
        #expect(pump(loop) { consumer.framingErrors.count == 2 && consumer.frames.count == 4 })
        let texts = consumer.frames.map(\.text)
        #expect(texts.filter { $0.contains("good") } == ["<13>1 - good app - - - before", "<13>1 - good app - - - after"])
        let bigFrames = consumer.frames.filter { $0.text.contains("big") }
        #expect(bigFrames.count == 2)
        #expect(bigFrames.first?.truncated == true && bigFrames.first?.bytes.count == 1024)
        #expect(bigFrames.last?.text == "<13>1 - big app - - - next" && bigFrames.last?.truncated == false)
        #expect(consumer.count(.closed) == 2)
    }

    @Test func idleConnectionIsClosedAndItsPartialFrameKept() throws {
        let loop = try EventLoop()
        let consumer = RecordingConsumer()
        let listener = try tcpListener(loop, consumer, idleTimeoutMicros: 60_000_000)
        let client = try TestClient(tcp: listener.address)
        let quiet = try TestClient(tcp: listener.address)
        client.send("<13>1 - slow app - - - never finished")
        #expect(pump(loop) { consumer.count(.accepted) == 2 })
        // 59 s after the last byte nothing is idle yet; 61 s after, both connections are.
        let start = Posix.monotonicMicros()
        listener.closeIdleConnections(monotonicMicros: start + 59_000_000, now: Timestamp(seconds: 0))
        #expect(consumer.count(.timedOut) == 0)
        listener.closeIdleConnections(monotonicMicros: start + 61_000_000, now: Timestamp(seconds: 0))
        #expect(consumer.count(.timedOut) == 2 && consumer.count(.closed) == 2)
        #expect(consumer.frames.map(\.text) == ["<13>1 - slow app - - - never finished"])
        #expect(listener.openConnections == 0)
        _ = quiet
    }

    /// Finding: with the cap at 100, 100 idle connections from one address locked every other
    /// sender out, silently. Now the newcomer gets in: the connection idle the longest of the
    /// source holding the most is closed (after its bytes are read) to make room, and counted.
    @Test func atTheCapTheBusiestSourcesLongestIdleConnectionMakesRoom() throws {
        let loop = try EventLoop()
        let consumer = RecordingConsumer()
        let listener = try tcpListener(loop, consumer, maxConnections: 100)
        let hog = IPAddress(127, 0, 0, 1)
        var idle: [TestClient] = []
        for i in 0..<100 {
            let client = try TestClient(tcp: listener.address, from: hog)
            if i == 0 { client.send("<13>1 - hog app - - - oldest, never finished") }
            idle.append(client)
            #expect(pump(loop) { consumer.count(.accepted) == i + 1 })
        }
        // Everyone but the oldest talks again, so the oldest is the longest idle.
        for client in idle.dropFirst() { client.send("<13>1 - hog app - - - still here\n") }
        #expect(pump(loop) { consumer.frames.count == 99 })
        let newcomer = try TestClient(tcp: listener.address, from: IPAddress(127, 0, 0, 2))
        newcomer.send("<13>1 - web1 app - - - let me in\n")
        #expect(pump(loop) { consumer.frames.contains { $0.text.hasSuffix("let me in") } })
        #expect(consumer.count(.evicted) == 1 && listener.openConnections == 100)
        #expect(idle[0].isClosedByPeer())
        #expect(!idle[1].isClosedByPeer(milliseconds: 0))
        // The evicted connection's unfinished frame was read before it was closed.
        #expect(consumer.frames.contains { $0.text.hasSuffix("oldest, never finished") })
    }

    @Test func oneSourceHoldsAtMostItsShare() throws {
        let loop = try EventLoop()
        let consumer = RecordingConsumer()
        let listener = try tcpListener(loop, consumer, maxPerSource: 3)
        let clients = try (0..<5).map { _ in try TestClient(tcp: listener.address, from: IPAddress(127, 0, 0, 1)) }
        #expect(pump(loop) { consumer.count(.accepted) + consumer.count(.perSourceLimit) == 5 })
        #expect(consumer.count(.accepted) == 3 && consumer.count(.perSourceLimit) == 2)
        #expect(clients.filter { $0.isClosedByPeer(milliseconds: 200) }.count == 2)
        // Another source is not affected; a freed slot is taken again.
        let other = try TestClient(tcp: listener.address, from: IPAddress(127, 0, 0, 3))
        #expect(pump(loop) { consumer.count(.accepted) == 4 })
        clients.first { !$0.isClosedByPeer(milliseconds: 0) }?.shutdownWrite()
        #expect(pump(loop) { consumer.count(.closed) == 1 })
        let again = try TestClient(tcp: listener.address, from: IPAddress(127, 0, 0, 1))
        #expect(pump(loop) { consumer.count(.accepted) == 5 })
        #expect(listener.openConnections == 4)
        _ = (other, again)
    }

    /// Finding: 5,000 connections each holding 60 KB of an unfinished frame took 305 MB. All
    /// partial frames together are bounded: past the bound the oldest are cut short (delivered
    /// truncated, counted) and the rest of each cut frame is skipped; other frames stay intact.
    @Test func partialFramesAreBoundedTogether() throws {
        let loop = try EventLoop()
        let consumer = RecordingConsumer()
        let listener = try TCPListener(address: loopback(false), maxMessageBytes: 65_536,
                                       limits: .init(maxConnections: 100, maxPerSource: 100, idleTimeoutMicros: 60_000_000,
                                                     maxPartialBytes: 100_000),
                                       loop: loop, consumer: consumer)
        var clients: [TestClient] = []
        for i in 0..<6 {
            let client = try TestClient(tcp: listener.address)
            client.send("<13>1 - h app - - - partial \(i) " + String(repeating: "x", count: 30_000))
            clients.append(client)
            #expect(pump(loop) { listener.partialBytes >= 30_000 * min(i + 1, 3) || consumer.count(.frameCut) > 0 })
        }
        #expect(pump(loop) { consumer.count(.frameCut) >= 3 && listener.partialBytes <= 100_000 })
        let cut = consumer.frames.filter(\.truncated)
        #expect(cut.count == consumer.count(.frameCut))
        #expect(cut.first?.text.hasPrefix("<13>1 - h app - - - partial 0 ") == true)  // the oldest first
        // The first connection finishes its frame and sends another: the rest is skipped, the next is whole.
        clients[0].send("rest of the cut frame\n<13>1 - h app - - - after the cut\n")
        #expect(pump(loop) { consumer.frames.contains { $0.text == "<13>1 - h app - - - after the cut" } })
        #expect(!consumer.frames.contains { $0.text.contains("rest of the cut frame") })
    }

    @Test func anIPv6SourceIsItsSlash64() {
        let a = IPAddress.parse("2001:db8::1")!, b = IPAddress.parse("2001:db8::ffff:2")!, c = IPAddress.parse("2001:db8:0:1::1")!
        #expect(ConnectionSources.key(a) == ConnectionSources.key(b))
        #expect(ConnectionSources.key(a) != ConnectionSources.key(c))
        #expect(ConnectionSources.key(IPAddress(10, 0, 0, 1)) != ConnectionSources.key(IPAddress(10, 0, 0, 2)))
    }

    @Test func aListenerWithAnAllowListRefusesEveryoneElse() throws {
        let loop = try EventLoop()
        let consumer = RecordingConsumer()
        let listener = try tcpListener(loop, consumer, admits: { $0.ip == IPAddress(127, 0, 0, 5) })
        let stranger = try TestClient(tcp: listener.address, from: IPAddress(127, 0, 0, 6))
        stranger.send("<13>1 - h app - - - from outside\n")
        let edge = try TestClient(tcp: listener.address, from: IPAddress(127, 0, 0, 5))
        edge.send("<13>1 - h app - - - from the edge\n")
        #expect(pump(loop) { consumer.frames.count == 1 && consumer.count(.notAllowed) == 1 })
        #expect(consumer.frames.map(\.text) == ["<13>1 - h app - - - from the edge"])
        #expect(stranger.isClosedByPeer())
    }
}
