import CVigilShim
import Glibc
import Testing
import VigilCore
@testable import VigilPosix

/// `vigil generate` → `vigil analyze`: normal traffic raises nothing, each scenario raises
/// exactly its rules; output is reproducible; the sender delivers every line.
@Suite struct GenerateRoundTripTests {
    func analyse(_ options: TrafficGenerator.Options) -> AnalysisReport {
        var generator = TrafficGenerator(options: options)
        var a = LogAnalysis(settings: DetectionSettings(), options: .init(referenceTime: options.start))
        let source = a.addSource(name: "gen", host: "gen")
        var line: [UInt8] = []
        while generator.next(into: &line) {
            line.withUnsafeBytes { a.feed($0, source: source) }
            line.removeAll(keepingCapacity: true)
        }
        return a.report()
    }

    static let cases: [(TrafficGenerator.Kind, LogFormat, [TrafficGenerator.Scenario])] = [
        (.ssh, .auth, []), (.ssh, .auth, [.bruteforce]), (.ssh, .auth, [.distributed]), (.ssh, .auth, [.longSession]),
        (.ssh, .syslog, [.repeatAccess]), (.ssh, .auth, [.bruteforce, .distributed, .longSession, .repeatAccess]),
        (.http, .combined, []), (.http, .combined, [.spike]), (.http, .clf, [.scan]), (.http, .csv, [.errors]),
        (.http, .syslog, [.spike, .scan, .errors]),
        (.sessions, .sessions, []), (.sessions, .sessions, [.repeatAccess]), (.sessions, .syslog, [.repeatAccess]),
    ]

    @Test(arguments: cases)
    func findsExactlyTheScenariosGenerated(kind: TrafficGenerator.Kind, format: LogFormat,
                                           scenarios: [TrafficGenerator.Scenario]) {
        let options = TrafficGenerator.Options(kind: kind, format: format, count: 20_000, hosts: 3, scenarios: scenarios, seed: 7)
        #expect(options.problem() == nil)
        let r = analyse(options)
        #expect(r.invalidLines == 0)
        let fired = Set(r.alerts.filter { $0.state == .firing }.map(\.rule))
        let expected = Set(scenarios.flatMap { $0.expectedRules(kind: kind) })
        #expect(fired == expected)
        // One incident per scenario and scope: the spike fires for its host and for all hosts.
        let firings = r.alerts.filter { $0.state == .firing }.count
        #expect(firings == scenarios.reduce(0) { $0 + ($1 == .spike ? 2 : $1.expectedRules(kind: kind).count) })
    }

    /// One name per format in both commands: what `generate --format F` writes, `analyze` detects
    /// as F (an ssh log written as syslog is an auth log: its lines are sshd's), and `--format F`
    /// is accepted by both; the old names are aliases.
    @Test(arguments: LogFormat.allCases.flatMap { f in TrafficGenerator.Kind.allCases.filter { TrafficGenerator.canWrite($0, as: f) }.map { (f, $0) } })
    func analyzeNamesWhatGenerateWrote(format: LogFormat, kind: TrafficGenerator.Kind) {
        #expect(LogFormat(name: format.rawValue) == format)
        let r = analyse(.init(kind: kind, format: format, count: 50))
        #expect(r.sources[0].format == (format == .syslog && kind == .ssh ? .auth : format))
    }

    @Test func oldFormatNamesAreAliases() {
        #expect(LogFormat(name: "sshd") == .auth)
        #expect(LogFormat(name: "rfc5424") == .syslog)
        #expect(LogFormat(name: "auto") == nil && LogFormat(name: "Auth") == nil)
        #expect(LogFormat.names == "syslog, auth, sessions, clf, combined, csv")
    }

    @Test(arguments: [
        ("1767225600", 1_767_225_600 as Int64?), ("0", 0), ("2026-01-01T00:00:00Z", 1_767_225_600),
        ("2026-01-01T01:00:00+01:00", 1_767_225_600), ("2026-01-01T00:00:00.5Z", 1_767_225_600), ("2026-01-01", 1_767_225_600),
        ("-1", nil), ("", nil), ("yesterday", nil), ("2026-13-01T00:00:00Z", nil), ("2026-01-01 00:00:00", nil), ("1767225600s", nil),
    ])
    func startTakesRFC3339OrUnixSeconds(text: String, seconds: Int64?) {
        #expect(TrafficGenerator.Options.startTime(text)?.seconds == seconds)
    }

    @Test func aLongSessionInSummariesIsTheLongestSession() {
        let r = analyse(.init(kind: .sessions, count: 2000, scenarios: [.longSession]))
        #expect(r.ssh.longestSessions.first?.ip == IPAddress(198, 51, 100, 7))
        #expect(r.ssh.longestSessions.first?.durationSeconds == Int64(5 * 3600))
    }

    @Test func theSameSeedGivesTheSameLinesAndCountIsExact() {
        func lines(seed: UInt64) -> [UInt8] {
            var g = TrafficGenerator(options: .init(kind: .ssh, count: 3000, scenarios: [.bruteforce], seed: seed))
            var out: [UInt8] = []
            var n = 0
            while g.next(into: &out) { out.append(10); n += 1 }
            #expect(n == 3000)
            return out
        }
        #expect(lines(seed: 3) == lines(seed: 3))
        #expect(lines(seed: 3) != lines(seed: 4))
    }

    /// `generate --to` sends a rate scenario's line once the clock reaches `lastTime`: the event
    /// time of each line, in order (the CSV header has none and keeps the start).
    @Test func lastTimeIsTheEventTimeOfEachLine() {
        #expect(TrafficGenerator.Scenario.allCases.filter(\.measuresRate) == [.spike, .errors])
        var g = TrafficGenerator(options: .init(kind: .http, format: .csv, count: 3000, scenarios: [.errors], seed: 3))
        var line: [UInt8] = []
        var times: [Int64] = []
        while g.next(into: &line) {
            let fields = line.split(separator: UInt8(ascii: ","))
            if let seconds = Int64(String(decoding: fields[3], as: UTF8.self)) {
                #expect(g.lastTime.seconds == seconds)
                times.append(g.lastTime.microseconds)
            } else {
                #expect(g.lastTime == g.options.start)
            }
            line.removeAll(keepingCapacity: true)
        }
        #expect(times.count == 3000 && times == times.sorted())
    }

    @Test func optionProblemsAreOneLine() {
        #expect(TrafficGenerator.Options(kind: .http, format: .auth).problem() == "--format auth cannot write http traffic")
        #expect(TrafficGenerator.Options(kind: .ssh, scenarios: [.spike]).problem() == "--attack spike does not apply to ssh traffic")
        #expect(TrafficGenerator.Options(kind: .ssh, hosts: 2, scenarios: [.distributed]).problem()
            == "--attack distributed needs --hosts 3 or more")
    }

    @Test func targetsParse() throws {
        #expect(try SyslogSender.Target.parse("tcp://127.0.0.1:5514").get().description == "tcp://127.0.0.1:5514")
        #expect(try SyslogSender.Target.parse("udp://[::1]:514").get().transport == .udp)
        #expect(try SyslogSender.Target.parse("udp://localhost:514").get().address.ip == IPAddress(127, 0, 0, 1))
        #expect(throws: ConfigValueError.self) { try SyslogSender.Target.parse("http://127.0.0.1:1").get() }
    }

    /// Octet-counted frames over TCP (small enough to sit in the socket buffers before
    /// anyone reads): every message arrives once, intact.
    @Test func tcpSenderDeliversEveryFrame() throws {
        let (listener, bound) = try Sockets.bind(SocketAddress(ip: IPAddress(127, 0, 0, 1), port: 0), type: Int32(SOCK_STREAM.rawValue))
        defer { close(listener) }
        let sender = try SyslogSender(target: .init(transport: .tcp, address: bound), connections: 2)
        var g = TrafficGenerator(options: .init(kind: .http, format: .syslog, count: 200))
        var line: [UInt8] = []
        var sent: [[UInt8]] = []
        while g.next(into: &line) {
            try line.withUnsafeBytes { try sender.send($0) }
            sent.append(line)
            line.removeAll()
        }
        try sender.flush()
        var received: [UInt8] = []
        var fds: [Int32] = []
        for _ in 0..<2 {
            var fd: Int32 = -1
            while fd < 0 { fd = accept(listener, nil, nil) }
            fds.append(fd)
        }
        withExtendedLifetime(sender) {}
        var frames: [[UInt8]] = []
        for fd in fds {
            var buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if n <= 0 { break }
                received.append(contentsOf: buf[0..<n])
            }
            close(fd)
        }
        // Parse `LEN SP MSG` frames.
        var i = 0
        while i < received.count {
            var len = 0
            while received[i] != UInt8(ascii: " ") { len = len * 10 + Int(received[i] - 48); i += 1 }
            frames.append(Array(received[(i + 1)..<(i + 1 + len)]))
            i += 1 + len
        }
        #expect(frames.count == sent.count)
        #expect(Set(frames) == Set(sent))
        #expect(sender.messagesSent == 200)
    }
}
