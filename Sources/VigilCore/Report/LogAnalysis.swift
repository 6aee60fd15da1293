/// The offline analysis behind `vigil analyze`: fed log lines one at a time (from one or
/// more sources, each with its own format), it reads each line's format and hands its payload
/// to `serve`'s own `Analyzer` (detection and traffic counts), driven by the log's own
/// timestamps, and builds an `AnalysisReport` from what the analyzer recognised.
///
/// Each line is first read into an `ExtractedLine` (`LineExtractor`), then analysed in file
/// order; `feed(_:source:)` takes a line or a `LineChunk` that another thread may have read
/// (`vigil analyze --threads N`, docs/architecture.md), with the same report.
///
/// Pure and streaming: a line is at most copied into a reused chunk, nothing per line is kept
/// except what the report needs (counters, per-IP and per-section tallies, a histogram of
/// session durations and the `keptSessions` longest sessions, alerts), so memory follows the
/// number of distinct IPs and sections, not the file size.
public struct LogAnalysis {
    /// What the caller decides for every source.
    public struct Options: Sendable {
        /// The format of every source; nil detects it per source from its first readable line.
        public var format: LogFormat?
        /// Resolves year-less syslog timestamps and stands in for a time before any line has one.
        public var referenceTime: Timestamp
        /// How many invalid lines per source are quoted in the report.
        public var invalidExamples: Int
        /// How many entries the "top" lists keep.
        public var top: Int

        public init(format: LogFormat? = nil, referenceTime: Timestamp, invalidExamples: Int = 5, top: Int = 10) {
            self.format = format; self.referenceTime = referenceTime
            self.invalidExamples = invalidExamples; self.top = top
        }
    }

    /// One input: its name, its default host and how its lines are read.
    struct Source {
        var name: String
        var host: HostID
        /// Reads its lines: its format, its CSV header.
        var extractor: LineExtractor
        var lines = 0
        var invalid = 0
        var examples: [AnalysisReport.InvalidLine] = []
        /// Lines the reader cut (`addCutLines`).
        var cut = 0
        /// The file's own timeline, which stands in for the receive time `serve` would have: the
        /// newest time its lines claimed, lines far ahead of the others left out (see `pending`).
        /// A line without a time of its own is taken at it. Starts at the options' reference time.
        var reference: Timestamp
        var hasReference = false
        /// Lines claiming a time more than the clock tolerance past `reference`, held until the
        /// lines after them tell whether the file's time really jumped there (docs/clocks.md).
        var pending = PendingJump()
        /// The host of the first line that named one, and whether a line has named another:
        /// in a file of several hosts, one host's lines alone never move the timeline.
        var firstHost: HostID?
        var namesSeveralHosts = false
        /// While a confirmed jump's lines are fed again: how far past the timeline they may move
        /// it without holding (`PendingJump.confirmedTime`); `.min` otherwise.
        var confirmedUpTo: Int64 = .min
    }

    /// A jump of a file's timeline that its next lines have not yet confirmed or refuted: the
    /// line that claimed it (a quiet night, or a forged or broken line) and every line held
    /// after it, in file order (docs/clocks.md).
    /// - A timed line earlier than the jump (less the tolerance) refutes it: the held lines are
    ///   outliers, taken at the timeline (which stays) and counted as future.
    /// - `LogAnalysis.jumpConfirmingLines` timed lines after it that claim its time or later
    ///   (less the tolerance), one of them from another host when the file names several,
    ///   confirm it; so does reaching `maxHeldLines` or `maxHeldBytes` with nothing refuting it
    ///   (a shared file down to one host). The timeline then moves only to the second-highest
    ///   time claimed (of hosts' highest, when another host agreed): no single line, or single
    ///   host, sets it. The held lines are then fed again as if read now: one still far ahead
    ///   starts a jump of its own.
    /// - At the end of the input it is confirmed unless it still lacks another host's line.
    struct PendingJump {
        /// Copies of the held lines and of what they read as (so that feeding them once the
        /// jump is decided needs no second reading); its storage is reused unless it grew past
        /// `LogAnalysis.keptHeldBytes`.
        var lines = LineChunk(reservingBytes: 4096)
        var count = 0
        /// The time the first held line claimed, µs.
        var time: Int64 = 0
        var host = HostID(0)
        /// Timed lines held after the first (each claims the jump's time, or later, less the tolerance).
        var agreeing = 0
        /// One of those came from another host.
        var otherHostAgreed = false
        /// The two highest times the held timed lines claimed, and the two highest of their
        /// hosts' highest (each with its host): where a confirmed jump may move the timeline.
        var lineTimes = TopTwo()
        var hostTimes = TopTwo()

        var isEmpty: Bool { count == 0 }

        /// Where the timeline may move when the jump is confirmed: the jump's own time at least
        /// (so that its first line is taken and feeding them again ends), else the second-highest.
        var confirmedTime: Int64 { max(time, otherHostAgreed ? hostTimes.second : lineTimes.second) }

        /// Whether the lines held confirm the jump (see `PendingJump`), in a file that
        /// `namesSeveralHosts` or not.
        func isDue(namesSeveralHosts: Bool) -> Bool {
            agreeing >= LogAnalysis.jumpConfirmingLines && (otherHostAgreed || !namesSeveralHosts)
                || count >= LogAnalysis.maxHeldLines || lines.byteCount >= LogAnalysis.maxHeldBytes
        }

        /// Counts one more held line, of `host`, claiming `time` (nil: none): the first starts
        /// the jump (its time and host); a later timed one agrees with it.
        mutating func add(time: Int64?, host: HostID) {
            if isEmpty {
                self.time = time ?? 0
                self.host = host
                agreeing = 0
                otherHostAgreed = false
                lineTimes = TopTwo()
                hostTimes = TopTwo()
            } else if time != nil {
                agreeing += 1
                if host != self.host { otherHostAgreed = true }
            }
            if let time {
                lineTimes.note(time)
                hostTimes.noteHost(time, host)
            }
            count += 1
        }
    }

    /// The two highest times seen: of lines (`note`), or of distinct hosts' highest (`noteHost`).
    struct TopTwo {
        var first: Int64 = .min, second: Int64 = .min
        var firstHost = HostID(0), secondHost = HostID(0)
        var notes = 0

        /// A line's time; while it is the only one, it is the second highest too.
        mutating func note(_ t: Int64) {
            notes += 1
            if notes == 1 {
                first = t; second = t
            } else if notes == 2 {
                second = min(first, t); first = max(first, t)
            } else if t > first {
                second = first; first = t
            } else if t > second {
                second = t
            }
        }

        /// A time of `host`: `first` and `second` are the highest times of two distinct hosts,
        /// the two highest of all hosts' highest.
        mutating func noteHost(_ t: Int64, _ host: HostID) {
            notes += 1
            if notes == 1 {
                first = t; firstHost = host
            } else if host == firstHost {
                first = max(first, t)
            } else if second != .min && host == secondHost {
                second = max(second, t)
                if second > first { swap(&first, &second); swap(&firstHost, &secondHost) }
            } else if t > first {
                second = first; secondHost = firstHost; first = t; firstHost = host
            } else if t > second {
                second = t; secondHost = host
            }
        }
    }

    /// Timed lines that must agree with a jump of a file's timeline, after the line that
    /// claimed it, to confirm it: a sender that wants to move the timeline of a shared file
    /// (and make every other host's lines late) must write this many lines, under two host
    /// names, with no honest line in between.
    public static let jumpConfirmingLines = 16
    /// Lines held at most for one jump (see `PendingJump`).
    public static let maxHeldLines = 256
    /// Bytes held at most for one jump: there, as at `maxHeldLines`, a jump nothing refuted is
    /// confirmed. Enough for the confirming lines at the longest line read (1 MiB); without it,
    /// a jump followed by 255 such lines would hold 256 MiB.
    public static let maxHeldBytes = 32 << 20
    /// Storage a jump's held lines keep for the next jump once decided.
    static let keptHeldBytes = 1 << 20

    struct Session {
        var host: HostID
        var ip: IPAddress?
        var start: Timestamp
        var end: Timestamp
        var fromSummary: Bool

        var durationSeconds: Int64 { (end.microseconds - start.microseconds) / 1_000_000 }

        /// Longer first, then the earlier start: the order of the report's list.
        func ranksBefore(_ other: Session) -> Bool {
            durationSeconds != other.durationSeconds ? durationSeconds > other.durationSeconds : start < other.start
        }
    }

    /// How many of the longest sessions are kept for the list of sessions at or above the 95th
    /// percentile (their number, and the percentiles, are exact over all sessions).
    public static let keptSessions = 1000

    public let options: Options
    /// Host names, shared with the engine's alert text.
    private let names = HostDirectory()
    /// Where `feed(_:source:)` reads a single line.
    private let lineChunk = LineChunk(reservingBytes: 1024)
    /// The one path from payload to detection and traffic counts, the same as `serve`'s;
    /// its stats have no caps and are never reset, so they are the report's HTTP and ssh totals.
    private var analyzer: Analyzer
    private let parser: SyslogParser
    private let ssh: SSHExtractor
    private var sources: [Source] = []
    /// Lines per host and format: host h's count of format f at `h * formats + column(f)`.
    private var formatLines: [Int] = []
    private static let formats = LogFormat.allCases.count
    private var failuresByIP = AddressCounts()
    /// Session openings (and summaries) per address.
    private var accessByIP = AddressTally()
    /// Finished sessions by duration in seconds: a flat array for the first two days, a
    /// dictionary for the rest (and for negative durations of odd summary lines).
    private var shortDurations = [Int](repeating: 0, count: 2 * 86_400)
    private var otherDurations: [Int64: Int] = [:]
    private var sessionCount = 0
    /// The longest sessions: at most `2 · keptSessions`, cut to the best `keptSessions` when full.
    private var longest: [Session] = []
    /// Once `longest` was cut: the duration below which a session can no longer be kept.
    private var longestFloor: Int64 = .min
    private var alerts: [Alert] = []
    private var linesSinceAlerts = 0
    /// Event time (µs) at which detection is next advanced and idle connections expired.
    private var nextAdvance: Int64 = .min
    /// The newest event time seen, µs; nil before any event.
    private var latest: Int64?
    private var finished = false
    /// Host names seen in syslog headers, each in the entry `intern` picks for it.
    private var recentHosts = [(name: [UInt8], id: HostID)](repeating: ([], HostID(0)), count: 16)

    /// An analysis with `settings` for detection; `parser` reads syslog lines (its zone offset applies).
    public init(settings: DetectionSettings, options: Options, parser: SyslogParser = SyslogParser(),
                ssh: SSHExtractor = SSHExtractor()) {
        self.options = options
        self.parser = parser
        self.ssh = ssh
        analyzer = Analyzer(settings: settings, ssh: ssh, stats: .unlimited)
    }

    /// Registers an input named `name` whose lines without a host belong to `host`; returns its
    /// index for `feed`.
    public mutating func addSource(name: String, host: String) -> Int {
        let id = intern(host)
        let extractor = LineExtractor(parser: parser, ssh: ssh, referenceTime: options.referenceTime, format: options.format)
        sources.append(Source(name: name, host: id, extractor: extractor, reference: options.referenceTime))
        return sources.count - 1
    }

    /// Counts `count` lines of source `source` that were longer than its reader keeps: each was
    /// fed cut to that length (so it is among the source's lines) and the rest of it skipped.
    public mutating func addCutLines(_ count: Int, source: Int) {
        sources[source].cut += count
    }

    /// How source `source`'s lines are read as of now: a copy for `LineChunk.extract(with:)`
    /// once it `readsLinesIndependently`.
    public func extractor(of source: Int) -> LineExtractor { sources[source].extractor }

    /// Reads `line` (without its LF) of source `source` into `chunk`, emptied first, as
    /// `feed(_:source:)` reads it, and moves the source's reading past it (its format once
    /// detected, a CSV header): feed `chunk` next, before any other line of this source. For
    /// merging several sources in time order (`LineChunk.firstLineTime`), each line read once.
    public mutating func read(_ line: UnsafeRawBufferPointer, source: Int, into chunk: LineChunk) {
        chunk.removeAll()
        chunk.append(line)
        chunk.extract(with: &sources[source].extractor)
    }

    /// Analyses one line (without its LF) of source `source`; blank lines are skipped,
    /// lines that do not read as the source's format are counted as invalid.
    public mutating func feed(_ line: UnsafeRawBufferPointer, source: Int) {
        read(line, source: source, into: lineChunk)
        feed(lineChunk, source: source)
    }

    /// Analyses the lines of `chunk`, extracted with (a copy of) this source's `extractor(of:)`
    /// as it was after every line before them was fed: the report `feed` gives line by line,
    /// whichever thread extracted them.
    public mutating func feed(_ chunk: LineChunk, source: Int) {
        chunk.forEachLine { line, extracted, all, items in
            sources[source].lines += 1
            apply(extracted, line, items, of: all, source: source)
        }
    }

    /// Analyses what a line of `source` read as; `line` is its bytes without trailing blanks,
    /// and what it holds is at `items` in `chunk`.
    @inline(__always)
    private mutating func apply(_ extracted: ExtractedLine, _ line: UnsafeRawBufferPointer, _ items: LineChunk.Items,
                                of chunk: ExtractedLines, source: Int) {
        switch extracted.kind {
        case .blank:
            return
        case .undetected:
            invalid(line, source: source)
            return
        case .invalid:
            invalid(line, source: source)
        case .csvHeader:
            break
        case .syslog:
            feedSyslog(extracted, line, items, of: chunk, source: source)
        case .bareSSH:
            if !replayingOutliers && !sources[source].pending.isEmpty {
                // No time of its own: held behind the pending jump, so lines stay in file order.
                hold(line, extracted, items, of: chunk, time: nil, host: sources[source].host, source: source)
                return
            }
            let found = chunk.sshLines[items.ssh]
            if let ip = found.ip { failuresByIP.prefetch(ip) }
            let host = sources[source].host
            count(host: host, format: .auth)
            let received = sources[source].reference
            note(analyzer.observeSSH(found, host: host, at: MessageTime(claimed: nil, received: received)), host: host, received: received)
        case .access:
            feedAccess(extracted, line, items, of: chunk, source: source)
        case .summary:
            feedSummary(extracted, line, items, of: chunk, source: source)
        }
        linesSinceAlerts += 1
        if linesSinceAlerts >= 4096 { collectAlerts() }
    }

    /// The format of a source a line of which was read (so it has one).
    private func knownFormat(_ source: Int) -> LogFormat { sources[source].extractor.format! }

    @inline(__always)
    private mutating func feedSyslog(_ extracted: ExtractedLine, _ line: UnsafeRawBufferPointer, _ items: LineChunk.Items,
                                     of chunk: ExtractedLines, source: Int) {
        let header = chunk.headers[items.header], payload = extracted.payload
        // The address's failure count is loaded while the line's time and host are looked at.
        if payload == .ssh, let ip = chunk.sshLines[items.ssh].ip { failuresByIP.prefetch(ip) }
        let host = header.hostname.isEmpty ? sources[source].host : intern(UnsafeRawBufferPointer(rebasing: line[header.hostname]))
        guard let received = reference(for: header.timestamp, host: host, line, extracted, items, of: chunk, source: source) else { return }
        count(host: host, format: knownFormat(source))
        // sshd by its app name; nginx `access_log syslog:` and forwarded summaries by the payload.
        let time = MessageTime(claimed: header.timestamp, zoneless: header.timestampIsZoneless, received: received)
        switch payload {
        case .none:
            break
        case .ssh:
            note(analyzer.observeSSH(chunk.sshLines[items.ssh], host: host, at: time), host: host, received: received)
        case .http:
            note(analyzer.observeHTTP(chunk.requests[items.request], text: line, host: host, at: time), host: host, received: received)
        case .summary:
            note(analyzer.observeSessionSummary(chunk.summaries[items.summary], host: host, receivedAt: received), host: host, received: received)
        }
    }

    private mutating func feedAccess(_ extracted: ExtractedLine, _ line: UnsafeRawBufferPointer, _ items: LineChunk.Items,
                                     of chunk: ExtractedLines, source: Int) {
        let request = chunk.requests[items.request]
        let host = sources[source].host
        guard let received = reference(for: request.time, host: host, line, extracted, items, of: chunk, source: source) else { return }
        count(host: host, format: knownFormat(source))
        // The observation would only repeat the request: the report keeps nothing of it beyond the stats.
        if case .http(_, let at) = analyzer.observeHTTP(request, text: line, host: host, at: MessageTime(claimed: nil, received: received)) {
            passTime(at)
        }
    }

    private mutating func feedSummary(_ extracted: ExtractedLine, _ line: UnsafeRawBufferPointer, _ items: LineChunk.Items,
                                      of chunk: ExtractedLines, source: Int) {
        let summary = chunk.summaries[items.summary]
        let host = sources[source].host
        guard let received = reference(for: summary.end, host: host, line, extracted, items, of: chunk, source: source) else { return }
        count(host: host, format: .sessions)
        note(analyzer.observeSessionSummary(summary, host: host, receivedAt: received), host: host, received: received)
    }

    // MARK: - Each file's timeline

    /// The reference time (what `serve` would have as the receive time) for a line of `host` in
    /// `source` that claims `claimed`, advancing the file's timeline; nil when the line is held
    /// (kept with `record`, whose items are at `items` in `chunk`) because it claims a time more
    /// than the clock tolerance past the timeline, or because an earlier line did and its jump is
    /// not decided yet (see `PendingJump`); this line may decide it, first.
    private mutating func reference(for claimed: Timestamp?, host: HostID, _ line: UnsafeRawBufferPointer, _ record: ExtractedLine,
                                    _ items: LineChunk.Items, of chunk: ExtractedLines, source: Int) -> Timestamp? {
        // A held line of a refuted jump: at the timeline, which it does not move.
        if replayingOutliers { return sources[source].reference }
        guard let claimed else {
            // Held behind a pending jump too, so lines are fed in file order; it has no say.
            guard sources[source].pending.isEmpty else {
                hold(line, record, items, of: chunk, time: nil, host: host, source: source)
                return nil
            }
            return sources[source].reference
        }
        if let first = sources[source].firstHost {
            if host != first { sources[source].namesSeveralHosts = true }
        } else {
            sources[source].firstHost = host
        }
        let t = claimed.microseconds
        let tolerance = analyzer.clocks.toleranceMicroseconds
        if !sources[source].pending.isEmpty {
            if t < sources[source].pending.time &- tolerance {
                replayHeld(source: source, confirmed: false)
            } else {
                hold(line, record, items, of: chunk, time: t, host: host, source: source)
                return nil
            }
        }
        if !sources[source].hasReference {
            sources[source].hasReference = true
            sources[source].reference = claimed
        } else if t > max(sources[source].reference.microseconds &+ tolerance, sources[source].confirmedUpTo) {
            hold(line, record, items, of: chunk, time: t, host: host, source: source)
            return nil
        } else if t > sources[source].reference.microseconds {
            sources[source].reference = claimed
        }
        return sources[source].reference
    }

    /// Adds a line of `host` claiming `time` (µs; nil: none, so no say in the jump) to the
    /// jump `source` holds, or starts one with it; then confirms the jump if that line made
    /// it due (see `PendingJump`).
    private mutating func hold(_ line: UnsafeRawBufferPointer, _ record: ExtractedLine, _ items: LineChunk.Items,
                               of chunk: ExtractedLines, time: Int64?, host: HostID, source: Int) {
        sources[source].pending.add(time: time, host: host)
        sources[source].pending.lines.append(line, record, items, of: chunk)
        if sources[source].pending.isDue(namesSeveralHosts: sources[source].namesSeveralHosts) {
            replayHeld(source: source, confirmed: true)
        }
    }

    /// Feeds the lines still held at the end of the input: confirmed unless the file names
    /// several hosts and no other host agreed (nothing after it says the time was wrong), else
    /// outliers; a line fed again that starts a jump of its own is decided the same way.
    private mutating func releaseHeld() {
        for s in sources.indices {
            while !sources[s].pending.isEmpty {
                replayHeld(source: s, confirmed: sources[s].pending.otherHostAgreed || !sources[s].namesSeveralHosts)
            }
        }
    }

    /// Set while the lines of a refuted jump are fed again.
    private var replayingOutliers = false
    /// Emptied chunks for the next jumps' held lines (a confirmed jump's lines are fed again
    /// while a new jump may be holding lines).
    private var spareChunks: [LineChunk] = []

    /// Feeds the lines `source` holds, in file order: when `confirmed`, as lines read now that
    /// may move the timeline as far as the jump's lines put it (`PendingJump.confirmedTime`);
    /// else as outliers.
    private mutating func replayHeld(source: Int, confirmed: Bool) {
        let held = sources[source].pending.lines
        let movesTo = sources[source].pending.confirmedTime
        sources[source].pending.count = 0
        sources[source].pending.lines = spareChunks.popLast() ?? LineChunk(reservingBytes: 4096)
        let wasReplayingOutliers = replayingOutliers, wasConfirmedUpTo = sources[source].confirmedUpTo
        replayingOutliers = !confirmed
        // The lines up to there move the timeline as they come, each at its own time.
        if confirmed { sources[source].confirmedUpTo = max(wasConfirmedUpTo, movesTo) }
        held.forEachLine { line, extracted, all, items in apply(extracted, line, items, of: all, source: source) }
        replayingOutliers = wasReplayingOutliers
        sources[source].confirmedUpTo = wasConfirmedUpTo
        if held.byteCount <= Self.keptHeldBytes {
            held.removeAll()
            spareChunks.append(held)
        }
    }

    // MARK: - What only the report keeps

    /// Keeps what the report needs beyond detection and the traffic counts: failures and
    /// session openings per address, finished sessions; and advances detection with event time.
    @inline(__always)
    private mutating func note(_ seen: Analyzer.Observation, host: HostID, received: Timestamp) {
        let time: Timestamp
        switch seen {
        case .none:
            return
        case .ssh(let result, let at):
            time = at
            if let event = result.event { noteSSH(event, time: at) }
            if let s = result.session, let end = s.end {
                keep(Session(host: host, ip: s.ip, start: s.start, end: end, fromSummary: false))
            }
        case .http(_, let at):
            time = at
        case .sessionSummary(let summary):
            time = min(summary.end, received)
            keep(Session(host: host, ip: summary.ip, start: summary.start, end: summary.end, fromSummary: true))
            accessByIP.note(summary.ip, at: summary.start)
        }
        passTime(time)
    }

    /// Notes the time of an event: the newest time for `finish()`, and detection advanced with it.
    @inline(__always)
    private mutating func passTime(_ time: Timestamp) {
        let t = time.microseconds
        if t > latest ?? .min { latest = t }
        if t >= nextAdvance {
            // Like serve's timer, but on event time and every ten minutes (the idle timeout of
            // a pre-auth connection): resolutions come out in timeline order, idle connections go.
            analyzer.advance(now: time)
            nextAdvance = t &+ 600_000_000
        }
    }

    private mutating func keep(_ session: Session) {
        let d = session.durationSeconds
        if d >= 0 && d < Int64(shortDurations.count) {
            shortDurations[Int(d)] += 1
        } else {
            otherDurations[d, default: 0] += 1
        }
        sessionCount += 1
        guard d >= longestFloor else { return }
        longest.append(session)
        if longest.count >= 2 * Self.keptSessions {
            longest.sort { $0.ranksBefore($1) }
            longest.removeLast(longest.count - Self.keptSessions)
            longestFloor = longest[longest.count - 1].durationSeconds
        }
    }

    private mutating func noteSSH(_ event: SSHEvent, time: Timestamp) {
        guard let ip = event.ip else { return }
        switch event.kind {
        case .authFailure, .invalidUser: _ = failuresByIP.add(ip, max(1, event.count))
        case .sessionOpen: accessByIP.note(ip, at: time)
        default: break
        }
    }

    // MARK: - Bookkeeping

    /// The id of the host named by `bytes` (not empty). A log names the same handful of hosts
    /// on every line, so the name is first compared with the one last seen in its entry of
    /// `recentHosts` (picked by its length and last bytes, where names like `web-01`, `web-02`
    /// differ) before the table is asked.
    private mutating func intern(_ bytes: UnsafeRawBufferPointer) -> HostID {
        let n = bytes.count
        let tail = n >= 8 ? bytes.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
            : n >= 4 ? UInt64(bytes.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self)) : UInt64(bytes[n &- 1])
        let entry = Int(truncatingIfNeeded: ((tail ^ UInt64(n)) &* 0x9E37_79B9_7F4A_7C15) >> 60)
        if recentHosts[entry].name.count == n && recentHosts[entry].name.withUnsafeBytes({ memcmpEqual($0, bytes) }) {
            return recentHosts[entry].id
        }
        let id = names.table.intern(bytes)
        growHosts(id)
        recentHosts[entry] = (Array(bytes), id)
        return id
    }

    private mutating func intern(_ name: String) -> HostID {
        let id = names.table.intern(name)
        growHosts(id)
        return id
    }

    private mutating func growHosts(_ id: HostID) {
        let needed = (Int(id.rawValue) + 1) * Self.formats
        if formatLines.count < needed { formatLines.append(contentsOf: repeatElement(0, count: needed - formatLines.count)) }
    }

    @inline(__always)
    private mutating func count(host: HostID, format: LogFormat) {
        formatLines[Int(host.rawValue) * Self.formats + Self.column(format)] += 1
    }

    private static func column(_ format: LogFormat) -> Int {
        switch format {
        case .syslog: return 0
        case .auth: return 1
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
        linesSinceAlerts = 0
        guard !analyzer.detectionIsDeferred else { return }
        alerts += analyzer.engine.takeAlerts().map { $0.named(by: names.table.name(of:)) }
    }

    // MARK: - Detection on another thread

    /// Hands the detection engine to other threads (VigilDaemon's `ParallelAnalysis`: its
    /// extraction workers, between chunks):
    /// from now on the analysis records the engine's calls (`takeDetectionInputs(into:)`), to be
    /// applied to it in that order, and the report waits for the engine to come back
    /// (`resumeDetection(_:)`) before it reads alerts or late events. The report is the one
    /// detection in place gives (docs/architecture.md, "`vigil analyze` on several threads").
    public mutating func deferDetection() -> DetectionEngine {
        collectAlerts()
        return analyzer.deferDetection()
    }

    /// The engine's calls since the last take, in order, in `inputs` (its storage reused).
    public mutating func takeDetectionInputs(into inputs: inout [DetectionInput]) {
        analyzer.takeDeferredDetection(into: &inputs)
    }

    /// Takes the engine back once it applied every call taken (the rest are applied now).
    public mutating func resumeDetection(_ engine: DetectionEngine) {
        analyzer.resumeDetection(engine)
        collectAlerts()
    }

    /// Marks the end of the input: detection is advanced to the newest event time plus the
    /// longest window and quiet period (`resolveAfterMicroseconds`) of any rule (and the
    /// lateness), so every condition that stopped holding resolves in the timeline when it
    /// would have, as if the log had continued quietly.
    /// Nothing fires past the end of the input: a session still open at the end is not
    /// reported as long because of time the log does not cover. Feeding after this is a mistake.
    public mutating func finish() {
        precondition(!analyzer.detectionIsDeferred, "finish while detection is deferred")
        releaseHeld()
        guard !finished, let last = latest else { return }
        finished = true
        collectAlerts()
        let settings = analyzer.engine.settings
        let span = RuleID.allCases.filter { settings[$0].enabled }.map { settings[$0].windowMicroseconds &+ settings[$0].resolveAfterMicroseconds }.max() ?? 0
        analyzer.advance(now: Timestamp(microseconds: last &+ span &+ settings.latenessMicroseconds &+ 1_000_000))
        alerts += analyzer.engine.takeAlerts().filter { $0.state != .firing || $0.ts.microseconds <= last }
            .map { $0.named(by: names.table.name(of:)) }
    }

    // MARK: - Report

    /// The report over everything fed so far. Unless `finish()` was called, detection is not
    /// advanced past the last line: a condition still holding there stays firing.
    public mutating func report() -> AnalysisReport {
        precondition(!analyzer.detectionIsDeferred, "report while detection is deferred")
        releaseHeld()
        collectAlerts()
        let table = names.table
        let name = { (id: HostID) in table.name(of: id) }
        var r = AnalysisReport()
        r.sources = sources.map {
            AnalysisReport.SourceSummary(name: $0.name, format: $0.extractor.format, lines: $0.lines, invalidLines: $0.invalid,
                                         firstInvalid: $0.examples, cutLines: $0.cut)
        }
        for h in 0..<(formatLines.count / Self.formats) {
            for format in LogFormat.allCases where formatLines[h * Self.formats + Self.column(format)] > 0 {
                r.lines.append(AnalysisReport.HostFormatCount(host: name(HostID(UInt32(h))), format: format,
                                                              lines: formatLines[h * Self.formats + Self.column(format)]))
            }
        }
        r.lines.sort { ($0.host, $0.format.rawValue) < ($1.host, $1.format.rawValue) }

        // ssh
        let all = analyzer.stats.allHosts()
        func events(_ kind: SSHEvent.Kind) -> Int { all.sshEvents[Int(kind.rawValue)] }
        r.ssh.failures = events(.authFailure)
        r.ssh.invalidUsers = events(.invalidUser)
        r.ssh.successes = events(.authSuccess)
        r.ssh.sessionsOpened = events(.sessionOpen)
        r.ssh.probes = events(.probe)
        r.ssh.sessions = sessionCount
        if sessionCount > 0 {
            var histogram = otherDurations.filter { $0.key < 0 }.sorted { $0.key < $1.key }
            for (d, n) in shortDurations.enumerated() where n > 0 { histogram.append((key: Int64(d), value: n)) }
            histogram += otherDurations.filter { $0.key >= 0 }.sorted { $0.key < $1.key }
            /// The duration at 1-based rank `rank` among all sessions, shortest first.
            func duration(atRank rank: Int) -> Int64 {
                var seen = 0
                for (d, n) in histogram {
                    seen += n
                    if seen >= rank { return d }
                }
                return histogram[histogram.count - 1].key
            }
            let threshold = duration(atRank: AnalysisReport.nearestRank(percent: 95, of: sessionCount))
            r.ssh.p95Seconds = threshold
            r.ssh.medianSeconds = duration(atRank: AnalysisReport.nearestRank(percent: 50, of: sessionCount))
            r.ssh.maxSeconds = histogram[histogram.count - 1].key
            r.ssh.sessionsAtOrAboveP95 = histogram.reduce(0) { $0 + ($1.key >= threshold ? $1.value : 0) }
            r.ssh.longestSessions = longest.filter { $0.durationSeconds >= threshold }.sorted { $0.ranksBefore($1) }
                .prefix(Self.keptSessions).map {
                    AnalysisReport.SessionRecord(host: name($0.host), ip: $0.ip, start: $0.start, end: $0.end,
                                                 source: $0.fromSummary ? "summary" : "sshd")
                }
        }
        r.ssh.repeatedIPs = accessByIP.entries(atLeast: 2)
            .map { AnalysisReport.RepeatedIP(ip: $0.ip, count: $0.entry.count, first: $0.entry.first, last: $0.entry.last) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.ip < $1.ip }
        r.ssh.topFailingIPs = failuresByIP.top(options.top).map { AnalysisReport.IPCount(ip: $0.ip, count: $0.count) }

        // http
        r.http.hits = all.hits
        r.http.bytes = all.bytes
        r.http.statusClasses = all.statusClasses
        for h in analyzer.stats.activeHosts {
            let hits = analyzer.stats.host(h).hits
            if hits > 0 { r.http.hitsPerHost.append(AnalysisReport.HostCount(host: name(h), count: hits)) }
        }
        r.http.hitsPerHost.sort { $0.host < $1.host }
        r.http.topSections = all.topSections(options.top).map { AnalysisReport.SectionCount(section: $0.section, count: $0.hits) }
        r.http.topClients = all.topClients(options.top).map { AnalysisReport.IPCount(ip: $0.ip, count: $0.hits) }

        r.alerts = alerts
        r.lateEvents = analyzer.engine.lateEvents
        r.futureEvents = analyzer.clocks.counters.future
        return r
    }
}
