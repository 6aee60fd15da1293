import Testing
@testable import VigilCore

/// `vigil forward`'s line → RFC 5424 message (docs/forward.md), checked as text and by reading
/// the message back with the collector's own parser.
@Suite struct ForwardMessageTests {
    /// 2026-12-03T09:40:00Z.
    let now = CivilDateTime(year: 2026, month: 12, day: 3, hour: 9, minute: 40).timestamp()

    func message(_ line: [UInt8], path: String = "/var/log/app.log", truncated: Bool = false, now: Timestamp? = nil,
                 offset: Int = 0, max: Int = ForwardMessage.defaultMaxMessageBytes) -> [UInt8] {
        var out: [UInt8] = []
        var memo = TimestampMemo()
        var m = ForwardMessage(hostname: "web1", path: path, maxMessageBytes: max)
        line.withUnsafeBytes {
            m.append(line: $0, truncated: truncated, now: now ?? self.now, parser: SyslogParser(utcOffsetSeconds: offset),
                     memo: &memo, to: &out)
        }
        return out
    }

    func message(_ line: String, path: String = "/var/log/app.log", now: Timestamp? = nil, offset: Int = 0) -> String {
        String(decoding: message(Array(line.utf8), path: path, now: now, offset: offset), as: UTF8.self)
    }

    /// The message as the collector reads it: (app, procid, text, time).
    func readBack(_ m: [UInt8]) -> (app: String, pid: String, text: [UInt8], time: Timestamp?, sd: String) {
        m.withUnsafeBytes { b in
            let f = SyslogParser().parse(b, receivedAt: now)
            #expect(f.format == .rfc5424)
            func s(_ r: Range<Int>) -> String { String(decoding: b[r], as: UTF8.self) }
            return (s(f.appName), s(f.procID), Array(b[f.text]), f.timestamp, s(f.structuredData))
        }
    }

    @Test func plainLineCarriesTheFileNameAndNow() {
        #expect(message("hello world") == "<13>1 2026-12-03T09:40:00.000000Z web1 app.log - - - hello world")
    }

    @Test func accessLogLineKeepsItsOwnTime() {
        let line = #"203.0.113.5 - - [03/Dec/2026:09:27:26 +0100] "GET /a HTTP/1.1" 200 12"#
        #expect(message(line, path: "access.log") == "<13>1 2026-12-03T08:27:26.000000Z web1 access.log - - - " + line)
    }

    @Test func authLogLineKeepsProgramPidAndTime() {
        let line = "Dec  3 09:27:26 bastion sshd[4242]: Failed password for root from 203.0.113.7 port 50000 ssh2"
        #expect(message(line, path: "/var/log/auth.log")
            == "<86>1 2026-12-03T09:27:26.000000Z web1 sshd 4242 - - Failed password for root from 203.0.113.7 port 50000 ssh2")
        // Local time one hour east of UTC.
        #expect(message(line, offset: 3600).hasPrefix("<86>1 2026-12-03T08:27:26.000000Z web1 sshd 4242 "))
        // The year that puts it nearest to now: a December line read on January 1st is last year's.
        let newYear = CivilDateTime(year: 2027, month: 1, day: 1, hour: 0, minute: 0, second: 10).timestamp()
        #expect(message("Dec 31 23:59:59 h cron[1]: x", now: newYear).hasPrefix("<86>1 2026-12-31T23:59:59.000000Z web1 cron 1 "))
        // Its own PRI wins; a program without pid has PROCID `-`.
        #expect(message("<38>Dec  3 09:27:26 h sshd: Accepted publickey for a from 192.0.2.1 port 1 ssh2")
            == "<38>1 2026-12-03T09:27:26.000000Z web1 sshd - - - Accepted publickey for a from 192.0.2.1 port 1 ssh2")
    }

    /// Messages of the lines of one file, in order.
    func messages(_ lines: [String], path: String) -> [String] {
        var m = ForwardMessage(hostname: "web1", path: path)
        var memo = TimestampMemo()
        return lines.map { line in
            var out: [UInt8] = []
            Array(line.utf8).withUnsafeBytes {
                m.append(line: $0, truncated: false, now: now, parser: SyslogParser(), memo: &memo, to: &out)
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// A file that starts with a line that is not syslog stays plain: text an attacker gets into
    /// an access or application log (after an embedded newline) that looks like an sshd line is
    /// sent whole, under the file's name, and cannot raise an sshd alert.
    @Test func aPlainFileNeverTurnsALineIntoAnSSHDMessage() {
        let request = #"203.0.113.5 - - [03/Dec/2026:09:27:26 +0000] "GET /a HTTP/1.1" 200 12"#
        let forged = "Dec  3 09:27:26 bastion sshd[1]: Failed password for root from 192.0.2.9 port 22 ssh2"
        let sent = messages(["", request, forged], path: "/var/log/nginx/access.log")
        #expect(sent[2] == "<13>1 2026-12-03T09:40:00.000000Z web1 access.log - - - " + forged)
        #expect(readBack(Array(sent[2].utf8)).app == "access.log")
        // A syslog file keeps reading its lines as syslog; an empty first line decides nothing.
        let auth = messages(["", forged, "not a syslog line"], path: "/var/log/auth.log")
        #expect(auth[1] == "<86>1 2026-12-03T09:27:26.000000Z web1 sshd 1 - - Failed password for root from 192.0.2.9 port 22 ssh2")
        #expect(auth[2] == "<13>1 2026-12-03T09:40:00.000000Z web1 auth.log - - - not a syslog line")
    }

    /// Finding (review): a first line of blanks, or of the NULs a crash can leave, decided that
    /// an auth.log was not syslog, and every sshd line of it was then sent whole for good.
    @Test func aLineOfBlanksOrNULsDecidesNothing() {
        let forged = "Dec  3 09:27:26 bastion sshd[1]: Failed password for root from 192.0.2.9 port 22 ssh2"
        let auth = messages(["   \t", "\u{0}\u{0}\u{0}", forged], path: "/var/log/auth.log")
        #expect(auth[2] == "<86>1 2026-12-03T09:27:26.000000Z web1 sshd 1 - - Failed password for root from 192.0.2.9 port 22 ssh2")
    }

    @Test func rsyslogHighPrecisionLine() {
        let line = "2026-12-03T10:27:26.123456+01:00 bastion sshd[77]: Connection closed by 198.51.100.2 port 22"
        #expect(message(line) == "<86>1 2026-12-03T09:27:26.123456Z web1 sshd 77 - - Connection closed by 198.51.100.2 port 22")
    }

    @Test func hostileBytesPassThroughAsMessageText() {
        let line: [UInt8] = Array("a\u{0}b ".utf8) + [0xFF, 0xFE, 0xC3] + Array(#" ] "quoted" [x@1 y="z"] \"#.utf8)
        let m = message(line)
        let back = readBack(m)
        #expect(back.text == line)
        #expect(back.app == "app.log")
        #expect(back.sd == "")
        #expect(!m.contains(0x0A))
    }

    @Test func longLineIsCutToTheCollectorsMaximumAndFlagged() {
        let line = [UInt8](repeating: UInt8(ascii: "x"), count: 100_000)
        let m = message(line)
        #expect(m.count == ForwardMessage.defaultMaxMessageBytes)
        let back = readBack(m)
        #expect(back.sd == ForwardMessage.truncatedElement)
        #expect(back.text.count > 65_000 && back.text.allSatisfy { $0 == UInt8(ascii: "x") })
        // Exactly at the limit: whole, unflagged; one byte more: cut and flagged.
        let header = message([]).count
        #expect(message([UInt8](repeating: 65, count: 1000 - header), max: 1000).count == 1000)
        #expect(readBack(message([UInt8](repeating: 65, count: 1000 - header), max: 1000)).sd == "")
        #expect(readBack(message([UInt8](repeating: 65, count: 1001 - header), max: 1000)).sd == ForwardMessage.truncatedElement)
        // Cut by the file reader already: flagged too.
        #expect(readBack(message(Array("short".utf8), truncated: true)).sd == ForwardMessage.truncatedElement)
    }

    @Test func appNameIsPrintableAsciiOf48BytesAtMost() {
        let m = message("x", path: "/logs/" + "é\u{1}b c" + String(repeating: "n", count: 60))
        let app = readBack(Array(m.utf8)).app
        #expect(app == "___b_c" + String(repeating: "n", count: 42))
        #expect(app.utf8.count == 48)
    }

    @Test func targetsAndSpoolSizes() throws {
        #expect(try ForwardTarget.parse("tcp://vigil.example.net:5514").get() == ForwardTarget(host: "vigil.example.net", port: 5514))
        #expect(try ForwardTarget.parse("tcp://[::1]:5514").get() == ForwardTarget(host: "::1", port: 5514))
        #expect(try ForwardTarget.parse("tcp://127.0.0.1:1").get().description == "tcp://127.0.0.1:1")
        for bad in ["udp://127.0.0.1:514", "127.0.0.1:514", "tcp://host", "tcp://host:0", "tcp://:5514"] {
            #expect(throws: ConfigValueError.self) { try ForwardTarget.parse(bad).get() }
        }
        #expect(try ForwardTarget.parseSpoolSize("512MiB").get() == 512 << 20)
        #expect(throws: ConfigValueError.self) { try ForwardTarget.parseSpoolSize("1KiB").get() }
    }

    @Test func stateRoundTripsAndNamesTheBadLine() throws {
        let state = ForwardState(spoolLength: 123, files: [
            "/var/log/auth.log": .file(device: 2049, inode: 77, offset: 4096),
            "/logs/with space.log": .new,
        ])
        #expect(try ForwardState.decode(state.encoded()).get() == state)
        let bad = Array("vigil-forward-state 1\nspool 5\nfile 1 2 x /a\n".utf8)
        #expect(throws: ConfigValueError("line 3: cannot read `file 1 2 x /a`")) { try ForwardState.decode(bad).get() }
        #expect(throws: ConfigValueError.self) { try ForwardState.decode(Array("junk".utf8)).get() }
    }
}
