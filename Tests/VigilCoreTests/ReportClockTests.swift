import Testing
@testable import VigilCore

/// `vigil analyze` over files whose clocks disagree: each file's own timeline stands in for the
/// arrival time, so one line claiming a far time blinds nobody, and a host in another zone is read
/// in its zone.
@Suite struct ReportClockTests {
    let now = CivilDateTime(year: 2026, month: 12, day: 3).timestamp()

    func run(_ files: [(String, [String])]) -> AnalysisReport {
        var a = LogAnalysis(settings: DetectionSettings(), options: .init(referenceTime: now))
        for (name, lines) in files {
            let source = a.addSource(name: name, host: name)
            for line in lines { Array(line.utf8).withUnsafeBytes { a.feed($0, source: source) } }
        }
        a.finish()
        return a.report()
    }

    func failure(_ host: String, _ second: Int, ip: String = "198.51.100.30", hour: Int = 10, day: Int = 22) -> String {
        let ss = second < 10 ? "0\(second)" : "\(second)"
        return "<38>1 2026-11-\(day)T\(hour):00:\(ss)Z \(host) sshd \(100 + second) - - Failed password for root from \(ip) port \(4000 + second) ssh2"
    }

    /// A central syslog file: web9 writes one line dated a day ahead, then web1 has five failed
    /// passwords. Before, the forged line moved detection a day on and the brute force was late.
    @Test func oneForgedLineInASharedFileBlindsNobody() {
        var lines = [failure("web1", 0, ip: "192.0.2.1")]
        lines.append(#"<190>1 2026-11-23T10:00:00Z web9 nginx - - - 10.0.0.1 - - [23/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5"#)
        lines += (1...5).map { failure("web1", $0) }
        let r = run([("central.log", lines)])
        #expect(r.lateEvents == 0)
        #expect(r.futureEvents == 1)
        #expect(r.text().contains("1 events claimed a time more than the clock tolerance past their file's timeline"))
        #expect(r.json().contains(#""late_events":0,"future_events":1}"#))
        #expect(r.alerts.contains { $0.rule == .sshBruteforce && $0.state == .firing && $0.host == "web1" })
        #expect(r.alerts.allSatisfy { $0.ts < CivilDateTime(year: 2026, month: 11, day: 23).timestamp() })
    }

    /// web9 writes two lines dated a day ahead, then web1 has five failed passwords. Before, the
    /// second forged line confirmed the first as a jump of the file's time, and every later line
    /// (the brute force too) was late.
    @Test func twoForgedLinesInASharedFileBlindNobody() {
        var lines = [failure("web1", 0, ip: "192.0.2.1")]
        lines += (0..<2).map { failure("web9", $0, ip: "192.0.2.9", day: 23) }
        lines += (1...5).map { failure("web1", $0) }
        let r = run([("central.log", lines)])
        #expect(r.lateEvents == 0)
        #expect(r.futureEvents == 2)
        #expect(r.alerts.contains { $0.rule == .sshBruteforce && $0.state == .firing && $0.host == "web1" && $0.ip == IPAddress(198, 51, 100, 30) })
        #expect(r.alerts.allSatisfy { $0.ts < CivilDateTime(year: 2026, month: 11, day: 23).timestamp() })
    }

    /// 200 lines one host writes dated ahead, in a file of several hosts, do not move the
    /// timeline for the others: web1's next line refutes them, and its brute force is detected.
    @Test func aForgedBurstFromOneHostMovesNoOtherHostsTime() {
        var lines = [failure("web1", 0, ip: "192.0.2.1"), failure("web2", 0, ip: "192.0.2.2")]
        lines += (0..<200).map { failure("web9", $0 % 60, ip: "192.0.2.9", day: 23) }
        lines += (1...5).map { failure("web1", $0) }
        let r = run([("central.log", lines)])
        #expect(r.lateEvents == 0)
        #expect(r.futureEvents == 200)
        #expect(r.alerts.contains { $0.rule == .sshBruteforce && $0.state == .firing && $0.host == "web1" })
    }

    /// Finding (review): one line far ahead among those that confirmed a real jump moved the
    /// timeline to its own time (the highest claimed), and every later line was late. Now a
    /// confirmed jump moves it to the second-highest of the hosts' highest: web9's line from
    /// 2076 is fed again as a jump of its own, refuted, an outlier; web1's brute force after
    /// the quiet hour is detected at its own time.
    @Test func oneFarLineAmongTheConfirmingOnesDoesNotSetTheTimeline() {
        var lines = [failure("web1", 0, ip: "192.0.2.1"), failure("web2", 0, ip: "192.0.2.2")]
        lines.append(failure("web1", 0, ip: "203.0.113.1", hour: 11))
        lines.append(failure("web9", 0, ip: "192.0.2.9").replacing("2026-11-22", with: "2076-11-22"))
        lines += (1...16).map { failure($0 % 2 == 0 ? "web1" : "web2", $0, ip: "203.0.113.\($0 + 1)", hour: 11) }
        lines += (31...35).map { failure("web1", $0, hour: 11) }
        let r = run([("central.log", lines)])
        #expect(r.futureEvents == 1 && r.lateEvents == 0)
        #expect(r.alerts.first { $0.rule == .sshBruteforce && $0.state == .firing && $0.ip == IPAddress(198, 51, 100, 30) }?.ts
            == CivilDateTime(year: 2026, month: 11, day: 22, hour: 11, minute: 0, second: 35).timestamp())
    }

    /// The lines that confirm a jump may claim a little less than it (within the tolerance): the
    /// jump's own line is then the highest, and the timeline moves to it. (Moved only to the
    /// second-highest, the jump's line was held again behind itself, for ever.)
    @Test func aJumpConfirmedByLinesJustBeforeItEnds() {
        var lines = [failure("web1", 0, ip: "192.0.2.1"), failure("web1", 10, ip: "192.0.2.2", hour: 11)]
        lines += (0..<16).map { failure("web1", $0 % 10, ip: "203.0.113.\($0)", hour: 11) }
        lines.append(failure("web1", 30, ip: "192.0.2.1"))
        let r = run([("auth.log", lines)])
        #expect(r.futureEvents == 0 && r.lateEvents == 1 + 10)
    }

    /// Finding (review): in a file that once named two hosts, a host left alone could never
    /// confirm a jump, so after its first quiet gap every line was an outlier at the old time
    /// (300 here). A jump nothing refuted is confirmed once `maxHeldLines` are held: web1's
    /// lines after the gap are taken at their own times.
    @Test func aSharedFileDownToOneHostStillMovesOn() {
        var lines = [failure("web1", 0, ip: "192.0.2.1"), failure("web2", 0, ip: "192.0.2.2")]
        lines += (0..<300).map { failure("web1", $0 % 60, ip: "203.0.113.\($0 % 200)", hour: 11 + $0 / 60) }
        let r = run([("central.log", lines)])
        #expect(r.futureEvents == 0 && r.lateEvents == 0)
    }

    /// The span that confirms a jump, to the line: after the line that jumps an hour, 15 lines
    /// that agree and then one back in the old hour refute it (all 16 were outliers); 16 lines
    /// that agree confirm it, and the line back is then late.
    @Test func aJumpIsConfirmedByExactlyTheSpanOfAgreeingLines() {
        func file(agreeing: Int) -> [String] {
            var lines = [failure("web1", 0, ip: "192.0.2.1")]
            lines += (0...agreeing).map { failure("web1", $0, ip: "203.0.113.\($0)", hour: 11) }
            lines.append(failure("web1", 30, ip: "192.0.2.1"))
            return lines
        }
        #expect(LogAnalysis.jumpConfirmingLines == 16)
        let refuted = run([("auth.log", file(agreeing: 15))])
        #expect(refuted.futureEvents == 16 && refuted.lateEvents == 0)
        let confirmed = run([("auth.log", file(agreeing: 16))])
        #expect(confirmed.futureEvents == 0 && confirmed.lateEvents == 1)
    }

    /// In a file of several hosts, a jump needs lines from a second host: web1 and web2 both go
    /// on after a quiet hour (honest), so the timeline moves; web9 alone, with as many lines, does
    /// not, and web1's next line, back in the old hour, refutes it.
    @Test func aJumpInASharedFileNeedsASecondHost() {
        let before = [failure("web1", 0, ip: "192.0.2.1"), failure("web2", 0, ip: "192.0.2.2")]
        let both = (0...16).map { failure($0 % 2 == 0 ? "web1" : "web2", $0, ip: "203.0.113.\($0)", hour: 11) }
        let moved = run([("central.log", before + both + (1...5).map { failure("web1", 30 + $0, hour: 11) })])
        #expect(moved.futureEvents == 0 && moved.lateEvents == 0)
        #expect(moved.alerts.first { $0.rule == .sshBruteforce && $0.state == .firing }?.ts
            == CivilDateTime(year: 2026, month: 11, day: 22, hour: 11, minute: 0, second: 35).timestamp())
        let alone = (0...16).map { failure("web9", $0, ip: "203.0.113.\($0)", hour: 11) }
        let refuted = run([("central.log", before + alone + [failure("web1", 30, ip: "192.0.2.1")])])
        #expect(refuted.futureEvents == 17 && refuted.lateEvents == 0)
    }

    /// A jump holds at most `maxHeldBytes`: web9 writes lines of about 1 MB dated a day ahead in
    /// a shared file (before, 255 of them after the first would have been held: 256 MB). At the
    /// bound, with nothing refuting it, the jump is decided (confirmed): web1's next line, back in
    /// the old hour, is late instead of refuting it.
    @Test func aJumpHoldsAtMostMaxHeldBytes() {
        func request(_ host: String, _ second: Int, path: String) -> String {
            let ss = second < 10 ? "0\(second)" : "\(second)"
            return #"<190>1 2026-11-23T10:00:\#(ss)Z \#(host) nginx - - - 10.0.0.1 - - [23/Nov/2026:10:00:\#(ss) +0000] "GET /\#(path) HTTP/1.1" 200 5"#
        }
        let big = String(repeating: "x", count: 1_000_000)
        let lineBytes = request("web9", 0, path: big).utf8.count + 1
        let bounded = (LogAnalysis.maxHeldBytes + lineBytes - 1) / lineBytes
        #expect(bounded < 60 && bounded < LogAnalysis.maxHeldLines)
        var lines = [failure("web1", 0, ip: "192.0.2.1"), failure("web2", 0, ip: "192.0.2.2")]
        lines += (0..<bounded).map { request("web9", $0, path: big) }
        lines.append(failure("web1", 30, ip: "192.0.2.1"))
        let r = run([("central.log", lines)])
        #expect(r.futureEvents == 0 && r.lateEvents == 1)
    }

    /// Lines without a time count towards the bound too: after a jump, 300 lines with no
    /// timestamp (RFC 5424 `-`) decide it at `maxHeldLines` (before, they were held without
    /// limit), so the next timed line, back in the old hour, is late.
    @Test func untimedLinesCountTowardsTheBound() {
        var lines = [failure("web1", 0, ip: "192.0.2.1"), failure("web1", 0, hour: 11)]
        lines += (0..<300).map { _ in "<38>1 - web1 sshd 7 - - Failed password for root from 198.51.100.30 port 4000 ssh2" }
        lines.append(failure("web1", 30, ip: "192.0.2.1"))
        let r = run([("auth.log", lines)])
        #expect(r.futureEvents == 0 && r.lateEvents == 1)
    }

    /// A bare sshd line (no syslog header, in an auth.log) waits behind a pending jump like a
    /// line without a time: the third of five failures after a quiet hour is bare, and the
    /// brute force is whole.
    @Test func aBareSSHLineStaysInFileOrderBehindAJump() {
        func auth(_ second: Int, hour: Int, ip: String = "198.51.100.30") -> String {
            "Nov 22 \(hour):00:0\(second) web1 sshd[10\(second)]: Failed password for root from \(ip) port 400\(second) ssh2"
        }
        var lines = [auth(0, hour: 10, ip: "192.0.2.1")]
        lines += (1...2).map { auth($0, hour: 11) }
        lines.append("Failed password for root from 198.51.100.30 port 4003 ssh2")
        lines += (4...5).map { auth($0, hour: 11) }
        let r = run([("web1", lines)])  // a bare line is of the input's host
        #expect(r.futureEvents == 0 && r.lateEvents == 0)
        #expect(r.alerts.contains { $0.rule == .sshBruteforce && $0.state == .firing && $0.ip == IPAddress(198, 51, 100, 30) })
    }

    /// A line without a time is held behind a pending jump, so it is detected with the lines
    /// around it: the third of five failures has no time, and the brute force after the quiet
    /// hour is whole.
    @Test func aLineWithoutATimeStaysInFileOrderBehindAJump() {
        var lines = [failure("web1", 0, ip: "192.0.2.1")]
        lines += (1...2).map { failure("web1", $0, hour: 11) }
        lines.append("<38>1 - web1 sshd 103 - - Failed password for root from 198.51.100.30 port 4003 ssh2")
        lines += (4...5).map { failure("web1", $0, hour: 11) }
        let r = run([("auth.log", lines)])
        #expect(r.futureEvents == 0 && r.lateEvents == 0)
        #expect(r.alerts.contains { $0.rule == .sshBruteforce && $0.state == .firing && $0.ip == IPAddress(198, 51, 100, 30) })
    }

    /// A quiet hour in a file is no forgery: the line after the gap is as late, so the file's
    /// time moves on and the brute force after the gap is detected at its own time.
    @Test func aGapConfirmedByTheNextLineIsTheFilesTime() {
        var lines = [failure("web1", 0, ip: "192.0.2.1")]
        lines += (1...5).map { failure("web1", $0, hour: 11) }
        let r = run([("auth.log", lines)])
        #expect(r.futureEvents == 0 && r.lateEvents == 0)
        let fired = r.alerts.first { $0.rule == .sshBruteforce && $0.state == .firing }
        #expect(fired?.ts == CivilDateTime(year: 2026, month: 11, day: 22, hour: 11, minute: 0, second: 5).timestamp())
    }

    /// Random timelines (mostly forward, with gaps, lines back, lines far ahead, lines without a
    /// time, three hosts): every analysis ends, and every line is counted exactly once (a held
    /// line fed twice, or never, would change the count).
    @Test func everyLineIsFedOnceWhateverTheTimes() {
        var random = SeededRandom(seed: 16)
        for _ in 0..<200 {
            var clock = 10 * 3600
            var lines: [String] = []
            for _ in 0..<(50 + random.below(400)) {
                let host = "web\(1 + random.below(3))"
                switch random.below(20) {
                case 0: lines.append("<38>1 - \(host) sshd 7 - - Failed password for root from 198.51.100.\(random.below(9)) port 4000 ssh2")
                case 1: lines.append(line(host, at: clock + 50 * 365 * 86_400))
                case 2: lines.append(line(host, at: clock - random.below(7200)))
                case 3: clock += 120 + random.below(7200); lines.append(line(host, at: clock))
                default: clock += random.below(30); lines.append(line(host, at: clock))
                }
            }
            // A gap, then a line far ahead, at the very end: fed again at the end as a jump of its own.
            if random.below(2) == 0 { lines += [line("web1", at: clock + 3600), line("web1", at: clock + 3601), line("web2", at: clock + 50 * 365 * 86_400)] }
            let r = run([("central.log", lines)])
            #expect(r.lines.reduce(0) { $0 + $1.lines } == lines.count)
        }
    }

    /// A failed password of `host` at `second` seconds after 2026-11-22T00:00:00Z.
    func line(_ host: String, at second: Int) -> String {
        let t = Timestamp(microseconds: CivilDateTime(year: 2026, month: 11, day: 22).timestamp().microseconds + Int64(second) * 1_000_000)
        return "<38>1 \(t.rfc3339()) \(host) sshd 9 - - Failed password for root from 203.0.113.\(second % 200) port 4000 ssh2"
    }

    /// One file mixes hosts; web5's lines are RFC 3164 local time five hours west of UTC. Read at
    /// UTC they were five hours late for the shared timeline; they are read in their zone.
    @Test func aHostInAnotherZoneWithinOneFileIsDetected() {
        var lines = [failure("web1", 0, ip: "192.0.2.1")]
        lines += (1...5).map { "<38>Nov 22 05:00:0\($0) web5 sshd[30\($0)]: Failed password for root from 198.51.100.31 port 5\($0) ssh2" }
        let r = run([("central.log", lines)])
        #expect(r.lateEvents == 0)
        #expect(r.alerts.contains { $0.rule == .sshBruteforce && $0.host == "web5" && $0.ip == IPAddress(198, 51, 100, 31) })
    }
}
