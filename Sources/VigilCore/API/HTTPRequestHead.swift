/// The head of one HTTP/1.1 request to the API (docs/api.md): method, path, query and the few
/// headers the API reads. Parsed in place from the bytes a connection has read; no I/O.
public struct HTTPRequestHead: Sendable, Equatable {
    public var method: String
    /// The percent-decoded path segments: `/hosts/web1/logs` → `["hosts", "web1", "logs"]`.
    public var segments: [String]
    /// The percent-decoded query parameters in order (`+` is a space).
    public var query: [(name: String, value: String)]
    /// The `Authorization` header's value, if any.
    public var authorization: String?
    /// Whether the connection stays open after the answer (HTTP/1.1 unless `Connection: close`;
    /// HTTP/1.0 only with `Connection: keep-alive`).
    public var keepAlive: Bool

    public func parameter(_ name: String) -> String? { query.first { $0.name == name }?.value }

    public static func == (a: HTTPRequestHead, b: HTTPRequestHead) -> Bool {
        a.method == b.method && a.segments == b.segments && a.authorization == b.authorization && a.keepAlive == b.keepAlive
            && a.query.map(\.name) == b.query.map(\.name) && a.query.map(\.value) == b.query.map(\.value)
    }
}

/// Limits on what a client may send before vigil refuses the request.
public struct HTTPRequestLimits: Sendable {
    /// The request line (`GET /path?query HTTP/1.1`), in bytes.
    public var maxRequestLine = 8 * 1024
    /// The whole head (request line and headers), in bytes.
    public var maxHead = 16 * 1024
    public var maxHeaders = 64
    /// The query string, in bytes (before decoding).
    public var maxQuery = 4 * 1024
    public init() {}
}

/// Why a request was refused, with the status to answer.
public struct HTTPRequestError: Error, Sendable, Equatable {
    public var status: Int
    public var message: String
    public init(_ status: Int, _ message: String) { self.status = status; self.message = message }
}

/// Finds and parses a request head at the start of a connection's buffer.
public enum HTTPRequestParser {
    /// What the bytes read so far hold.
    public enum Outcome: Sendable, Equatable {
        /// No complete head yet, and nothing over a limit: read more.
        case incomplete
        /// A head of `length` bytes (through the blank line).
        case head(HTTPRequestHead, length: Int)
        /// A request to refuse; the connection is closed after the answer.
        case refused(HTTPRequestError)
    }

    public static func parse(_ buffer: UnsafeRawBufferPointer, limits: HTTPRequestLimits = HTTPRequestLimits()) -> Outcome {
        guard let lineEnd = find(crlf: buffer, from: 0, limit: limits.maxRequestLine + 2) else {
            return buffer.count > limits.maxRequestLine + 1 ? .refused(HTTPRequestError(414, "request line too long")) : .incomplete
        }
        // The head ends at the first empty line.
        var headers: [Range<Int>] = []
        var start = lineEnd + 2
        while true {
            guard let end = find(crlf: buffer, from: start, limit: limits.maxHead + 2 - start) else {
                return buffer.count >= limits.maxHead ? .refused(HTTPRequestError(431, "request headers too large")) : .incomplete
            }
            if end == start { break }
            headers.append(start..<end)
            if headers.count > limits.maxHeaders { return .refused(HTTPRequestError(431, "too many request headers")) }
            start = end + 2
        }
        let length = start + 2
        if length > limits.maxHead { return .refused(HTTPRequestError(431, "request headers too large")) }
        switch head(buffer, line: 0..<lineEnd, headers: headers, limits: limits) {
        case .success(let head): return .head(head, length: length)
        case .failure(let error): return .refused(error)
        }
    }

    /// The index of the next CR LF at or after `from`, looking at no more than `limit` bytes.
    private static func find(crlf b: UnsafeRawBufferPointer, from: Int, limit: Int) -> Int? {
        let end = min(b.count, from + max(0, limit))
        var i = from
        while i + 1 < end {
            if b[i] == 0x0D && b[i + 1] == 0x0A { return i }
            i += 1
        }
        return nil
    }

    private static func head(_ b: UnsafeRawBufferPointer, line: Range<Int>, headers: [Range<Int>],
                             limits: HTTPRequestLimits) -> Result<HTTPRequestHead, HTTPRequestError> {
        // METHOD SP TARGET SP HTTP/1.x
        guard let sp1 = (line.lowerBound..<line.upperBound).first(where: { b[$0] == 0x20 }),
              let sp2 = ((sp1 + 1)..<line.upperBound).first(where: { b[$0] == 0x20 }) else {
            return .failure(HTTPRequestError(400, "malformed request line"))
        }
        let method = text(b, line.lowerBound..<sp1)
        let version = text(b, (sp2 + 1)..<line.upperBound)
        guard !method.isEmpty, method.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            return .failure(HTTPRequestError(400, "malformed request line"))
        }
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            return .failure(HTTPRequestError(505, "only HTTP/1.0 and HTTP/1.1 are served"))
        }
        let target = (sp1 + 1)..<sp2
        guard target.count > 0, b[target.lowerBound] == UInt8(ascii: "/") else {
            return .failure(HTTPRequestError(400, "the request target must be a path"))
        }
        let question = target.first { b[$0] == UInt8(ascii: "?") }
        let pathRange = target.lowerBound..<(question ?? target.upperBound)
        let queryRange = question.map { ($0 + 1)..<target.upperBound } ?? target.upperBound..<target.upperBound
        if queryRange.count > limits.maxQuery { return .failure(HTTPRequestError(414, "query too long")) }

        var segments: [String] = []
        var segmentStart = pathRange.lowerBound + 1
        for i in (pathRange.lowerBound + 1)...pathRange.upperBound where i == pathRange.upperBound || b[i] == UInt8(ascii: "/") {
            if i > segmentStart {
                guard let segment = decode(b, segmentStart..<i, plusIsSpace: false) else {
                    return .failure(HTTPRequestError(400, "malformed percent-encoding in the path"))
                }
                segments.append(segment)
            }
            segmentStart = i + 1
        }
        var query: [(name: String, value: String)] = []
        var pairStart = queryRange.lowerBound
        for i in queryRange.lowerBound...queryRange.upperBound where i == queryRange.upperBound || b[i] == UInt8(ascii: "&") {
            if i > pairStart {
                let equals = (pairStart..<i).first { b[$0] == UInt8(ascii: "=") }
                guard let name = decode(b, pairStart..<(equals ?? i), plusIsSpace: true),
                      let value = decode(b, equals.map { ($0 + 1)..<i } ?? i..<i, plusIsSpace: true) else {
                    return .failure(HTTPRequestError(400, "malformed percent-encoding in the query"))
                }
                query.append((name, value))
            }
            pairStart = i + 1
        }

        var authorization: String?
        var connection = ""
        for header in headers {
            guard let colon = header.first(where: { b[$0] == UInt8(ascii: ":") }), colon > header.lowerBound else {
                return .failure(HTTPRequestError(400, "malformed header line"))
            }
            let name = text(b, header.lowerBound..<colon).lowercased()
            let value = trimmed(b, (colon + 1)..<header.upperBound)
            switch name {
            case "authorization": authorization = text(b, value)
            case "connection": connection = text(b, value).lowercased()
            case "content-length" where text(b, value) != "0":
                return .failure(HTTPRequestError(413, "the API takes no request body"))
            case "transfer-encoding":
                return .failure(HTTPRequestError(413, "the API takes no request body"))
            default: break
            }
        }
        let keepAlive = version == "HTTP/1.1" ? connection != "close" : connection == "keep-alive"
        return .success(HTTPRequestHead(method: method, segments: segments, query: query,
                                        authorization: authorization, keepAlive: keepAlive))
    }

    private static func text(_ b: UnsafeRawBufferPointer, _ r: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: b[r]), as: UTF8.self)
    }

    private static func trimmed(_ b: UnsafeRawBufferPointer, _ r: Range<Int>) -> Range<Int> {
        var lo = r.lowerBound, hi = r.upperBound
        while lo < hi, b[lo] == 0x20 || b[lo] == 0x09 { lo += 1 }
        while hi > lo, b[hi - 1] == 0x20 || b[hi - 1] == 0x09 { hi -= 1 }
        return lo..<hi
    }

    /// Percent-decodes `r`; nil on a malformed escape. Bytes that are not UTF-8 become U+FFFD,
    /// so a decoded name that differs from what reaches the file system is refused later.
    private static func decode(_ b: UnsafeRawBufferPointer, _ r: Range<Int>, plusIsSpace: Bool) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(r.count)
        var i = r.lowerBound
        while i < r.upperBound {
            let c = b[i]
            if c == UInt8(ascii: "%") {
                guard i + 2 < r.upperBound, let hi = hex(b[i + 1]), let lo = hex(b[i + 2]) else { return nil }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(plusIsSpace && c == UInt8(ascii: "+") ? 0x20 : c)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
