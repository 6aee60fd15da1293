import Testing
@testable import VigilCore

/// The API's request head parser: what it takes, what it refuses, and with which status.
@Suite struct APIRequestTests {
    func parse(_ text: String, limits: HTTPRequestLimits = HTTPRequestLimits()) -> HTTPRequestParser.Outcome {
        Array(text.utf8).withUnsafeBytes { HTTPRequestParser.parse($0, limits: limits) }
    }

    func head(_ text: String) -> HTTPRequestHead? {
        if case .head(let head, _) = parse(text) { return head }
        return nil
    }

    func refusal(_ text: String, limits: HTTPRequestLimits = HTTPRequestLimits()) -> Int? {
        if case .refused(let error) = parse(text, limits: limits) { return error.status }
        return nil
    }

    @Test func aRequestWithPathQueryAndToken() throws {
        let text = "GET /hosts/web1/logs?filter=Failed+password&count=5&file=ssh%64 HTTP/1.1\r\nHost: x\r\n"
            + "authorization:  Bearer abc \r\n\r\nGET /next"
        guard case .head(let head, let length) = parse(text) else {
            Issue.record("not parsed")
            return
        }
        #expect(length == text.utf8.count - "GET /next".utf8.count)
        #expect(head.method == "GET")
        #expect(head.segments == ["hosts", "web1", "logs"])
        #expect(head.parameter("filter") == "Failed password")
        #expect(head.parameter("count") == "5")
        #expect(head.parameter("file") == "sshd")
        #expect(head.parameter("since") == nil)
        #expect(head.authorization == "Bearer abc")
        #expect(head.keepAlive)
    }

    @Test func percentEscapesAreDecodedPerSegmentSoASlashCannotSplitOne() {
        #expect(head("GET /hosts/a%2fb/logs HTTP/1.1\r\n\r\n")?.segments == ["hosts", "a/b", "logs"])
        #expect(head("GET /hosts/%2e%2e/logs HTTP/1.1\r\n\r\n")?.segments == ["hosts", "..", "logs"])
        #expect(head("GET /hosts/%00/logs HTTP/1.1\r\n\r\n")?.segments == ["hosts", "\u{0}", "logs"])
        #expect(head("GET //hosts/ HTTP/1.1\r\n\r\n")?.segments == ["hosts"])
        #expect(head("GET / HTTP/1.1\r\n\r\n")?.segments == [])
        #expect(refusal("GET /hosts/%zz HTTP/1.1\r\n\r\n") == 400)
        #expect(refusal("GET /hosts/%2 HTTP/1.1\r\n\r\n") == 400)
        #expect(refusal("GET /x?a=%4 HTTP/1.1\r\n\r\n") == 400)
    }

    @Test func keepAliveFollowsTheVersionAndConnectionHeader() {
        #expect(head("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")?.keepAlive == false)
        #expect(head("GET / HTTP/1.0\r\n\r\n")?.keepAlive == false)
        #expect(head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")?.keepAlive == true)
    }

    @Test func anUnfinishedHeadAsksForMore() {
        #expect(parse("GET /hosts HTTP/1.1\r\nHost: x\r\n") == .incomplete)
        #expect(parse("GET /hos") == .incomplete)
        #expect(parse("") == .incomplete)
    }

    @Test func limitsOnTheRequestLineHeadersAndQuery() {
        var limits = HTTPRequestLimits()
        limits.maxRequestLine = 64
        limits.maxHead = 256
        limits.maxHeaders = 4
        limits.maxQuery = 16
        // Refused as soon as the limit is passed, before the line ends.
        #expect(refusal("GET /" + String(repeating: "a", count: 80), limits: limits) == 414)
        #expect(refusal("GET /x?" + String(repeating: "q", count: 17) + " HTTP/1.1\r\n\r\n", limits: limits) == 414)
        #expect(refusal("GET / HTTP/1.1\r\n" + String(repeating: "X-A: 1\r\n", count: 5) + "\r\n", limits: limits) == 431)
        #expect(refusal("GET / HTTP/1.1\r\nX-Big: " + String(repeating: "b", count: 300), limits: limits) == 431)
        #expect(head("GET / HTTP/1.1\r\n" + String(repeating: "X-A: 1\r\n", count: 4) + "\r\n") != nil)
    }

    @Test func malformedRequestsAndBodiesAreRefused() {
        #expect(refusal("GET\r\n\r\n") == 400)
        #expect(refusal("GET /x\r\n\r\n") == 400)
        #expect(refusal("get / HTTP/1.1\r\n\r\n") == 400)
        #expect(refusal("GET http://x/ HTTP/1.1\r\n\r\n") == 400)
        #expect(refusal("GET / HTTP/2.0\r\n\r\n") == 505)
        #expect(refusal("GET / HTTP/1.1\r\nno colon here\r\n\r\n") == 400)
        #expect(refusal("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello") == 413)
        #expect(refusal("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") == 413)
        #expect(head("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n") != nil)
    }

    @Test func countAndTimeParameters() {
        #expect(APICount.parse(nil, default: 100, max: 1000) == .success(100))
        #expect(APICount.parse("5", default: 100, max: 1000) == .success(5))
        #expect(APICount.parse("5000", default: 100, max: 1000) == .success(1000))
        for bad in ["0", "-1", "", "1e3", "99999999", " 5"] {
            guard case .failure(let error) = APICount.parse(bad, default: 100, max: 1000) else {
                Issue.record("\(bad) accepted")
                continue
            }
            #expect(error.status == 400)
        }
        #expect(APITime.parse("2026-12-03") == Timestamp(seconds: CivilDateTime.daysFromCivil(year: 2026, month: 12, day: 3) * 86_400))
        #expect(APITime.parse("2026-12-03T10:00:00Z") == CivilDateTime(year: 2026, month: 12, day: 3, hour: 10).timestamp())
        #expect(APITime.parse("2026-12-03T11:00:00+01:00") == CivilDateTime(year: 2026, month: 12, day: 3, hour: 10).timestamp())
        #expect(APITime.parse("2026-02-30") == nil)
        #expect(APITime.parse("yesterday") == nil)
        #expect(APITime.day("2026-12-03") == CivilDateTime.daysFromCivil(year: 2026, month: 12, day: 3))
    }

    @Test func responsesCarryLengthConnectionAndExtraHeaders() {
        var response = HTTPResponse.error(401, "missing or wrong bearer token")
        response.extraHeaders.append(#"WWW-Authenticate: Bearer realm="vigil""#)
        let text = String(decoding: response.serialized(keepAlive: true), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"))
        #expect(text.contains("Content-Length: 41\r\n"))
        #expect(text.contains("Connection: keep-alive\r\n"))
        #expect(text.contains("WWW-Authenticate: Bearer realm=\"vigil\"\r\n"))
        #expect(text.hasSuffix("\r\n\r\n{\"error\":\"missing or wrong bearer token\"}"))
        let head = String(decoding: HTTPResponse.json(Array("{}".utf8)).serialized(keepAlive: false, head: true), as: UTF8.self)
        #expect(head.contains("Content-Length: 2\r\nCache-Control") && head.contains("Connection: close") && head.hasSuffix("\r\n\r\n"))
    }

    @Test func theJSONWriterSeparatesMembersAndEscapesStrings() {
        var json = JSONWriter()
        json.beginObject()
        json.key("data")
        json.beginArray()
        json.beginObject()
        json.member("host", "we\"b\n1")
        json.member("n", 3)
        json.key("t")
        json.time(nil)
        json.endObject()
        json.beginObject()
        json.key("t")
        json.time(Timestamp(seconds: 0))
        json.endObject()
        json.endArray()
        json.endObject()
        #expect(String(decoding: json.bytes, as: UTF8.self)
            == #"{"data":[{"host":"we\"b\n1","n":3,"t":null},{"t":"1970-01-01T00:00:00Z"}]}"#)
    }
}
