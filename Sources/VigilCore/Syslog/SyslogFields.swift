/// Which syslog dialect a frame was read as.
public enum SyslogFormat: UInt8, Sendable {
    /// RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`).
    case rfc5424
    /// RFC 3164 and its real-world variants (`<PRI>Mmm dd hh:mm:ss host tag[pid]: msg`).
    case rfc3164
    /// Not valid syslog: kept whole as text, with the sender as host.
    case unparsed
}

/// The fields of one syslog frame, as byte ranges into that frame.
///
/// Produced by `SyslogParser` without allocating: every textual field is a
/// `Range<Int>` of offsets into the frame the parser was given (0-based). An
/// absent field, or the NILVALUE `-`, is an empty range.
public struct SyslogFields: Sendable, Equatable {
    public var format: SyslogFormat
    /// facility * 8 + severity; 13 (user.notice) when the frame has no PRI.
    public var priority: UInt8
    /// The frame's own time; nil when absent, NILVALUE or unreadable.
    public var timestamp: Timestamp?
    /// `timestamp` carried no zone (an RFC 3164 `Mmm dd hh:mm:ss`) and was read at the
    /// configured offset: the sender may be in another zone.
    public var timestampIsZoneless: Bool
    public var hostname: Range<Int>
    public var appName: Range<Int>
    public var procID: Range<Int>
    public var msgID: Range<Int>
    /// The whole STRUCTURED-DATA element list including brackets; empty for NILVALUE.
    public var structuredData: Range<Int>
    /// The message text, after a UTF-8 BOM if there was one, without trailing CR/LF/NUL.
    public var text: Range<Int>
    /// The text began with a UTF-8 BOM (which `text` skips).
    public var hadBOM: Bool

    public var facility: UInt8 { priority >> 3 }
    public var severity: UInt8 { priority & 7 }
    public var isParseError: Bool { format == .unparsed }

    public init(format: SyslogFormat, priority: UInt8 = 13, timestamp: Timestamp? = nil,
                hostname: Range<Int> = 0..<0, appName: Range<Int> = 0..<0, procID: Range<Int> = 0..<0,
                msgID: Range<Int> = 0..<0, structuredData: Range<Int> = 0..<0, text: Range<Int> = 0..<0,
                hadBOM: Bool = false, timestampIsZoneless: Bool = false) {
        self.format = format; self.priority = priority; self.timestamp = timestamp
        self.timestampIsZoneless = timestampIsZoneless
        self.hostname = hostname; self.appName = appName; self.procID = procID; self.msgID = msgID
        self.structuredData = structuredData; self.text = text; self.hadBOM = hadBOM
    }
}
