/// The settings of one rule: its `[rule.NAME]` section.
///
/// `threshold` means, per rule: a count of events (`ssh_bruteforce`, `ssh_repeat_access`,
/// `http_scan`), a count of distinct hosts (`ssh_distributed`), average hits/s
/// (`http_high_traffic`), a percentage of 5xx responses (`http_error_burst`); it is
/// unused by `ssh_long_session`, whose `window` is the session length that fires.
public struct RuleSettings: Sendable, Equatable {
    /// Whether the rule runs at all.
    public var enabled: Bool
    /// See the type's documentation for the unit per rule.
    public var threshold: Double
    /// The window length in microseconds.
    public var windowMicroseconds: Int64
    /// `http_error_burst` only: the fewest requests in the window before the ratio counts.
    public var minRequests: Int
    /// The severity written into this rule's alerts.
    public var severity: Severity
    /// Most keys (IPs, host+IP pairs, sessions) the rule keeps; the least recently seen is evicted beyond it.
    public var maxKeys: Int
    /// The quiet period, in microseconds (0: none): how long the condition must have stopped
    /// holding before a firing alert resolves; holding again within it keeps the alert firing,
    /// with no second alert. Configurable for the rate rules (`http_high_traffic`,
    /// `http_error_burst`) and `http_scan`, which then resolves once fewer than `threshold` 404s
    /// lie within `window` plus this.
    public var resolveAfterMicroseconds: Int64

    /// Settings given explicitly; `maxKeys` defaults to `DetectionSettings.defaultMaxKeys`.
    public init(enabled: Bool = true, threshold: Double, windowSeconds: Int64, minRequests: Int = 0,
                resolveAfterSeconds: Int64 = 0, severity: Severity, maxKeys: Int = DetectionSettings.defaultMaxKeys) {
        self.enabled = enabled
        self.threshold = threshold
        self.windowMicroseconds = windowSeconds * 1_000_000
        self.minRequests = minRequests
        self.resolveAfterMicroseconds = resolveAfterSeconds * 1_000_000
        self.severity = severity
        self.maxKeys = maxKeys
    }

    /// The window in whole seconds (rounded up, at least 1): the size of per-second rings.
    public var windowSeconds: Int64 { max(1, (windowMicroseconds + 999_999) / 1_000_000) }

    /// The threshold as an event count (at least 1), for the counting rules.
    var countThreshold: Int {
        guard threshold >= 1, threshold < 1e9 else { return threshold >= 1e9 ? 1_000_000_000 : 1 }
        let whole = Int(threshold)  // truncates; VigilCore does not link libm for `rounded()`
        return Double(whole) < threshold ? whole + 1 : whole
    }

    /// The documented defaults (README, "Detection") of `rule`.
    public static func defaults(for rule: RuleID) -> RuleSettings {
        switch rule {
        case .sshBruteforce: return RuleSettings(threshold: 5, windowSeconds: 600, severity: .warning)
        case .sshDistributed: return RuleSettings(threshold: 3, windowSeconds: 600, severity: .critical)
        case .sshRepeatAccess: return RuleSettings(threshold: 3, windowSeconds: 3600, severity: .info)
        case .sshLongSession: return RuleSettings(threshold: 1, windowSeconds: 4 * 3600, severity: .info)
        case .httpHighTraffic: return RuleSettings(threshold: 10, windowSeconds: 120, resolveAfterSeconds: 900, severity: .warning)
        case .httpErrorBurst:
            return RuleSettings(threshold: 50, windowSeconds: 60, minRequests: 20, resolveAfterSeconds: 600, severity: .critical)
        case .httpScan: return RuleSettings(threshold: 20, windowSeconds: 60, resolveAfterSeconds: 60, severity: .warning)
        }
    }
}

/// Everything the detection engine is configured with; `DetectionSettings()` is the documented defaults.
public struct DetectionSettings: Sendable, Equatable {
    /// The default cap on keys per rule.
    public static let defaultMaxKeys = 1 << 20

    /// How far behind the newest event time an event may arrive and still count (default 5 s).
    public var latenessMicroseconds: Int64 = 5_000_000
    /// How far ahead of its arrival an event may claim to be before it is counted as from the
    /// future; it is taken at its arrival either way (`SenderClocks`, default 2 min).
    public var clockToleranceMicroseconds: Int64 = 120_000_000
    /// Per-rule settings, indexed by `RuleID.rawValue`.
    public var rules: [RuleSettings] = RuleID.allCases.map(RuleSettings.defaults(for:))
    /// Addresses never alerted on.
    public var allowList = AllowList()
    /// Hosts that get per-host HTTP rate windows (`http_high_traffic` per host, `http_error_burst`);
    /// requests of hosts past it count for the global rules only (`DetectionEngine.ratesSkipped`).
    public var maxRateHosts = Int.max
    /// Whether the rules that look across hosts run: `ssh_distributed`, `http_scan` and
    /// `http_high_traffic` over all hosts. Off on a relay edge, whose hosts are only part of its
    /// central's (docs/relay.md): no state is kept for them and they raise nothing.
    public var runsGlobalRules = true
    /// What `fitted(memoryBudget:maxHosts:)` lowered, one line each, for the log.
    public var fitNotes: [String] = []

    /// Bytes one key of a keyed rule is estimated to take (table entry, buckets, window times,
    /// firing index: about 60–80 bytes, doubled for slack).
    public static let estimatedBytesPerKey = 128

    /// The defaults.
    public init() {}

    /// These settings with their state bounded by `memoryBudget` bytes (estimated): the keyed rules
    /// (`max_keys` per rule) may take up to three quarters of it, scaled down together if they
    /// would take more; the per-host HTTP rate windows of up to `maxHosts` hosts get the rest, and
    /// fewer hosts get them when they do not fit. Every change is described in `fitNotes`.
    public func fitted(memoryBudget: Int64, maxHosts: Int) -> DetectionSettings {
        var fitted = self
        fitted.fitNotes = []
        let keyed: [RuleID] = [.sshBruteforce, .sshDistributed, .sshRepeatAccess, .sshLongSession, .httpScan].filter { self[$0].enabled }
        let keyedBytes = keyed.reduce(Int64(0)) { $0 + Int64(self[$1].maxKeys) * Int64(Self.estimatedBytesPerKey) }
        let keyedBudget = memoryBudget / 4 * 3
        if keyedBytes > keyedBudget {
            let scale = Double(keyedBudget) / Double(keyedBytes)
            for rule in keyed { fitted[rule].maxKeys = max(1_000, Int(Double(self[rule].maxKeys) * scale)) }
            fitted.fitNotes.append("max_keys lowered to \(fitted[keyed[0]].maxKeys) per rule to fit detection.max_memory")
        }
        let keyedUsed = keyed.reduce(Int64(0)) { $0 + Int64(fitted[$1].maxKeys) * Int64(Self.estimatedBytesPerKey) }
        var perHost: Int64 = 64
        if self[.httpHighTraffic].enabled { perHost += SecondWindow.buckets(self[.httpHighTraffic].windowSeconds).count * 8 }
        if self[.httpErrorBurst].enabled { perHost += SecondWindow.buckets(self[.httpErrorBurst].windowSeconds).count * 8 }
        let hostsThatFit = Int(max(0, memoryBudget - keyedUsed) / perHost)
        if hostsThatFit < maxHosts {
            fitted.maxRateHosts = max(1, hostsThatFit)
            fitted.fitNotes.append("per-host HTTP rate windows limited to the first \(fitted.maxRateHosts) hosts to fit detection.max_memory")
        }
        return fitted
    }

    /// Whether `rule` runs: enabled, and not a global-only rule where global rules do not run.
    public func runs(_ rule: RuleID) -> Bool { self[rule].enabled && (runsGlobalRules || !rule.isGlobalOnly) }

    /// The settings of one rule.
    public subscript(rule: RuleID) -> RuleSettings {
        get { rules[rule.rawValue] }
        set { rules[rule.rawValue] = newValue }
    }
}
