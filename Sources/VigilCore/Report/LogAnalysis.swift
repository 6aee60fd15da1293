/// The offline analysis behind `vigil analyze`: fed log lines one at a time (from one or
/// more sources, each with its own format), it runs the same extractors and detection
/// engine as `serve`, driven by the log's own timestamps, and builds an `AnalysisReport`.
///
/// Pure and streaming: lines are borrowed bytes, nothing per line is kept except what the
/// report needs (counters, per-IP and per-section tallies, finished sessions, alerts), so
/// memory follows the number of distinct IPs, sections and sessions, not the file size.
public struct LogAnalysis {
    /// What the caller decides for every source.
    public struct Options: Sendable {
        /// The format of every source; nil detects it per source from its first readable line.
        public var format: LogFormat?
        /// The host of lines that name none (access logs, summaries); nil uses each source's own.
        public var host: String?
        /// Resolves year-less syslog timestamps and stands in for a time before any line has one.
        public var referenceTime: Timestamp
        /// How many invalid lines per source are quoted in the report.
        public var invalidExamples: Int
        /// How many entries the "top" lists keep.
        public var top: Int

        public init(format: LogFormat? = nil, host: String? = nil, referenceTime: Timestamp,
                    invalidExamples: Int = 5, top: Int = 10) {
            self.format = format; self.host = host; self.referenceTime = referenceTime
            self.invalidExamples = invalidExamples; self.top = top
        }
    }

    /// Host names, shared with the engine's alert text.
    final class Names { var table = HostTable() }

    struct Source {
        var name: String
        var host: HostID
        var format: LogFormat?
        var csv = CSVAccessLogReader()
        var lines = 0
        var invalid = 0
        var examples: [AnalysisReport.InvalidLine] = []
        var lastTime: Timestamp
    }

    struct HostHTTP {
        var hits = 0
        var bytes: Int64 = 0
        /// 1xx … 5xx, anything else.
        var classes = [Int](repeating: 0, count: 6)
        /// Section bytes → index into `sectionNames` / `sectionHits`.
        var sections: [BytesKey: Int] = [:]
        var sectionNames: [String] = []
        var sectionHits: [Int] = []
        var clients: [IPAddress: Int] = [:]
    }

    struct Access {
        var count: Int
        var first: Timestamp
        var last: Timestamp
    }

    struct Session {
        var host: HostID
        var ip: IPAddress?
        var start: Timestamp
        var end: Timestamp
        var fromSummary: Bool
    }

    public let options: Options
    private let names = Names()
    private var engine: DetectionEngine
    private let parser: SyslogParser
    private let ssh: SSHExtractor
    private var tracker = SSHConnectionTracker()
    private var sources: [Source] = []
    /// Lines per host (row) and format (column, `LogFormat` order).
    private var formatLines: [[Int]] = []
    private var http: [HostHTTP] = []
    private var sshCounts = [Int](repeating: 0, count: SSHEvent.Kind.allCases.count)
    private var failuresByIP: [IPAddress: Int] = [:]
    private var accessByIP: [IPAddress: Access] = [:]
    private var sessions: [Session] = []
    private var alerts: [Alert] = []
    private var linesSinceAlerts = 0
    private var lastExpire: Int64 = .min / 2

    /// An analysis with `settings` for detection; `parser` reads syslog lines (its zone offset applies).
    public init(settings: DetectionSettings, options: Options, parser: SyslogParser = SyslogParser(),
                ssh: SSHExtractor = SSHExtractor()) {
        self.options = options
        self.parser = parser
        self.ssh = ssh
        let names = self.names
        engine = DetectionEngine(settings: settings, hostName: { names.table.name(of: $0) })
    }

    /// Registers an input named `name` whose lines without a host belong to `host`
    /// (unless `options.host` says otherwise); returns its index for `feed`.
    public mutating func addSource(name: String, host: String) -> Int {
        let id = intern(options.host ?? host)
        sources.append(Source(name: name, host: id, format: options.format, lastTime: options.referenceTime))
        return sources.count - 1
    }

    /// The format of source `source`: given, detected, or nil while undecided.
    public func format(of source: Int) -> LogFormat? { sources[source].format }

    /// The time a line claims, without analysing it (to merge several sources in time order);
    /// nil when it has none that can be read.
    public func eventTime(_ line: UnsafeRawBufferPointer, source: Int) -> Timestamp? {
        var format = sources[source].format
        if format == nil {
            format = LogFormat.detect(line, parser: parser, ssh: ssh, referenceTime: options.referenceTime)
        }
        switch format {
        case .syslog?, .sshd?:
            return parser.parse(line, receivedAt: options.referenceTime).timestamp
        case .clf?, .combined?:
            return AccessLogExtractor.extract(line)?.time
        case .sessions?:
            return SessionSummaryExtractor.extract(line)?.end
        case .csv?:
            var reader = sources[source].csv
            if case .request(let r) = reader.read(line) { return r.time }
            return nil
        case nil:
            return nil
        }
    }

    /// Analyses one line (without its LF) of source `source`; blank lines are skipped,
    /// lines that do not read as the source's format are counted as invalid.
    public mutating func feed(_ line: UnsafeRawBufferPointer, source: Int) {
        sources[source].lines += 1
        var end = line.count
        while end > 0 && (line[end - 1] == UInt8(ascii: " ") || line[end - 1] == UInt8(ascii: "\t")) { end -= 1 }
        if end == 0 { return }
        let line = UnsafeRawBufferPointer(rebasing: line[0..<end])
        let format: LogFormat
        if let known = sources[source].format {
            format = known
        } else if let detected = LogFormat.detect(line, parser: parser, ssh: ssh, referenceTime: options.referenceTime) {
            format = detected
            sources[source].format = detected
        } else {
            invalid(line, source: source)
            return
        }
        let ok: Bool
        switch format {
        case .syslog, .sshd: ok = feedSyslog(line, source: source, format: format)
        case .clf, .combined: ok = feedAccess(AccessLogExtractor.extract(line), line, source: source, format: format)
        case .csv:
            switch sources[source].csv.read(line) {
            case .header: ok = true
            case .request(let request): ok = feedAccess(request, line, source: source, format: .csv)
            case .invalid: ok = false
            }
        case .sessions: ok = feedSummary(line, range: 0..<line.count, host: sources[source].host, source: source, format: .sessions)
        }
        if !ok { invalid(line, source: source) }
        linesSinceAlerts += 1
        if linesSinceAlerts >= 4096 { collectAlerts() }
    }

    private mutating func feedSyslog(_ line: UnsafeRawBufferPointer, source: Int, format: LogFormat) -> Bool {
        let fields = parser.parse(line, receivedAt: options.referenceTime)
        let fallbackHost = sources[source].host
        if fields.isParseError {
            // An auth.log may hold bare sshd messages (journalctl -o cat, copied snippets).
            guard format == .sshd, let parsed = ssh.extract(line, pid: 0) else { return false }
            count(host: fallbackHost, format: format)
            observeSSH(parsed, host: fallbackHost, time: sources[source].lastTime)
            return true
        }
        let host = fields.hostname.isEmpty ? fallbackHost : intern(UnsafeRawBufferPointer(rebasing: line[fields.hostname]))
        let time = fields.timestamp ?? sources[source].lastTime
        sources[source].lastTime = time
        count(host: host, format: format)
        if !fields.appName.isEmpty && SSHExtractor.isSSHD(app: UnsafeRawBufferPointer(rebasing: line[fields.appName])) {
            if let parsed = ssh.extract(line, range: fields.text, pid: Self.pid(line, fields.procID)) {
                observeSSH(parsed, host: host, time: time)
            }
            return true
        }
        // nginx `access_log syslog:` and forwarded summaries: the payload is the text.
        if let request = AccessLogExtractor.extract(line, range: fields.text) {
            observeHTTP(request, line, host: host, fallback: time)
        } else if let summary = SessionSummaryExtractor.extract(line, range: fields.text) {
            observeSummary(summary, host: host)
        }
        return true
    }

    private mutating func feedAccess(_ request: HTTPRequest?, _ line: UnsafeRawBufferPointer, source: Int, format: LogFormat) -> Bool {
        guard let request else { return false }
        let host = sources[source].host
        count(host: host, format: format)
        if let t = request.time { sources[source].lastTime = t }
        observeHTTP(request, line, host: host, fallback: sources[source].lastTime)
        return true
    }

    private mutating func feedSummary(_ line: UnsafeRawBufferPointer, range: Range<Int>, host: HostID, source: Int, format: LogFormat) -> Bool {
        guard let summary = SessionSummaryExtractor.extract(line, range: range) else { return false }
        count(host: host, format: format)
        sources[source].lastTime = summary.end
        observeSummary(summary, host: host)
        return true
    }

    // MARK: - Payloads

    private mutating func observeSSH(_ parsed: SSHLine, host: HostID, time: Timestamp) {
        let result = tracker.track(parsed, host: host, at: time)
        if let joined = result.joined { record(joined, host: host, time: time) }
        if let event = result.event { record(event, host: host, time: time) }
        if let s = result.session, let end = s.end {
            sessions.append(Session(host: host, ip: s.ip, start: s.start, end: end, fromSummary: false))
        }
        if time.microseconds - lastExpire >= 60_000_000 {
            tracker.expire(now: time)
            lastExpire = time.microseconds
        }
    }

    private mutating func record(_ event: SSHEvent, host: HostID, time: Timestamp) {
        engine.observeSSH(host: host, time: time, event: event)
        let n = max(1, event.count)
        sshCounts[Int(event.kind.rawValue)] += n
        guard let ip = event.ip else { return }
        switch event.kind {
        case .authFailure, .invalidUser: failuresByIP[ip, default: 0] += n
        case .sessionOpen: noteAccess(ip, at: time)
        default: break
        }
    }

    private mutating func observeSummary(_ summary: SessionSummary, host: HostID) {
        engine.observeSessionSummary(host: host, time: summary.end, summary: summary)
        sessions.append(Session(host: host, ip: summary.ip, start: summary.start, end: summary.end, fromSummary: true))
        noteAccess(summary.ip, at: summary.start)
    }

    private mutating func noteAccess(_ ip: IPAddress, at time: Timestamp) {
        if let i = accessByIP.index(forKey: ip) {
            accessByIP.values[i].count += 1
            if time < accessByIP.values[i].first { accessByIP.values[i].first = time }
            if time > accessByIP.values[i].last { accessByIP.values[i].last = time }
        } else {
            accessByIP[ip] = Access(count: 1, first: time, last: time)
        }
    }

    private mutating func observeHTTP(_ request: HTTPRequest, _ line: UnsafeRawBufferPointer, host: HostID, fallback: Timestamp) {
        engine.observeHTTP(host: host, time: request.time ?? fallback, clientIP: request.clientIP, status: request.status)
        let h = Int(host.rawValue)
        while http.count <= h { http.append(HostHTTP()) }
        http[h].hits += 1
        http[h].bytes += max(0, request.bytes)
        let cls = Int(request.status / 100)
        http[h].classes[cls >= 1 && cls <= 5 ? cls - 1 : 5] += 1
        let section = UnsafeRawBufferPointer(rebasing: line[request.section])
        if section.isEmpty {
            // A malformed request line has no section.
        } else if let i = http[h].sections[BytesKey(borrowing: section)] {
            http[h].sectionHits[i] += 1
        } else {
            http[h].sections[BytesKey(owning: Array(section))] = http[h].sectionNames.count
            http[h].sectionNames.append(String(decoding: section, as: UTF8.self))
            http[h].sectionHits.append(1)
        }
        if let ip = request.clientIP { http[h].clients[ip, default: 0] += 1 }
    }

    // MARK: - Bookkeeping

    private mutating func intern(_ bytes: UnsafeRawBufferPointer) -> HostID {
        let id = names.table.intern(bytes)
        growHosts(id)
        return id
    }

    private mutating func intern(_ name: String) -> HostID {
        let id = names.table.intern(name)
        growHosts(id)
        return id
    }

    private mutating func growHosts(_ id: HostID) {
        while formatLines.count <= Int(id.rawValue) { formatLines.append([Int](repeating: 0, count: LogFormat.allCases.count)) }
    }

    @inline(__always)
    private mutating func count(host: HostID, format: LogFormat) {
        formatLines[Int(host.rawValue)][Self.column(format)] += 1
    }

    private static func column(_ format: LogFormat) -> Int {
        switch format {
        case .syslog: return 0
        case .sshd: return 1
        case .sessions: return 2
        case .clf: return 3
        case .combined: return 4
        case .csv: return 5
        }
    }

    private mutating func invalid(_ line: UnsafeRawBufferPointer, source: Int) {
        sources[source].invalid += 1
        if sources[source].examples.count < options.invalidExamples {
            let shown = UnsafeRawBufferPointer(rebasing: line[0..<min(line.count, 120)])
            sources[source].examples.append(AnalysisReport.InvalidLine(
                line: sources[source].lines, text: String(decoding: shown, as: UTF8.self)))
        }
    }

    private mutating func collectAlerts() {
        alerts.append(contentsOf: engine.takeAlerts())
        linesSinceAlerts = 0
    }

    /// The decimal PROCID, or 0.
    static func pid(_ frame: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int32 {
        guard !range.isEmpty, range.count <= 9 else { return 0 }
        var value: Int32 = 0
        for i in range {
            let c = frame[i]
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return 0 }
            value = value * 10 + Int32(c - UInt8(ascii: "0"))
        }
        return value
    }

    // MARK: - Report

    /// The report over everything fed so far (detection is not advanced past the last line:
    /// a condition still holding at the end of the input stays firing).
    public mutating func report() -> AnalysisReport {
        collectAlerts()
        let table = names.table
        let name = { (id: HostID) in table.name(of: id) }
        var r = AnalysisReport()
        r.sources = sources.map {
            AnalysisReport.SourceSummary(name: $0.name, format: $0.format, lines: $0.lines, invalidLines: $0.invalid,
                                         firstInvalid: $0.examples)
        }
        for (h, row) in formatLines.enumerated() {
            for format in LogFormat.allCases where row[Self.column(format)] > 0 {
                r.lines.append(AnalysisReport.HostFormatCount(host: name(HostID(UInt32(h))), format: format,
                                                              lines: row[Self.column(format)]))
            }
        }
        r.lines.sort { ($0.host, $0.format.rawValue) < ($1.host, $1.format.rawValue) }

        // ssh
        r.ssh.failures = sshCounts[Int(SSHEvent.Kind.authFailure.rawValue)]
        r.ssh.invalidUsers = sshCounts[Int(SSHEvent.Kind.invalidUser.rawValue)]
        r.ssh.successes = sshCounts[Int(SSHEvent.Kind.authSuccess.rawValue)]
        r.ssh.sessionsOpened = sshCounts[Int(SSHEvent.Kind.sessionOpen.rawValue)]
        r.ssh.probes = sshCounts[Int(SSHEvent.Kind.probe.rawValue)]
        let records = sessions.map {
            AnalysisReport.SessionRecord(host: name($0.host), ip: $0.ip, start: $0.start, end: $0.end,
                                         source: $0.fromSummary ? "summary" : "sshd")
        }
        r.ssh.sessions = records.count
        let durations = records.map(\.durationSeconds).sorted()
        if !durations.isEmpty {
            let threshold = durations[AnalysisReport.nearestRank(percent: 95, of: durations.count) - 1]
            r.ssh.p95Seconds = threshold
            r.ssh.medianSeconds = durations[AnalysisReport.nearestRank(percent: 50, of: durations.count) - 1]
            r.ssh.maxSeconds = durations[durations.count - 1]
            r.ssh.longestSessions = records.filter { $0.durationSeconds >= threshold }.sorted {
                $0.durationSeconds != $1.durationSeconds ? $0.durationSeconds > $1.durationSeconds : $0.start < $1.start
            }
        }
        r.ssh.repeatedIPs = accessByIP.filter { $0.value.count >= 2 }
            .map { AnalysisReport.RepeatedIP(ip: $0.key, count: $0.value.count, first: $0.value.first, last: $0.value.last) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.ip < $1.ip }
        r.ssh.topFailingIPs = failuresByIP.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .prefix(options.top).map { AnalysisReport.IPCount(ip: $0.key, count: $0.value) }

        // http
        var sections: [String: Int] = [:]
        var clients: [IPAddress: Int] = [:]
        for (h, c) in http.enumerated() where c.hits > 0 {
            r.http.hits += c.hits
            r.http.bytes += c.bytes
            for i in 0..<6 { r.http.statusClasses[i] += c.classes[i] }
            r.http.hitsPerHost.append(AnalysisReport.HostCount(host: name(HostID(UInt32(h))), count: c.hits))
            for (i, section) in c.sectionNames.enumerated() { sections[section, default: 0] += c.sectionHits[i] }
            for (ip, n) in c.clients { clients[ip, default: 0] += n }
        }
        r.http.hitsPerHost.sort { $0.host < $1.host }
        r.http.topSections = sections.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .prefix(options.top).map { AnalysisReport.SectionCount(section: $0.key, count: $0.value) }
        r.http.topClients = clients.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .prefix(options.top).map { AnalysisReport.IPCount(ip: $0.key, count: $0.value) }

        r.alerts = alerts
        r.lateEvents = engine.lateEvents
        return r
    }
}
