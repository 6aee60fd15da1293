/// Reads HTTP access-log lines in Common and Combined Log Format, as nginx and
/// Apache write them to a file or send them over syslog (the text after `nginx: `):
///
///     host ident authuser [dd/Mon/yyyy:hh:mm:ss +zzzz] "request" status bytes ["referer" "user agent"]
///
/// Quoted fields may contain `\"` (Apache) and `\x22` (nginx) escapes; ranges keep
/// the text as written. A malformed request line (`"-"`, garbage from `nc`) still
/// gives a request with `request` set and empty method, path and section.
public enum AccessLogExtractor {
    /// The request the whole of `text` records, or nil when it is not a CLF/Combined line.
    public static func extract(_ text: UnsafeRawBufferPointer) -> HTTPRequest? {
        extract(text, range: 0..<text.count)
    }

    /// The request `buffer[range]` records; ranges in the result are offsets into `buffer`.
    public static func extract(_ buffer: UnsafeRawBufferPointer, range: Range<Int>) -> HTTPRequest? {
        let b = buffer
        let r = ByteScan.trimmed(b, max(0, range.lowerBound), min(b.count, range.upperBound))
        let lo = r.lowerBound, hi = r.upperBound
        guard let sp1 = ByteScan.index(of: ByteScan.space, b, lo, hi), sp1 > lo,
              let sp2 = ByteScan.index(of: ByteScan.space, b, sp1 + 1, hi), sp2 > sp1 + 1 else { return nil }
        var req = HTTPRequest(clientIP: ByteScan.address(b, lo, sp1), client: lo..<sp1)

        // The user name may contain spaces and `[`: the date is the first `[…]` that reads as
        // one, else the first short `[…]` (time unreadable). `]` is looked for only as far as a
        // date reaches, so a line full of ` [` costs linear time.
        var open = -1, close = -1
        var k = sp2
        while let bracket = ByteScan.find(b, k, hi, " [") {
            if let end = ByteScan.index(of: UInt8(ascii: "]"), b, bracket + 2, min(hi, bracket + 29)) {
                if open < 0 { open = bracket; close = end }
                if let t = clfTime(b, bracket + 2, end) { open = bracket; close = end; req.time = t; break }
            }
            k = bracket + 2
        }
        guard open >= 0 else { return nil }
        req.user = (sp2 + 1)..<max(sp2 + 1, open)

        // "request"
        var i = close + 1
        guard ByteScan.has(b, i, hi, " \""), let q = quoted(b, i + 1, hi) else { return nil }
        req.request = q.inner
        requestLine(b, q.inner, into: &req)
        i = q.next

        // status bytes
        guard i < hi, b[i] == ByteScan.space else { return nil }
        let sEnd = ByteScan.index(of: ByteScan.space, b, i + 1, hi) ?? hi
        guard let status = ByteScan.decimal(b, i + 1, sEnd), status <= 999 else { return nil }
        req.status = UInt16(status)
        i = sEnd
        if i < hi {
            let bEnd = ByteScan.index(of: ByteScan.space, b, i + 1, hi) ?? hi
            if bEnd == i + 2 && b[i + 1] == UInt8(ascii: "-") {
                req.bytes = 0
            } else {
                guard let bytes = ByteScan.decimal(b, i + 1, bEnd) else { return nil }
                req.bytes = bytes
            }
            i = bEnd
        }

        // Combined: "referer" "user agent"; anything after them (custom formats) is ignored.
        if ByteScan.has(b, i, hi, " \""), let ref = quoted(b, i + 1, hi) {
            req.referer = ref.inner
            if ByteScan.has(b, ref.next, hi, " \""), let ua = quoted(b, ref.next + 1, hi) { req.userAgent = ua.inner }
        }
        return req
    }

    /// Splits `METHOD SP TARGET [SP PROTOCOL]` and sets method, path, proto and section.
    static func requestLine(_ b: UnsafeRawBufferPointer, _ r: Range<Int>, into req: inout HTTPRequest) {
        let lo = r.lowerBound, hi = r.upperBound
        guard let sp = ByteScan.index(of: ByteScan.space, b, lo, hi), sp > lo else { return }
        var pathEnd = hi
        if let last = ByteScan.lastIndex(of: ByteScan.space, b, sp + 1, hi), ByteScan.has(b, last + 1, hi, "HTTP/") {
            req.proto = (last + 1)..<hi
            pathEnd = last
        }
        req.method = lo..<sp
        req.path = (sp + 1)..<pathEnd
        req.section = section(b, req.path)
    }

    /// The path up to its second `/`, query and fragment excluded (`/pages/create` →
    /// `/pages`, `/` → `/`, `/a?x=/b` → `/a`). An absolute URL's path is used;
    /// any other target (`*`, garbage) has an empty section.
    public static func section(_ b: UnsafeRawBufferPointer, _ path: Range<Int>) -> Range<Int> {
        var lo = path.lowerBound
        let hi = path.upperBound
        if lo >= hi { return lo..<lo }
        if b[lo] != UInt8(ascii: "/") {
            guard let scheme = ByteScan.find(b, lo, hi, "://"),
                  let slash = ByteScan.index(of: UInt8(ascii: "/"), b, scheme + 3, hi) else { return lo..<lo }
            lo = slash
        }
        var end = lo + 1
        while end < hi {
            let c = b[end]
            if c == UInt8(ascii: "/") || c == UInt8(ascii: "?") || c == UInt8(ascii: "#") { break }
            end += 1
        }
        return lo..<end
    }

    /// A double-quoted field starting at `at`, honouring backslash escapes: the range
    /// inside the quotes and the offset after the closing quote.
    private static func quoted(_ b: UnsafeRawBufferPointer, _ at: Int, _ hi: Int) -> (inner: Range<Int>, next: Int)? {
        guard at < hi, b[at] == UInt8(ascii: "\"") else { return nil }
        var j = at + 1
        while j < hi {
            let c = b[j]
            if c == UInt8(ascii: "\\") { j += 2; continue }
            if c == UInt8(ascii: "\"") { return ((at + 1)..<j, j + 1) }
            j += 1
        }
        return nil
    }

    /// `dd/Mon/yyyy:hh:mm:ss ±hhmm` filling `lo..<hi`.
    static func clfTime(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int) -> Timestamp? {
        guard hi - lo == 26, let d = ByteScan.fixedDigits(b, lo, 2, hi), b[lo + 2] == UInt8(ascii: "/"),
              let mon = month(b, lo + 3), b[lo + 6] == UInt8(ascii: "/"),
              let y = ByteScan.fixedDigits(b, lo + 7, 4, hi), b[lo + 11] == UInt8(ascii: ":"),
              let hh = ByteScan.fixedDigits(b, lo + 12, 2, hi), b[lo + 14] == UInt8(ascii: ":"),
              let mm = ByteScan.fixedDigits(b, lo + 15, 2, hi), b[lo + 17] == UInt8(ascii: ":"),
              let ss = ByteScan.fixedDigits(b, lo + 18, 2, hi), b[lo + 20] == ByteScan.space,
              b[lo + 21] == UInt8(ascii: "+") || b[lo + 21] == UInt8(ascii: "-"),
              let oh = ByteScan.fixedDigits(b, lo + 22, 2, hi), let om = ByteScan.fixedDigits(b, lo + 24, 2, hi),
              oh < 24, om < 60 else { return nil }
        let c = CivilDateTime(year: y, month: mon, day: d, hour: hh, minute: mm, second: ss)
        guard c.isValid else { return nil }
        let offset = (oh * 3600 + om * 60) * (b[lo + 21] == UInt8(ascii: "-") ? -1 : 1)
        return c.timestamp(utcOffsetSeconds: offset)
    }

    /// The month number of an English three-letter abbreviation at `at`.
    private static func month(_ b: UnsafeRawBufferPointer, _ at: Int) -> Int? {
        let key = UInt32(b[at]) << 16 | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2])
        switch key {
        case 0x4A616E: return 1   // Jan
        case 0x466562: return 2   // Feb
        case 0x4D6172: return 3   // Mar
        case 0x417072: return 4   // Apr
        case 0x4D6179: return 5   // May
        case 0x4A756E: return 6   // Jun
        case 0x4A756C: return 7   // Jul
        case 0x417567: return 8   // Aug
        case 0x536570: return 9   // Sep
        case 0x4F6374: return 10  // Oct
        case 0x4E6F76: return 11  // Nov
        case 0x446563: return 12  // Dec
        default: return nil
        }
    }
}

/// Reads the CSV access-log form, one line at a time:
///
///     "remotehost","rfc931","authuser","date","request","status","bytes"
///     "10.0.0.2","-","apache",1549573860,"GET /api/user HTTP/1.0",200,1234
///
/// The header line is recognised and skipped, and its column order is honoured
/// for the lines after it. `date` is in Unix seconds. Fields may be quoted
/// (`""` inside quotes is a literal quote, kept as written in the ranges).
public struct CSVAccessLogReader: Sendable {
    /// What one CSV line was.
    public enum Line: Sendable, Equatable {
        /// The header (its column order is now in use).
        case header
        case request(HTTPRequest)
        /// Neither a header nor a readable request.
        case invalid
    }

    /// Column index of each known field; -1 when the header lacks it.
    private var remotehost = 0, rfc931 = 1, authuser = 2, date = 3, request = 4, status = 5, bytes = 6

    public init() {}

    /// Reads the whole of `text` as one CSV line.
    public mutating func read(_ text: UnsafeRawBufferPointer) -> Line {
        read(text, range: 0..<text.count)
    }

    /// Reads `buffer[range]` as one CSV line; ranges in a request are offsets into `buffer`.
    public mutating func read(_ buffer: UnsafeRawBufferPointer, range: Range<Int>) -> Line {
        let b = buffer
        let r = ByteScan.trimmed(b, max(0, range.lowerBound), min(b.count, range.upperBound))
        if r.isEmpty { return .invalid }
        if let first = Self.field(b, r.lowerBound, r.upperBound), Self.column(b, first.inner) != nil {
            return readHeader(b, r)
        }
        var req = HTTPRequest()
        var sawDate = false, sawStatus = false, sawRequest = false
        var index = 0
        var at = r.lowerBound
        while let f = Self.field(b, at, r.upperBound) {
            let v = f.inner
            switch index {
            case remotehost:
                req.client = v
                req.clientIP = ByteScan.address(b, v.lowerBound, v.upperBound)
            case authuser:
                req.user = v
            case date:
                guard let s = ByteScan.decimal(b, v.lowerBound, v.upperBound) else { return .invalid }
                req.time = Timestamp(seconds: s)
                sawDate = true
            case request:
                req.request = v
                AccessLogExtractor.requestLine(b, v, into: &req)
                sawRequest = true
            case status:
                guard let s = ByteScan.decimal(b, v.lowerBound, v.upperBound), s <= 999 else { return .invalid }
                req.status = UInt16(s)
                sawStatus = true
            case bytes:
                if !(v.count == 1 && b[v.lowerBound] == UInt8(ascii: "-")) {
                    guard let n = ByteScan.decimal(b, v.lowerBound, v.upperBound) else { return .invalid }
                    req.bytes = n
                }
            default:
                break  // rfc931 and unknown columns
            }
            index += 1
            guard let next = f.next else { break }
            at = next
        }
        return sawDate && sawStatus && sawRequest ? .request(req) : .invalid
    }

    private mutating func readHeader(_ b: UnsafeRawBufferPointer, _ r: Range<Int>) -> Line {
        var cols = CSVAccessLogReader()
        cols.remotehost = -1; cols.rfc931 = -1; cols.authuser = -1; cols.date = -1
        cols.request = -1; cols.status = -1; cols.bytes = -1
        var index = 0
        var at = r.lowerBound
        while let f = Self.field(b, at, r.upperBound) {
            switch Self.column(b, f.inner) {
            case .some(0): cols.remotehost = index
            case .some(1): cols.rfc931 = index
            case .some(2): cols.authuser = index
            case .some(3): cols.date = index
            case .some(4): cols.request = index
            case .some(5): cols.status = index
            case .some(6): cols.bytes = index
            default: break
            }
            index += 1
            guard let next = f.next else { break }
            at = next
        }
        guard cols.date >= 0, cols.request >= 0, cols.status >= 0 else { return .invalid }
        self = cols
        return .header
    }

    /// Which known column a header name is (0 remotehost … 6 bytes).
    private static func column(_ b: UnsafeRawBufferPointer, _ v: Range<Int>) -> Int? {
        let lo = v.lowerBound, hi = v.upperBound
        func named(_ s: StaticString) -> Bool { hi - lo == s.utf8CodeUnitCount && ByteScan.has(b, lo, hi, s) }
        if named("remotehost") { return 0 }
        if named("rfc931") { return 1 }
        if named("authuser") { return 2 }
        if named("date") { return 3 }
        if named("request") { return 4 }
        if named("status") { return 5 }
        if named("bytes") { return 6 }
        return nil
    }

    /// One field starting at `at`: its value (inside the quotes when quoted) and where
    /// the next field starts (nil at the end of the line).
    private static func field(_ b: UnsafeRawBufferPointer, _ at: Int, _ hi: Int) -> (inner: Range<Int>, next: Int?)? {
        if at > hi { return nil }
        if at < hi && b[at] == UInt8(ascii: "\"") {
            var j = at + 1
            while j < hi {
                if b[j] == UInt8(ascii: "\"") {
                    if j + 1 < hi && b[j + 1] == UInt8(ascii: "\"") { j += 2; continue }
                    break
                }
                j += 1
            }
            guard j < hi else { return nil }  // unterminated quote
            let after = j + 1
            if after == hi { return ((at + 1)..<j, nil) }
            guard b[after] == UInt8(ascii: ",") else { return nil }
            return ((at + 1)..<j, after + 1)
        }
        let comma = ByteScan.index(of: UInt8(ascii: ","), b, at, hi)
        return (at..<(comma ?? hi), comma.map { $0 + 1 })
    }
}
