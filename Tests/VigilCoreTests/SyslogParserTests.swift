import Testing
@testable import VigilCore

/// A parse result with every range decoded to a `String`, so expectations read like the frame.
struct SyslogDecoded: Equatable, CustomStringConvertible {
    var format: SyslogFormat
    var priority: UInt8 = 13
    /// `rfc3339(fractionalDigits: 6)` of the timestamp.
    var timestamp: String? = nil
    var host = ""
    var app = ""
    var procID = ""
    var msgID = ""
    var sd = ""
    var text = ""
    var bom = false

    var description: String {
        "\(format) pri=\(priority) ts=\(timestamp ?? "nil") host=\(host) app=\(app) pid=\(procID) "
            + "msgid=\(msgID) sd=\(sd) bom=\(bom) text=\(text.debugDescription)"
    }
}

/// Helpers shared by the Syslog*Tests files.
enum SyslogTestSupport {
    /// The receive time used unless a test says otherwise: shortly after the samples were captured.
    static let receivedAt = CivilDateTime(year: 2026, month: 11, day: 22, hour: 23, minute: 10).timestamp()

    /// Parses `bytes` and checks that every range lies inside the frame.
    static func parse(_ bytes: [UInt8], parser: SyslogParser = SyslogParser(),
                      receivedAt: Timestamp = receivedAt) -> SyslogFields {
        let fields = bytes.withUnsafeBytes { parser.parse($0, receivedAt: receivedAt) }
        for range in [fields.hostname, fields.appName, fields.procID, fields.msgID, fields.structuredData, fields.text] {
            #expect(range.lowerBound >= 0 && range.upperBound <= bytes.count, "range \(range) outside frame of \(bytes.count)")
        }
        return fields
    }

    /// Parses `bytes` and decodes every field.
    static func decode(_ bytes: [UInt8], parser: SyslogParser = SyslogParser(),
                       receivedAt: Timestamp = receivedAt) -> SyslogDecoded {
        let f = parse(bytes, parser: parser, receivedAt: receivedAt)
        func s(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
        return SyslogDecoded(format: f.format, priority: f.priority, timestamp: f.timestamp?.rfc3339(fractionalDigits: 6),
                             host: s(f.hostname), app: s(f.appName), procID: s(f.procID), msgID: s(f.msgID),
                             sd: s(f.structuredData), text: s(f.text), bom: f.hadBOM)
    }

    static func decode(_ frame: String, parser: SyslogParser = SyslogParser(),
                       receivedAt: Timestamp = receivedAt) -> SyslogDecoded {
        decode(Array(frame.utf8), parser: parser, receivedAt: receivedAt)
    }

    /// A timestamp from its UTC fields.
    static func utc(_ y: Int, _ mo: Int, _ d: Int, _ h: Int, _ mi: Int, _ s: Int = 0) -> Timestamp {
        CivilDateTime(year: y, month: mo, day: d, hour: h, minute: mi, second: s).timestamp()
    }
}

@Suite struct SyslogParserRFC5424Tests {
    typealias D = SyslogDecoded

    /// The four examples of RFC 5424 §6.5, with the BOM written as U+FEFF.
    @Test(arguments: [
        ("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \u{FEFF}'su root' failed for lonvick on /dev/pts/8",
         D(format: .rfc5424, priority: 34, timestamp: "2003-10-11T22:14:15.003000Z", host: "mymachine.example.com",
           app: "su", msgID: "ID47", text: "'su root' failed for lonvick on /dev/pts/8", bom: true)),
        ("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
         D(format: .rfc5424, priority: 165, timestamp: "2003-08-24T12:14:15.000003Z", host: "192.0.2.1",
           app: "myproc", procID: "8710", text: "%% It's time to make the do-nuts.")),
        ("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] \u{FEFF}An application event log entry...",
         D(format: .rfc5424, priority: 165, timestamp: "2003-10-11T22:14:15.003000Z", host: "mymachine.example.com",
           app: "evntslog", msgID: "ID47",
           sd: "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]",
           text: "An application event log entry...", bom: true)),
        ("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]",
         D(format: .rfc5424, priority: 165, timestamp: "2003-10-11T22:14:15.003000Z", host: "mymachine.example.com",
           app: "evntslog", msgID: "ID47",
           sd: "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]")),
    ])
    func rfcExamples(frame: String, expected: SyslogDecoded) {
        #expect(SyslogTestSupport.decode(frame) == expected)
    }

    @Test(arguments: [
        // NILVALUE in every field, with and without MSG.
        ("<13>1 - - - - - -", D(format: .rfc5424)),
        ("<13>1 - - - - - - hello", D(format: .rfc5424, text: "hello")),
        ("<13>1 - - - - - - ", D(format: .rfc5424)),
        ("<13>1 - - app - - - x", D(format: .rfc5424, app: "app", text: "x")),
        ("<13>1 - host - - - - x", D(format: .rfc5424, host: "host", text: "x")),
        ("<13>1 - - - 42 - - x", D(format: .rfc5424, procID: "42", text: "x")),
        ("<13>1 - - - - ID1 - x", D(format: .rfc5424, msgID: "ID1", text: "x")),
        // A field that merely starts with '-' is not the NILVALUE.
        ("<13>1 - -h -a -1 -m - x", D(format: .rfc5424, host: "-h", app: "-a", procID: "-1", msgID: "-m", text: "x")),
        // rsyslog's SyslogProtocol23Format: MSG begins with a space, which stays in the text.
        ("<13>1 2026-11-22T23:06:08.314587+00:00 edge webapp - - -  plain message",
         D(format: .rfc5424, timestamp: "2026-11-22T23:06:08.314587Z", host: "edge", app: "webapp", text: " plain message")),
        // Trailing CR, LF and NUL are not text; inner ones are.
        ("<13>1 - h a - - - one\r\n\0", D(format: .rfc5424, host: "h", app: "a", text: "one")),
        ("<13>1 - h a - - - one\ntwo\n", D(format: .rfc5424, host: "h", app: "a", text: "one\ntwo")),
        // A BOM anywhere but at the start of MSG is text.
        ("<13>1 - h a - - - x\u{FEFF}", D(format: .rfc5424, host: "h", app: "a", text: "x\u{FEFF}")),
        ("<13>1 - h a - - - \u{FEFF}", D(format: .rfc5424, host: "h", app: "a", bom: true)),
        // Only brackets right after SD belong to it: after the space they are MSG.
        ("<13>1 - h a - - [a] [b] x", D(format: .rfc5424, host: "h", app: "a", sd: "[a]", text: "[b] x")),
        // PRI bounds.
        ("<0>1 - - - - - - x", D(format: .rfc5424, priority: 0, text: "x")),
        ("<191>1 - - - - - - x", D(format: .rfc5424, priority: 191, text: "x")),
        ("<007>1 - - - - - - x", D(format: .rfc5424, priority: 7, text: "x")),
        // An unreadable timestamp is dropped, the rest of the frame kept.
        ("<13>1 yesterday h a - - - x", D(format: .rfc5424, host: "h", app: "a", text: "x")),
    ])
    func fields(frame: String, expected: SyslogDecoded) {
        #expect(SyslogTestSupport.decode(frame) == expected)
    }

    /// Timestamp token → UTC instant (nil: unreadable, dropped).
    @Test(arguments: [
        ("2003-10-11T22:14:15.003Z", "2003-10-11T22:14:15.003000Z"),
        ("2003-08-24T05:14:15.000003-07:00", "2003-08-24T12:14:15.000003Z"),
        ("1985-04-12T23:20:50.52Z", "1985-04-12T23:20:50.520000Z"),
        ("1985-04-12T19:20:50.52-04:00", "1985-04-12T23:20:50.520000Z"),
        ("2026-11-23T01:05:45+02:00", "2026-11-22T23:05:45.000000Z"),
        ("2026-11-22T23:05:45.902970+00:00", "2026-11-22T23:05:45.902970Z"),
        ("2026-01-01T00:30:00+05:45", "2025-12-31T18:45:00.000000Z"),
        ("2003-10-11t22:14:15.5z", "2003-10-11T22:14:15.500000Z"),
        // More than six fraction digits are truncated, not rounded.
        ("2003-10-11T22:14:15.1234567Z", "2003-10-11T22:14:15.123456Z"),
        ("2003-10-11T22:14:15." + String(repeating: "9", count: 50) + "Z", "2003-10-11T22:14:15.999999Z"),
        ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000000Z"),
        ("2016-12-31T23:59:60Z", "2017-01-01T00:00:00.000000Z"),
        // No zone: the configured offset (UTC here).
        ("2003-10-11T22:14:15", "2003-10-11T22:14:15.000000Z"),
        ("2023-02-29T00:00:00Z", nil), ("2003-13-11T22:14:15Z", nil), ("2003-00-11T22:14:15Z", nil),
        ("2003-04-31T22:14:15Z", nil), ("2003-10-11T24:00:00Z", nil), ("2003-10-11T22:60:00Z", nil),
        ("2003-10-11T22:14:15.Z", nil), ("2003-10-11T22:14:15+0700", nil), ("2003-10-11T22:14:15+24:00", nil),
        ("2003-10-11T22:14:15Zjunk", nil), ("2003-10-11X22:14:15Z", nil), ("03-10-11T22:14:15Z", nil),
        ("2003-10-11T22:14:15+07:0", nil), ("2003/10/11T22:14:15Z", nil),
    ] as [(String, String?)])
    func timestamps(token: String, expected: String?) {
        let d = SyslogTestSupport.decode("<13>1 \(token) h a - - - x")
        #expect(d == D(format: .rfc5424, timestamp: expected, host: "h", app: "a", text: "x"))
    }

    @Test func timestampWithoutZoneUsesConfiguredOffset() {
        let parser = SyslogParser(utcOffsetSeconds: -7 * 3600)
        let d = SyslogTestSupport.decode("<13>1 2003-10-11T22:14:15 h a - - - x", parser: parser)
        #expect(d.timestamp == "2003-10-12T05:14:15.000000Z")
        // An explicit zone wins over the configured offset.
        #expect(SyslogTestSupport.decode("<13>1 2003-10-11T22:14:15Z h a - - - x", parser: parser).timestamp
            == "2003-10-11T22:14:15.000000Z")
    }

    @Test(arguments: [
        ("[a]", "[a]", " msg"),
        ("[a x=\"]\"]", "[a x=\"]\"]", " msg"),
        ("[a x=\"\\\"]\"]", "[a x=\"\\\"]\"]", " msg"),
        ("[a x=\"\\\\\"][b]", "[a x=\"\\\\\"][b]", " msg"),
        ("[a x=\"1\" y=\"\"]", "[a x=\"1\" y=\"\"]", " msg"),
        ("[a x=\"caf\u{E9} [ok]\"]", "[a x=\"caf\u{E9} [ok]\"]", " msg"),
        ("[" + String(repeating: "i", count: 32) + "]", "[" + String(repeating: "i", count: 32) + "]", " msg"),
        ("[a " + String(repeating: "p", count: 32) + "=\"v\"]", "[a " + String(repeating: "p", count: 32) + "=\"v\"]", " msg"),
        ("[a]", "[a]", ""),
    ])
    func structuredDataAccepted(sd: String, expectedSD: String, suffix: String) {
        let d = SyslogTestSupport.decode("<13>1 - h a - - \(sd)\(suffix)")
        #expect(d.format == .rfc5424)
        #expect(d.sd == expectedSD)
        #expect(d.text == (suffix.isEmpty ? "" : "msg"))
    }

    /// Malformed STRUCTURED-DATA makes the frame invalid RFC 5424.
    @Test(arguments: [
        "[a", "[]", "[ x=\"1\"]", "[a x=1]", "[a x=\"1\"", "[a x=\"1\\\"]", "[a  x=\"1\"]", "[a x = \"1\"]",
        "[a x=\"1\"]x", "[a]-", "[a x=\"1\"y=\"2\"]", "[a =\"1\"]", "[a\"b]", "[a x]", "[a x=]",
        "[" + String(repeating: "i", count: 33) + "]", "[a " + String(repeating: "p", count: 33) + "=\"v\"]",
        "x", "--", "-x", "[a]\u{FEFF}",
    ])
    func structuredDataRejected(sd: String) {
        let frame = "<13>1 - h a - - \(sd) msg"
        let d = SyslogTestSupport.decode(frame)
        #expect(d == D(format: .unparsed, text: frame))
    }

    /// Field lengths at and beyond the RFC 5424 limits.
    @Test(arguments: [
        (String(repeating: "h", count: 255), "a", "p", "m", true),
        (String(repeating: "h", count: 256), "a", "p", "m", false),
        ("h", String(repeating: "a", count: 48), "p", "m", true),
        ("h", String(repeating: "a", count: 49), "p", "m", false),
        ("h", "a", String(repeating: "p", count: 128), "m", true),
        ("h", "a", String(repeating: "p", count: 129), "m", false),
        ("h", "a", "p", String(repeating: "m", count: 32), true),
        ("h", "a", "p", String(repeating: "m", count: 33), false),
    ])
    func fieldLengthLimits(host: String, app: String, procID: String, msgID: String, valid: Bool) {
        let frame = "<13>1 - \(host) \(app) \(procID) \(msgID) - x"
        let expected = valid
            ? D(format: .rfc5424, host: host, app: app, procID: procID, msgID: msgID, text: "x")
            : D(format: .unparsed, text: frame)
        #expect(SyslogTestSupport.decode(frame) == expected)
    }
}

@Suite struct SyslogParserRFC3164Tests {
    typealias D = SyslogDecoded

    /// Frames of the RFC 3164 family and their expected fields (received 2026-11-22T23:10Z).
    static let variantCases: [(String, SyslogDecoded)] = [
        // RFC 3164 §5.4 examples (year taken from the receive time, 2026-11-22).
        ("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
         D(format: .rfc3164, priority: 34, timestamp: "2026-10-11T22:14:15.000000Z", host: "mymachine", app: "su",
           text: "'su root' failed for lonvick on /dev/pts/8")),
        ("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
         D(format: .rfc3164, timestamp: "2027-02-05T17:32:18.000000Z", host: "10.0.0.99", text: "Use the BFG!")),
        // With hostname, TAG[PID]: and TAG:.
        ("<132>Nov 22 23:05:45 vm myapp[16003]: with pid",
         D(format: .rfc3164, priority: 132, timestamp: "2026-11-22T23:05:45.000000Z", host: "vm", app: "myapp",
           procID: "16003", text: "with pid")),
        ("<13>Nov 22 23:05:45 vm postfix/smtpd[2]: x",
         D(format: .rfc3164, timestamp: "2026-11-22T23:05:45.000000Z", host: "vm", app: "postfix/smtpd", procID: "2", text: "x")),
        ("<13>Nov 22 23:05:45 fe80::1 app: x",
         D(format: .rfc3164, timestamp: "2026-11-22T23:05:45.000000Z", host: "fe80::1", app: "app", text: "x")),
        // Without hostname: the token after the timestamp is the tag.
        ("<13>Nov 22 23:05:45 myapp: text",
         D(format: .rfc3164, timestamp: "2026-11-22T23:05:45.000000Z", app: "myapp", text: "text")),
        ("<13>Nov 22 23:05:45 myapp[77]: text",
         D(format: .rfc3164, timestamp: "2026-11-22T23:05:45.000000Z", app: "myapp", procID: "77", text: "text")),
        ("<13>Nov 22 23:05:45 myapp:",
         D(format: .rfc3164, timestamp: "2026-11-22T23:05:45.000000Z", app: "myapp")),
        // PID without colon; space-padded day; lower-case month; fractional seconds.
        ("<13>Nov  2 03:04:05 host app[1] text",
         D(format: .rfc3164, timestamp: "2026-11-02T03:04:05.000000Z", host: "host", app: "app", procID: "1", text: "text")),
        ("<13>nov 22 23:05:45 host app: x",
         D(format: .rfc3164, timestamp: "2026-11-22T23:05:45.000000Z", host: "host", app: "app", text: "x")),
        ("<13>Nov 22 23:05:45.123 host app: x",
         D(format: .rfc3164, timestamp: "2026-11-22T23:05:45.123000Z", host: "host", app: "app", text: "x")),
        // A message without a tag keeps all its words.
        ("<13>Nov 22 23:05:45 host message without tag",
         D(format: .rfc3164, timestamp: "2026-11-22T23:05:45.000000Z", host: "host", text: "message without tag")),
        ("<13>Nov 22 23:05:45 host app:no-space",
         D(format: .rfc3164, timestamp: "2026-11-22T23:05:45.000000Z", host: "host", text: "app:no-space")),
        ("<13>Nov 22 23:05:45 lonely",
         D(format: .rfc3164, timestamp: "2026-11-22T23:05:45.000000Z", text: "lonely")),
        ("<13>Nov 22 23:05:45",
         D(format: .rfc3164, timestamp: "2026-11-22T23:05:45.000000Z")),
        // The rsyslog high-precision form (RSYSLOG_ForwardFormat), with and without zone.
        ("<13>2026-11-22T23:06:08.303317+00:00 edge webapp: plain",
         D(format: .rfc3164, timestamp: "2026-11-22T23:06:08.303317Z", host: "edge", app: "webapp", text: "plain")),
        ("<13>2026-11-22T23:06:08.303317 edge webapp: plain",
         D(format: .rfc3164, timestamp: "2026-11-22T23:06:08.303317Z", host: "edge", app: "webapp", text: "plain")),
        // No PRI: rsyslog's file formats; priority 13.
        ("2026-11-22T23:06:42.665523+00:00 vm sshd[18396]: Server listening",
         D(format: .rfc3164, timestamp: "2026-11-22T23:06:42.665523Z", host: "vm", app: "sshd", procID: "18396",
           text: "Server listening")),
        ("Nov 22 23:06:42 vm sshd[18396]: Server listening",
         D(format: .rfc3164, timestamp: "2026-11-22T23:06:42.000000Z", host: "vm", app: "sshd", procID: "18396",
           text: "Server listening")),
        // PRI but no timestamp: no hostname, tag if there is one.
        ("<13>myapp: no timestamp", D(format: .rfc3164, app: "myapp", text: "no timestamp")),
        ("<13>just some words", D(format: .rfc3164, text: "just some words")),
        ("<13>1990 Oct 22 10:52:01 host sched[0]: x", D(format: .rfc3164, text: "1990 Oct 22 10:52:01 host sched[0]: x")),
        ("<13>Nov 32 23:05:45 vm a: x", D(format: .rfc3164, text: "Nov 32 23:05:45 vm a: x")),
        ("<13>", D(format: .rfc3164)),
        ("<191>x", D(format: .rfc3164, priority: 191, text: "x")),
        // BOM at the start of the text.
        ("<14>Nov 22 23:05:45 vm billing: \u{FEFF}caf\u{E9}",
         D(format: .rfc3164, priority: 14, timestamp: "2026-11-22T23:05:45.000000Z", host: "vm", app: "billing",
           text: "caf\u{E9}", bom: true)),
        // Tag length: 48 is a tag, 49 is text.
        ("<13>Nov 22 23:05:45 h " + String(repeating: "t", count: 48) + ": x",
         D(format: .rfc3164, timestamp: "2026-11-22T23:05:45.000000Z", host: "h", app: String(repeating: "t", count: 48), text: "x")),
        ("<13>Nov 22 23:05:45 h " + String(repeating: "t", count: 49) + ": x",
         D(format: .rfc3164, timestamp: "2026-11-22T23:05:45.000000Z", host: "h", text: String(repeating: "t", count: 49) + ": x")),
        // Malformed PID brackets leave the tag in the text.
        ("<13>Nov 22 23:05:45 h app[]: x",
         D(format: .rfc3164, timestamp: "2026-11-22T23:05:45.000000Z", host: "h", text: "app[]: x")),
        ("<13>Nov 22 23:05:45 app[12: x",
         D(format: .rfc3164, timestamp: "2026-11-22T23:05:45.000000Z", text: "app[12: x")),
    ]

    @Test(arguments: variantCases)
    func variants(frame: String, expected: SyslogDecoded) {
        #expect(SyslogTestSupport.decode(frame) == expected)
    }

    /// Year resolution cases: BSD timestamp, receive time, configured offset, expected instant.
    static let yearCases: [(String, Timestamp, Int, String?)] = [
        ("Dec 31 23:59:00", SyslogTestSupport.utc(2027, 1, 1, 0, 1), 0, "2026-12-31T23:59:00.000000Z"),
        ("Jan  1 00:01:00", SyslogTestSupport.utc(2026, 12, 31, 23, 59), 0, "2027-01-01T00:01:00.000000Z"),
        ("Nov 22 23:05:45", SyslogTestSupport.utc(2026, 11, 22, 23, 10), 0, "2026-11-22T23:05:45.000000Z"),
        ("Jul  5 12:00:00", SyslogTestSupport.utc(2026, 1, 2, 0, 0), 0, "2025-07-05T12:00:00.000000Z"),
        ("Jun 30 12:00:00", SyslogTestSupport.utc(2026, 1, 2, 0, 0), 0, "2026-06-30T12:00:00.000000Z"),
        ("Feb 29 12:00:00", SyslogTestSupport.utc(2028, 3, 1, 0, 0), 0, "2028-02-29T12:00:00.000000Z"),
        ("Feb 29 12:00:00", SyslogTestSupport.utc(2027, 12, 30, 0, 0), 0, "2028-02-29T12:00:00.000000Z"),
        ("Feb 29 12:00:00", SyslogTestSupport.utc(2026, 6, 1, 0, 0), 0, nil),
        // Local time east of UTC: 23:30 on Dec 31 at UTC+1 is 22:30Z, received 22:40Z.
        ("Dec 31 23:30:00", SyslogTestSupport.utc(2026, 12, 31, 22, 40), 3600, "2026-12-31T22:30:00.000000Z"),
        // West of UTC: 00:30 on Jan 1 at UTC-5, received at 23:00 local on Dec 31.
        ("Jan  1 00:30:00", SyslogTestSupport.utc(2027, 1, 1, 4, 0), -18000, "2027-01-01T05:30:00.000000Z"),
    ]

    /// Year resolution: the year that puts the timestamp nearest to the receive time.
    @Test(arguments: yearCases)
    func missingYear(stamp: String, receivedAt: Timestamp, offset: Int, expected: String?) {
        let parser = SyslogParser(utcOffsetSeconds: offset)
        let d = SyslogTestSupport.decode("<13>\(stamp) host app: x", parser: parser, receivedAt: receivedAt)
        #expect(d == D(format: .rfc3164, timestamp: expected, host: "host", app: "app", text: "x"))
    }

    /// The day arithmetic behind year resolution agrees with the civil date conversion on
    /// every day from 1583 to 2600 (and on a wide sample beyond).
    @Test func yearArithmeticMatchesCivilDates() {
        for month in 1...12 {
            #expect(Int64(SyslogTimestamps.daysBefore(month: month))
                    == CivilDateTime.daysFromCivil(year: 2026, month: month, day: 1) - CivilDateTime.daysFromCivil(year: 2026, month: 1, day: 1))
        }
        let days = Array(CivilDateTime.daysFromCivil(year: 1583, month: 1, day: 1)...CivilDateTime.daysFromCivil(year: 2600, month: 12, day: 31))
            + stride(from: Int64(-3_000_000), through: 3_000_000, by: 997).map { $0 }
        var mismatches = 0
        for day in days {
            let (year, start) = SyslogTimestamps.yearContaining(day: day)
            if year != CivilDateTime.civilFromDays(day).year || start != CivilDateTime.daysFromCivil(year: year, month: 1, day: 1) {
                mismatches += 1
            }
        }
        #expect(mismatches == 0)
        var dateMismatches = 0
        for year in [1, 1600, 1899, 1900] + Array(1901...2099) + [2100, 2400, 9999] {
            for month in 1...12 {
                for day in 1...CivilDateTime.daysInMonth(year: year, month: month)
                where SyslogTimestamps.days(year: year, month: month, day: day) != CivilDateTime.daysFromCivil(year: year, month: month, day: day) {
                    dateMismatches += 1
                }
            }
        }
        #expect(dateMismatches == 0)
    }

    /// Year resolution agrees with a direct civil-date version of the rule for every month and
    /// day (impossible dates included) against receive times around the turn of several years.
    @Test func nearestYearMatchesTheCivilDateRule() {
        func reference(month: Int, day: Int, secondOfDay: Int, utcOffset: Int, receivedAt: Timestamp) -> Timestamp? {
            let received = receivedAt.seconds
            let local = received + Int64(utcOffset)
            let receiveYear = CivilDateTime.civilFromDays(local >= 0 ? local / 86_400 : (local - 86_399) / 86_400).year
            var best: Int64 = 0, bestDistance = Int64.max
            for year in (receiveYear - 1)...(receiveYear + 1) where day <= CivilDateTime.daysInMonth(year: year, month: month) {
                let seconds = CivilDateTime.daysFromCivil(year: year, month: month, day: day) * 86_400 + Int64(secondOfDay) - Int64(utcOffset)
                let distance = abs(seconds - received)
                if distance < bestDistance { best = seconds; bestDistance = distance }
            }
            return bestDistance == .max ? nil : Timestamp(microseconds: best * 1_000_000)
        }
        var mismatches = 0
        var checked = 0
        for year in [1969, 1970, 2000, 2024, 2026, 2027, 2100] {
            for (m, d) in [(1, 1), (12, 31), (6, 30)] {
                for hour in [0, 11, 23] {
                    let receivedAt = CivilDateTime(year: year, month: m, day: d, hour: hour, minute: 59).timestamp()
                    for offset in [0, 3600, -18_000, 50_400] {
                        for month in 1...12 {
                            for day in [1, 15, 28, 29, 30, 31] {
                                checked += 1
                                let got = SyslogTimestamps.nearestYear(month: month, day: day, secondOfDay: 43_210, microsecond: 0,
                                                                       utcOffset: offset, receivedAt: receivedAt)
                                if got != reference(month: month, day: day, secondOfDay: 43_210, utcOffset: offset, receivedAt: receivedAt) {
                                    mismatches += 1
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(checked == 7 * 3 * 3 * 4 * 12 * 6)
        #expect(mismatches == 0)
    }

    @Test func zonelessTimestampUsesConfiguredOffset() {
        let parser = SyslogParser(utcOffsetSeconds: 3600)
        #expect(SyslogTestSupport.decode("<13>Nov 22 23:05:45 h a: x", parser: parser).timestamp == "2026-11-22T22:05:45.000000Z")
        #expect(SyslogTestSupport.decode("<13>2026-11-22T23:05:45 h a: x", parser: parser).timestamp == "2026-11-22T22:05:45.000000Z")
        #expect(SyslogTestSupport.decode("<13>2026-11-22T23:05:45Z h a: x", parser: parser).timestamp == "2026-11-22T23:05:45.000000Z")
    }
}

@Suite struct SyslogParserHostileInputTests {
    /// Frames that are not syslog: all `.unparsed`, priority 13, text = the whole frame.
    @Test(arguments: [
        [], Array(repeating: UInt8(ascii: "<"), count: 65_536), Array(repeating: 0xFF, count: 1000),
        Array("<999>x".utf8), Array("<192>1 - - - - - - x".utf8), Array("<1000>x".utf8),
        Array("<12345678901234567890>1 - - - - - - x".utf8),
        Array("<>x".utf8), Array("<13".utf8), Array("<1a>x".utf8), Array("<-1>x".utf8), Array("<".utf8), Array("<13 >x".utf8),
        Array("<13>1 ".utf8), Array("<13>1 -".utf8), Array("<13>1 - - - - -".utf8), Array("<13>1 - - - - - ".utf8),
        Array("<13>1  - - - - - x".utf8), Array("<13>1 - h\u{0}st a - - - x".utf8), Array("<13>1 - h\u{E9}st a - - - x".utf8),
        Array("<13>1 -\th a - - - x".utf8), Array("<13>1 - h a - - -x".utf8),
        Array("garbage line".utf8), Array("2026-11-22 junk".utf8), Array("Nov 22 junk".utf8),
        Array("2026-11-22T23:06:42.665523+00:00".utf8) + [0xFF],
        Array("127.0.0.1 - - [22/Nov/2026:23:06:35 +0000] \"GET / HTTP/1.1\" 200 43".utf8),
        [0, 1, 2, 3, 0x3C, 0x31, 0x33, 0x3E, 0, 0xFF], [0xC3, 0x28, 0x20, 0x66, 0x6F, 0x6F],
        [0x3C, 0x31, 0x33, 0x3E, 0x31, 0x20] + Array(repeating: 0x2D, count: 65_000),
        Array(("<13>1 - h a - - [a x=\"" + String(repeating: "v", count: 65_000)).utf8),
        Array(("<13>1 - h a - - " + String(repeating: "[a]", count: 20_000) + "-").utf8),
        Array(("<13>1 - h a - - [a" + String(repeating: " x=\"\\\\\"", count: 8000)).utf8),
    ] as [[UInt8]])
    func notSyslog(frame: [UInt8]) {
        let f = SyslogTestSupport.parse(frame)
        #expect(f == SyslogFields(format: .unparsed, priority: 13, text: 0..<frame.count))
    }

    /// Trailing LF, CR and NUL never belong to the text, also of unparsed frames.
    @Test(arguments: [
        ([0x0A], 0), ([0x0D, 0x0A], 0), ([0, 0, 0], 0), ([0x0A, 0x0D, 0], 0),
        (Array("x\r\n\0".utf8), 1), (Array("x\ny\n".utf8), 3), ([0x78, 0x0A, 0x20], 3),
    ] as [([UInt8], Int)])
    func trailingBytesTrimmed(frame: [UInt8], textLength: Int) {
        #expect(SyslogTestSupport.parse(frame) == SyslogFields(format: .unparsed, text: 0..<textLength))
    }

    /// Hostile bytes in the text of otherwise valid frames stay text.
    @Test(arguments: [
        ([0x3C, 0x31, 0x33, 0x3E] + Array("1 - h a - - - ".utf8) + [0xFF, 0xFE, 0, 0x01], 18..<22),
        (Array("<13>Nov 22 23:05:45 h a: ".utf8) + [0xC3, 0x28, 0, 0, 0x0A], 25..<27),
        (Array("<13>1 - h a - - - ".utf8) + Array(repeating: 0x3C, count: 65_000), 18..<65_018),
    ] as [([UInt8], Range<Int>)])
    func hostileText(frame: [UInt8], text: Range<Int>) {
        let f = SyslogTestSupport.parse(frame)
        #expect(f.format != .unparsed)
        #expect(f.text == text)
    }

    /// 20,000 random frames, some pure noise and some mutated syslog, never trap and always
    /// return ranges inside the frame; parsed one after another with a timestamp memo (as the
    /// collector parses), each gives exactly what a fresh parse gives.
    @Test func randomBytesNeverTrap() {
        var rng = SyslogSplitMix64(seed: 0x5EED_1234)
        let seeds: [[UInt8]] = [
            Array("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - [a x=\"\\\"]\"][b] \u{FEFF}msg".utf8),
            Array("<13>Nov  2 23:05:45 vm myapp[12]: text".utf8),
            Array("2026-11-22T23:06:42.665523+00:00 vm sshd[18396]: msg".utf8),
        ]
        let alphabet = Array("<>[]\"\\=: -0123456789T.Z+1".utf8)
        let parser = SyslogParser()
        let now = CivilDateTime(year: 2026, month: 11, day: 25).timestamp()
        var memo = TimestampMemo()
        var parsedCount = 0
        for round in 0..<20_000 {
            var frame: [UInt8]
            switch round % 3 {
            case 0:
                frame = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1:
                frame = (0..<Int(rng.next() % 120)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            default:
                frame = seeds[Int(rng.next() % UInt64(seeds.count))]
                for _ in 0..<(1 + rng.next() % 4) {
                    let at = Int(rng.next() % UInt64(frame.count))
                    switch rng.next() % 3 {
                    case 0: frame[at] = UInt8(truncatingIfNeeded: rng.next())
                    case 1: frame.removeSubrange(at...)
                    default: frame.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                    }
                    if frame.isEmpty { break }
                }
            }
            let f = SyslogTestSupport.parse(frame)
            frame.withUnsafeBytes { bytes in
                #expect(parser.parse(bytes, receivedAt: now, memo: &memo) == parser.parse(bytes, receivedAt: now))
            }
            if f.format != .unparsed { parsedCount += 1 }
            var trimmed = frame.count
            while trimmed > 0, [0x0A, 0x0D, 0].contains(frame[trimmed - 1]) { trimmed -= 1 }
            #expect(f.text.upperBound <= trimmed)
            if f.format == .unparsed { #expect(f.text == 0..<trimmed && f.priority == 13) }
        }
        // The mutated seeds reach the parsing paths, not only the rejection path.
        #expect(parsedCount > 2000)
    }
}

/// A small seeded generator (SplitMix64) so the random test is reproducible.
struct SyslogSplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
