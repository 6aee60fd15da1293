/// Realistic test traffic for `vigil generate`: normal users plus attack scenarios, as log
/// lines in event-time order.
///
/// Pure and reproducible: the same options (seed included) give the same lines. Event time
/// starts at `start` and advances at a realistic pace of its own (about one ssh connection
/// every 20 s, two HTTP requests per second, one session summary every 5 min), independent
/// of how fast the lines are written, so normal traffic never trips a default rule and each
/// scenario trips exactly the rules in `Scenario.expectedRules`. Scenarios begin at fixed
/// offsets from `start` (10 min to 50 min in) and are emitted in full whatever `count` says;
/// normal lines fill up to `count`.
public struct TrafficGenerator {
    /// What kind of log to generate.
    public enum Kind: String, CaseIterable, Sendable {
        case ssh, http, sessions
    }

    /// An attack or anomaly mixed into the normal traffic.
    public enum Scenario: String, CaseIterable, Sendable {
        /// ssh: 8 failed passwords for root from 203.0.113.10 on the first host within 30 s.
        case bruteforce
        /// ssh: 203.0.113.20 tries `admin` twice on each of three hosts (never 5 on one).
        case distributed
        /// ssh: a 5 h session from 198.51.100.7; sessions: a 5 h summary line.
        case longSession = "long-session"
        /// ssh and sessions: 198.51.100.9 logs in 4 times within 30 min.
        case repeatAccess = "repeat"
        /// http: 20 extra requests/s to the first host for 4 min.
        case spike
        /// http: 203.0.113.30 requests 40 missing paths within 20 s.
        case scan
        /// http: 300 requests answered 5xx on one host within 1 min.
        case errors

        /// Whether the scenario's rule measures a rate over event time (`spike`, `errors`): a
        /// collector takes each line at its arrival at the latest, so the scenario is what it
        /// claims only when its lines are sent no faster than their event times pass.
        public var measuresRate: Bool { self == .spike || self == .errors }

        /// The kinds of log the scenario can appear in.
        public var kinds: [Kind] {
            switch self {
            case .bruteforce, .distributed: return [.ssh]
            case .longSession, .repeatAccess: return [.ssh, .sessions]
            case .spike, .scan, .errors: return [.http]
            }
        }

        /// The rules that fire (once per scope) when `vigil analyze` reads the scenario in a `kind` log.
        /// A long session in summary lines fires nothing: it is over already; the report lists it
        /// among the sessions at or above the 95th percentile.
        public func expectedRules(kind: Kind) -> [RuleID] {
            switch self {
            case .bruteforce: return [.sshBruteforce]
            case .distributed: return [.sshDistributed]
            case .longSession: return kind == .ssh ? [.sshLongSession] : []
            case .repeatAccess: return [.sshRepeatAccess]
            case .spike: return [.httpHighTraffic]
            case .scan: return [.httpScan]
            case .errors: return [.httpErrorBurst]
            }
        }
    }

    /// The file format of each kind when none is asked for: `auth`, `combined`, `sessions`.
    public static func defaultFormat(for kind: Kind) -> LogFormat {
        switch kind {
        case .ssh: return .auth
        case .http: return .combined
        case .sessions: return .sessions
        }
    }

    /// Whether lines of `kind` can be written in `format`: ssh as `auth`, http as `combined`,
    /// `clf` or `csv`, summaries as `sessions`, and every kind as `syslog` (one RFC 5424
    /// message per line, what `--to` sends: sshd, nginx or summary payloads).
    public static func canWrite(_ kind: Kind, as format: LogFormat) -> Bool {
        switch format {
        case .auth: return kind == .ssh
        case .combined, .clf, .csv: return kind == .http
        case .sessions: return kind == .sessions
        case .syslog: return true
        }
    }

    /// Everything that decides the output.
    public struct Options: Sendable {
        public var kind: Kind
        public var format: LogFormat
        /// Lines to write (at least the scenario lines).
        public var count: Int
        /// Hosts `host-01` … the traffic is spread over.
        public var hosts: Int
        public var scenarios: [Scenario]
        public var seed: UInt64
        /// Event time of the first line.
        public var start: Timestamp

        public init(kind: Kind, format: LogFormat? = nil, count: Int = 1000, hosts: Int = 3, scenarios: [Scenario] = [],
                    seed: UInt64 = 1, start: Timestamp = Timestamp(seconds: 1_767_225_600)) {
            self.kind = kind; self.format = format ?? TrafficGenerator.defaultFormat(for: kind); self.count = count; self.hosts = hosts
            self.scenarios = scenarios; self.seed = seed; self.start = start
        }

        /// The time `--start` names: Unix seconds, an RFC 3339 time (`2026-01-01T00:00:00Z`,
        /// `2026-01-01T01:00:00+01:00`) or a UTC day (`2026-01-01`); nil for anything else.
        public static func startTime(_ text: String) -> Timestamp? {
            if let seconds = Int64(text) { return seconds >= 0 ? Timestamp(seconds: seconds) : nil }
            return APITime.parse(text)
        }

        /// A one-line description of what is wrong with these options, or nil.
        public func problem() -> String? {
            if !TrafficGenerator.canWrite(kind, as: format) { return "--format \(format.rawValue) cannot write \(kind.rawValue) traffic" }
            if count < 0 { return "--count must be at least 0" }
            if hosts < 1 || hosts > 999 { return "--hosts must be 1...999" }
            for s in scenarios where !s.kinds.contains(kind) {
                return "--attack \(s.rawValue) does not apply to \(kind.rawValue) traffic"
            }
            if scenarios.contains(.distributed) && hosts < 3 { return "--attack distributed needs --hosts 3 or more" }
            return nil
        }
    }

    // MARK: - Events

    enum SSHMessage {
        case accepted(user: Int, ip: IPAddress, port: Int, method: StaticString)
        case sessionOpened(user: Int)
        case sessionClosed(user: Int)
        case disconnected(user: Int, ip: IPAddress, port: Int)
        case failedPassword(user: Int, ip: IPAddress, port: Int)
        case invalidUser(name: Int, ip: IPAddress, port: Int)
        case closedInvalid(name: Int, ip: IPAddress, port: Int)
        case closedPreauth(ip: IPAddress, port: Int)
    }

    enum Line {
        case ssh(host: Int, pid: Int, SSHMessage)
        case http(host: Int, client: IPAddress, path: StaticString, status: Int, bytes: Int, agent: Int)
        case summary(host: Int, ip: IPAddress, start: Timestamp, end: Timestamp)
    }

    struct Pending {
        var time: Int64
        var seq: Int
        var line: Line
    }

    static let users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "oscar", "peggy"]
    /// Index 0 and 1 are the scenario accounts.
    static let specialUsers = ["root", "deploy", "backup"]
    static let invalidNames = ["admin", "test", "oracle", "ubuntu", "git", "postgres", "user", "guest"]
    static let paths: [StaticString] = ["/", "/index.html", "/api/users", "/api/orders", "/api/search?q=shoes", "/pages/about",
                                        "/pages/contact", "/static/app.js", "/static/style.css", "/images/logo.png",
                                        "/login", "/blog/2026/hello"]
    static let scanPaths: [StaticString] = ["/wp-admin/", "/.env", "/phpmyadmin/index.php", "/.git/config", "/admin/login.php",
                                            "/cgi-bin/test.cgi", "/backup.zip", "/config.php"]
    static let agents = ["Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                         "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
                         "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
                         "curl/8.5.0", "python-requests/2.31.0"]

    public let options: Options
    private var random: SeededRandom
    private var queue: [Pending] = []  // sorted by (time, seq) descending: the next line is last
    private var seq = 0
    private var clock: Int64
    private var budget: Int
    private var nextPID = 2000
    private var clients: [IPAddress] = []
    private var wroteHeader = false

    /// A generator for `options` (check `options.problem()` first).
    public init(options: Options) {
        self.options = options
        random = SeededRandom(seed: options.seed)
        clock = options.start.microseconds
        lastTime = options.start
        for _ in 0..<400 { clients.append(IPAddress(ipv4: 0x0A14_0000 | UInt32(random.below(1 << 16)))) }
        budget = 0
        var planned: [Pending] = []
        for scenario in options.scenarios { plan(scenario, into: &planned) }
        budget = max(0, options.count - planned.count)
        queue = planned.sorted { ($0.time, $0.seq) > ($1.time, $1.seq) }
    }

    /// The hosts' names, `host-01` … (for checking a round trip).
    public static func hostName(_ i: Int) -> String {
        var out = Array("host-".utf8)
        appendDigits(i + 1, width: 2, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The event time of the line `next` appended last (`start` before the first).
    public private(set) var lastTime: Timestamp

    /// Appends the next line (without LF) to `out`; false when the traffic is complete.
    /// A CSV file starts with its header line (not counted in `count`).
    public mutating func next(into out: inout [UInt8]) -> Bool {
        if options.format == .csv && !wroteHeader {
            wroteHeader = true
            out += #""remotehost","rfc931","authuser","date","request","status","bytes""#.utf8
            return true
        }
        while budget > 0 && (queue.isEmpty || queue[queue.count - 1].time > clock) {
            stepNormal()
        }
        guard let p = queue.popLast() else { return false }
        lastTime = Timestamp(microseconds: p.time)
        render(p, into: &out)
        return true
    }

    // MARK: - Normal traffic

    private mutating func push(_ time: Int64, _ line: Line) {
        seq += 1
        let item = Pending(time: time, seq: seq, line: line)
        // Binary search in the descending array.
        var lo = 0, hi = queue.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if (queue[mid].time, queue[mid].seq) > (time, seq) { lo = mid + 1 } else { hi = mid }
        }
        queue.insert(item, at: lo)
    }

    private mutating func pid() -> Int {
        nextPID += random.within(1...40)
        if nextPID > 4_000_000 { nextPID = 2000 }
        return nextPID
    }

    private mutating func port() -> Int { random.within(32768...60999) }

    /// A session length skewed to short ones: 30 s to 2 h.
    private mutating func sessionLength() -> Int64 {
        Int64(30 + min(random.below(7170), random.below(7170))) * 1_000_000
    }

    private mutating func stepNormal() {
        let now = clock
        let host = random.below(options.hosts)
        switch options.kind {
        case .ssh:
            let r = random.below(100)
            let needed = r < 70 ? 4 : (r < 80 ? 5 : 2)
            if needed > budget {
                push(now, .ssh(host: host, pid: pid(), .closedPreauth(ip: scannerIP(), port: port())))
                budget -= 1
            } else if r < 80 {
                let user = random.below(Self.users.count)
                let ip = IPAddress(ipv4: 0x0A00_0000 | UInt32(random.below(1 << 24)))
                let pid = pid(), port = port()
                var t = now
                if r >= 70 {
                    push(t, .ssh(host: host, pid: pid, .failedPassword(user: user, ip: ip, port: port)))
                    t += Int64(random.within(2...6)) * 1_000_000
                }
                login(host: host, pid: pid, user: user, ip: ip, port: port, at: t, length: sessionLength(),
                      method: r >= 70 ? "password" : "publickey")
                budget -= needed
            } else {
                let name = random.below(Self.invalidNames.count), ip = scannerIP(), pid = pid(), port = port()
                push(now, .ssh(host: host, pid: pid, .invalidUser(name: name, ip: ip, port: port)))
                push(now + 800_000, .ssh(host: host, pid: pid, .closedInvalid(name: name, ip: ip, port: port)))
                budget -= 2
            }
            clock += Int64(random.within(2_000...40_000)) * 1000
        case .http:
            let status: Int
            switch random.below(1000) {
            case 0..<30: status = 404
            case 30..<80: status = 304
            case 80..<83: status = 500
            case 83..<100: status = 302
            default: status = 200
            }
            let path = Self.paths[min(random.below(Self.paths.count), random.below(Self.paths.count))]
            let bytes = status == 304 ? 0 : random.within(200...20_000)
            push(now, .http(host: host, client: clients[random.below(clients.count)], path: path, status: status,
                            bytes: bytes, agent: random.below(Self.agents.count)))
            budget -= 1
            clock += Int64(random.within(0...1_000)) * 1000
        case .sessions:
            let ip = IPAddress(ipv4: 0x0A00_0000 | UInt32(random.below(1 << 24)))
            let start = Self.minute(now)
            let end = start + Int64(1 + random.below(120)) * 60_000_000
            push(end, .summary(host: host, ip: ip, start: Timestamp(microseconds: start), end: Timestamp(microseconds: end)))
            budget -= 1
            clock += Int64(random.within(30...600)) * 1_000_000
        }
    }

    private mutating func scannerIP() -> IPAddress { IPAddress(ipv4: 0xAC10_0000 | UInt32(random.below(1 << 20))) }

    private static func minute(_ t: Int64) -> Int64 { t - ((t % 60_000_000) + 60_000_000) % 60_000_000 }

    /// The four lines of one login: accepted, PAM session opened, the disconnect, PAM session closed, all under
    /// the monitor PID (OpenSSH 9.x logs the disconnect under the child PID; see the report for why not here).
    private mutating func login(host: Int, pid: Int, user: Int, ip: IPAddress, port: Int, at t: Int64, length: Int64,
                                method: StaticString) {
        push(t, .ssh(host: host, pid: pid, .accepted(user: user, ip: ip, port: port, method: method)))
        push(t + 4_000, .ssh(host: host, pid: pid, .sessionOpened(user: user)))
        push(t + length, .ssh(host: host, pid: pid, .disconnected(user: user, ip: ip, port: port)))
        push(t + length + 1_000, .ssh(host: host, pid: pid, .sessionClosed(user: user)))
    }

    // MARK: - Scenarios

    private mutating func plan(_ scenario: Scenario, into planned: inout [Pending]) {
        let s = options.start.microseconds
        let second: Int64 = 1_000_000
        func add(_ time: Int64, _ line: Line) {
            seq += 1
            planned.append(Pending(time: time, seq: seq, line: line))
        }
        switch (scenario, options.kind) {
        case (.bruteforce, _):
            let ip = IPAddress(203, 0, 113, 10)
            for i in 0..<8 {
                add(s + 600 * second + Int64(i) * 4 * second,
                    .ssh(host: 0, pid: 900_000 + i / 3, .failedPassword(user: -1, ip: ip, port: 40_000 + i)))
            }
        case (.distributed, _):
            let ip = IPAddress(203, 0, 113, 20)
            for h in 0..<3 {
                for k in 0..<2 {
                    add(s + 1200 * second + Int64(h * 40 + k * 20) * second,
                        .ssh(host: h, pid: 910_000 + h, .invalidUser(name: 0, ip: ip, port: 41_000 + h * 2 + k)))
                }
            }
        case (.longSession, .sessions):
            let start = s + 1800 * second
            add(start + 5 * 3600 * second, .summary(host: 0, ip: IPAddress(198, 51, 100, 7), start: Timestamp(microseconds: start),
                                                   end: Timestamp(microseconds: start + 5 * 3600 * second)))
        case (.longSession, _):
            let ip = IPAddress(198, 51, 100, 7), t = s + 1800 * second, length = 5 * 3600 * second
            add(t, .ssh(host: 0, pid: 920_000, .accepted(user: -2, ip: ip, port: 42_000, method: "password")))
            add(t + 4_000, .ssh(host: 0, pid: 920_000, .sessionOpened(user: -2)))
            add(t + length, .ssh(host: 0, pid: 920_000, .disconnected(user: -2, ip: ip, port: 42_000)))
            add(t + length + 1_000, .ssh(host: 0, pid: 920_000, .sessionClosed(user: -2)))
        case (.repeatAccess, .sessions):
            let ip = IPAddress(198, 51, 100, 9)
            for k in 0..<4 {
                let start = s + Int64(2400 + k * 600) * second
                add(start + 120 * second, .summary(host: 0, ip: ip, start: Timestamp(microseconds: start),
                                                   end: Timestamp(microseconds: start + 120 * second)))
            }
        case (.repeatAccess, _):
            let ip = IPAddress(198, 51, 100, 9)
            for k in 0..<4 {
                let t = s + Int64(2400 + k * 600) * second, pid = 930_000 + k * 2, port = 43_000 + k
                add(t, .ssh(host: 0, pid: pid, .accepted(user: -3, ip: ip, port: port, method: "publickey")))
                add(t + 4_000, .ssh(host: 0, pid: pid, .sessionOpened(user: -3)))
                add(t + 120 * second, .ssh(host: 0, pid: pid, .disconnected(user: -3, ip: ip, port: port)))
                add(t + 120 * second + 1_000, .ssh(host: 0, pid: pid, .sessionClosed(user: -3)))
            }
        case (.spike, _):
            for i in 0..<4800 {
                add(s + 600 * second + Int64(i) * 50_000,
                    .http(host: 0, client: IPAddress(192, 0, 2, UInt8(1 + i % 50)), path: i % 3 == 0 ? "/api/search?q=sale" : "/",
                          status: 200, bytes: 5120, agent: i % Self.agents.count))
            }
        case (.scan, _):
            for i in 0..<40 {
                add(s + 1800 * second + Int64(i) * 500_000,
                    .http(host: 0, client: IPAddress(203, 0, 113, 30), path: Self.scanPaths[i % Self.scanPaths.count],
                          status: 404, bytes: 153, agent: 4))
            }
        case (.errors, _):
            let host = options.hosts > 1 ? 1 : 0
            for i in 0..<300 {
                add(s + 3000 * second + Int64(i) * 200_000,
                    .http(host: host, client: clients[i % clients.count], path: "/api/orders", status: 500 + (i % 3) * 2,
                          bytes: 0, agent: i % Self.agents.count))
            }
        }
    }

    // MARK: - Rendering

    private func userName(_ i: Int) -> String { i >= 0 ? Self.users[i] : Self.specialUsers[-i - 1] }

    private mutating func render(_ p: Pending, into out: inout [UInt8]) {
        let time = Timestamp(microseconds: p.time)
        switch p.line {
        case .ssh(let host, let pid, let message):
            if options.format == .syslog {
                out += "<38>1 ".utf8
                time.appendRFC3339(to: &out, fractionalDigits: 6)
                out.append(UInt8(ascii: " "))
                appendHost(host, to: &out)
                out += " sshd ".utf8
                appendDigits(pid, width: 0, to: &out)
                out += " - - ".utf8
            } else {
                let mark = out.count
                time.appendRFC3339(to: &out, fractionalDigits: 6)
                if out.count > mark && out[out.count - 1] == UInt8(ascii: "Z") { out.removeLast(); out += "+00:00".utf8 }
                out.append(UInt8(ascii: " "))
                appendHost(host, to: &out)
                out += " sshd[".utf8
                appendDigits(pid, width: 0, to: &out)
                out += "]: ".utf8
            }
            appendSSH(message, to: &out)
        case .http(let host, let client, let path, let status, let bytes, let agent):
            switch options.format {
            case .csv:
                out.append(UInt8(ascii: "\""))
                client.append(to: &out)
                out += #"","-","-","#.utf8
                appendDigits(Int(time.seconds), width: 0, to: &out)
                out += #","GET "#.utf8
                out += UnsafeRawBufferPointer(start: path.utf8Start, count: path.utf8CodeUnitCount)
                out += #" HTTP/1.1","#.utf8
                appendDigits(status, width: 0, to: &out)
                out.append(UInt8(ascii: ","))
                appendDigits(bytes, width: 0, to: &out)
            default:
                if options.format == .syslog {
                    out += "<190>1 ".utf8
                    time.appendRFC3339(to: &out, fractionalDigits: 6)
                    out.append(UInt8(ascii: " "))
                    appendHost(host, to: &out)
                    out += " nginx - - - ".utf8
                }
                client.append(to: &out)
                out += " - - [".utf8
                Self.appendCLFTime(time, to: &out)
                out += "] \"GET ".utf8
                out += UnsafeRawBufferPointer(start: path.utf8Start, count: path.utf8CodeUnitCount)
                out += " HTTP/1.1\" ".utf8
                appendDigits(status, width: 0, to: &out)
                out.append(UInt8(ascii: " "))
                appendDigits(bytes, width: 0, to: &out)
                if options.format != .clf {
                    out += " \"-\" \"".utf8
                    out += Self.agents[agent].utf8
                    out.append(UInt8(ascii: "\""))
                }
            }
        case .summary(let host, let ip, let start, let end):
            if options.format == .syslog {
                out += "<86>1 ".utf8
                time.appendRFC3339(to: &out)
                out.append(UInt8(ascii: " "))
                appendHost(host, to: &out)
                out += " session-log - - - ".utf8
            }
            ip.append(to: &out)
            out += " : ".utf8
            Self.appendSummaryTime(start, to: &out)
            out += " - ".utf8
            Self.appendSummaryTime(end, to: &out)
        }
    }

    private func appendHost(_ host: Int, to out: inout [UInt8]) {
        out += "host-".utf8
        appendDigits(host + 1, width: 2, to: &out)
    }

    private func appendSSH(_ message: SSHMessage, to out: inout [UInt8]) {
        func tail(_ ip: IPAddress, _ port: Int, _ suffix: StaticString) {
            ip.append(to: &out)
            out += " port ".utf8
            appendDigits(port, width: 0, to: &out)
            out += UnsafeRawBufferPointer(start: suffix.utf8Start, count: suffix.utf8CodeUnitCount)
        }
        switch message {
        case .accepted(let user, let ip, let port, let method):
            out += "Accepted ".utf8
            out += UnsafeRawBufferPointer(start: method.utf8Start, count: method.utf8CodeUnitCount)
            out += " for \(userName(user)) from ".utf8
            tail(ip, port, " ssh2")
        case .sessionOpened(let user):
            out += "pam_unix(sshd:session): session opened for user \(userName(user))(uid=1000) by (uid=0)".utf8
        case .sessionClosed(let user):
            out += "pam_unix(sshd:session): session closed for user \(userName(user))".utf8
        case .disconnected(let user, let ip, let port):
            out += "Disconnected from user \(userName(user)) ".utf8
            tail(ip, port, "")
        case .failedPassword(let user, let ip, let port):
            out += "Failed password for \(userName(user)) from ".utf8
            tail(ip, port, " ssh2")
        case .invalidUser(let name, let ip, let port):
            out += "Invalid user \(Self.invalidNames[name]) from ".utf8
            tail(ip, port, "")
        case .closedInvalid(let name, let ip, let port):
            out += "Connection closed by invalid user \(Self.invalidNames[name]) ".utf8
            tail(ip, port, " [preauth]")
        case .closedPreauth(let ip, let port):
            out += "Connection closed by ".utf8
            tail(ip, port, " [preauth]")
        }
    }

    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `dd/Mon/yyyy:hh:mm:ss +0000`.
    static func appendCLFTime(_ t: Timestamp, to out: inout [UInt8]) {
        let c = CivilDateTime(t)
        appendDigits(c.day, width: 2, to: &out)
        out.append(UInt8(ascii: "/"))
        out += months[c.month - 1].utf8
        out.append(UInt8(ascii: "/"))
        appendDigits(c.year, width: 4, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(c.hour, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(c.minute, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(c.second, width: 2, to: &out)
        out += " +0000".utf8
    }

    /// `dd/mm/yy hh:mm`.
    static func appendSummaryTime(_ t: Timestamp, to out: inout [UInt8]) {
        let c = CivilDateTime(t)
        appendDigits(c.day, width: 2, to: &out)
        out.append(UInt8(ascii: "/"))
        appendDigits(c.month, width: 2, to: &out)
        out.append(UInt8(ascii: "/"))
        appendDigits(c.year % 100, width: 2, to: &out)
        out.append(UInt8(ascii: " "))
        appendDigits(c.hour, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(c.minute, width: 2, to: &out)
    }
}
