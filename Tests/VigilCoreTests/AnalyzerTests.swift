import Testing
import VigilTestSupport
@testable import VigilCore

/// Parsed syslog frames through the analyzer: the right payload reaches the right rule.
@Suite struct AnalyzerTests {

    func analyzer(_ names: HostDirectory, configure: (inout VigilConfig) -> Void = { _ in }) -> Analyzer {
        var config = VigilConfig.defaults
        configure(&config)
        return Analyzer(settings: DetectionSettings(config: config), keepsSessions: true)
    }

    func feed(_ a: inout Analyzer, _ names: HostDirectory, _ frames: [[UInt8]], receivedAt: Timestamp) {
        let parser = SyslogParser()
        for frame in frames {
            frame.withUnsafeBytes { buf in
                let fields = parser.parse(buf, receivedAt: receivedAt)
                let host = names.table.intern(UnsafeRawBufferPointer(rebasing: buf[fields.hostname]))
                a.analyzeOne(frame: buf, fields: fields, host: host, receivedAt: receivedAt)
            }
        }
    }

    let received = CivilDateTime(year: 2026, month: 11, day: 22, hour: 23, minute: 10).timestamp()

    @Test func realSSHDSessionThroughRsyslog() {
        let names = HostDirectory()
        var a = analyzer(names)
        feed(&a, names, Fixtures.octetCountedFrames(Fixtures.sample("sshd-normal-rsyslog-tcp-octet.tcp")), receivedAt: received)
        #expect(a.counters.sshLines > 20)
        #expect(a.finishedSessions.count == 3)
        #expect(a.finishedSessions.allSatisfy { $0.ip == IPAddress(127, 0, 0, 1) })
        // Its wrong passwords and unknown users (no PAM duplicates) cross the default threshold once,
        // and its three logins from one address within the hour are repeated access.
        let alerts = a.engine.takeNamedAlerts(names.table.name(of:))
        #expect(alerts.map(\.rule) == [.sshBruteforce, .sshRepeatAccess])
        #expect(alerts.first?.ip == IPAddress(127, 0, 0, 1) && alerts.first?.host == "vm" && alerts.first?.count == 5)
    }

    @Test func nginxOverSyslogCountsEveryRequest() {
        let names = HostDirectory()
        var a = analyzer(names)
        feed(&a, names, Fixtures.datagrams("nginx-syslog-curl.udp"), receivedAt: received)
        #expect(a.counters.httpRequests == 17)
        #expect(a.counters.sshEvents == 0)
    }

    @Test func bruteForceBlamesTheAddressSSHDWroteNotTheUserName() {
        let names = HostDirectory()
        var a = analyzer(names)
        let frames = (0..<5).map { i in
            Array("<38>1 2026-11-22T23:0\(i):00Z web1 sshd 4\(i) - - Invalid user admin from 10.9.9.9 port 22 from 203.0.113.5 port 4242".utf8)
        }
        feed(&a, names, Array(frames[0..<4]), receivedAt: received)
        #expect(a.engine.takeNamedAlerts(names.table.name(of:)).isEmpty)
        feed(&a, names, [frames[4]], receivedAt: received)
        let alerts = a.engine.takeNamedAlerts(names.table.name(of:))
        #expect(alerts.count == 1)
        #expect(alerts.first?.rule == .sshBruteforce && alerts.first?.ip == IPAddress(203, 0, 113, 5) && alerts.first?.host == "web1")
    }

    @Test func anUnknownUsersAttemptCountsOnceNotTwice() {
        let names = HostDirectory()
        var a = analyzer(names) { $0.rules.sshBruteforce.threshold = 3 }
        // Two connections, each: the name arrives (Invalid user), then one wrong password for it.
        let lines = [(10, "Invalid user x from 198.51.100.9 port 5000"), (10, "Failed password for invalid user x from 198.51.100.9 port 5000 ssh2"),
                     (11, "Invalid user y from 198.51.100.9 port 5001"), (11, "Failed password for invalid user y from 198.51.100.9 port 5001 ssh2")]
            .map { Array("<38>1 2026-11-22T23:00:00Z web1 sshd \($0.0) - - \($0.1)".utf8) }
        feed(&a, names, lines, receivedAt: received)
        #expect(a.engine.takeNamedAlerts(names.table.name(of:)).isEmpty)  // two attempts, not four
        feed(&a, names, [Array("<38>1 2026-11-22T23:00:00Z web1 sshd 11 - - Failed password for invalid user y from 198.51.100.9 port 5001 ssh2".utf8)], receivedAt: received)
        #expect(a.engine.takeNamedAlerts(names.table.name(of:)).map(\.count) == [3])  // a second password on one connection is a new attempt
    }

    @Test func configThresholdsReachTheEngine() {
        let names = HostDirectory()
        var a = analyzer(names) { $0.rules.sshBruteforce.threshold = 2 }
        let line = Array("<38>1 2026-11-22T23:00:00Z web1 sshd 7 - - Failed password for root from 198.51.100.9 port 5 ssh2".utf8)
        feed(&a, names, [line, line], receivedAt: received)
        #expect(a.engine.takeNamedAlerts(names.table.name(of:)).map(\.rule) == [.sshBruteforce])
    }

    @Test func sessionSummaryLinesCountAsRepeatedAccess() {
        let names = HostDirectory()
        var a = analyzer(names)
        let lines = ["80.112.125.122 : 18/07/22 01:06 - 18/07/22 01:18", "80.112.125.122 : 18/07/22 01:20 - 18/07/22 01:25",
                     "80.112.125.122 : 18/07/22 01:30 - 18/07/22 01:31"].map { Array($0.utf8) }
        feed(&a, names, lines, receivedAt: received)
        #expect(a.counters.sessionSummaries == 3)
        #expect(a.engine.takeNamedAlerts(names.table.name(of:)).map(\.rule) == [.sshRepeatAccess])
    }

    @Test func aClockFarAheadIsClampedToTheReceiveTime() {
        let names = HostDirectory()
        var a = analyzer(names)
        let future = Array("<38>1 2036-01-01T00:00:00Z web1 sshd 7 - - Failed password for root from 198.51.100.9 port 5 ssh2".utf8)
        feed(&a, names, [future], receivedAt: received)
        #expect(a.clocks.counters.future == 1)
        #expect(a.engine.watermark < received)
    }

    /// Finding: one web server's access-log line claiming a time an hour ahead made another
    /// host's eight failed passwords, at the right time, raise nothing. Now the line is taken at
    /// its arrival (counted as future) and moves no one's windows.
    @Test func oneSendersClockAheadBlindsNobody() {
        let names = HostDirectory()
        var a = analyzer(names) {
            $0.rules.httpHighTraffic.threshold = 0.05
            $0.rules.httpHighTraffic.window = .seconds(10)
        }
        let nginx = #"<190>Nov 22 23:10:00 web9 nginx: 10.0.0.1 - - [23/Nov/2026:00:10:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl""#
        feed(&a, names, [Array(nginx.utf8)], receivedAt: received)
        #expect(a.clocks.counters.future == 1)
        #expect(a.engine.watermark < received)
        let failures = (0..<8).map { i in
            Array("<38>1 2026-11-22T23:10:0\(i)Z web1 sshd 10\(i) - - Failed password for root from 198.51.100.20 port 4\(i) ssh2".utf8)
        }
        feed(&a, names, failures, receivedAt: received.adding(seconds: 9))
        let alerts = a.engine.takeNamedAlerts(names.table.name(of:))
        #expect(alerts.contains { $0.rule == .sshBruteforce && $0.host == "web1" && $0.ip == IPAddress(198, 51, 100, 20) })
        // The web server's traffic alert is stamped at the line's arrival, not an hour ahead.
        let traffic = alerts.filter { $0.rule == .httpHighTraffic }
        #expect(!traffic.isEmpty && traffic.allSatisfy { $0.ts <= received && $0.firstTs <= received })
    }

    /// Finding: RFC 3164 lines from a server five hours west of UTC were stored but never alerted
    /// on (read at UTC they were five hours late). They are read in the zone that fits their arrival.
    @Test func aServerInAnotherTimezoneIsStillDetected() {
        let names = HostDirectory()
        var a = analyzer(names)
        // web1 logs on time: detection's clock is at 23:10.
        feed(&a, names, [Array("<38>1 2026-11-22T23:10:00Z web1 sshd 1 - - Accepted password for alice from 192.0.2.10 port 50000 ssh2".utf8)],
             receivedAt: received)
        let failures = (0..<5).map { i in
            Array("<38>Nov 22 18:10:0\(i) web5 sshd[20\(i)]: Failed password for root from 198.51.100.21 port 5\(i) ssh2".utf8)
        }
        feed(&a, names, failures, receivedAt: received.adding(seconds: 6))
        #expect(a.engine.lateEvents == 0)
        #expect(a.clocks.counters.zoneCorrected == 5)
        let alerts = a.engine.takeNamedAlerts(names.table.name(of:))
        #expect(alerts.map(\.rule) == [.sshBruteforce])
        #expect(alerts.first?.host == "web5" && alerts.first?.ts == CivilDateTime(year: 2026, month: 11, day: 22, hour: 23, minute: 10, second: 4).timestamp())
    }

    @Test func aSessionEndedByTheChildsDisconnectIsNotALongSession() {
        let names = HostDirectory()
        var a = analyzer(names)
        // OpenSSH 9.x: the monitor (PID 100) logs the login and the PAM session; the child (PID 101)
        // logs the disconnect first, under its own PID.
        let lines = [
            "<38>1 2026-11-22T10:00:00Z web1 sshd 100 - - Accepted password for alice from 192.0.2.10 port 50000 ssh2",
            "<86>1 2026-11-22T10:00:00Z web1 sshd 100 - - pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)",
            "<38>1 2026-11-22T10:05:00Z web1 sshd 101 - - Disconnected from user alice 192.0.2.10 port 50000",
            "<86>1 2026-11-22T10:05:00Z web1 sshd 100 - - pam_unix(sshd:session): session closed for user alice",
        ].map { Array($0.utf8) }
        feed(&a, names, lines, receivedAt: CivilDateTime(year: 2026, month: 11, day: 22, hour: 10, minute: 5).timestamp())
        #expect(a.finishedSessions.count == 1 && a.finishedSessions.first?.pid == 100)
        a.advance(now: CivilDateTime(year: 2026, month: 11, day: 22, hour: 20).timestamp())
        #expect(a.engine.takeNamedAlerts(names.table.name(of:)).isEmpty)
    }
}

extension Analyzer {
    /// One parsed message through `analyze(_:each:)` (a batch of one), and what it turned out to be.
    @discardableResult
    mutating func analyzeOne(frame: UnsafeRawBufferPointer, fields: SyslogFields, host: HostID, receivedAt: Timestamp) -> Observation {
        var batch = Batch()
        batch.append(frame: frame, fields: fields, host: host, receivedAt: receivedAt)
        var seen = Observation.none
        analyze(&batch) { observation, _ in seen = observation }
        return seen
    }
}
