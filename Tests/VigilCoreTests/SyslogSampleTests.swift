import Glibc
import Testing
import VigilTestSupport
@testable import VigilCore

/// The sample files themselves (their frames come from `Fixtures.frames`).
enum SyslogSamples {
    /// Names of the sample files that hold frames (not the README or `.len` files).
    static func sampleFiles() -> [String] {
        guard let dir = opendir(Fixtures.samplesDirectory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(".") || name == "README.md" || name.hasSuffix(".len") { continue }
            names.append(name)
        }
        return names.sorted()
    }
}

@Suite struct SyslogSampleTests {
    typealias D = SyslogDecoded

    /// Every sample file, its frame count, and whether its frames are syslog.
    static let files: [(String, Int, Bool)] = [
        ("logger-rfc3164-udp.udp", 4, true),
        ("logger-rfc5424-tcp-lf.tcp", 5, true),
        ("logger-rfc5424-tcp-octet.tcp", 5, true),
        ("logger-rfc5424-udp.udp", 5, true),
        ("nginx-access-curl.log", 17, false),  // nginx's own access_log: not syslog at all
        ("nginx-syslog-curl.udp", 17, true),
        ("rsyslog-tcp-forward.tcp", 4, true),
        ("rsyslog-tcp-proto23-octet.tcp", 4, true),
        ("rsyslog-tcp-traditional.tcp", 4, true),
        ("rsyslog-udp-proto23.udp", 4, true),
        ("sshd-normal-auth-traditional.log", 62, true),
        ("sshd-normal-auth.log", 62, true),
        ("sshd-normal-rsyslog-tcp-octet.tcp", 62, true),
    ]

    @Test func tableCoversEveryFile() {
        #expect(SyslogSamples.sampleFiles() == SyslogSampleTests.files.map(\.0))
    }

    @Test(arguments: files)
    func everyFrameParses(file: String, count: Int, isSyslog: Bool) {
        let frames = Fixtures.frames(file)
        #expect(frames.count == count)
        for frame in frames {
            let f = SyslogTestSupport.parse(frame)
            if isSyslog {
                #expect(f.format != .unparsed, "\(file): \(String(decoding: frame, as: UTF8.self))")
                #expect(f.timestamp != nil && !f.hostname.isEmpty && !f.appName.isEmpty && !f.text.isEmpty)
                #expect(f.text.upperBound == frame.count - (frame.last == 0x0A ? 1 : 0))
            } else {
                #expect(f == SyslogFields(format: .unparsed, text: 0..<frame.count))
            }
        }
    }

    static let utf8Text = "UTF-8 na\u{EF}ve caf\u{E9} \u{2713} \u{65E5}\u{672C}\u{8A9E}"
    static let timeQuality = "[timeQuality tzKnown=\"1\" isSynced=\"0\"]"

    /// Representative frames from each sender, with every field.
    static let representative: [(String, Int, SyslogDecoded)] = [
        ("logger-rfc5424-udp.udp", 0,
         D(format: .rfc5424, priority: 13, timestamp: "2026-11-22T23:05:45.855880Z", host: "vm", app: "myapp",
           sd: timeQuality, text: "corpus 5424-udp plain message")),
        ("logger-rfc5424-udp.udp", 1,
         D(format: .rfc5424, priority: 132, timestamp: "2026-11-22T23:05:45.859887Z", host: "vm", app: "myapp",
           procID: "15993", sd: timeQuality, text: "corpus 5424-udp with pid and priority")),
        ("logger-rfc5424-udp.udp", 2,
         D(format: .rfc5424, priority: 14, timestamp: "2026-11-22T23:05:45.862311Z", host: "vm", app: "billing",
           sd: timeQuality, text: "corpus 5424-udp \(utf8Text) with BOM", bom: true)),
        ("logger-rfc5424-udp.udp", 3,
         D(format: .rfc5424, priority: 27, timestamp: "2026-11-22T23:05:45.865113Z", host: "vm", app: "myapp",
           sd: timeQuality, text: "corpus 5424-udp no BOM but UTF-8: Gr\u{FC}\u{DF}e, \u{3A9}")),
        ("logger-rfc5424-udp.udp", 4,
         D(format: .rfc5424, priority: 13, timestamp: "2026-11-22T23:05:45.867398Z", host: "vm", app: "myapp",
           msgID: "LOGIN",
           sd: timeQuality + "[origin@32473 ip=\"127.0.0.1\" note=\"quote \\\" bracket \\] backslash \\\\ end\"][meta@32473 seq=\"7\"]",
           text: "corpus 5424-udp with structured data")),
        ("logger-rfc5424-tcp-octet.tcp", 1,
         D(format: .rfc5424, priority: 132, timestamp: "2026-11-22T23:05:45.885639Z", host: "vm", app: "myapp",
           procID: "16016", sd: timeQuality, text: "corpus 5424-tcp-octet with pid and priority")),
        ("logger-rfc5424-tcp-lf.tcp", 2,
         D(format: .rfc5424, priority: 14, timestamp: "2026-11-22T23:05:45.917637Z", host: "vm", app: "billing",
           sd: timeQuality, text: "corpus 5424-tcp-lf \(utf8Text) with BOM", bom: true)),
        ("logger-rfc3164-udp.udp", 0,
         D(format: .rfc3164, priority: 13, timestamp: "2026-11-22T23:05:45.000000Z", host: "vm", app: "myapp",
           text: "corpus 3164-udp plain message")),
        ("logger-rfc3164-udp.udp", 1,
         D(format: .rfc3164, priority: 132, timestamp: "2026-11-22T23:05:45.000000Z", host: "vm", app: "myapp",
           procID: "16003", text: "corpus 3164-udp with pid and priority")),
        ("logger-rfc3164-udp.udp", 2,
         D(format: .rfc3164, priority: 14, timestamp: "2026-11-22T23:05:45.000000Z", host: "vm", app: "billing",
           text: "corpus 3164-udp \(utf8Text) with BOM", bom: true)),
        ("rsyslog-tcp-traditional.tcp", 1,
         D(format: .rfc3164, priority: 76, timestamp: "2026-11-22T23:06:08.000000Z", host: "edge-tcp-traditional",
           app: "cron", procID: "17141", text: "rsyslog tcp-traditional with pid")),
        ("rsyslog-tcp-forward.tcp", 0,
         D(format: .rfc3164, priority: 13, timestamp: "2026-11-22T23:06:08.303317Z", host: "edge-tcp-forward",
           app: "webapp", text: "rsyslog tcp-forward plain message")),
        ("rsyslog-tcp-forward.tcp", 2,
         D(format: .rfc3164, priority: 134, timestamp: "2026-11-22T23:06:08.305647Z", host: "edge-tcp-forward",
           app: "billing", text: "rsyslog tcp-forward \(utf8Text)", bom: true)),
        // SyslogProtocol23Format: MSG keeps rsyslog's leading space, so the BOM is inside the text.
        ("rsyslog-udp-proto23.udp", 1,
         D(format: .rfc5424, priority: 76, timestamp: "2026-11-22T23:06:08.265428Z", host: "edge-udp-proto23",
           app: "cron", procID: "17106", text: " rsyslog udp-proto23 with pid")),
        ("rsyslog-udp-proto23.udp", 2,
         D(format: .rfc5424, priority: 134, timestamp: "2026-11-22T23:06:08.266615Z", host: "edge-udp-proto23",
           app: "billing", text: " \u{FEFF}rsyslog udp-proto23 \(utf8Text)")),
        ("rsyslog-tcp-proto23-octet.tcp", 0,
         D(format: .rfc5424, priority: 13, timestamp: "2026-11-22T23:06:08.314587Z", host: "edge-tcp-proto23-octet",
           app: "webapp", text: " rsyslog tcp-proto23-octet plain message")),
        ("nginx-syslog-curl.udp", 16,
         D(format: .rfc3164, priority: 190, timestamp: "2026-11-22T23:06:35.000000Z", host: "vm", app: "nginx",
           text: "127.0.0.1 - - [22/Nov/2026:23:06:35 +0000] \"GET /ctl\\x01\\x7F%ZZ HTTP/1.1\" 400 157 \"-\" \"-\"")),
        ("sshd-normal-auth.log", 0,
         D(format: .rfc3164, priority: 13, timestamp: "2026-11-22T23:06:42.665523Z", host: "vm", app: "sshd",
           procID: "18396", text: "Server listening on 127.0.0.1 port 2222.")),
        ("sshd-normal-auth-traditional.log", 0,
         D(format: .rfc3164, priority: 13, timestamp: "2026-11-22T23:06:42.000000Z", host: "vm", app: "sshd",
           procID: "18396", text: "Server listening on 127.0.0.1 port 2222.")),
        ("sshd-normal-rsyslog-tcp-octet.tcp", 1,
         D(format: .rfc5424, priority: 35, timestamp: "2026-11-22T23:06:43.699448Z", host: "vm", app: "sshd",
           procID: "18410", text: " error: kex_exchange_identification: Connection closed by remote host")),
    ]

    @Test(arguments: representative)
    func representativeFrame(file: String, index: Int, expected: SyslogDecoded) {
        let frames = Fixtures.frames(file)
        #expect(SyslogTestSupport.decode(frames[index]) == expected)
    }

    /// The same sshd messages arrive by three routes; every route must yield the same fields.
    @Test func sshdRoutesAgree() {
        let file = Fixtures.frames("sshd-normal-auth.log").map { SyslogTestSupport.decode($0) }
        let traditional = Fixtures.frames("sshd-normal-auth-traditional.log").map { SyslogTestSupport.decode($0) }
        let forwarded = Fixtures.frames("sshd-normal-rsyslog-tcp-octet.tcp").map { SyslogTestSupport.decode($0) }
        #expect(file.count == 62 && traditional.count == 62 && forwarded.count == 62)
        for (i, (a, (b, c))) in zip(file, zip(traditional, forwarded)).enumerated() {
            #expect(a.host == "vm" && b.host == "vm" && c.host == "vm", "frame \(i)")
            #expect(a.app == "sshd" && b.app == "sshd" && c.app == "sshd", "frame \(i)")
            #expect(a.procID == b.procID && a.procID == c.procID && !a.procID.isEmpty, "frame \(i)")
            #expect(a.timestamp == c.timestamp, "frame \(i)")
            #expect(a.timestamp.map { String($0.prefix(19)) } == b.timestamp.map { String($0.prefix(19)) }, "frame \(i)")
            #expect(a.text == b.text && " " + a.text == c.text, "frame \(i)")
        }
    }

    /// nginx's syslog output carries exactly the access-log line as text.
    @Test func nginxSyslogTextMatchesAccessLog() {
        let syslog = Fixtures.frames("nginx-syslog-curl.udp").map { SyslogTestSupport.decode($0) }
        let log = Fixtures.frames("nginx-access-curl.log").map { String(decoding: $0, as: UTF8.self) }
        #expect(syslog.map(\.text) == log)
        #expect(syslog.allSatisfy { $0.app == "nginx" && $0.priority == 190 && $0.host == "vm" })
    }

    /// Every frame of every sample, parsed one after the other with one timestamp memo (as the
    /// collector does), gives exactly the fields a fresh parse gives.
    @Test func parsingWithAMemoMatchesParsingAfresh() {
        let parser = SyslogParser()
        let now = CivilDateTime(year: 2026, month: 11, day: 25).timestamp()
        var memo = TimestampMemo()
        var frames = 0
        for name in SyslogSamples.sampleFiles() {
            for frame in Fixtures.frames(name) {
                frame.withUnsafeBytes { f in
                    #expect(parser.parse(f, receivedAt: now, memo: &memo) == parser.parse(f, receivedAt: now), "\(name)")
                }
                frames += 1
            }
        }
        #expect(frames > 100)
    }
}
