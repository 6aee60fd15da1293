/// What `/hosts/{host}/logs` asks for (docs/api.md): lines containing `filter` (bytes, case
/// sensitive, like `grep -F`), logged by program `program`, with a time at or after `since`,
/// at most `count` of them, newest first. Matching is pure; reading the store is the caller's.
public struct LogQuery: Sendable, Equatable {
    public static let defaultCount = 100
    public static let maxCount = 1000
    /// The longest `filter` and `file` accepted, in bytes.
    public static let maxTextBytes = 1024

    public var filter: [UInt8]?
    public var program: [UInt8]?
    public var since: Timestamp?
    public var count: Int

    public init(filter: [UInt8]? = nil, program: [UInt8]? = nil, since: Timestamp? = nil, count: Int = defaultCount) {
        self.filter = filter
        self.program = program
        self.since = since
        self.count = count
    }

    /// Reads `filter`, `file`, `since` and `count` from the query; an error names the bad one.
    public static func from(_ head: HTTPRequestHead) -> Result<LogQuery, HTTPRequestError> {
        var query = LogQuery()
        if let text = head.parameter("filter"), !text.isEmpty {
            guard text.utf8.count <= maxTextBytes else { return .failure(HTTPRequestError(400, "`filter` is longer than \(maxTextBytes) bytes")) }
            query.filter = Array(text.utf8)
        }
        if let text = head.parameter("file"), !text.isEmpty {
            guard text.utf8.count <= maxTextBytes else { return .failure(HTTPRequestError(400, "`file` is longer than \(maxTextBytes) bytes")) }
            query.program = Array(text.utf8)
        }
        if let text = head.parameter("since") {
            guard let since = APITime.parse(text) else {
                return .failure(HTTPRequestError(400, "`since` must be an RFC 3339 time (2026-12-03T10:00:00Z) or a day (2026-12-03)"))
            }
            query.since = since
        }
        switch APICount.parse(head.parameter("count"), default: defaultCount, max: maxCount) {
        case .success(let count): query.count = count
        case .failure(let error): return .failure(error)
        }
        return .success(query)
    }

    /// What one stored line says, when it passes: its time (the syslog header's, nil when it
    /// has none) and the range of its program name.
    public struct Match: Sendable, Equatable {
        public var time: Timestamp?
        public var program: Range<Int>
    }

    /// Whether `line` (one stored message) passes the query; nil when it does not.
    public func match(_ line: UnsafeRawBufferPointer, parser: SyslogParser, receivedAt: Timestamp) -> Match? {
        if let filter, !ByteScan.contains(line, filter) { return nil }
        let fields = parser.parse(line, receivedAt: receivedAt)
        if let program, !UnsafeRawBufferPointer(rebasing: line[fields.appName]).elementsEqual(program) { return nil }
        if let since, let time = fields.timestamp, time < since { return nil }
        return Match(time: fields.timestamp, program: fields.appName)
    }
}

/// Times in API queries: RFC 3339 (`2026-12-03T10:00:00Z`, `…+01:00`) or a UTC day (`2026-12-03`).
public enum APITime {
    public static func parse(_ text: String) -> Timestamp? {
        var bytes = Array(text.utf8)
        if bytes.count == 10 { return day(text).map { Timestamp(seconds: $0 * 86_400) } }
        return bytes.withUnsafeMutableBytes { raw in
            SyslogTimestamps.rfc3339(UnsafeRawBufferPointer(raw), 0, raw.count, defaultOffset: 0)
        }
    }

    /// The epoch day of `YYYY-MM-DD`, nil for anything else or an impossible date.
    public static func day(_ text: String) -> Int64? { CivilDateTime.epochDay(isoDate: text.utf8) }
}

/// The `count` parameter of API lists: a positive decimal, at most `max`.
public enum APICount {
    public static func parse(_ text: String?, default value: Int, max: Int) -> Result<Int, HTTPRequestError> {
        guard let text else { return .success(value) }
        guard !text.isEmpty, text.utf8.count <= 7, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let n = Int(text), n >= 1 else {
            return .failure(HTTPRequestError(400, "`count` must be a whole number from 1 to \(max)"))
        }
        return .success(min(n, max))
    }
}
