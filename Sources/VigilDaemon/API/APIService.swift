public import VigilCore
public import VigilPosix

/// The HTTP API of `vigil serve` (docs/api.md): routes each request, checks its bearer token,
/// answers what memory holds (stats, metrics, alerts) on the loop, and hands what reads the store
/// (hosts, programs, logs, ssh logins) to `BackgroundWork`, so ingest never waits for a query.
public final class APIService {
    public struct Counters: Sendable, Equatable {
        public var requests = 0
        public var unauthorized = 0
        public var busy = 0
    }

    private unowned let server: Server
    private let token: [UInt8]
    private let hostsDirectory: String
    private let work: BackgroundWork
    private let started: Timestamp
    private let clock: () -> Timestamp
    public private(set) var counters = Counters()
    /// Sanitized host name → the host IDs stored under it (several raw names may share one),
    /// kept up to date as the host table grows.
    private var idsByName: [String: [HostID]] = [:]
    private var namedHosts = 0
    /// The top client addresses of the stats interval, and when (monotonic) they were added up:
    /// adding up every host's client table is kept to once a second however often `/stats` is
    /// asked (the dashboard asks every 2 s per open page).
    private var topClients: (atMicros: Int64, clients: [(ip: IPAddress, hits: Int)])?

    public init(server: Server, token: String, dataDirectory: String, work: BackgroundWork, started: Timestamp,
                clock: @escaping () -> Timestamp = Posix.wallClock) {
        self.server = server
        self.token = Array(token.utf8)
        hostsDirectory = dataDirectory + "/hosts"
        self.work = work
        self.started = started
        self.clock = clock
    }

    static let dashboard = Array(DashboardPage.html.utf8)

    /// The dashboard may run only its own inline script and style, talk only to this API, and
    /// not be framed by another page.
    static let dashboardPolicy = "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "
        + "style-src 'unsafe-inline'; connect-src 'self'; img-src data:; frame-ancestors 'none'"

    /// Answers one request (`HTTPServer`'s route).
    public func route(_ head: HTTPRequestHead, peer: SocketAddress, responder: HTTPServer.Responder) {
        counters.requests += 1
        let path = head.segments
        if path.isEmpty {
            responder.respond(HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", body: Self.dashboard,
                                           extraHeaders: [Self.dashboardPolicy]))
            return
        }
        if path == ["healthz"] {
            responder.respond(.json(Array(#"{"status":"ok"}"#.utf8)))
            return
        }
        guard authorized(head.authorization) else {
            counters.unauthorized += 1
            var response = HTTPResponse.error(401, "missing or wrong bearer token")
            response.extraHeaders.append(#"WWW-Authenticate: Bearer realm="vigil""#)
            responder.respond(response)
            return
        }
        switch path.count {
        case 1 where path[0] == "metrics":
            responder.respond(HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8",
                                           body: Array(metrics().utf8)))
        case 1 where path[0] == "stats": responder.respond(.json(stats()))
        case 1 where path[0] == "alerts": responder.respond(alerts(head))
        case 1 where path[0] == "hosts": later(hostsJob(head), responder)
        case 2... where path[0] == "hosts": host(path, head, responder)
        default: responder.respond(.error(404, "no such endpoint"))
        }
    }

    /// Constant time in the token's length: every byte is compared whatever differs.
    private func authorized(_ header: String?) -> Bool {
        guard let header, header.hasPrefix("Bearer ") else { return false }
        let given = Array(header.utf8.dropFirst(7))
        var difference = UInt8(given.count == token.count ? 0 : 1)
        for i in 0..<token.count { difference |= token[i] ^ (i < given.count ? given[i] : 0) }
        return difference == 0
    }

    private func later(_ job: @escaping BackgroundWork.Job, _ responder: HTTPServer.Responder) {
        if !work.submit(job, completion: { responder.respond($0) }) {
            counters.busy += 1
            responder.respond(.error(503, "too many queries waiting; try again"))
        }
    }

    // MARK: - /hosts/{host}/...

    private func host(_ path: [String], _ head: HTTPRequestHead, _ responder: HTTPServer.Responder) {
        let name = path[1]
        // A name from the URL reaches the file system only if it is exactly what the store names
        // directories: `..`, `/`, NUL, upper case, over-long names are all refused here.
        guard !name.isEmpty, name.utf8.count <= HostName.maxComponentBytes, HostName.sanitize(name) == name else {
            responder.respond(.error(400, "invalid host name"))
            return
        }
        refreshNames()
        let directory = hostsDirectory + "/" + name
        // Whether a host vigil has not heard from since the start has a directory is for the query
        // thread to find out (a `stat`): no file-system call on the event loop.
        let seen = idsByName[name] != nil
        func query(_ job: @escaping BackgroundWork.Job) { later(StoreQueries.ofKnownHost(directory: directory, seen: seen, job), responder) }
        switch Array(path[2...]) {
        case ["files"]:
            query(StoreQueries.programs(host: name, directory: directory, inMemory: programs(of: name)))
        case ["logs"]:
            switch LogQuery.from(head) {
            case .failure(let error): responder.respond(.error(error.status, error.message))
            case .success(let logQuery): query(StoreQueries.logs(directory: directory, query: logQuery, now: clock()))
            }
        case ["ssh", "logins"]:
            let dayText = head.parameter("day") ?? clock().dayString
            guard let day = APITime.day(dayText) else {
                responder.respond(.error(400, "`day` must be a date, YYYY-MM-DD"))
                return
            }
            query(StoreQueries.sshLogins(host: name, directory: directory, day: day, now: clock()))
        default:
            responder.respond(.error(404, "no such endpoint"))
        }
    }

    private func refreshNames() {
        let table = server.collector.hosts.snapshot()
        while namedHosts < table.count {
            idsByName[HostName.sanitize(table.names[namedHosts]), default: []].append(HostID(UInt32(namedHosts)))
            namedHosts += 1
        }
    }

    private func programs(of name: String) -> [[UInt8]] {
        var out: [[UInt8]] = []
        let parts = server.activityParts
        for id in idsByName[name] ?? [] {
            for program in HostActivity.combined(parts.compactMap { $0.entry(id) })?.programs ?? [] where !out.contains(program) {
                out.append(program)
            }
        }
        return out
    }

    // MARK: - /hosts

    private func hostsJob(_ head: HTTPRequestHead) -> BackgroundWork.Job {
        refreshNames()
        // Each loop's counts combined before the analyzer is held (its thread waits meanwhile).
        let parts = server.activityParts
        var activity: [HostID: HostActivity.Entry] = [:]
        for ids in idsByName.values {
            for id in ids { activity[id] = HostActivity.combined(parts.compactMap { $0.entry(id) }) }
        }
        var seen: [StoreQueries.HostSummary] = []
        seen.reserveCapacity(idsByName.count)
        server.collector.withAnalyzer { analyzer in
            for (name, ids) in idsByName {
                var summary = StoreQueries.HostSummary(host: name)
                for id in ids {
                    guard let entry = activity[id] else { continue }
                    let counted = analyzer.stats.host(id)
                    summary.messages += entry.messages
                    summary.sshFailures += UInt64(counted.sshFailuresSinceStart)
                    summary.httpHits += UInt64(counted.hitsSinceStart)
                    if let last = entry.lastSeen, summary.lastSeen.map({ last > $0 }) ?? true { summary.lastSeen = last }
                }
                if summary.messages > 0 { seen.append(summary) }  // not the names only interned (a file input's default host)
            }
        }
        return StoreQueries.hosts(hostsDirectory: hostsDirectory, seen: seen)
    }

    // MARK: - /alerts

    private func alerts(_ head: HTTPRequestHead) -> HTTPResponse {
        let state: RecentAlerts.StateFilter
        switch head.parameter("state") {
        case nil, "": state = .any
        case "firing": state = .firingNow
        case "resolved": state = .resolved
        default: return .error(400, "`state` must be firing or resolved")
        }
        var rule: RuleID?
        if let name = head.parameter("rule"), !name.isEmpty {
            guard let found = RuleID.allCases.first(where: { $0.name == name }) else {
                return .error(400, "`rule` must be one of " + RuleID.allCases.map(\.name).joined(separator: ", "))
            }
            rule = found
        }
        let count: Int
        switch APICount.parse(head.parameter("count"), default: 100, max: server.collector.recentAlerts.capacity) {
        case .failure(let error): return .error(error.status, error.message)
        case .success(let n): count = n
        }
        let body = JSONWriter.dataList { json in
            for alert in server.collector.recentAlerts.newest(count: count, state: state, rule: rule) {
                var one: [UInt8] = []
                alert.appendJSON(to: &one)
                json.raw(one)
            }
        }
        return .json(body)
    }

    // MARK: - /stats and /metrics

    private func stats() -> [UInt8] {
        let collector = server.collector
        let c = server.ingestCounters
        var json = JSONWriter()
        json.beginObject()
        json.key("data")
        json.beginObject()
        json.member("uptime_seconds", max(0, (clock().microseconds - started.microseconds) / 1_000_000))
        json.member("received", c.received)
        json.member("bytes", c.bytes)
        json.member("parse_errors", c.parseErrors)
        json.member("framing_errors", c.framingErrors)
        json.member("truncated", c.truncated)
        json.member("frames_cut", c.framesCut)
        json.member("connections", c.connectionsOpen)
        json.member("store_errors", c.storeErrors)
        json.member("lost", c.lost)
        json.member("hosts", collector.hosts.count)
        json.member("alerts_firing", collector.recentAlerts.firingCount)
        json.key("top_ips")
        json.beginArray()
        let mono = Posix.monotonicMicros()
        if topClients.map({ mono - $0.atMicros >= 1_000_000 }) ?? true {
            topClients = (mono, collector.withAnalyzer { $0.stats.allHosts().topClients(10) })
        }
        for client in topClients?.clients ?? [] {
            json.beginObject()
            json.member("ip", client.ip.description)
            json.member("hits", client.hits)
            json.endObject()
        }
        json.endArray()
        json.key("sinks")
        json.beginArray()
        for sink in server.sinks {
            let m = sink.metrics
            json.beginObject()
            json.member("name", sink.name)
            json.member("delivered", m.delivered)
            json.member("failed", m.failed)
            json.member("spooled", m.spooled)
            json.member("dropped", m.dropped)
            json.endObject()
        }
        json.endArray()
        json.key("rules")
        json.beginArray()
        for rule in RuleID.allCases {
            json.beginObject()
            json.member("rule", rule.name)
            json.member("fired", collector.recentAlerts.fired[rule, default: 0])
            json.member("resolved", collector.recentAlerts.resolved[rule, default: 0])
            json.endObject()
        }
        json.endArray()
        json.endObject()
        json.endObject()
        return json.bytes
    }

    /// Every counter of the stats line, per sink and per rule, in Prometheus text format.
    func metrics() -> String {
        let collector = server.collector
        let c = server.ingestCounters
        // Small values only: a copy of the engine would share its tables, and the analysis
        // thread would then copy them whole on its next write.
        let (clocks, lateEvents, ratesSkipped, evictions) = collector.withAnalyzer { analyzer in
            let engine = analyzer.engine
            return (analyzer.clocks.counters, engine.lateEvents, engine.ratesSkipped, RuleID.allCases.map { engine.evictions(of: $0) })
        }
        var m = PrometheusText()
        m.single("vigil_received_messages_total", .counter, "Messages received (syslog frames and followed file lines).", c.received)
        m.single("vigil_received_bytes_total", .counter, "Bytes of messages received.", c.bytes)
        m.single("vigil_parse_errors_total", .counter, "Messages that are neither RFC 5424 nor RFC 3164 (stored as they came).", c.parseErrors)
        m.single("vigil_truncated_messages_total", .counter, "Messages cut at the maximum message size.", c.truncated)
        m.single("vigil_framing_errors_total", .counter, "TCP streams closed because they could not be framed.", c.framingErrors)
        m.single("vigil_frames_cut_total", .counter, "Partial frames cut short to bound the memory they hold.", c.framesCut)
        m.single("vigil_file_lines_total", .counter, "Lines read from followed files.", c.fileLines)
        m.single("vigil_lines_stored_by_other_loop_total", .counter,
                 "Lines stored by the ingest loop owning their host, not the one that read them.", c.storedForOtherLoops)
        m.single("vigil_connections_open", .gauge, "Syslog TCP connections open now.", c.connectionsOpen)
        m.single("vigil_connections_accepted_total", .counter, "Syslog TCP connections accepted.", c.connectionsAccepted)
        m.family("vigil_connections_refused_total", .counter, "Syslog TCP connections refused, by reason.")
        m.sample("vigil_connections_refused_total", ["reason": "per_source"], c.connectionsRefusedPerSource)
        m.sample("vigil_connections_refused_total", ["reason": "no_descriptors"], c.connectionsRefusedNoDescriptors)
        m.single("vigil_connections_evicted_total", .counter, "Idle connections closed to make room at the connection cap.", c.connectionsEvicted)
        m.single("vigil_connections_timed_out_total", .counter, "Connections closed after the idle timeout.", c.connectionsTimedOut)
        m.single("vigil_store_errors_total", .counter, "Failed writes to the store (retried).", c.storeErrors)
        m.single("vigil_lost_messages_total", .counter, "Messages lost (datagrams beyond the store's memory bound while it could not write).", c.lost)
        m.single("vigil_late_events_total", .counter, "Events older than their window when they arrived.", lateEvents)
        m.single("vigil_future_events_total", .counter, "Events whose time was ahead of the receive time beyond the tolerance (clamped).", clocks.future)
        m.single("vigil_zone_corrected_total", .counter, "RFC 3164 times corrected by the sender's learned UTC offset.", clocks.zoneCorrected)
        m.single("vigil_clock_offsets_learned_total", .counter, "UTC offsets learned for RFC 3164 senders.", clocks.offsetsLearned)
        m.family("vigil_detection_evicted_keys_total", .counter, "Detection keys evicted at the table cap, by rule.")
        for (rule, evicted) in zip(RuleID.allCases, evictions) { m.sample("vigil_detection_evicted_keys_total", ["rule": rule.name], evicted) }
        m.single("vigil_rates_skipped_total", .counter, "Per-host rate windows not kept because of detection.max_memory.", ratesSkipped)
        for (family, help, counts) in [("vigil_alerts_fired_total", "Alerts that fired, by rule.", collector.recentAlerts.fired),
                                       ("vigil_alerts_resolved_total", "Alerts that resolved, by rule.", collector.recentAlerts.resolved)] {
            m.family(family, .counter, help)
            for rule in RuleID.allCases { m.sample(family, ["rule": rule.name], counts[rule, default: 0]) }
        }
        m.single("vigil_alerts_firing", .gauge, "Alerts firing now.", collector.recentAlerts.firingCount)
        let sinks = server.sinks.map { ($0.name, $0.metrics) }
        let sinkFamilies: [(String, String, KeyPath<SinkMetrics, Int>)] = [
            ("vigil_sink_delivered_total", "Alerts a sink delivered, by sink.", \.delivered),
            ("vigil_sink_failed_total", "Delivery attempts that failed and are retried, by sink.", \.failed),
            ("vigil_sink_spooled_total", "Alerts spooled to disk while the receiver was down, by sink.", \.spooled),
            ("vigil_sink_dropped_total", "Alerts a sink gave up on, by sink.", \.dropped),
        ]
        for (family, help, count) in sinkFamilies {
            m.family(family, .counter, help)
            for (name, sink) in sinks { m.sample(family, ["sink": name], sink[keyPath: count]) }
        }
        if let receiver = server.relayReceiver {
            m.single("vigil_relay_received_total", .counter, "Relay events accepted.", collector.relayCounters.received)
            m.family("vigil_relay_rejected_total", .counter, "Relay messages rejected, by reason.")
            for (reason, n) in receiver.counters.rejected.sorted(by: { $0.key < $1.key }) {
                m.sample("vigil_relay_rejected_total", ["reason": reason], n)
            }
            m.sample("vigil_relay_rejected_total", ["reason": "connection_not_allowed"], receiver.counters.refusedConnections)
        }
        m.single("vigil_hosts", .gauge, "Hosts seen since the start.", collector.hosts.count)
        m.single("vigil_api_requests_total", .counter, "API requests answered.", counters.requests)
        m.single("vigil_api_unauthorized_total", .counter, "API requests refused for a missing or wrong token.", counters.unauthorized)
        m.single("vigil_api_busy_total", .counter, "API requests answered 503 because 64 store queries were waiting.", counters.busy)
        let cutOff = server.apiConnectionsCutOff
        m.single("vigil_api_connections_timed_out_total", .counter, "API connections cut off: a request or an answer too slow.", cutOff.timedOut)
        m.single("vigil_api_connections_refused_total", .counter, "API connections refused at a cap, none being idle to make room.", cutOff.refused)
        m.single("vigil_api_connections_evicted_total", .counter,
                 "API connections closed at a cap to make room for a newcomer: the longest idle of its source, or of the source holding the most.", cutOff.evicted)
        m.single("vigil_start_time_seconds", .gauge, "When this vigil started, in seconds since the epoch.", started.seconds)
        return m.text
    }
}
