/// The bytes of the HTTP/1.1 POST a webhook or Alertmanager sink sends, and the parsing of the
/// response it reads back (status line, the headers that frame the body, chunked bodies).
public enum HTTPClientRequest {
    /// Appends a keep-alive `POST` head for a JSON body of `contentLength` bytes.
    /// `hostHeader` is `HOST:PORT` as the sink URL gave it.
    public static func appendPostHead(path: String, hostHeader: String, contentLength: Int, to out: inout [UInt8]) {
        out.append(contentsOf: "POST ".utf8)
        out.append(contentsOf: path.utf8)
        out.append(contentsOf: " HTTP/1.1\r\nHost: ".utf8)
        out.append(contentsOf: hostHeader.utf8)
        out.append(contentsOf: "\r\nUser-Agent: vigil\r\nContent-Type: application/json\r\nContent-Length: ".utf8)
        appendDigits(contentLength, width: 1, to: &out)
        out.append(contentsOf: "\r\nConnection: keep-alive\r\n\r\n".utf8)
    }
}

/// What a sink does with an HTTP status (docs/sinks.md): 2xx delivered; 408, 429 and 5xx retried later;
/// any other status (4xx, and 1xx/3xx, which a POST client does not follow) logged and dropped.
public enum HTTPDeliveryVerdict: Sendable, Equatable {
    case delivered, retry, reject

    /// The verdict for a final status code.
    public init(status: Int) {
        switch status {
        case 200...299: self = .delivered
        case 408, 429, 500...599: self = .retry
        default: self = .reject
        }
    }
}

/// The head of an HTTP/1.x response: what the client needs to find the end of the body and to
/// know whether the connection stays open.
public struct HTTPResponseHead: Sendable, Equatable {
    /// How the body's end is found.
    public enum BodyLength: Sendable, Equatable {
        /// No body (1xx, 204, 304).
        case none
        /// `Content-Length: N`.
        case fixed(Int)
        /// `Transfer-Encoding: chunked`.
        case chunked
        /// Neither: the body ends when the server closes the connection.
        case untilClose
    }

    /// The status code.
    public var status: Int
    /// Bytes of the head, including the blank line that ends it.
    public var headBytes: Int
    /// How the body is delimited.
    public var body: BodyLength
    /// Whether the connection may carry the next request (HTTP/1.1 without `Connection: close`,
    /// or HTTP/1.0 with `Connection: keep-alive`), and the body is not delimited by closing.
    public var keepAlive: Bool

    /// The result of parsing bytes received so far.
    public enum Parse: Sendable, Equatable {
        /// The blank line has not arrived yet.
        case incomplete
        /// A complete head.
        case complete(HTTPResponseHead)
        /// Not an HTTP/1.x response (the reason, for the log).
        case invalid(String)
    }

    /// Parses the head at the start of `bytes`; heads longer than `maxHeadBytes` are invalid.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxHeadBytes: Int = 16 * 1024) -> Parse {
        guard let end = findHeadEnd(bytes) else {
            return bytes.count > maxHeadBytes ? .invalid("response head over \(maxHeadBytes) bytes") : .incomplete
        }
        // Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF
        let prefix = Array("HTTP/1.".utf8)
        guard end >= 12, bytes.starts(with: prefix), bytes[8] == UInt8(ascii: " ") else {
            return .invalid("not an HTTP/1.x status line")
        }
        let minor = bytes[7]
        var status = 0
        for i in 9..<12 {
            let d = bytes[i]
            guard d >= UInt8(ascii: "0") && d <= UInt8(ascii: "9") else { return .invalid("bad status code") }
            status = status * 10 + Int(d - UInt8(ascii: "0"))
        }
        guard status >= 100 else { return .invalid("bad status code") }
        var contentLength: Int?
        var chunked = false
        var close = minor == UInt8(ascii: "0")
        var line = lineEnd(bytes, from: 0) + 2
        while line < end - 2 {
            let stop = lineEnd(bytes, from: line)
            if let colon = (line..<stop).first(where: { bytes[$0] == UInt8(ascii: ":") }) {
                let value = trimmed(bytes, colon + 1, stop)
                if nameEquals(bytes, line, colon, "content-length") {
                    var n = 0
                    guard !value.isEmpty, value.count <= 15 else { return .invalid("bad Content-Length") }
                    for i in value {
                        let d = bytes[i]
                        guard d >= UInt8(ascii: "0") && d <= UInt8(ascii: "9") else { return .invalid("bad Content-Length") }
                        n = n * 10 + Int(d - UInt8(ascii: "0"))
                    }
                    contentLength = n
                } else if nameEquals(bytes, line, colon, "transfer-encoding") {
                    chunked = containsToken(bytes, value, "chunked")
                } else if nameEquals(bytes, line, colon, "connection") {
                    if containsToken(bytes, value, "close") { close = true }
                    if containsToken(bytes, value, "keep-alive") { close = false }
                }
            }
            line = stop + 2
        }
        let body: BodyLength
        if status < 200 || status == 204 || status == 304 {
            body = .none
        } else if chunked {
            body = .chunked
        } else if let contentLength {
            body = .fixed(contentLength)
        } else {
            body = .untilClose
        }
        return .complete(HTTPResponseHead(status: status, headBytes: end, body: body,
                                          keepAlive: !close && body != .untilClose))
    }

    /// The offset just past `\r\n\r\n`, or nil.
    private static func findHeadEnd(_ b: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        while i + 3 < b.count {
            if b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i + 4 }
            i += 1
        }
        return nil
    }

    /// The offset of the `\r\n` ending the line that starts at `from`.
    private static func lineEnd(_ b: UnsafeRawBufferPointer, from: Int) -> Int {
        var i = from
        while i + 1 < b.count && !(b[i] == 13 && b[i + 1] == 10) { i += 1 }
        return i
    }

    private static func trimmed(_ b: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Range<Int> {
        var s = start, e = end
        while s < e && (b[s] == 32 || b[s] == 9) { s += 1 }
        while e > s && (b[e - 1] == 32 || b[e - 1] == 9) { e -= 1 }
        return s..<e
    }

    private static func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c + 32 : c }

    private static func nameEquals(_ b: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ name: StaticString) -> Bool {
        let r = trimmed(b, start, end)
        guard r.count == name.utf8CodeUnitCount else { return false }
        for (k, i) in r.enumerated() where lower(b[i]) != name.utf8Start[k] { return false }
        return true
    }

    /// Whether a comma-separated header value holds `token` (case-insensitive).
    private static func containsToken(_ b: UnsafeRawBufferPointer, _ value: Range<Int>, _ token: StaticString) -> Bool {
        var start = value.lowerBound
        while start <= value.upperBound {
            var stop = start
            while stop < value.upperBound && b[stop] != UInt8(ascii: ",") { stop += 1 }
            if nameEquals(b, start, stop, token) { return true }
            start = stop + 1
        }
        return false
    }
}

/// Finds the end of a `Transfer-Encoding: chunked` body (size lines in hex, optional extensions,
/// the terminating zero-size chunk and its trailer section).
public enum ChunkedBody {
    /// The result of scanning bytes received so far.
    public enum Scan: Sendable, Equatable {
        /// More bytes are needed.
        case incomplete
        /// The body (with trailers) ends after this many bytes.
        case complete(Int)
        /// Malformed chunk framing.
        case invalid
    }

    /// Scans a chunked body starting at offset 0 of `bytes`.
    public static func scan(_ b: UnsafeRawBufferPointer) -> Scan {
        var i = 0
        while true {
            // Size line: HEX [;ext] CRLF
            var size = 0
            var digits = 0
            while i < b.count, let v = hexValue(b[i]) {
                guard digits < 15 else { return .invalid }
                size = size * 16 + v
                digits += 1
                i += 1
            }
            if i >= b.count { return .incomplete }
            guard digits > 0 else { return .invalid }
            while i + 1 < b.count && !(b[i] == 13 && b[i + 1] == 10) { i += 1 }
            if i + 1 >= b.count { return .incomplete }
            i += 2
            if size == 0 {
                // Trailer fields, each ending in CRLF, then an empty line.
                while true {
                    if i + 1 >= b.count { return .incomplete }
                    if b[i] == 13 && b[i + 1] == 10 { return .complete(i + 2) }
                    while i + 1 < b.count && !(b[i] == 13 && b[i + 1] == 10) { i += 1 }
                    if i + 1 >= b.count { return .incomplete }
                    i += 2
                }
            }
            if i + size + 2 > b.count { return .incomplete }
            guard b[i + size] == 13 && b[i + size + 1] == 10 else { return .invalid }
            i += size + 2
        }
    }

    private static func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(c - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(c - UInt8(ascii: "A")) + 10
        default: return nil
        }
    }
}
