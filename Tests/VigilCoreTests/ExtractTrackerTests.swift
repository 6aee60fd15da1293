import Testing
@testable import VigilCore

@Suite struct ExtractTrackerTests {
    static let web = HostID(1)
    static let db = HostID(2)

    static func line(_ text: String, pid: Int32) -> SSHLine {
        withExtractBytes(text) { SSHExtractor().extract($0, pid: pid)! }
    }

    static func at(_ seconds: Int64) -> Timestamp { Timestamp(seconds: 1_800_000_000 + seconds) }

    @Test func monitorCloseBeforeChildDisconnectGivesOneClose() {
        var t = SSHConnectionTracker()
        _ = t.track(Self.line("Accepted password for ann from 2001:db8::4 port 50000 ssh2", pid: 100), host: Self.web, at: Self.at(0))
        let open = t.track(Self.line("pam_unix(sshd:session): session opened for user ann(uid=1000) by (uid=0)", pid: 100),
                           host: Self.web, at: Self.at(1))
        #expect(open.event?.ip == IPAddress.parse("2001:db8::4"))
        #expect(open.session == SSHSession(host: Self.web, pid: 100, ip: IPAddress.parse("2001:db8::4"), port: 50000, start: Self.at(1)))
        let closed = t.track(Self.line("pam_unix(sshd:session): session closed for user ann", pid: 100), host: Self.web, at: Self.at(3601))
        #expect(closed.event?.kind == .sessionClose)
        #expect(closed.session?.durationMicroseconds == 3_600_000_000)
        let child = t.track(Self.line("Disconnected from user ann 2001:db8::4 port 50000", pid: 101), host: Self.web, at: Self.at(3601))
        #expect(child.event == nil)
        #expect(child.session == nil)
    }

    @Test func withoutPAMTheSessionRunsFromAcceptedToDisconnect() {
        var t = SSHConnectionTracker()
        _ = t.track(Self.line("Accepted publickey for bo from 192.0.2.8 port 4000 ssh2: ED25519 SHA256:k", pid: 7), host: Self.db, at: Self.at(10))
        let end = t.track(Self.line("Disconnected from user bo 192.0.2.8 port 4000", pid: 8), host: Self.db, at: Self.at(70))
        #expect(end.event?.kind == .sessionClose)
        #expect(end.session?.start == Self.at(10))
        #expect(end.session?.durationMicroseconds == 60_000_000)
        #expect(end.session?.pid == 7)
    }

    @Test func sessionsArePairedPerHost() {
        var t = SSHConnectionTracker()
        _ = t.track(Self.line("Accepted password for a from 192.0.2.1 port 1 ssh2", pid: 50), host: Self.web, at: Self.at(0))
        _ = t.track(Self.line("pam_unix(sshd:session): session opened for user a(uid=1) by (uid=0)", pid: 50), host: Self.web, at: Self.at(0))
        _ = t.track(Self.line("Accepted password for b from 192.0.2.2 port 2 ssh2", pid: 50), host: Self.db, at: Self.at(5))
        _ = t.track(Self.line("pam_unix(sshd:session): session opened for user b(uid=1) by (uid=0)", pid: 50), host: Self.db, at: Self.at(5))
        let a = t.track(Self.line("pam_unix(sshd:session): session closed for user a", pid: 50), host: Self.web, at: Self.at(20))
        let b = t.track(Self.line("pam_unix(sshd:session): session closed for user b", pid: 50), host: Self.db, at: Self.at(40))
        #expect(a.session?.ip == IPAddress(192, 0, 2, 1))
        #expect(a.session?.durationMicroseconds == 20_000_000)
        #expect(b.session?.ip == IPAddress(192, 0, 2, 2))
        #expect(b.session?.durationMicroseconds == 35_000_000)
    }

    @Test func closeOfAnUnknownSessionStillPasses() {
        var t = SSHConnectionTracker()
        let r = t.track(Self.line("pam_unix(sshd:session): session closed for user x", pid: 9), host: Self.web, at: Self.at(0))
        #expect(r.event?.kind == .sessionClose)
        #expect(r.session == nil)
        #expect(t.count == 0)
    }

    @Test func ipLessLinesTakeTheAddressOfTheirConnection() {
        var t = SSHConnectionTracker()
        let first = t.track(Self.line("Unable to negotiate with 203.0.113.5 port 9: no matching cipher found [preauth]", pid: 300),
                            host: Self.web, at: Self.at(0))
        #expect(first.event?.ip == IPAddress(203, 0, 113, 5))
        let later = t.track(Self.line("fatal: ssh_packet_read: something odd [preauth]", pid: 300), host: Self.web, at: Self.at(1))
        #expect(later.event == SSHEvent(kind: .probe, ip: IPAddress(203, 0, 113, 5), port: 9, pid: 300))
        // The same PID on another host is another connection: held, not joined.
        let other = t.track(Self.line("error: kex_exchange_identification: banner line contains invalid characters", pid: 300),
                            host: Self.db, at: Self.at(1))
        #expect(other.event == nil)
    }

    @Test func heldProbesAreJoinedWithTheirCountOrDroppedWhenStale() {
        var t = SSHConnectionTracker(connectionTimeoutSeconds: 60)
        let kex = Self.line("error: kex_exchange_identification: read: Connection reset by peer", pid: 400)
        #expect(t.track(kex, host: Self.web, at: Self.at(0)).event == nil)
        #expect(t.track(kex, host: Self.web, at: Self.at(1)).event == nil)
        let r = t.track(Self.line("Connection reset by 198.51.100.3 port 777", pid: 400), host: Self.web, at: Self.at(2))
        #expect(r.joined == SSHEvent(kind: .probe, ip: IPAddress(198, 51, 100, 3), port: 777, pid: 400, count: 2))
        #expect(r.event?.ip == IPAddress(198, 51, 100, 3))

        // A held probe left alone past the timeout is not blamed on a later connection reusing the PID.
        #expect(t.track(kex, host: Self.web, at: Self.at(100)).event == nil)
        let reuse = t.track(Self.line("Connection closed by 192.0.2.99 port 1 [preauth]", pid: 400), host: Self.web, at: Self.at(200))
        #expect(reuse.joined == nil)
        #expect(reuse.event?.ip == IPAddress(192, 0, 2, 99))
    }

    @Test func expireKeepsOpenSessionsUntilTheirOwnTimeout() {
        var t = SSHConnectionTracker(connectionTimeoutSeconds: 60, sessionTimeoutSeconds: 3600)
        _ = t.track(Self.line("Accepted password for a from 192.0.2.1 port 1 ssh2", pid: 1), host: Self.web, at: Self.at(0))
        _ = t.track(Self.line("Connection closed by 192.0.2.2 port 2 [preauth]", pid: 2), host: Self.web, at: Self.at(0))
        #expect(t.count == 2)
        t.expire(now: Self.at(120))
        #expect(t.count == 1)
        t.expire(now: Self.at(4000))
        #expect(t.count == 0)
        #expect(t.evictions == 0)
    }

    @Test func stateIsBoundedAndEvictionsAreCounted() {
        var t = SSHConnectionTracker(capacity: 8)
        for i in 0..<100 {
            _ = t.track(Self.line("Connection closed by 192.0.2.\(i) port 22 [preauth]", pid: Int32(1000 + i)), host: Self.web, at: Self.at(Int64(i)))
            #expect(t.count <= 8)
        }
        #expect(t.evictions > 0)
        #expect(t.evictions <= 100)
        // The most recent connection survived and still lends its address to an IP-less line.
        let r = t.track(Self.line("error: kex_exchange_identification: Connection closed by remote host", pid: 1099), host: Self.web, at: Self.at(100))
        #expect(r.event?.ip == IPAddress(192, 0, 2, 99))
    }

    @Test func expireFollowsDeadlinesMovedByLaterLines() {
        var t = SSHConnectionTracker(connectionTimeoutSeconds: 60)
        let first = Self.line("Connection closed by 192.0.2.1 port 1 [preauth]", pid: 1)
        _ = t.track(first, host: Self.web, at: Self.at(0))
        _ = t.track(first, host: Self.web, at: Self.at(50))  // idle from 50 on: stale after 110
        t.expire(now: Self.at(100))
        #expect(t.count == 1)
        _ = t.track(Self.line("Connection closed by 192.0.2.2 port 2 [preauth]", pid: 2), host: Self.web, at: Self.at(105))
        t.expire(now: Self.at(111))
        #expect(t.count == 1)
        // The survivor is the second connection: its address still fills in an IP-less line.
        let kex = t.track(Self.line("error: kex_exchange_identification: Connection closed by remote host", pid: 2),
                          host: Self.web, at: Self.at(112))
        #expect(kex.event?.ip == IPAddress(192, 0, 2, 2))
        t.expire(now: Self.at(200))
        #expect(t.count == 0)
    }

    @Test func anEvictedSessionIsNoLongerFoundByItsAddress() {
        var t = SSHConnectionTracker(capacity: 2)
        _ = t.track(Self.line("Accepted password for a from 192.0.2.1 port 5 ssh2", pid: 10), host: Self.web, at: Self.at(0))
        for i in 0..<4 {
            _ = t.track(Self.line("Connection closed by 198.51.100.\(i) port 22 [preauth]", pid: Int32(20 + i)),
                        host: Self.web, at: Self.at(Int64(1 + i)))
        }
        #expect(t.evictions > 0)
        let child = t.track(Self.line("Disconnected from user a 192.0.2.1 port 5", pid: 11), host: Self.web, at: Self.at(9))
        #expect(child.session == nil)
        #expect(child.event?.pid == 11)
    }

    @Test func resultsDoNotDependOnTheHashSeed() {
        let script: [(String, Int32, HostID)] = [
            ("Accepted password for ann from 192.0.2.4 port 50000 ssh2", 100, Self.web),
            ("pam_unix(sshd:session): session opened for user ann(uid=1000) by (uid=0)", 100, Self.web),
            ("error: kex_exchange_identification: read: Connection reset by peer", 200, Self.db),
            ("Invalid user x from 203.0.113.9 port 4 ", 201, Self.db),
            ("Failed password for invalid user x from 203.0.113.9 port 4 ssh2", 201, Self.db),
            ("Connection reset by 203.0.113.7 port 9 [preauth]", 200, Self.db),
            ("Disconnected from user ann 192.0.2.4 port 50000", 101, Self.web),
            ("pam_unix(sshd:session): session closed for user ann", 100, Self.web),
        ]
        func run(_ seed: UInt64) -> [SSHTrackResult] {
            var t = SSHConnectionTracker(hashSeed: seed)
            return script.enumerated().map { i, step in t.track(Self.line(step.0, pid: step.1), host: step.2, at: Self.at(Int64(i))) }
        }
        let reference = run(0)
        #expect(reference[4].event == nil)  // the invalid user's failure is the same attempt
        #expect(reference[5].joined?.count == 1)
        #expect(reference[6].session?.durationMicroseconds == 5_000_000)
        #expect(reference[7].event == nil)
        for seed: UInt64 in [1, 0x9E37_79B9_7F4A_7C15, .max] { #expect(run(seed) == reference) }
    }
}
