/// One answer of the API, ready to be written: status, content type and body (docs/api.md).
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    /// Extra header lines, each without CR LF (`WWW-Authenticate: Bearer realm="vigil"`).
    public var extraHeaders: [String]

    public init(status: Int, contentType: String, body: [UInt8], extraHeaders: [String] = []) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.extraHeaders = extraHeaders
    }

    /// A JSON answer whose body is already encoded.
    public static func json(_ body: [UInt8], status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", body: body)
    }

    /// `{"error": "message"}` with `status`.
    public static func error(_ status: Int, _ message: String) -> HTTPResponse {
        var body: [UInt8] = Array(#"{"error":"#.utf8)
        JSON.appendString(message, to: &body)
        body.append(UInt8(ascii: "}"))
        return .json(body, status: status)
    }

    /// The status line, headers and body; `head` leaves the body out (HEAD requests).
    public func serialized(keepAlive: Bool, head: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160 + (head ? 0 : body.count))
        out.append(contentsOf: "HTTP/1.1 \(status) \(Self.reason(status))\r\n".utf8)
        out.append(contentsOf: "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n".utf8)
        out.append(contentsOf: "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n".utf8)
        out.append(contentsOf: (keepAlive ? "Connection: keep-alive\r\n" : "Connection: close\r\n").utf8)
        for header in extraHeaders { out.append(contentsOf: header.utf8); out.append(contentsOf: [0x0D, 0x0A]) }
        out.append(contentsOf: [0x0D, 0x0A])
        if !head { out.append(contentsOf: body) }
        return out
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return "Status"
        }
    }
}

/// Builds the `{"data": ...}` bodies of the API by hand (no Foundation), one object at a time.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// Whether the next member or element needs a comma before it.
    private var needsComma = false

    public init() {}

    /// `{"data":[…]}`, the API's list, with the elements `body` writes.
    public static func dataList(_ body: (inout JSONWriter) -> Void) -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.key("data")
        json.beginArray()
        body(&json)
        json.endArray()
        json.endObject()
        return json.bytes
    }

    public mutating func beginObject() { separate(); bytes.append(UInt8(ascii: "{")); needsComma = false }
    public mutating func endObject() { bytes.append(UInt8(ascii: "}")); needsComma = true }
    public mutating func beginArray() { separate(); bytes.append(UInt8(ascii: "[")); needsComma = false }
    public mutating func endArray() { bytes.append(UInt8(ascii: "]")); needsComma = true }

    /// A member name; the value written next is its value.
    public mutating func key(_ name: String) {
        separate()
        JSON.appendString(name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ s: String) { separate(); JSON.appendString(s, to: &bytes); needsComma = true }
    public mutating func string(bytes b: UnsafeRawBufferPointer) { separate(); JSON.appendString(bytes: b, to: &bytes); needsComma = true }
    public mutating func number(_ n: some BinaryInteger) { separate(); bytes.append(contentsOf: String(n).utf8); needsComma = true }
    public mutating func time(_ t: Timestamp?) {
        separate()
        if let t {
            bytes.append(UInt8(ascii: "\""))
            t.appendRFC3339(to: &bytes)
            bytes.append(UInt8(ascii: "\""))
        } else {
            bytes.append(contentsOf: "null".utf8)
        }
        needsComma = true
    }
    /// An already encoded JSON value (an alert's object).
    public mutating func raw(_ json: [UInt8]) { separate(); bytes.append(contentsOf: json); needsComma = true }

    public mutating func member(_ name: String, _ value: some BinaryInteger) { key(name); number(value) }
    public mutating func member(_ name: String, _ value: String) { key(name); string(value) }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }
}
