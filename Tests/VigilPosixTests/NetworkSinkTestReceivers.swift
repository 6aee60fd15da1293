import CVigilShim
import Glibc
import VigilCore
@testable import VigilPosix

/// A receiver for the network-sink tests, on its own thread, bound to 127.0.0.1 (port 0 or a given
/// port, to come back on the same one): a webhook answering with scripted statuses, an octet-counting
/// syslog TCP server, a syslog UDP socket, or a TCP server that accepts and never reads.
final class TestReceiver: @unchecked Sendable {
    enum Kind { case http, syslogTCP, syslogUDP, stalled }

    let kind: Kind
    let port: UInt16
    private let lock = ConditionLock()
    private let listenFD: Int32
    private var thread = pthread_t()
    // Guarded by `lock`:
    private var stopping = false
    private var accepted: [String] = []
    private var attempts: [String] = []
    private var script: [Int]
    private var acceptedConnections = 0

    /// Starts listening; `statuses` are the webhook's answers in turn, then 200 for ever.
    init(_ kind: Kind, port: UInt16 = 0, statuses: [Int] = []) throws {
        self.kind = kind
        script = statuses
        let type = kind == .syslogUDP ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue)
        let (fd, bound) = try Sockets.bind(SocketAddress(ip: IPAddress(127, 0, 0, 1), port: port), type: type)
        listenFD = fd
        self.port = bound.port
        if kind == .stalled {
            // A small window (inherited by accepted connections) so the sender's writes stall soon.
            var size: Int32 = 4096
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { raw in
            Unmanaged<TestReceiver>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, context)
    }

    /// Payloads received and acknowledged (2xx for the webhook), in arrival order.
    var payloads: [String] { lock.withLock { accepted } }
    /// Every webhook request, acknowledged or not.
    var requests: [String] { lock.withLock { attempts } }
    /// Connections accepted so far.
    var connections: Int { lock.withLock { acceptedConnections } }

    /// Waits until `condition(payloads)` holds; false after `seconds`.
    func wait(seconds: Int64 = 20, until condition: ([String]) -> Bool) -> Bool {
        let deadline = Posix.monotonicMicros() + seconds * 1_000_000
        return lock.withLock {
            while !condition(accepted) {
                if Posix.monotonicMicros() >= deadline { return false }
                lock.wait(untilMonotonicMicros: min(deadline, Posix.monotonicMicros() + 50_000))
            }
            return true
        }
    }

    /// Closes the listener and every connection, and joins the thread.
    func stop() {
        lock.withLock { stopping = true }
        pthread_join(thread, nil)
    }

    private func record(_ payload: [UInt8], acknowledged: Bool) {
        lock.withLock {
            let text = String(decoding: payload, as: UTF8.self)
            attempts.append(text)
            if acknowledged { accepted.append(text) }
            lock.broadcast()
        }
    }

    private func run() {
        var connections: [(fd: Int32, buffer: [UInt8])] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !lock.withLock({ stopping }) {
            var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)]
            if kind != .stalled {
                for c in connections { fds.append(pollfd(fd: c.fd, events: Int16(POLLIN), revents: 0)) }
            }
            // A tick to notice `stop()`, not a wait standing in for synchronisation.
            guard poll(&fds, nfds_t(fds.count), 20) > 0 else { continue }
            if fds[0].revents != 0 {
                if kind == .syslogUDP {
                    let n = chunk.withUnsafeMutableBytes { recv(listenFD, $0.baseAddress, $0.count, 0) }
                    if n > 0 { record(Array(chunk.prefix(n)), acknowledged: true) }
                } else {
                    let c = accept(listenFD, nil, nil)
                    if c >= 0 {
                        _ = vigil_set_nonblocking(c)
                        connections.append((c, []))
                        lock.withLock { acceptedConnections += 1 }
                    }
                }
            }
            guard kind != .stalled else { continue }
            var closed: [Int] = []
            for (i, p) in fds.dropFirst().enumerated() where p.revents != 0 {
                let n = chunk.withUnsafeMutableBytes { recv(connections[i].fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { closed.append(i); continue }
                connections[i].buffer.append(contentsOf: chunk.prefix(n))
                if !consume(&connections[i]) { closed.append(i) }
            }
            for i in closed.reversed() {
                Glibc.close(connections[i].fd)
                connections.remove(at: i)
            }
        }
        for c in connections { Glibc.close(c.fd) }
        Glibc.close(listenFD)
    }

    /// Takes every complete frame or request out of the buffer; false to close the connection.
    private func consume(_ c: inout (fd: Int32, buffer: [UInt8])) -> Bool {
        while true {
            switch kind {
            case .syslogTCP:
                guard let space = c.buffer.firstIndex(of: UInt8(ascii: " ")),
                      let length = Int(String(decoding: c.buffer[..<space], as: UTF8.self)) else { return true }
                guard c.buffer.count >= space + 1 + length else { return true }
                record(Array(c.buffer[(space + 1)..<(space + 1 + length)]), acknowledged: true)
                c.buffer.removeFirst(space + 1 + length)
            case .http:
                let separator: [UInt8] = [13, 10, 13, 10]
                guard let headEnd = c.buffer.indices.first(where: { c.buffer[$0...].starts(with: separator) }) else { return true }
                let head = String(decoding: c.buffer[..<headEnd], as: UTF8.self).lowercased()
                var length = 0
                for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                    length = Int(line.dropFirst(15).trimmingPrefix(" ")) ?? 0
                }
                let bodyStart = headEnd + 4
                guard c.buffer.count >= bodyStart + length else { return true }
                let body = Array(c.buffer[bodyStart..<(bodyStart + length)])
                let firstLine = head.split(separator: "\r\n").first ?? ""
                c.buffer.removeFirst(bodyStart + length)
                let status = lock.withLock { script.isEmpty ? 200 : script.removeFirst() }
                record(Array((firstLine + " ").utf8) + body, acknowledged: status / 100 == 2)
                let answer = Array("HTTP/1.1 \(status) Scripted\r\nContent-Length: 2\r\n\r\nok".utf8)
                if answer.withUnsafeBytes({ send(c.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) != answer.count { return false }
            case .syslogUDP, .stalled:
                return true
            }
        }
    }
}
