import CVigilShim
import Glibc
@testable import VigilCore
@testable import VigilPosix

/// One HTTP response as a test client read it.
struct HTTPTestResponse {
    var status: Int
    var headers: [String: String]
    var body: String
}

/// A test client of the API: sends raw requests on one connection and reads responses while
/// the server's loop runs (`pump`), so one test thread plays both sides.
final class HTTPTestClient {
    let client: TestClient
    private var buffer: [UInt8] = []

    init(_ address: SocketAddress) throws { client = try TestClient(tcp: address) }

    /// A client connecting from `source` (any 127.x.y.z on Linux loopback).
    init(from source: IPAddress, _ address: SocketAddress) throws { client = try TestClient(tcp: address, from: source) }

    /// `GET path`, with the token when given.
    func get(_ path: String, token: String? = nil, close: Bool = false) {
        var request = "GET \(path) HTTP/1.1\r\nHost: test\r\n"
        if let token { request += "Authorization: Bearer \(token)\r\n" }
        if close { request += "Connection: close\r\n" }
        client.send(request + "\r\n")
    }

    /// The next response, reading while `loop` runs; nil when none came in 20 s.
    func response(_ loop: EventLoop) -> HTTPTestResponse? {
        var result: HTTPTestResponse?
        pump(loop) {
            readAvailable()
            result = takeResponse()
            return result != nil
        }
        return result
    }

    /// Whether the server closed the connection (reading while `loop` runs).
    func isClosed(_ loop: EventLoop, seconds: Int64 = 20) -> Bool {
        pump(loop, seconds: seconds) { readAvailable() }
    }

    /// Reads what is there without waiting; true at end of stream or on a reset.
    @discardableResult
    func readAvailable() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                buffer += chunk[0..<n]
                continue
            }
            return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)
        }
    }

    /// The response already read (`readAvailable`), once it is complete.
    func takeResponse() -> HTTPTestResponse? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, buffer.count - 3)).first(where: { Array(buffer[$0..<($0 + 4)]) == separator }) else { return nil }
        let head = String(decoding: buffer[0..<end], as: UTF8.self).split(separator: "\r\n")
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...].drop(while: { $0 == " " }))
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        guard buffer.count >= end + 4 + length else { return nil }
        let body = String(decoding: buffer[(end + 4)..<(end + 4 + length)], as: UTF8.self)
        buffer.removeFirst(end + 4 + length)
        let status = Int(head[0].split(separator: " ")[1]) ?? 0
        return HTTPTestResponse(status: status, headers: headers, body: body)
    }
}
