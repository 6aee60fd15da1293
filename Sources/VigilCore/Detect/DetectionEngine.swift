/// The detection engine (README, "Detection"): the seven rules over event time, producing the
/// alerts of the README's "Alerts".
///
/// It has no clock. Each `observe…` call carries the event's own time; `advance(now:)`
/// moves time forward when no events arrive (the caller passes its clock, or the
/// newest event time when replaying a file). The engine's time is the largest of
/// those; its *watermark* is that time minus the lateness. An event older than the
/// watermark is late: counted in `lateEvents` and ignored. Conditions that start to
/// hold fire at once, stamped with the event time that completed them; conditions that
/// stop holding resolve once the watermark reaches the moment they stopped, stamped
/// with that moment. The rate rules (`http_high_traffic`, `http_error_burst`) resolve
/// only once their condition has not held for the rule's `resolveAfterMicroseconds`
/// (a quiet period, checked as their windows slide second by second), stamped with the
/// moment it ended; holding again within it keeps the alert firing. `http_scan` resolves
/// once fewer than its threshold of 404s lie within its window plus its quiet period. Windows are
/// half-open: an event at `t` is in the window ending at `now` when `now - window < t <= now`.
///
/// Alerts collect in a buffer the caller empties with `takeAlerts()`. State per rule
/// is capped at `maxKeys`, the least recently seen key evicted first; a firing key that
/// is evicted resolves with "(state evicted)" in its summary.
public struct DetectionEngine: Sendable {
    /// The settings in force (those it was built with, or the last `reconfigure`'s).
    public private(set) var settings: DetectionSettings
    /// Alert ids are this prefix followed by a sequence number.
    public let idPrefix: String
    /// The sequence number the next new alert id gets.
    public private(set) var nextSequence: UInt64
    /// Events ignored because they were older than the watermark.
    public private(set) var lateEvents = 0

    private var lateness: Int64
    /// Seeds the hashing of each rule's table (kept to rebuild one on `reconfigure`).
    private let hashSeed: UInt64
    /// The newest time seen (events or `advance`), µs.
    private var clock: Int64 = Int64.min / 4
    private var alerts: [DetectedAlert] = []

    private var bruteforce: CountState<HostIP>
    private var repeatAccess: CountState<HostIP>
    private var scan: CountState<IPAddress>
    private var distributed: DistributedState
    private var sessions: SessionState
    private var rates: [HostRates] = []
    private var globalTraffic: SecondWindow
    private var globalTrafficIncident: Incident?
    private var limits: RateLimits
    /// One bit per rule that runs (`DetectionSettings.runs`, by `RuleID.rawValue`): read on every event, so no array lookup.
    private var enabledRules: UInt8
    /// Hosts that get per-host rate windows (`DetectionSettings.maxRateHosts`).
    private var maxRateHosts: Int
    /// Requests whose host is past `maxRateHosts`: counted for the global rules only.
    public private(set) var ratesSkipped = 0
    /// Indexed by host: whether its host-scoped alerts are another collector's to raise
    /// (`leaveHostAlerts(of:)`).
    private var hostAlertsLeft: [Bool] = []
    /// Host-scoped alerts not raised because their host's are another collector's.
    public private(set) var alertsLeft = 0

    /// An engine with `settings`; alert ids start at
    /// `idPrefix` + `firstSequence` (a daemon passes a prefix unique to the run). `hashSeed`
    /// seeds the hashing of per-key state: a daemon passes a random one so that senders
    /// cannot choose addresses that all land in one hash chain.
    public init(settings: DetectionSettings = DetectionSettings(), idPrefix: String = "", firstSequence: UInt64 = 1,
                hashSeed: UInt64 = 0) {
        self.settings = settings
        self.idPrefix = idPrefix
        self.nextSequence = firstSequence
        self.hashSeed = hashSeed
        self.lateness = max(0, settings.latenessMicroseconds)
        bruteforce = CountState(settings: settings[.sshBruteforce], resolvesOnNewest: true, seed: hashSeed)
        repeatAccess = CountState(settings: settings[.sshRepeatAccess], resolvesOnNewest: false, seed: hashSeed &+ 1)
        scan = CountState(settings: settings[.httpScan], resolvesOnNewest: false, seed: hashSeed &+ 2)
        distributed = DistributedState(settings: settings[.sshDistributed], seed: hashSeed &+ 3)
        sessions = SessionState(settings: settings[.sshLongSession], seed: hashSeed &+ 4)
        let traffic = settings[.httpHighTraffic]
        globalTraffic = SecondWindow(seconds: traffic.windowSeconds)
        limits = RateLimits(traffic: traffic, errors: settings[.httpErrorBurst])
        enabledRules = Self.runningRules(settings)
        maxRateHosts = settings.maxRateHosts
    }

    /// One bit per rule that runs with `settings` (`DetectionSettings.runs`).
    private static func runningRules(_ settings: DetectionSettings) -> UInt8 {
        RuleID.allCases.reduce(0) { settings.runs($1) ? $0 | 1 << UInt8($1.rawValue) : $0 }
    }

    @inline(__always)
    private func isOn(_ rule: RuleID) -> Bool { enabledRules & 1 << UInt8(rule.rawValue) != 0 }

    // MARK: - Reconfiguration

    /// Takes new settings (a reloaded configuration) without losing what it knows: a rule whose
    /// settings did not change keeps its state, its windows and its firing alerts; a rule whose
    /// settings changed (enabled, threshold, window, minimum requests, quiet period, key cap)
    /// starts afresh, its firing alerts resolved now with "(rule reconfigured)" in their summary,
    /// because its windows and counts no longer mean the same. The allowlist, the lateness and
    /// severities apply from the next event. Returns the rules that started afresh.
    /// `runsGlobalRules` is the collector's role (edge or not), the same for the engine's life.
    @discardableResult
    public mutating func reconfigure(_ new: DetectionSettings) -> [RuleID] {
        let changed = RuleID.allCases.filter { Self.needsFreshState(settings[$0], new[$0]) }
        for rule in changed { resolveAllFiring(rule) }
        settings = new
        lateness = max(0, new.latenessMicroseconds)
        for rule in changed { freshState(rule) }
        limits = RateLimits(traffic: new[.httpHighTraffic], errors: new[.httpErrorBurst])
        enabledRules = Self.runningRules(new)
        maxRateHosts = new.maxRateHosts
        return changed
    }

    /// Whether going from `old` to `new` changes what a rule's state means (a severity does not).
    private static func needsFreshState(_ old: RuleSettings, _ new: RuleSettings) -> Bool {
        old.enabled != new.enabled || old.threshold != new.threshold || old.windowMicroseconds != new.windowMicroseconds
            || old.minRequests != new.minRequests || old.maxKeys != new.maxKeys
            || old.resolveAfterMicroseconds != new.resolveAfterMicroseconds
    }

    /// Resolves every firing alert of `rule` now (its settings are about to change).
    private mutating func resolveAllFiring(_ rule: RuleID) {
        func resolve(_ incident: Incident) {
            let summary: AlertSummary
            if let ip = incident.ip {
                summary = "\(rule.name) for \(ip) resolved (rule reconfigured)"
            } else if let host = incident.host {
                summary = "\(rule.name) for \(host: host) resolved (rule reconfigured)"
            } else {
                summary = "\(rule.name) for all hosts resolved (rule reconfigured)"
            }
            emit(rule, .resolved, incident, ts: clock, summary: summary)
        }
        switch rule {
        case .sshBruteforce: bruteforce.removeAllFiring().forEach(resolve)
        case .sshRepeatAccess: repeatAccess.removeAllFiring().forEach(resolve)
        case .httpScan: scan.removeAllFiring().forEach(resolve)
        case .sshDistributed: distributed.removeAllFiring().forEach(resolve)
        case .sshLongSession:
            for incident in sessions.firing.values.sorted(by: { $0.seq < $1.seq }) { resolve(incident) }
            sessions.firing = [:]
        case .httpHighTraffic:
            for h in rates.indices { if let incident = rates[h].trafficIncident { resolve(incident) } }
            if let incident = globalTrafficIncident { resolve(incident) }
        case .httpErrorBurst:
            for h in rates.indices { if let incident = rates[h].errorIncident { resolve(incident) } }
        }
    }

    /// Empties `rule`'s state and builds it again for the current settings.
    private mutating func freshState(_ rule: RuleID) {
        switch rule {
        case .sshBruteforce: bruteforce = CountState(settings: settings[rule], resolvesOnNewest: true, seed: hashSeed)
        case .sshRepeatAccess: repeatAccess = CountState(settings: settings[rule], resolvesOnNewest: false, seed: hashSeed &+ 1)
        case .httpScan: scan = CountState(settings: settings[rule], resolvesOnNewest: false, seed: hashSeed &+ 2)
        case .sshDistributed: distributed = DistributedState(settings: settings[rule], seed: hashSeed &+ 3)
        case .sshLongSession: sessions = SessionState(settings: settings[rule], seed: hashSeed &+ 4)
        case .httpHighTraffic:
            for h in rates.indices {
                rates[h].traffic = SecondWindow(seconds: settings[rule].windowSeconds)
                rates[h].trafficIncident = nil
            }
            globalTraffic = SecondWindow(seconds: settings[rule].windowSeconds)
            globalTrafficIncident = nil
        case .httpErrorBurst:
            for h in rates.indices {
                rates[h].errors = SecondWindow(seconds: settings[rule].windowSeconds)
                rates[h].errorIncident = nil
            }
        }
    }

    /// The watermark: events older than this are late.
    public var watermark: Timestamp { Timestamp(microseconds: clock &- lateness) }

    /// How many keys `rule` evicted to stay under its cap.
    public func evictions(of rule: RuleID) -> Int {
        switch rule {
        case .sshBruteforce: return bruteforce.table.evictions
        case .sshDistributed: return distributed.table.evictions
        case .sshRepeatAccess: return repeatAccess.table.evictions
        case .sshLongSession: return sessions.table.evictions
        case .httpScan: return scan.table.evictions
        case .httpHighTraffic, .httpErrorBurst: return 0
        }
    }

    /// How many keys `rule` holds now.
    public func keyCount(of rule: RuleID) -> Int {
        switch rule {
        case .sshBruteforce: return bruteforce.table.count
        case .sshDistributed: return distributed.table.count
        case .sshRepeatAccess: return repeatAccess.table.count
        case .sshLongSession: return sessions.table.count
        case .httpScan: return scan.table.count
        case .httpHighTraffic, .httpErrorBurst: return rates.count
        }
    }

    /// Returns the alerts produced since the last call, in the order they happened; their hosts
    /// are `HostID`s, named by whoever dispatches them (`DetectedAlert.named(by:)`).
    public mutating func takeAlerts() -> [DetectedAlert] {
        defer { alerts.removeAll(keepingCapacity: true) }
        return alerts
    }

    // MARK: - Inputs

    /// Starts loading what an sshd event of `kind` from `ip` (if known) by process `pid` of
    /// `host` will touch first: a failure's entries in the brute-force and distributed tables,
    /// a probe's in the distributed one, a session's in the session table. A hint: changes
    /// nothing.
    @inline(__always)
    public func prefetchSSH(host: HostID, kind: SSHEvent.Kind?, ip: IPAddress?, pid: Int32) {
        switch kind {
        case .authFailure?, .invalidUser?:
            guard let ip else { return }
            if isOn(.sshBruteforce) { bruteforce.table.prefetch(HostIP(host: host, ip: ip)) }
            if isOn(.sshDistributed) { distributed.table.prefetch(ip) }
        case .probe?:
            if let ip, isOn(.sshDistributed) { distributed.table.prefetch(ip) }
        case .sessionOpen?, .sessionClose?:
            if pid != 0 && isOn(.sshLongSession) { sessions.table.prefetch(HostPID(host: host, pid: pid)) }
        case .authSuccess?, nil:
            break
        }
    }

    /// Starts loading what a request from `clientIP` answered with `status` will touch first
    /// (a hint: changes nothing).
    @inline(__always)
    public func prefetchHTTP(clientIP: IPAddress, status: UInt16) {
        if status == 404 && isOn(.httpScan) { scan.table.prefetch(clientIP) }
    }

    /// The second stage of `prefetchSSH`, a little later (once the buckets it asked for have
    /// arrived): starts loading the entries and per-key state they point to.
    @inline(__always)
    public func prefetchSSHState(host: HostID, kind: SSHEvent.Kind?, ip: IPAddress?) {
        guard let ip, kind == .authFailure || kind == .invalidUser || kind == .probe else { return }
        if kind != .probe && isOn(.sshBruteforce) {
            bruteforce.table.prefetchEntry(HostIP(host: host, ip: ip)) { bruteforce.times.prefetch($0) }
        }
        if isOn(.sshDistributed) { distributed.table.prefetchEntry(ip) { distributed.prefetch($0) } }
    }

    /// The second stage of `prefetchHTTP` (see `prefetchSSHState`).
    @inline(__always)
    public func prefetchHTTPState(clientIP: IPAddress, status: UInt16) {
        if status == 404 && isOn(.httpScan) { scan.table.prefetchEntry(clientIP) { scan.times.prefetch($0) } }
    }

    /// Feeds one sshd event of `host` at event time `time`.
    ///
    /// Failures and invalid users count for `ssh_bruteforce` and `ssh_distributed`, probes
    /// for `ssh_distributed`, session opens (with an IP) for `ssh_repeat_access`, and opens
    /// and closes (paired by host and `pid`) for `ssh_long_session`. `event.count` events
    /// are counted (`message repeated N times`). Events without an IP count only where no
    /// IP is needed (session length).
    public mutating func observeSSH(host: HostID, time: Timestamp, event: SSHEvent) {
        let t = time.microseconds
        guard admit(t) else { return }
        let allowed = event.ip.map { settings.allowList.contains($0) } ?? false
        let count = max(1, event.count)
        switch event.kind {
        case .authFailure, .invalidUser:
            guard let ip = event.ip, !allowed else { break }
            // Both lookups first: their cache misses overlap.
            let key = HostIP(host: host, ip: ip)
            let bruteforceAt = isOn(.sshBruteforce) ? bruteforce.table.lookup(key) : nil
            let distributedAt = isOn(.sshDistributed) ? distributed.table.lookup(ip) : nil
            if let bruteforceAt { countBruteforce(key, bruteforceAt, t: t, count: count) }
            if let distributedAt { countDistributed(host: host, ip: ip, distributedAt, t: t) }
        case .probe:
            guard let ip = event.ip, !allowed else { break }
            if isOn(.sshDistributed) { countDistributed(host: host, ip: ip, distributed.table.lookup(ip), t: t) }
        case .sessionOpen:
            if let ip = event.ip, !allowed, isOn(.sshRepeatAccess) {
                countRepeatAccess(host: host, ip: ip, t: t, count: count)
            }
            if isOn(.sshLongSession) && event.pid != 0 && !allowed {
                if let evicted = sessions.open(HostPID(host: host, pid: event.pid), ip: event.ip, at: t) {
                    resolveEvicted(.sshLongSession, evicted)
                }
            }
        case .sessionClose:
            if isOn(.sshLongSession) && event.pid != 0,
               let incident = sessions.close(HostPID(host: host, pid: event.pid)) {
                let lasted = (t &- incident.firstTs) / 1_000_000
                emit(.sshLongSession, .resolved, incident, ts: t,
                     summary: "ssh session \(incident.pid)\(fromIP(incident.ip)) on \(host: host) ended after \(Alert.durationText(lasted))")
            }
        case .authSuccess:
            break
        }
        resolveDueIfNeeded()
    }

    /// Feeds one session summary line of `host`; it counts as a session opened by its IP
    /// at `time` for `ssh_repeat_access` (pass the line's own time, or the session's end
    /// when the line has no other).
    public mutating func observeSessionSummary(host: HostID, time: Timestamp, summary: SessionSummary) {
        let t = time.microseconds
        guard admit(t) else { return }
        if isOn(.sshRepeatAccess) && !settings.allowList.contains(summary.ip) {
            countRepeatAccess(host: host, ip: summary.ip, t: t, count: 1)
        }
        resolveDueIfNeeded()
    }

    /// Feeds one HTTP request of `host` at event time `time`, answered with `status`.
    public mutating func observeHTTP(host: HostID, time: Timestamp, clientIP: IPAddress?, status: UInt16) {
        let t = time.microseconds
        guard admit(t) else { return }
        let second = time.seconds
        if isOn(.httpHighTraffic) || isOn(.httpErrorBurst) {
            let h = Int(host.rawValue)
            // Hosts past the memory bound's share count for the global rules only.
            let perHost = h < maxRateHosts
            if perHost && h >= rates.count { ensureRates(host) }
            if !perHost { ratesSkipped += 1 }
            // Per request only counting and one comparison per window; sliding (once a bucket),
            // firing and resolving are out of line. Host and global traffic windows share a bucket size.
            if isOn(.httpHighTraffic) {
                let bucket = globalTraffic.bucket(of: second)
                if perHost {
                    if rates[h].traffic.head < bucket { slideTraffic(host: h, to: bucket) }
                    if rates[h].countTraffic(bucket, at: t, limits: limits) { checkTraffic(host: h, at: t) }
                }
                if settings.runsGlobalRules {
                    if globalTraffic.head < bucket { slideGlobalTraffic(to: bucket) }
                    if limits.countTraffic(bucket, at: t, in: &globalTraffic, incident: &globalTrafficIncident) { checkGlobalTraffic(at: t) }
                }
            }
            if isOn(.httpErrorBurst) && perHost {
                let bucket = rates[h].errors.bucket(of: second)
                if rates[h].errors.head < bucket { slideErrors(host: h, to: bucket) }
                if rates[h].countError(bucket, at: t, marked: status >= 500 && status <= 599, limits: limits) { checkErrors(host: h, at: t) }
            }
        }
        if status == 404, let ip = clientIP, isOn(.httpScan), !settings.allowList.contains(ip) {
            let r = scan.record(ip, scan.table.lookup(ip), at: t, count: 1, watermark: clock &- lateness)
            if r.evicted { resolveEvicted(.httpScan, scan.takeEvicted()) }
            if r.fires {
                let n = scan.times.n
                let incident = newIncident(host: nil, ip: ip, firstTs: scan.times.oldest(r.slot), count: n)
                scan.startFiring(r.slot, incident)
                emit(.httpScan, .firing, incident, ts: t,
                     summary: "\(ip) got \(n) 404 responses within \(windowText(.httpScan))")
            }
        }
        resolveDueIfNeeded()
    }

    /// Moves the engine's time to `now` (if later) and resolves or fires what the passing of
    /// time decides: windows letting go, sessions growing too long.
    public mutating func advance(now: Timestamp) {
        clock = max(clock, now.microseconds)
        resolveDue()
        // After the resolutions: a key whose window emptied no longer fires and can go.
        let w = clock &- lateness
        bruteforce.freeIdle(watermark: w)
        repeatAccess.freeIdle(watermark: w)
        scan.freeIdle(watermark: w)
        distributed.freeIdle(watermark: w)
        let second = watermark.seconds
        if isOn(.httpHighTraffic) {
            let bucket = globalTraffic.bucket(of: second)
            for h in rates.indices { slideTraffic(host: h, to: bucket) }
            if settings.runsGlobalRules { slideGlobalTraffic(to: bucket) }
        }
        if isOn(.httpErrorBurst) {
            for h in rates.indices { slideErrors(host: h, to: rates[h].errors.bucket(of: second)) }
        }
    }

    // MARK: - Counting rules

    private mutating func countBruteforce(_ key: HostIP, _ lookup: SlotTable<HostIP>.Lookup, t: Int64, count: Int) {
        let host = key.host, ip = key.ip
        let r = bruteforce.record(key, lookup, at: t, count: count, watermark: clock &- lateness)
        if r.evicted { resolveEvicted(.sshBruteforce, bruteforce.takeEvicted()) }
        guard r.fires else { return }
        let n = bruteforce.times.n
        let incident = newIncident(host: host, ip: ip, firstTs: bruteforce.times.oldest(r.slot), count: n)
        bruteforce.startFiring(r.slot, incident)
        emit(.sshBruteforce, .firing, incident, ts: t,
             summary: "\(n) failed ssh logins from \(ip) on \(host: host) within \(windowText(.sshBruteforce))")
    }

    private mutating func countRepeatAccess(host: HostID, ip: IPAddress, t: Int64, count: Int) {
        let key = HostIP(host: host, ip: ip)
        let r = repeatAccess.record(key, repeatAccess.table.lookup(key), at: t, count: count, watermark: clock &- lateness)
        if r.evicted { resolveEvicted(.sshRepeatAccess, repeatAccess.takeEvicted()) }
        guard r.fires else { return }
        let n = repeatAccess.times.n
        let incident = newIncident(host: host, ip: ip, firstTs: repeatAccess.times.oldest(r.slot), count: n)
        repeatAccess.startFiring(r.slot, incident)
        emit(.sshRepeatAccess, .firing, incident, ts: t,
             summary: "\(ip) opened \(n) ssh sessions on \(host: host) within \(windowText(.sshRepeatAccess))")
    }

    private mutating func countDistributed(host: HostID, ip: IPAddress, _ lookup: SlotTable<IPAddress>.Lookup, t: Int64) {
        let r = distributed.record(ip, lookup, host: host, at: t, watermark: clock &- lateness)
        if r.evicted { resolveEvicted(.sshDistributed, distributed.takeEvicted()) }
        guard r.fires else { return }
        let hosts = distributed.hosts(r.slot)
        var incident = newIncident(host: nil, ip: ip, firstTs: distributed.deadline(r.slot) &- distributed.window,
                                   count: hosts.count)
        incident.hosts = hosts
        distributed.startFiring(r.slot, incident)
        emit(.sshDistributed, .firing, incident, ts: t,
             summary: "\(ip) failed or probed ssh on \(hosts.count) hosts within \(windowText(.sshDistributed)): \(hosts: hosts)")
    }

    // MARK: - Rate rules

    private mutating func ensureRates(_ host: HostID) {
        while rates.count <= Int(host.rawValue) {
            rates.append(HostRates(traffic: SecondWindow(seconds: settings[.httpHighTraffic].windowSeconds), trafficIncident: nil,
                                   errors: SecondWindow(seconds: settings[.httpErrorBurst].windowSeconds), errorIncident: nil))
        }
    }

    /// Slides host `h`'s traffic window to `second`, firing, resolving or starting a quiet period
    /// at the exact second the condition changes.
    private mutating func slideTraffic(host h: Int, to second: Int64) {
        while rates[h].traffic.head < second {
            if rates[h].traffic.head == .min || (rates[h].traffic.sum == 0 && rates[h].trafficIncident == nil) {
                rates[h].traffic.restart(at: second)
                return
            }
            rates[h].traffic.step()
            checkTraffic(host: h, at: rates[h].traffic.startMicroseconds(of: rates[h].traffic.head))
        }
    }

    private mutating func checkTraffic(host h: Int, at t: Int64) {
        // Runs on every second a window slides: nothing is copied unless the incident changes.
        let holds = limits.trafficHolds(sum: rates[h].traffic.sum)
        if !rates[h].trafficIncident.rateChanges(holds: holds, at: t, quiet: limits.trafficQuiet) { return }
        var incident = rates[h].trafficIncident
        evaluateTraffic(rates[h].traffic, &incident, host: HostID(UInt32(h)), at: t)
        rates[h].trafficIncident = incident
    }

    /// Fires the high-traffic incident of `window` (one host's, or all hosts' when `host` is nil),
    /// moves its quiet period, or resolves it when that is over: stamped with the moment it ended,
    /// with the window's average as of the second `t` (that moment, as the window slides per second).
    private mutating func evaluateTraffic(_ window: SecondWindow, _ incident: inout Incident?, host: HostID?, at t: Int64) {
        let holds = limits.trafficHolds(sum: window.sum)
        if let over = incident.settle(holds: holds, at: t, quiet: limits.trafficQuiet) {
            emit(.httpHighTraffic, .resolved, over.ended, ts: over.at,
                 summary: "High traffic alert recovered - hits = \(averageText(window)), recovered at \(Timestamp(microseconds: over.at).rfc3339())")
        }
        if holds, incident == nil {
            let started = newIncident(host: host, ip: nil, firstTs: t, count: window.sum)
            incident = started
            emit(.httpHighTraffic, .firing, started, ts: t,
                 summary: "High traffic generated an alert - hits = \(averageText(window)), triggered at \(Timestamp(microseconds: t).rfc3339())")
        }
    }

    private mutating func slideGlobalTraffic(to second: Int64) {
        while globalTraffic.head < second {
            if globalTraffic.head == .min || (globalTraffic.sum == 0 && globalTrafficIncident == nil) {
                globalTraffic.restart(at: second)
                return
            }
            globalTraffic.step()
            checkGlobalTraffic(at: globalTraffic.startMicroseconds(of: globalTraffic.head))
        }
    }

    private mutating func checkGlobalTraffic(at t: Int64) {
        let holds = limits.trafficHolds(sum: globalTraffic.sum)
        if !globalTrafficIncident.rateChanges(holds: holds, at: t, quiet: limits.trafficQuiet) { return }
        var incident = globalTrafficIncident
        evaluateTraffic(globalTraffic, &incident, host: nil, at: t)
        globalTrafficIncident = incident
    }

    private mutating func slideErrors(host h: Int, to second: Int64) {
        while rates[h].errors.head < second {
            if rates[h].errors.head == .min || (rates[h].errors.sum == 0 && rates[h].errorIncident == nil) {
                rates[h].errors.restart(at: second)
                return
            }
            rates[h].errors.step()
            checkErrors(host: h, at: rates[h].errors.startMicroseconds(of: rates[h].errors.head))
        }
    }

    /// Fires host `h`'s error-burst incident, moves its quiet period, or resolves it when that is
    /// over (stamped with the moment it ended, with the window as of the second `t`).
    private mutating func checkErrors(host h: Int, at t: Int64) {
        // Runs on every second a window slides: the summary strings are built only when an alert is emitted.
        let holds = limits.errorsHold(sum: rates[h].errors.sum, marked: rates[h].errors.markedSum)
        if !rates[h].errorIncident.rateChanges(holds: holds, at: t, quiet: limits.errorQuiet) { return }
        let w = rates[h].errors
        let host = HostID(UInt32(h))
        let percent = w.sum == 0 ? 0 : (w.markedSum * 100 + w.sum / 2) / w.sum
        if let over = rates[h].errorIncident.settle(holds: holds, at: t, quiet: limits.errorQuiet) {
            var incident = over.ended
            incident.count = w.markedSum
            emit(.httpErrorBurst, .resolved, incident, ts: over.at,
                 summary: "5xx responses on \(host: host) back under the threshold: \(w.markedSum) of \(w.sum) requests (\(percent)%) within \(windowText(.httpErrorBurst))")
        }
        if holds, rates[h].errorIncident == nil {
            let incident = newIncident(host: host, ip: nil, firstTs: t, count: w.markedSum)
            rates[h].errorIncident = incident
            emit(.httpErrorBurst, .firing, incident, ts: t,
                 summary: "\(w.markedSum) of \(w.sum) requests (\(percent)%) on \(host: host) answered 5xx within \(windowText(.httpErrorBurst))")
        }
    }

    // MARK: - Time

    /// Admits an event at `t` (µs), moving the clock; false (and counted) when it is late.
    @inline(__always)
    private mutating func admit(_ t: Int64) -> Bool {
        if t > clock {
            clock = t
            return true
        }
        if t < clock &- lateness {
            lateEvents += 1
            return false
        }
        return true
    }

    /// Runs `resolveDue` only when some deadline may have passed.
    @inline(__always)
    private mutating func resolveDueIfNeeded() {
        let w = clock &- lateness
        if w >= bruteforce.nextDeadline || w >= repeatAccess.nextDeadline || w >= scan.nextDeadline
            || w >= distributed.nextDeadline || w >= sessions.earliestDeadline {
            resolveDue()
        }
    }

    /// Resolves the counting rules whose windows let go before the watermark, and fires
    /// sessions that became too long.
    private mutating func resolveDue() {
        let w = clock &- lateness
        for (incident, d) in bruteforce.takeDue(watermark: w) {
            emit(.sshBruteforce, .resolved, incident, ts: d,
                 summary: "no failed ssh login from \(ipText(incident.ip)) on \(host: incident.host!) for \(windowText(.sshBruteforce)) (\(incident.count) in total)")
        }
        for (incident, d) in repeatAccess.takeDue(watermark: w) {
            emit(.sshRepeatAccess, .resolved, incident, ts: d,
                 summary: "\(ipText(incident.ip)) opened fewer than \(repeatAccess.times.n) ssh sessions on \(host: incident.host!) within \(windowText(.sshRepeatAccess))")
        }
        for (incident, d) in scan.takeDue(watermark: w) {
            emit(.httpScan, .resolved, incident, ts: d,
                 summary: "\(ipText(incident.ip)) got fewer than \(scan.times.n) 404 responses within \(windowText(.httpScan)) (\(incident.count) in total)")
        }
        for (incident, d) in distributed.takeDue(watermark: w) {
            emit(.sshDistributed, .resolved, incident, ts: d,
                 summary: "\(ipText(incident.ip)) no longer failing on \(distributed.n) hosts within \(windowText(.sshDistributed))")
        }
        for slot in sessions.takeDue(watermark: w) {
            let s = Int(slot)
            let key = sessions.table.key(of: slot)
            var incident = newIncident(host: key.host, ip: sessions.ip[s], firstTs: sessions.start[s], count: 1)
            incident.pid = key.pid
            sessions.firing[slot] = incident
            emit(.sshLongSession, .firing, incident, ts: sessions.start[s] &+ sessions.window,
                 summary: "ssh session \(key.pid)\(fromIP(incident.ip)) on \(host: key.host) open for more than \(windowText(.sshLongSession))")
        }
    }

    // MARK: - Alerts

    private mutating func newIncident(host: HostID?, ip: IPAddress?, firstTs: Int64, count: Int) -> Incident {
        let seq = nextSequence
        nextSequence += 1
        return Incident(seq: seq, host: host, ip: ip, firstTs: firstTs, count: count)
    }

    private mutating func resolveEvicted(_ rule: RuleID, _ incident: Incident) {
        emit(rule, .resolved, incident, ts: clock, summary: "\(rule.name) for \(ipText(incident.ip)) resolved (state evicted)")
    }

    /// From now on the host-scoped alerts about `host` are another collector's to raise (a
    /// central's host whose events arrive from its edge, docs/relay.md): its rules still keep
    /// their state (a global rule counts its events) but raise nothing about it (`alertsLeft`).
    public mutating func leaveHostAlerts(of host: HostID) {
        let h = Int(host.rawValue)
        if h >= hostAlertsLeft.count { hostAlertsLeft.append(contentsOf: repeatElement(false, count: h + 1 - hostAlertsLeft.count)) }
        hostAlertsLeft[h] = true
    }

    private mutating func emit(_ rule: RuleID, _ state: Alert.State, _ incident: Incident, ts: Int64, summary: AlertSummary) {
        if let h = incident.host.map({ Int($0.rawValue) }), h < hostAlertsLeft.count, hostAlertsLeft[h] {
            alertsLeft += 1
            return
        }
        let hosts: [HostID]
        if rule == .sshDistributed {
            hosts = incident.hosts
        } else if let h = incident.host {
            hosts = [h]
        } else {
            hosts = []
        }
        let scope: Alert.Scope = incident.host == nil ? .global : .host
        let r = settings[rule]
        alerts.append(DetectedAlert(id: idPrefix + String(incident.seq), rule: rule, state: state, severity: r.severity,
                                    scope: scope, host: incident.host, ip: incident.ip, count: incident.count,
                                    windowSeconds: r.windowSeconds, hosts: hosts, firstTs: Timestamp(microseconds: incident.firstTs),
                                    ts: Timestamp(microseconds: ts), summary: summary))
    }

    private func windowText(_ rule: RuleID) -> String { Alert.durationText(settings[rule].windowSeconds) }

    private func averageText(_ w: SecondWindow) -> String {
        Alert.twoDecimals(Double(w.sum) / Double(w.spanSeconds))
    }

    private func ipText(_ ip: IPAddress?) -> String { ip?.description ?? "unknown address" }

    private func fromIP(_ ip: IPAddress?) -> String { ip.map { " from \($0)" } ?? "" }
}
