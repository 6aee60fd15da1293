/// One line of a followed file as the RFC 5424 message `vigil forward` sends (docs/forward.md):
/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - SD MSG`, without framing or newline.
///
/// A line that is itself a syslog line (auth.log, syslog: RFC 3164 `Mmm dd hh:mm:ss host
/// prog[pid]: msg` or rsyslog's RFC 3339 form) keeps its program as APP-NAME, its pid as PROCID, its
/// message as MSG and its time as TIMESTAMP, so the collector routes sshd lines exactly as if
/// rsyslog had forwarded them; PRI is the line's own `<PRI>`, else 86 (authpriv.info, where
/// rsyslog's auth.log comes from). Any other line is sent whole as MSG with the file's base name as
/// APP-NAME and PRI 13 (user.notice); an access-log line keeps its `[dd/Mon/yyyy:hh:mm:ss ±zone]`
/// time. Which of the two a file holds is decided by its first non-empty line (`fileIsSyslog`):
/// in a file that starts with a line that is not syslog (an access log, an application's log),
/// every line is sent whole, so text written into it that looks like an sshd line cannot become
/// one. HOSTNAME is the forwarder's. A message longer than `maxMessageBytes` (the collector's
/// default limit) has its MSG cut to fit and carries `[forward@32473 truncated="true"]`.
public struct ForwardMessage: Sendable {
    /// The collector's default largest message (README "Inputs", `max_message_bytes`).
    public static let defaultMaxMessageBytes = 65_536
    /// The structured-data element that flags a cut line (32473: RFC 5612's example enterprise number).
    public static let truncatedElement = "[forward@32473 truncated=\"true\"]"
    /// PRI of a line that is not syslog: user.notice.
    public static let plainPriority = 13
    /// PRI of a syslog line without a `<PRI>` of its own: authpriv.info.
    public static let syslogFilePriority = 86

    /// HOSTNAME, already sanitised.
    public let hostname: [UInt8]
    /// APP-NAME of lines that carry no program: the file's base name, sanitised.
    public let fileAppName: [UInt8]
    /// The longest message produced, header included.
    public let maxMessageBytes: Int
    /// Whether the file's lines are syslog lines, decided by its first line that holds more than
    /// blanks and NULs (nil before): a line of spaces, or the zeros a crash can leave at a
    /// file's end, decides nothing.
    public private(set) var fileIsSyslog: Bool?

    /// Messages from the file at `path` sent as `hostname`.
    public init(hostname: String, path: String, maxMessageBytes: Int = ForwardMessage.defaultMaxMessageBytes) {
        self.hostname = ForwardMessage.headerField(Array(hostname.utf8), maxBytes: 255)
        let base = path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
        fileAppName = ForwardMessage.headerField(Array(base.utf8), maxBytes: 48)
        self.maxMessageBytes = max(256, maxMessageBytes)
    }

    /// Appends the message for `line` (`truncated`: the reader already cut it). `now` is the time of
    /// a line that carries none and picks the year of an RFC 3164 time; `parser` reads zoneless
    /// times at the forwarder's offset; `memo` carries the date of the last RFC 3339 time.
    public mutating func append(line: UnsafeRawBufferPointer, truncated: Bool, now: Timestamp, parser: SyslogParser,
                                memo: inout TimestampMemo, to out: inout [UInt8]) {
        let fields = fileIsSyslog == false ? SyslogFields(format: .unparsed) : parser.parse(line, receivedAt: now, memo: &memo)
        if fileIsSyslog == nil && line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0 }) { fileIsSyslog = !fields.isParseError }
        let start = out.count
        var text = 0..<line.count
        if fields.isParseError {
            appendHeader(priority: ForwardMessage.plainPriority, time: AccessLogExtractor.extract(line)?.time ?? now,
                         app: nil, procID: 0..<0, line: line, to: &out)
        } else {
            let hasPRI = line.count > 0 && line[0] == UInt8(ascii: "<")
            appendHeader(priority: hasPRI ? Int(fields.priority) : ForwardMessage.syslogFilePriority,
                         time: fields.timestamp ?? now, app: fields.appName, procID: fields.procID, line: line, to: &out)
            text = fields.text
        }
        let header = out.count - start
        if truncated || header + 2 + text.count > maxMessageBytes {
            out.append(contentsOf: ForwardMessage.truncatedElement.utf8)
            let cut = max(0, maxMessageBytes - header - ForwardMessage.truncatedElement.utf8.count - 1)
            text = text.lowerBound..<min(text.upperBound, text.lowerBound + cut)
        } else {
            out.append(UInt8(ascii: "-"))
        }
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[text]))
    }

    /// `<PRI>1 TIMESTAMP HOSTNAME APP PROCID - ` (SD follows).
    private func appendHeader(priority: Int, time: Timestamp, app: Range<Int>?, procID: Range<Int>,
                              line: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "<"))
        appendDigits(priority, width: 1, to: &out)
        out.append(contentsOf: ">1 ".utf8)
        time.appendRFC3339(to: &out, fractionalDigits: 6)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: hostname)
        out.append(UInt8(ascii: " "))
        if let app, !app.isEmpty {
            out.append(contentsOf: ForwardMessage.headerField(UnsafeRawBufferPointer(rebasing: line[app]), maxBytes: 48))
        } else {
            out.append(contentsOf: fileAppName)
        }
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: ForwardMessage.headerField(UnsafeRawBufferPointer(rebasing: line[procID]), maxBytes: 128))
        out.append(contentsOf: " - ".utf8)
    }

    /// An RFC 5424 header field: printable US-ASCII (anything else becomes `_`), at most
    /// `maxBytes`, `-` when empty.
    static func headerField(_ bytes: some Collection<UInt8>, maxBytes: Int) -> [UInt8] {
        if bytes.isEmpty { return [UInt8(ascii: "-")] }
        return bytes.prefix(maxBytes).map { $0 > 32 && $0 < 127 ? $0 : UInt8(ascii: "_") }
    }
}
