import Testing
import VigilTestSupport
@testable import VigilCore

/// One sshd line of a sample file: where its text is, its PID, and its own time.
struct SSHSampleLine {
    var bytes: [UInt8]
    var text: Range<Int>
    var pid: Int32
    var time: Timestamp?
}

/// Splits `… sshd[PID]: text` (RSYSLOG_FileFormat and TraditionalFileFormat) and, for the
/// former, reads the RFC 3339 time in front (`2026-11-22T23:06:43.699448+00:00`).
func sshSampleLine(_ line: String) -> SSHSampleLine {
    let bytes = Array(line.utf8)
    let open = bytes.firstIndex(of: UInt8(ascii: "["))!
    let close = bytes.firstIndex(of: UInt8(ascii: "]"))!
    let pid = Int32(String(decoding: bytes[(open + 1)..<close], as: UTF8.self))!
    var time: Timestamp?
    if bytes.count > 32, bytes[10] == UInt8(ascii: "T") {
        func num(_ a: Int, _ n: Int) -> Int { Int(String(decoding: bytes[a..<(a + n)], as: UTF8.self))! }
        time = CivilDateTime(year: num(0, 4), month: num(5, 2), day: num(8, 2), hour: num(11, 2), minute: num(14, 2),
                             second: num(17, 2), microsecond: num(20, 6)).timestamp()
    }
    return SSHSampleLine(bytes: bytes, text: (close + 3)..<bytes.count, pid: pid, time: time)
}

@Suite struct ExtractSampleTests {
    /// What each line of sshd-normal-auth.log is, in order (nil: not an sshd event line).
    static let expected: [SSHLine.Message?] = [
        nil, .kexError, .connectionClosed, .kexError, .bannerError,                       // 1-5
        .accepted, .sessionOpened, nil, nil, nil, nil,                                      // 6-11
        .receivedDisconnect, .userDisconnected, .sessionClosed,                             // 12-14
        .pamAuthFailure, .failedPassword, .connectionClosed,                                // 15-17
        .pamAuthFailure, .failedPassword, .connectionClosed,                                // 18-20
        .pamAuthFailure, .failedPassword, .connectionClosed,                                // 21-23
        .invalidUser, nil, .pamAuthFailure, .failedPassword, .connectionClosed,             // 24-28
        .invalidUser, nil, .pamAuthFailure, .failedPassword, .connectionClosed,             // 29-33
        .pamAuthFailure, .failedPassword, .connectionClosed,                                // 34-36
        .pamAuthFailure, .failedPassword, .failedPassword, .maxAuthAttempts,                // 37-40
        .tooManyAuthFailures, .pamAuthFailure, .connectionClosed,                           // 41-43
        .accepted, .sessionOpened, nil, nil, nil, nil,                                      // 44-49
        .receivedDisconnect, .userDisconnected, .sessionClosed,                             // 50-52
        .accepted, .sessionOpened, nil, nil, nil, nil,                                      // 53-58
        .receivedDisconnect, .userDisconnected, .sessionClosed, nil,                        // 59-62
    ]

    static func kind(of message: SSHLine.Message?) -> SSHEvent.Kind? {
        switch message {
        case .failedPassword?, .maxAuthAttempts?: return .authFailure
        case .invalidUser?: return .invalidUser
        case .accepted?: return .authSuccess
        case .sessionOpened?: return .sessionOpen
        case .sessionClosed?, .userDisconnected?: return .sessionClose
        case .kexError?, .connectionClosed?, .bannerError?, .tooManyAuthFailures?: return .probe
        default: return nil  // PAM duplicates, `Received disconnect … by user`, non-events
        }
    }

    @Test(arguments: ["sshd-normal-auth.log", "sshd-normal-auth-traditional.log"])
    func everyLineOfTheFileSamples(_ file: String) {
        let lines = Fixtures.sampleLines(file)
        #expect(lines.count == Self.expected.count)
        for (line, want) in zip(lines, Self.expected) {
            let s = sshSampleLine(line)
            s.bytes.withUnsafeBytes { b in
                let got = SSHExtractor().extract(b, range: s.text, pid: s.pid)
                #expect(got?.message == want, "\(line)")
                #expect(got?.kind == Self.kind(of: want), "\(line)")
                #expect(got?.pid == (want == nil ? nil : s.pid))
                if let got, got.kind != nil, got.message != .kexError, got.message != .sessionOpened, got.message != .sessionClosed {
                    #expect(got.ip == IPAddress(127, 0, 0, 1), "\(line)")
                }
            }
        }
    }

    @Test func everyFrameOfTheRsyslogTCPSample() {
        // RFC 5424 over octet-counted TCP: `<PRI>1 TS HOST APP PROCID MSGID SD  text` (rsyslog keeps
        // the message's leading space). Fields split naively: the sample has no structured data.
        let frames = Fixtures.octetCountedFrames(Fixtures.sample("sshd-normal-rsyslog-tcp-octet.tcp"))
        #expect(frames.count == Self.expected.count)
        for (frame, want) in zip(frames, Self.expected) {
            var spaces: [Int] = []
            for (i, c) in frame.enumerated() where c == UInt8(ascii: " ") && spaces.count < 7 { spaces.append(i) }
            let app = (spaces[2] + 1)..<spaces[3]
            let pid = Int32(String(decoding: frame[(spaces[3] + 1)..<spaces[4]], as: UTF8.self))!
            frame.withUnsafeBytes { b in
                #expect(SSHExtractor.isSSHD(app: UnsafeRawBufferPointer(rebasing: b[app])))
                let got = SSHExtractor().extract(b, range: (spaces[6] + 1)..<b.count, pid: pid)
                #expect(got?.message == want)
                #expect(got?.kind == Self.kind(of: want))
            }
        }
    }

    @Test func trackerJoinsProbesAndPairsSessionsInTheSample() {
        var tracker = SSHConnectionTracker()
        let host = HostID(3)
        var events: [SSHEvent] = []
        var joined: [SSHEvent] = []
        var ended: [SSHSession] = []
        var opened: [SSHSession] = []
        for line in Fixtures.sampleLines("sshd-normal-auth.log") {
            let s = sshSampleLine(line)
            s.bytes.withUnsafeBytes { b in
                guard let l = SSHExtractor().extract(b, range: s.text, pid: s.pid) else { return }
                let r = tracker.track(l, host: host, at: s.time!)
                if let e = r.event { events.append(e) }
                if let j = r.joined { joined.append(j) }
                if let session = r.session { if session.end == nil { opened.append(session) } else { ended.append(session) } }
            }
        }
        func count(_ k: SSHEvent.Kind) -> Int { events.filter { $0.kind == k }.count }
        // 8 Failed password + 1 maximum attempts exceeded, no PAM duplicates, and the two
        // `Failed password for invalid user` lines that repeat their connection's `Invalid user`.
        #expect(count(.authFailure) == 7)
        #expect(count(.invalidUser) == 2)
        #expect(count(.authSuccess) == 3)
        #expect(count(.sessionOpen) == 3)
        #expect(count(.sessionClose) == 3)  // one per session although two lines say so
        #expect(count(.probe) == 10)        // the two kex lines are held, then joined:
        #expect(joined == [
            SSHEvent(kind: .probe, ip: IPAddress(127, 0, 0, 1), port: 41470, pid: 18410, count: 1),
            SSHEvent(kind: .probe, ip: IPAddress(127, 0, 0, 1), port: 59690, pid: 18415, count: 1),
        ])
        // Every event now carries the address, including the PAM session lines.
        #expect(events.allSatisfy { $0.ip == IPAddress(127, 0, 0, 1) })
        #expect(events.filter { $0.kind == .sessionOpen }.map(\.port) == [59700, 42060, 46736])
        #expect(opened.map(\.pid) == [18419, 18645, 18681])
        // Paired by (host, monitor PID); ended by the child's `Disconnected from user` line, which comes first.
        #expect(ended.map(\.pid) == [18419, 18645, 18681])
        #expect(ended.map(\.port) == [59700, 42060, 46736])
        #expect(ended.map { $0.durationMicroseconds } == [2_064_815, 3_059_603, 52_326])
        #expect(ended.allSatisfy { $0.host == host && $0.ip == IPAddress(127, 0, 0, 1) })
    }
}
