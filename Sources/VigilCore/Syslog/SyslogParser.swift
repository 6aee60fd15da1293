/// Reads one syslog frame (RFC 5424 or RFC 3164 and real-world variants) into byte ranges.
///
/// Pure and allocation-free: every field of the result is a range of offsets into the
/// frame. Dialects recognised:
/// - RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]`,
///   with NILVALUE `-` in any header field and an optional UTF-8 BOM before MSG.
/// - RFC 3164 and variants: `<PRI>Mmm dd hh:mm:ss [HOST] TAG[PID]: MSG`, the same with an
///   RFC 3339 timestamp (rsyslog's forward format), the same without PRI (rsyslog's file
///   formats; priority 13), and `<PRI>` followed by no timestamp at all.
/// Anything else is `.unparsed` with the whole frame as text. Header fields must be printable
/// US-ASCII within the RFC 5424 length limits; the text may hold any bytes. A timestamp without
/// a zone is read at `utcOffsetSeconds`; one that is present but unreadable becomes nil.
public struct SyslogParser: Sendable {
    /// Offset east of UTC assumed for timestamps that carry no zone.
    public let utcOffsetSeconds: Int

    /// `utcOffsetSeconds`: offset assumed for timestamps that carry no zone (RFC 3164), default UTC.
    public init(utcOffsetSeconds: Int = 0) {
        self.utcOffsetSeconds = utcOffsetSeconds
    }

    /// Parses `frame` (one message, framing already removed). Never fails: an invalid frame comes back
    /// as `.unparsed` with `text` covering the whole frame (minus trailing CR/LF/NUL).
    /// `receivedAt` resolves the missing year of RFC 3164 timestamps (the year that puts the
    /// timestamp nearest to the receive time) — the parser reads no clock of its own.
    public func parse(_ frame: UnsafeRawBufferPointer, receivedAt: Timestamp) -> SyslogFields {
        var memo = TimestampMemo()
        return parse(frame, receivedAt: receivedAt, memo: &memo)
    }

    /// `parse(_:receivedAt:)` for a stream of frames: `memo` carries the date of the
    /// previous RFC 3339 timestamp, so one from the same day is read in a few steps.
    public func parse(_ frame: UnsafeRawBufferPointer, receivedAt: Timestamp, memo: inout TimestampMemo) -> SyslogFields {
        var end = frame.count
        while end > 0 {
            let c = frame[end &- 1]
            guard c == 0x0A || c == 0x0D || c == 0 else { break }
            end &-= 1
        }
        if end > 0, frame[0] == 0x3C {
            let afterPRI = SyslogParser.priorityEnd(frame, end)
            if afterPRI > 0 {
                let priority = SyslogParser.priorityValue(frame, afterPRI)
                if afterPRI &+ 1 < end, frame[afterPRI] == 0x31, frame[afterPRI &+ 1] == 0x20 {
                    if let fields = parse5424(frame, afterPRI &+ 2, end, priority, &memo) { return fields }
                } else if let fields = parse3164(frame, afterPRI, end, priority, hasPRI: true, receivedAt, &memo) {
                    return fields
                }
            }
        } else if end > 0, let fields = parse3164(frame, 0, end, 13, hasPRI: false, receivedAt, &memo) {
            return fields
        }
        return SyslogFields(format: .unparsed, text: 0..<end)
    }

    // MARK: - PRI

    /// The offset just past a valid `<PRI>` at the start of the frame (1-3 digits, at most 191),
    /// or 0 when there is none.
    @inline(__always)
    static func priorityEnd(_ f: UnsafeRawBufferPointer, _ end: Int) -> Int {
        var value = 0
        var i = 1
        while i < end, i <= 4 {
            let c = f[i]
            if c == 0x3E {
                return i > 1 && value <= 191 ? i &+ 1 : 0
            }
            guard c &- 48 < 10 else { return 0 }
            value = value &* 10 &+ Int(c &- 48)
            i &+= 1
        }
        return 0
    }

    /// The PRI value of a frame whose `<PRI>` ends just before `afterPRI` (validated by `priorityEnd`).
    @inline(__always)
    static func priorityValue(_ f: UnsafeRawBufferPointer, _ afterPRI: Int) -> UInt8 {
        var value: UInt8 = 0
        for i in 1..<(afterPRI &- 1) { value = value &* 10 &+ (f[i] &- 48) }
        return value
    }

    // MARK: - RFC 5424

    /// The end of a header field starting at `start`: 1...`maxLength` printable US-ASCII bytes
    /// followed by a space. Returns -1 when the field is empty, too long, holds other bytes or
    /// is not followed by a space.
    @inline(__always)
    static func headerFieldEnd(_ f: UnsafeRawBufferPointer, _ start: Int, _ end: Int, maxLength: Int) -> Int {
        let limit = min(end, start &+ maxLength &+ 1)
        var i = start
        while i < limit {
            let c = f[i]
            if c == 0x20 { return i > start ? i : -1 }
            guard c > 0x20, c < 0x7F else { return -1 }
            i &+= 1
        }
        return -1
    }

    /// `start..<end`, or an empty range when the field is the NILVALUE `-`.
    @inline(__always)
    static func nilOr(_ f: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Range<Int> {
        end == start &+ 1 && f[start] == 0x2D ? start..<start : start..<end
    }

    /// Parses the RFC 5424 header after `<PRI>1 `; nil when the frame is not valid RFC 5424.
    /// A timestamp that is present but unreadable becomes nil without rejecting the frame.
    func parse5424(_ f: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ priority: UInt8,
                   _ memo: inout TimestampMemo) -> SyslogFields? {
        // TIMESTAMP: any printable token; read as RFC 3339 unless it is the NILVALUE.
        let tsEnd = SyslogParser.headerFieldEnd(f, start, end, maxLength: end)
        guard tsEnd > 0 else { return nil }
        let timestamp = tsEnd == start &+ 1 && f[start] == 0x2D
            ? nil : SyslogTimestamps.rfc3339(f, start, tsEnd, defaultOffset: utcOffsetSeconds, memo: &memo)
        let hostStart = tsEnd &+ 1
        let hostEnd = SyslogParser.headerFieldEnd(f, hostStart, end, maxLength: 255)
        guard hostEnd > 0 else { return nil }
        let appStart = hostEnd &+ 1
        let appEnd = SyslogParser.headerFieldEnd(f, appStart, end, maxLength: 48)
        guard appEnd > 0 else { return nil }
        let procStart = appEnd &+ 1
        let procEnd = SyslogParser.headerFieldEnd(f, procStart, end, maxLength: 128)
        guard procEnd > 0 else { return nil }
        let msgIDStart = procEnd &+ 1
        let msgIDEnd = SyslogParser.headerFieldEnd(f, msgIDStart, end, maxLength: 32)
        guard msgIDEnd > 0 else { return nil }

        // STRUCTURED-DATA: NILVALUE or one or more elements back to back.
        let sdStart = msgIDEnd &+ 1
        guard sdStart < end else { return nil }
        var sdEnd: Int
        var structuredData = sdStart..<sdStart
        if f[sdStart] == 0x2D {
            sdEnd = sdStart &+ 1
        } else {
            sdEnd = sdStart
            repeat {
                guard let element = StructuredDataReader.scanElement(f, sdEnd, end) else { return nil }
                sdEnd = element.range.upperBound
            } while sdEnd < end && f[sdEnd] == 0x5B
            structuredData = sdStart..<sdEnd
        }

        // MSG: absent, or after exactly one space.
        var text = end..<end
        var hadBOM = false
        if sdEnd < end {
            guard f[sdEnd] == 0x20 else { return nil }
            (text, hadBOM) = SyslogParser.skipBOM(f, sdEnd &+ 1, end)
        }
        return SyslogFields(format: .rfc5424, priority: priority, timestamp: timestamp,
                            hostname: SyslogParser.nilOr(f, hostStart, hostEnd),
                            appName: SyslogParser.nilOr(f, appStart, appEnd),
                            procID: SyslogParser.nilOr(f, procStart, procEnd),
                            msgID: SyslogParser.nilOr(f, msgIDStart, msgIDEnd),
                            structuredData: structuredData, text: text, hadBOM: hadBOM)
    }

    /// The text `start..<end`, after a UTF-8 BOM (EF BB BF) if it starts with one.
    @inline(__always)
    static func skipBOM(_ f: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> (Range<Int>, Bool) {
        if end &- start >= 3, f[start] == 0xEF, f[start &+ 1] == 0xBB, f[start &+ 2] == 0xBF {
            return ((start &+ 3)..<end, true)
        }
        return (start..<end, false)
    }

    // MARK: - RFC 3164

    /// Parses an RFC 3164-style frame from `start` (just after `<PRI>`, or 0 without one).
    /// Without PRI a timestamp is required (that is what makes a file line syslog); with PRI a
    /// missing timestamp leaves the whole rest as TAG and text. Nil when it is not syslog.
    func parse3164(_ f: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ priority: UInt8,
                   hasPRI: Bool, _ receivedAt: Timestamp, _ memo: inout TimestampMemo) -> SyslogFields? {
        var fields = SyslogFields(format: .rfc3164, priority: priority)
        var i = start
        if i < end {
            let c = f[i]
            if c &- 48 < 10 {
                // RFC 3339 timestamp (rsyslog high precision); must be a whole token.
                var tsEnd = i
                while tsEnd < end, f[tsEnd] != 0x20 { tsEnd &+= 1 }
                if let ts = SyslogTimestamps.rfc3339(f, i, tsEnd, defaultOffset: utcOffsetSeconds, memo: &memo) {
                    fields.timestamp = ts
                    i = tsEnd
                } else if !hasPRI {
                    return nil
                }
            } else if let scanned = SyslogTimestamps.bsd(f, i, end, utcOffset: utcOffsetSeconds, receivedAt: receivedAt) {
                fields.timestamp = scanned.timestamp
                fields.timestampIsZoneless = true
                i = scanned.end
            } else if !hasPRI {
                return nil
            }
        } else if !hasPRI {
            return nil
        }
        let hadTimestamp = i != start
        if hadTimestamp, i < end { i &+= 1 }  // the space after the timestamp

        // HOSTNAME, unless the first token is already the tag (`app:` or `app[pid]`) or the last
        // word. Without a timestamp there is no hostname either (RFC 3164 §4.3.3).
        if hadTimestamp {
            var tokenEnd = i
            var printable = true
            var hasBracket = false
            while tokenEnd < end {
                let c = f[tokenEnd]
                if c == 0x20 { break }
                if c <= 0x20 || c >= 0x7F { printable = false }
                if c == 0x5B { hasBracket = true }
                tokenEnd &+= 1
            }
            let endsWithColon = tokenEnd > i && f[tokenEnd &- 1] == 0x3A
            if printable, !hasBracket, !endsWithColon, tokenEnd < end, tokenEnd > i, tokenEnd &- i <= 255 {
                fields.hostname = i..<tokenEnd
                i = tokenEnd &+ 1
            }
        }

        // TAG[PID]: or TAG: — otherwise the text starts right here.
        i = parseTag(f, i, end, &fields)
        (fields.text, fields.hadBOM) = SyslogParser.skipBOM(f, i, end)
        return fields
    }

    /// Reads `TAG:`, `TAG[PID]:` or `TAG[PID]` at `start` (TAG: 1...48 printable US-ASCII bytes
    /// other than `[`, `]`, `:`; PID: 1...128 printable bytes other than `]`), followed by a
    /// space or the end. Sets app name and proc ID and returns where the text starts (after one
    /// space); returns `start` unchanged when there is no tag.
    func parseTag(_ f: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ fields: inout SyslogFields) -> Int {
        let limit = min(end, start &+ 49)
        var i = start
        while i < limit {
            let c = f[i]
            guard c > 0x20, c < 0x7F, c != 0x5B, c != 0x5D, c != 0x3A else { break }
            i &+= 1
        }
        let tagEnd = i
        guard tagEnd > start, tagEnd < end, tagEnd &- start <= 48 else { return start }
        var pid = tagEnd..<tagEnd
        if f[i] == 0x5B {
            let pidStart = i &+ 1
            let pidLimit = min(end, pidStart &+ 129)
            i = pidStart
            while i < pidLimit, f[i] != 0x5D {
                let c = f[i]
                guard c > 0x20, c < 0x7F else { return start }
                i &+= 1
            }
            guard i < pidLimit, i > pidStart else { return start }
            pid = pidStart..<i
            i &+= 1
            if i < end, f[i] == 0x3A { i &+= 1 }
        } else if f[i] == 0x3A {
            i &+= 1
        } else {
            return start
        }
        if i < end {
            guard f[i] == 0x20 else { return start }
            i &+= 1
        }
        fields.appName = start..<tagEnd
        fields.procID = pid
        return i
    }
}
