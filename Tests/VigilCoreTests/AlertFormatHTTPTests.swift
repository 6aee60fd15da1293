import Testing
@testable import VigilCore

/// The webhook client's request bytes, response-head parsing, chunked bodies and status verdicts.
@Suite struct AlertFormatHTTPTests {
    static func parse(_ text: String) -> HTTPResponseHead.Parse {
        Array(text.utf8).withUnsafeBytes { HTTPResponseHead.parse($0) }
    }

    @Test func postHead() {
        var out: [UInt8] = []
        HTTPClientRequest.appendPostHead(path: "/hooks/vigil?x=1", hostHeader: "127.0.0.1:8080", contentLength: 42, to: &out)
        #expect(String(decoding: out, as: UTF8.self)
            == "POST /hooks/vigil?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: vigil\r\n"
            + "Content-Type: application/json\r\nContent-Length: 42\r\nConnection: keep-alive\r\n\r\n")
    }

    @Test(arguments: [
        // Python's http.server (HTTP/1.0 by default: closes after the answer)
        ("HTTP/1.0 200 OK\r\nServer: BaseHTTP/0.6 Python/3.12.3\r\nContent-Length: 2\r\n\r\nok", 200, HTTPResponseHead.BodyLength.fixed(2), false),
        // nginx keep-alive
        ("HTTP/1.1 204 No Content\r\nServer: nginx\r\nConnection: keep-alive\r\n\r\n", 204, .none, true),
        // Alertmanager (Go net/http): 200 with an empty body
        ("HTTP/1.1 200 OK\r\nDate: Sun, 22 Nov 2026 10:00:09 GMT\r\nContent-Length: 0\r\n\r\n", 200, .fixed(0), true),
        ("HTTP/1.1 500 Internal Server Error\r\ntransfer-encoding: Chunked\r\n\r\n", 500, .chunked, true),
        ("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 11\r\n\r\n", 400, .fixed(11), false),
        ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", 200, .untilClose, false),
        ("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\ncontent-length : 5\r\n\r\n", 200, .fixed(5), true),
        ("HTTP/1.1 100 Continue\r\n\r\n", 100, .none, true),
        ("HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\nContent-Length: 0\r\n\r\n", 200, .fixed(0), false),
    ])
    func completeHeads(text: String, status: Int, body: HTTPResponseHead.BodyLength, keepAlive: Bool) {
        guard case .complete(let head) = Self.parse(text) else { Issue.record("not complete: \(text)"); return }
        #expect(head.status == status)
        #expect(head.body == body)
        #expect(head.keepAlive == keepAlive)
        #expect(head.headBytes == Array(text.utf8).count - (text.hasSuffix("ok") ? 2 : 0))
    }

    @Test func incompleteAndInvalidHeads() {
        #expect(Self.parse("") == .incomplete)
        #expect(Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n") == .incomplete)
        #expect(Self.parse("SSH-2.0-OpenSSH_9.6\r\n\r\n") == .invalid("not an HTTP/1.x status line"))
        #expect(Self.parse("HTTP/1.1 2x0 OK\r\n\r\n") == .invalid("bad status code"))
        #expect(Self.parse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n") == .invalid("bad Content-Length"))
        let long = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 20_000)
        #expect(Self.parse(long) == .invalid("response head over 16384 bytes"))
    }

    @Test(arguments: [
        ("0\r\n\r\n", ChunkedBody.Scan.complete(5)),
        ("2\r\nok\r\n0\r\n\r\n", .complete(12)),
        ("a;name=v\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT", .complete(39)),
        ("2\r\nok\r\n", .incomplete),
        ("2\r\no", .incomplete),
        ("0\r\nTrailer: x\r\n", .incomplete),
        ("", .incomplete),
        ("2\r\nokX\r\n", .invalid),
        ("zz\r\n", .invalid),
    ])
    func chunkedBodies(text: String, expected: ChunkedBody.Scan) {
        #expect(Array(text.utf8).withUnsafeBytes { ChunkedBody.scan($0) } == expected)
    }

    @Test(arguments: [
        (200, HTTPDeliveryVerdict.delivered), (201, .delivered), (204, .delivered), (299, .delivered),
        (500, .retry), (502, .retry), (503, .retry), (408, .retry), (429, .retry),
        (400, .reject), (401, .reject), (404, .reject), (413, .reject), (301, .reject), (101, .reject),
    ])
    func verdicts(status: Int, verdict: HTTPDeliveryVerdict) {
        #expect(HTTPDeliveryVerdict(status: status) == verdict)
    }
}
