/// What `vigil analyze` found in its inputs: counts per source, format and host; the ssh
/// sessions, repeated access and attacks; the HTTP traffic; and the timeline of every alert
/// the rules raised. Rendered as readable text (`text()`) or one JSON document (`json()`).
public struct AnalysisReport: Sendable, Equatable {
    /// One input and how it read.
    public struct SourceSummary: Sendable, Equatable {
        public var name: String
        /// nil when no line of it could be read as any format.
        public var format: LogFormat?
        public var lines: Int
        public var invalidLines: Int
        /// The first few invalid lines, with their 1-based line numbers.
        public var firstInvalid: [InvalidLine]
        /// Lines longer than the reader keeps (1 MiB): each was analysed cut to that length and
        /// the rest of it skipped; they are among `lines`.
        public var cutLines = 0
    }

    /// A line that did not read as its source's format.
    public struct InvalidLine: Sendable, Equatable {
        public var line: Int
        /// The start of the line as text.
        public var text: String
    }

    /// An input that was not analysed at all (it could not be opened, or is compressed).
    public struct SkippedInput: Sendable, Equatable {
        public var name: String
        /// Why, e.g. `No such file or directory` or `gzip-compressed`.
        public var reason: String
        public init(name: String, reason: String) { self.name = name; self.reason = reason }
    }

    /// Lines of one format from one host.
    public struct HostFormatCount: Sendable, Equatable {
        public var host: String
        public var format: LogFormat
        public var lines: Int
    }

    /// One finished ssh session (from sshd lines or a summary line).
    public struct SessionRecord: Sendable, Equatable {
        public var host: String
        public var ip: IPAddress?
        public var start: Timestamp
        public var end: Timestamp
        /// `sshd` or `summary`.
        public var source: String
        public var durationSeconds: Int64 { (end.microseconds - start.microseconds) / 1_000_000 }
    }

    /// An address that opened more than one session.
    public struct RepeatedIP: Sendable, Equatable {
        public var ip: IPAddress
        public var count: Int
        public var first: Timestamp
        public var last: Timestamp
    }

    /// An address with a count.
    public struct IPCount: Sendable, Equatable {
        public var ip: IPAddress
        public var count: Int
    }

    /// A section with its hits.
    public struct SectionCount: Sendable, Equatable {
        public var section: String
        public var count: Int
    }

    /// A host with a count.
    public struct HostCount: Sendable, Equatable {
        public var host: String
        public var count: Int
    }

    /// The ssh part of the report.
    public struct SSH: Sendable, Equatable {
        public var failures = 0
        public var invalidUsers = 0
        public var successes = 0
        public var sessionsOpened = 0
        public var probes = 0
        /// Finished sessions with a duration.
        public var sessions = 0
        public var medianSeconds: Int64 = 0
        /// The 95th percentile of session duration (nearest rank).
        public var p95Seconds: Int64 = 0
        public var maxSeconds: Int64 = 0
        /// How many sessions are at or above the 95th percentile.
        public var sessionsAtOrAboveP95 = 0
        /// Sessions at or above the 95th percentile, longest first (at most `LogAnalysis.keptSessions`).
        public var longestSessions: [SessionRecord] = []
        /// Addresses with two or more sessions, most first.
        public var repeatedIPs: [RepeatedIP] = []
        public var topFailingIPs: [IPCount] = []
    }

    /// The HTTP part of the report.
    public struct HTTP: Sendable, Equatable {
        public var hits = 0
        public var bytes: Int64 = 0
        /// 1xx, 2xx, 3xx, 4xx, 5xx, other.
        public var statusClasses = [Int](repeating: 0, count: 6)
        public var hitsPerHost: [HostCount] = []
        public var topSections: [SectionCount] = []
        public var topClients: [IPCount] = []
    }

    public var sources: [SourceSummary] = []
    /// Inputs given but not analysed: nothing of them is in the counts.
    public var skipped: [SkippedInput] = []
    /// Lines per host and format, sorted by host then format.
    public var lines: [HostFormatCount] = []
    public var ssh = SSH()
    public var http = HTTP()
    /// Every alert the rules raised, in the order they happened.
    public var alerts: [Alert] = []
    /// Events that arrived further out of time order than the lateness allows (not counted).
    public var lateEvents = 0
    /// Events that claimed a time further ahead of their file's timeline than the clock
    /// tolerance, taken at the timeline instead (`SenderClocks`).
    public var futureEvents = 0

    public init() {}

    /// Brute-force findings: the `ssh_bruteforce` alerts that fired.
    public var bruteForce: [Alert] { alerts.filter { $0.rule == .sshBruteforce && $0.state == .firing } }
    /// Cross-host findings: the `ssh_distributed` alerts that fired.
    public var crossHost: [Alert] { alerts.filter { $0.rule == .sshDistributed && $0.state == .firing } }
    /// Total invalid lines over all sources.
    public var invalidLines: Int { sources.reduce(0) { $0 + $1.invalidLines } }

    /// The 1-based nearest rank of the `percent` percentile among `n` sorted values: ⌈percent·n/100⌉.
    public static func nearestRank(percent: Int, of n: Int) -> Int {
        max(1, (percent * n + 99) / 100)
    }

    static let classNames = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"]

    // MARK: - Text

    /// The readable report; lists longer than `listLimit` are cut with a "… N more" line.
    /// Every text taken from the inputs (source names, invalid lines, hosts, sections, alert
    /// summaries) is escaped with `TerminalText.escaped`, so each stays on its own line and
    /// no control character reaches the terminal.
    public func text(listLimit: Int = 50) -> String {
        let esc: (String) -> String = TerminalText.escaped
        var out = "== inputs ==\n"
        for s in sources {
            out += "\(esc(s.name)): \(s.format?.rawValue ?? "unknown format"), \(s.lines) lines, \(s.invalidLines) invalid"
                + (s.cutLines > 0 ? ", \(s.cutLines) cut (too long)\n" : "\n")
            for bad in s.firstInvalid { out += "  invalid line \(bad.line): \(esc(bad.text))\n" }
        }
        for s in skipped { out += "\(esc(s.name)): skipped, \(esc(s.reason))\n" }
        out += "\n== lines per host and format ==\n"
        for c in lines { out += "\(esc(c.host)) \(c.format.rawValue): \(c.lines)\n" }

        out += "\n== ssh ==\n"
        out += "failures \(ssh.failures), invalid users \(ssh.invalidUsers), successes \(ssh.successes), "
            + "sessions opened \(ssh.sessionsOpened), probes \(ssh.probes)\n"
        out += "finished sessions \(ssh.sessions)"
        if ssh.sessions > 0 {
            out += ": median \(Alert.durationText(ssh.medianSeconds)), p95 \(Alert.durationText(ssh.p95Seconds)), "
                + "max \(Alert.durationText(ssh.maxSeconds))"
        }
        out += "\n"
        if !ssh.longestSessions.isEmpty {
            out += "sessions at or above p95 (\(ssh.sessionsAtOrAboveP95)):\n"
            for s in ssh.longestSessions.prefix(listLimit) {
                out += "  \(esc(s.host)) \(s.ip?.description ?? "-") \(s.start.rfc3339()) - \(s.end.rfc3339()) "
                    + "\(Alert.durationText(s.durationSeconds)) (\(esc(s.source)))\n"
            }
            out += Self.more(ssh.sessionsAtOrAboveP95, listLimit)
        }
        if !ssh.repeatedIPs.isEmpty {
            out += "repeated access (\(ssh.repeatedIPs.count) IPs):\n"
            for r in ssh.repeatedIPs.prefix(listLimit) {
                out += "  \(r.ip) \(r.count) sessions, first \(r.first.rfc3339()), last \(r.last.rfc3339())\n"
            }
            out += Self.more(ssh.repeatedIPs.count, listLimit)
        }
        if !ssh.topFailingIPs.isEmpty {
            out += "top failing IPs: " + ssh.topFailingIPs.map { "\($0.ip) \($0.count)" }.joined(separator: ", ") + "\n"
        }
        out += "brute force: \(bruteForce.isEmpty ? "none" : "")\n"
        for a in bruteForce.prefix(listLimit) { out += "  \(a.ts.rfc3339()) \(esc(a.summary))\n" }
        out += Self.more(bruteForce.count, listLimit)
        out += "cross-host: \(crossHost.isEmpty ? "none" : "")\n"
        for a in crossHost.prefix(listLimit) { out += "  \(a.ts.rfc3339()) \(esc(a.summary))\n" }
        out += Self.more(crossHost.count, listLimit)

        out += "\n== http ==\n"
        out += "hits \(http.hits), bytes \(http.bytes) | "
            + zip(Self.classNames, http.statusClasses).filter { $0.0 != "other" || $0.1 > 0 }
                .map { "\($0.0) \($0.1)" }.joined(separator: " ") + "\n"
        if !http.hitsPerHost.isEmpty {
            out += "hits per host: " + http.hitsPerHost.map { "\(esc($0.host)) \($0.count)" }.joined(separator: ", ") + "\n"
        }
        if !http.topSections.isEmpty {
            out += "top sections: " + http.topSections.map { "\(esc($0.section)) \($0.count)" }.joined(separator: ", ") + "\n"
        }
        if !http.topClients.isEmpty {
            out += "top clients: " + http.topClients.map { "\($0.ip) \($0.count)" }.joined(separator: ", ") + "\n"
        }

        out += "\n== alert timeline (\(alerts.count)) ==\n"
        for a in alerts { out += a.stdoutLine() + "\n" }  // escaped by stdoutLine
        if lateEvents > 0 { out += "\n\(lateEvents) events were too far out of time order and not counted\n" }
        if futureEvents > 0 {
            out += "\(lateEvents > 0 ? "" : "\n")\(futureEvents) events claimed a time more than the clock tolerance past their file's "
                + "timeline and were taken at the timeline\n"
        }
        return out
    }

    private static func more(_ count: Int, _ limit: Int) -> String {
        count > limit ? "  … \(count - limit) more (see --json)\n" : ""
    }

    // MARK: - JSON

    /// The whole report as one JSON document (no list is cut), with a trailing newline; every
    /// string goes through `JSON.appendString`, so the document is safe on a terminal too.
    public func json() -> String {
        var o: [UInt8] = []
        o.reserveCapacity(4096)
        o += #"{"sources":["#.utf8
        for (i, s) in sources.enumerated() {
            if i > 0 { o.append(UInt8(ascii: ",")) }
            o += #"{"name":"#.utf8; JSON.appendString(s.name, to: &o)
            o += #","format":"#.utf8
            if let f = s.format { JSON.appendString(f.rawValue, to: &o) } else { o += "null".utf8 }
            o += #","lines":\#(s.lines),"invalid_lines":\#(s.invalidLines),"first_invalid":["#.utf8
            for (j, bad) in s.firstInvalid.enumerated() {
                if j > 0 { o.append(UInt8(ascii: ",")) }
                o += #"{"line":\#(bad.line),"text":"#.utf8; JSON.appendString(bad.text, to: &o); o.append(UInt8(ascii: "}"))
            }
            o += #"],"cut_lines":\#(s.cutLines)}"#.utf8
        }
        o += #"],"skipped":["#.utf8
        for (i, s) in skipped.enumerated() {
            if i > 0 { o.append(UInt8(ascii: ",")) }
            o += #"{"name":"#.utf8; JSON.appendString(s.name, to: &o)
            o += #","reason":"#.utf8; JSON.appendString(s.reason, to: &o); o.append(UInt8(ascii: "}"))
        }
        o += #"],"lines":["#.utf8
        for (i, c) in lines.enumerated() {
            if i > 0 { o.append(UInt8(ascii: ",")) }
            o += #"{"host":"#.utf8; JSON.appendString(c.host, to: &o)
            o += #","format":"#.utf8; JSON.appendString(c.format.rawValue, to: &o)
            o += #","lines":\#(c.lines)}"#.utf8
        }
        o += #"],"ssh":{"failures":\#(ssh.failures),"invalid_users":\#(ssh.invalidUsers),"successes":\#(ssh.successes),"#.utf8
        o += #""sessions_opened":\#(ssh.sessionsOpened),"probes":\#(ssh.probes),"sessions":\#(ssh.sessions),"#.utf8
        o += #""median_s":\#(ssh.medianSeconds),"p95_s":\#(ssh.p95Seconds),"max_s":\#(ssh.maxSeconds),"#.utf8
        o += #""sessions_at_or_above_p95":\#(ssh.sessionsAtOrAboveP95),"longest_sessions":["#.utf8
        for (i, s) in ssh.longestSessions.enumerated() {
            if i > 0 { o.append(UInt8(ascii: ",")) }
            o += #"{"host":"#.utf8; JSON.appendString(s.host, to: &o)
            o += #","ip":"#.utf8; Self.appendIP(s.ip, to: &o)
            o += #","start":"\#(s.start.rfc3339())","end":"\#(s.end.rfc3339())","duration_s":\#(s.durationSeconds),"#.utf8
            o += #""source":"#.utf8; JSON.appendString(s.source, to: &o); o.append(UInt8(ascii: "}"))
        }
        o += #"],"repeated_ips":["#.utf8
        for (i, r) in ssh.repeatedIPs.enumerated() {
            if i > 0 { o.append(UInt8(ascii: ",")) }
            o += #"{"ip":"#.utf8; Self.appendIP(r.ip, to: &o)
            o += #","count":\#(r.count),"first":"\#(r.first.rfc3339())","last":"\#(r.last.rfc3339())"}"#.utf8
        }
        o += #"],"top_failing_ips":"#.utf8; Self.appendCounts(ssh.topFailingIPs, to: &o)
        o += #","bruteforce":"#.utf8; Self.appendAlerts(bruteForce, to: &o)
        o += #","cross_host":"#.utf8; Self.appendAlerts(crossHost, to: &o)
        o += #"},"http":{"hits":\#(http.hits),"bytes":\#(http.bytes),"status_classes":{"#.utf8
        for (i, name) in Self.classNames.enumerated() {
            if i > 0 { o.append(UInt8(ascii: ",")) }
            o += #""\#(name)":\#(http.statusClasses[i])"#.utf8
        }
        o += #"},"hits_per_host":["#.utf8
        for (i, h) in http.hitsPerHost.enumerated() {
            if i > 0 { o.append(UInt8(ascii: ",")) }
            o += #"{"host":"#.utf8; JSON.appendString(h.host, to: &o); o += #","hits":\#(h.count)}"#.utf8
        }
        o += #"],"top_sections":["#.utf8
        for (i, s) in http.topSections.enumerated() {
            if i > 0 { o.append(UInt8(ascii: ",")) }
            o += #"{"section":"#.utf8; JSON.appendString(s.section, to: &o); o += #","hits":\#(s.count)}"#.utf8
        }
        o += #"],"top_clients":"#.utf8; Self.appendCounts(http.topClients, to: &o)
        o += #"},"alerts":"#.utf8; Self.appendAlerts(alerts, to: &o)
        o += #","late_events":\#(lateEvents),"future_events":\#(futureEvents)}"#.utf8
        o.append(UInt8(ascii: "\n"))
        return String(decoding: o, as: UTF8.self)
    }

    private static func appendIP(_ ip: IPAddress?, to o: inout [UInt8]) {
        guard let ip else { o += "null".utf8; return }
        o.append(UInt8(ascii: "\""))
        ip.append(to: &o)
        o.append(UInt8(ascii: "\""))
    }

    private static func appendCounts(_ list: [IPCount], to o: inout [UInt8]) {
        o.append(UInt8(ascii: "["))
        for (i, c) in list.enumerated() {
            if i > 0 { o.append(UInt8(ascii: ",")) }
            o += #"{"ip":"#.utf8; appendIP(c.ip, to: &o); o += #","count":\#(c.count)}"#.utf8
        }
        o.append(UInt8(ascii: "]"))
    }

    private static func appendAlerts(_ list: [Alert], to o: inout [UInt8]) {
        o.append(UInt8(ascii: "["))
        for (i, a) in list.enumerated() {
            if i > 0 { o.append(UInt8(ascii: ",")) }
            a.appendJSON(to: &o)
        }
        o.append(UInt8(ascii: "]"))
    }
}
