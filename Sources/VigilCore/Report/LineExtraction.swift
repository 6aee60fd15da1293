/// What one line of an input reads as, before anything that depends on the lines before it
/// (the file's timeline, the connection tracker, detection, the report): the half of
/// `LogAnalysis.feed` that `vigil analyze --threads N` runs on several threads at once.
/// Eight bytes: what the line holds (a syslog header, an sshd line, a request, a summary) is
/// kept in the `LineChunk`'s array of its type, in line order, so an access-log request's
/// many ranges are not copied into every line's record.
struct ExtractedLine {
    enum Kind: UInt8 {
        /// Empty or only blanks: counted as a line, nothing else.
        case blank
        /// No format could be detected from it while the input had none yet: invalid.
        case undetected
        /// It does not read as its input's format: invalid.
        case invalid
        /// The header line of a CSV access log.
        case csvHeader
        /// A syslog line: a `SyslogHeader`, and `payload`.
        case syslog
        /// A bare sshd message of an auth.log (no syslog header): an `SSHLine`.
        case bareSSH
        /// A line of an access log: an `HTTPRequest`.
        case access
        /// A session summary line: a `SessionSummary`.
        case summary
    }

    /// What a syslog line's payload is (`Analyzer`'s routing).
    enum Payload: UInt8 {
        /// Nothing the analyzer knows.
        case none
        /// An sshd line: an `SSHLine`.
        case ssh
        /// An access-log request (nginx `access_log syslog:`): an `HTTPRequest`.
        case http
        /// A session summary: a `SessionSummary`.
        case summary
    }

    /// The syslog header fields the rest of the analysis reads.
    struct SyslogHeader {
        var timestamp: Timestamp?
        var timestampIsZoneless: Bool
        var hostname: Range<Int>
    }

    var kind: Kind
    var payload: Payload
    /// The line's length without its trailing blanks (ranges point into those bytes).
    var length: Int32
}

/// What a run of lines reads as: one `ExtractedLine` per line, and what the lines hold, each
/// type in its own array in line order.
struct ExtractedLines {
    var lines: [ExtractedLine] = []
    var headers: [ExtractedLine.SyslogHeader] = []
    var sshLines: [SSHLine] = []
    var requests: [HTTPRequest] = []
    var summaries: [SessionSummary] = []

    /// Appends `line` and its items, at `items` in `other`.
    mutating func append(_ line: ExtractedLine, items: LineChunk.Items, of other: ExtractedLines) {
        lines.append(line)
        switch line.kind {
        case .blank, .undetected, .invalid, .csvHeader: return
        case .syslog: headers.append(other.headers[items.header])
        case .bareSSH: sshLines.append(other.sshLines[items.ssh])
        case .access: requests.append(other.requests[items.request])
        case .summary: summaries.append(other.summaries[items.summary])
        }
        switch line.payload {
        case .none: break
        case .ssh: sshLines.append(other.sshLines[items.ssh])
        case .http: requests.append(other.requests[items.request])
        case .summary: summaries.append(other.summaries[items.summary])
        }
    }

    mutating func removeAll() {
        lines.removeAll(keepingCapacity: true)
        headers.removeAll(keepingCapacity: true)
        sshLines.removeAll(keepingCapacity: true)
        requests.removeAll(keepingCapacity: true)
        summaries.removeAll(keepingCapacity: true)
    }
}

/// Reads lines of one input into `ExtractedLines`: its format (given, or detected from its first
/// readable line), the header of a CSV access log, and a memo of the last syslog date. Only a
/// CSV input or one whose format is still undecided reads a line differently because of the
/// lines before it; otherwise a copy reads any run of lines just as the original would, which
/// is what lets `vigil analyze` give runs of lines to several threads.
public struct LineExtractor: Sendable {
    let parser: SyslogParser
    let ssh: SSHExtractor
    let referenceTime: Timestamp
    /// The input's format; nil until one line is readable (then detected from it).
    public private(set) var format: LogFormat?
    private var csv = CSVAccessLogReader()
    /// The date of the last syslog timestamp read (lines come in time order).
    private var timestampMemo = TimestampMemo()

    init(parser: SyslogParser, ssh: SSHExtractor, referenceTime: Timestamp, format: LogFormat?) {
        self.parser = parser; self.ssh = ssh; self.referenceTime = referenceTime; self.format = format
    }

    /// Whether a copy reads every further line as this extractor would (the format is known and
    /// not CSV, whose header changes how later lines read).
    public var readsLinesIndependently: Bool { format != nil && format != .csv }

    /// Reads `raw`, one line without its LF, onto the end of `out`.
    @inline(__always)
    mutating func extract(_ raw: UnsafeRawBufferPointer, into out: inout ExtractedLines) {
        var end = raw.count
        while end > 0 && (raw[end - 1] == UInt8(ascii: " ") || raw[end - 1] == UInt8(ascii: "\t")) { end -= 1 }
        let line = UnsafeRawBufferPointer(rebasing: raw[0..<end])
        var payload = ExtractedLine.Payload.none
        let kind: ExtractedLine.Kind
        if end == 0 {
            kind = .blank
        } else if let format = self.format ?? detect(line) {
            kind = read(line, as: format, into: &out, payload: &payload)
        } else {
            kind = .undetected
        }
        out.lines.append(ExtractedLine(kind: kind, payload: payload, length: Int32(end)))
    }

    /// The format `line` shows, which becomes the input's; nil when it shows none.
    private mutating func detect(_ line: UnsafeRawBufferPointer) -> LogFormat? {
        format = LogFormat.detect(line, parser: parser, ssh: ssh, referenceTime: referenceTime)
        return format
    }

    @inline(__always)
    private mutating func read(_ line: UnsafeRawBufferPointer, as format: LogFormat, into out: inout ExtractedLines,
                               payload: inout ExtractedLine.Payload) -> ExtractedLine.Kind {
        switch format {
        case .syslog, .auth:
            let fields = parser.parse(line, receivedAt: referenceTime, memo: &timestampMemo)
            if fields.isParseError {
                // An auth.log may hold bare sshd messages (journalctl -o cat, copied snippets).
                guard format == .auth, let found = ssh.extract(line, range: 0..<line.count, pid: 0) else { return .invalid }
                out.sshLines.append(found)
                return .bareSSH
            }
            out.headers.append(ExtractedLine.SyslogHeader(timestamp: fields.timestamp, timestampIsZoneless: fields.timestampIsZoneless,
                                                          hostname: fields.hostname))
            payload = Analyzer.route(line, text: fields.text, app: fields.appName, pid: Analyzer.pid(line, fields.procID), extractor: ssh,
                                     ssh: { out.sshLines.append($0); return .ssh },
                                     http: { out.requests.append($0); return .http },
                                     summary: { out.summaries.append($0); return .summary }, none: .none)
            return .syslog
        case .clf, .combined:
            guard let request = AccessLogExtractor.extract(line) else { return .invalid }
            out.requests.append(request)
            return .access
        case .csv:
            switch csv.read(line) {
            case .header: return .csvHeader
            case .request(let request):
                out.requests.append(request)
                return .access
            case .invalid: return .invalid
            }
        case .sessions:
            guard let summary = SessionSummaryExtractor.extract(line, range: 0..<line.count) else { return .invalid }
            out.summaries.append(summary)
            return .summary
        }
    }
}

/// A run of consecutive lines of one input, copied out of the reader's buffer, and what each
/// reads as once `extract(with:)` ran: the unit of `vigil analyze --threads N`, filled and
/// extracted by one thread and handed on to the thread that feeds the analysis in file order
/// (`LogAnalysis.feed(_:source:)`). Reused: `removeAll()` keeps its storage.
///
/// `@unchecked Sendable`: a mutable buffer that one thread at a time uses; the driver hands it
/// from thread to thread under a lock (VigilDaemon's `ParallelAnalysis`). Each step works on
/// local copies and stores them back once: the chunks' objects lie close together in memory,
/// and a thread storing into one of them for every line slowed the thread reading its neighbour
/// about twofold (the same cache lines going back and forth between the cores; perf, the
/// 1,000,000-line auth.log of `scripts/bench-analyze.sh` at `--threads 2`).
public final class LineChunk: @unchecked Sendable {
    /// The lines, each followed by an LF (a line never holds one: the reader split at them).
    private var bytes: [UInt8] = []
    /// Where each line ends in `bytes` (its LF's offset).
    private var lineEnds: [Int] = []
    /// What the lines read as, filled by `extract(with:)`.
    private var extracted = ExtractedLines()

    /// An empty chunk with room for `bytes` bytes of lines.
    public init(reservingBytes bytes: Int) {
        self.bytes.reserveCapacity(bytes)
    }

    public var isEmpty: Bool { lineEnds.isEmpty }
    /// Bytes of lines held, their LFs included.
    var byteCount: Int { bytes.count }

    /// Adds a copy of `line` (without its LF).
    func append(_ line: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: line)
        lineEnds.append(bytes.count)
        bytes.append(UInt8(ascii: "\n"))
    }

    /// Adds copies of the lines `nextLine` gives (without their LF) until it gives nil or the
    /// chunk holds `limit` bytes (at least one line is taken); true when `nextLine` gave nil.
    @discardableResult
    public func fill<E: Error>(upTo limit: Int, from nextLine: () throws(E) -> UnsafeRawBufferPointer?) throws(E) -> Bool {
        var bytes: [UInt8] = []
        var lineEnds: [Int] = []
        swap(&bytes, &self.bytes)
        swap(&lineEnds, &self.lineEnds)
        defer {
            swap(&bytes, &self.bytes)
            swap(&lineEnds, &self.lineEnds)
        }
        repeat {
            guard let line = try nextLine() else { return true }
            bytes.append(contentsOf: line)
            lineEnds.append(bytes.count)
            bytes.append(UInt8(ascii: "\n"))
        } while bytes.count < limit
        return false
    }

    /// Adds a copy of `line` (without its LF) and of what it read as: `record`, whose items
    /// are at `items` in `other` (a line of another chunk, already extracted).
    func append(_ line: UnsafeRawBufferPointer, _ record: ExtractedLine, _ items: Items, of other: ExtractedLines) {
        append(line)
        extracted.append(record, items: items, of: other)
    }

    /// Reads every line with `extractor` (for another thread's, a copy of the input's: see
    /// `LineExtractor.readsLinesIndependently`).
    public func extract(with extractor: inout LineExtractor) {
        var out = ExtractedLines()
        swap(&out, &extracted)
        out.removeAll()
        out.lines.reserveCapacity(lineEnds.count)
        let lineEnds = self.lineEnds
        bytes.withUnsafeBytes { all in
            var start = 0
            for end in lineEnds {
                extractor.extract(UnsafeRawBufferPointer(rebasing: all[start..<end]), into: &out)
                start = end + 1
            }
        }
        extracted = out
    }

    /// The time the first line claims once extracted: the one its input's timeline places it at
    /// (`LogAnalysis`; a syslog header's, a request's, a session summary's end); nil when it
    /// claims none (blank, invalid or undetected, a CSV header, a bare sshd line, a syslog
    /// header without a readable time).
    public var firstLineTime: Timestamp? {
        guard let line = extracted.lines.first else { return nil }
        // The first line's items are the first of each array (`Items` all zero).
        switch line.kind {
        case .blank, .undetected, .invalid, .csvHeader, .bareSSH: return nil
        case .syslog: return extracted.headers[0].timestamp
        case .access: return extracted.requests[0].time
        case .summary: return extracted.summaries[0].end
        }
    }

    /// Calls `body` with each line's bytes (trimmed as its extraction says) and extraction, in
    /// order, what the lines hold (`ExtractedLines`) and where this line's is: at `items`' index
    /// of its type.
    @inline(__always)
    func forEachLine(_ body: (UnsafeRawBufferPointer, ExtractedLine, ExtractedLines, Items) -> Void) {
        let extracted = self.extracted
        let lineEnds = self.lineEnds
        bytes.withUnsafeBytes { all in
            var start = 0
            var items = Items()
            for i in lineEnds.indices {
                let line = extracted.lines[i]
                body(UnsafeRawBufferPointer(rebasing: all[start..<(start + Int(line.length))]), line, extracted, items)
                items.pass(line)
                start = lineEnds[i] + 1
            }
        }
    }

    /// Where a line's items are in `ExtractedLines`' arrays: the number of items of each type
    /// the lines before it hold.
    struct Items {
        var header = 0, ssh = 0, request = 0, summary = 0

        /// Moves past the items of `line`.
        @inline(__always)
        mutating func pass(_ line: ExtractedLine) {
            switch line.kind {
            case .blank, .undetected, .invalid, .csvHeader: return
            case .syslog: header += 1
            case .bareSSH: ssh += 1
            case .access: request += 1
            case .summary: summary += 1
            }
            switch line.payload {
            case .none: break
            case .ssh: ssh += 1
            case .http: request += 1
            case .summary: summary += 1
            }
        }
    }

    /// Empties it for the next run of lines, keeping its storage.
    public func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        lineEnds.removeAll(keepingCapacity: true)
        extracted.removeAll()
    }
}
