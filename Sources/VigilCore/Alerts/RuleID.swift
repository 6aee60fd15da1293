/// The seven detection rules of the README's "Detection", in a fixed order (the raw value indexes per-rule arrays).
public enum RuleID: Int, CaseIterable, Sendable, Hashable {
    case sshBruteforce, sshDistributed, sshRepeatAccess, sshLongSession, httpHighTraffic, httpErrorBurst, httpScan

    /// The rule's name as written in alerts and in `[rule.NAME]` config sections.
    public var name: String {
        switch self {
        case .sshBruteforce: return "ssh_bruteforce"
        case .sshDistributed: return "ssh_distributed"
        case .sshRepeatAccess: return "ssh_repeat_access"
        case .sshLongSession: return "ssh_long_session"
        case .httpHighTraffic: return "http_high_traffic"
        case .httpErrorBurst: return "http_error_burst"
        case .httpScan: return "http_scan"
        }
    }

    /// Whether the rule looks across hosts only (`ssh_distributed`, `http_scan`); the others
    /// run per host (`http_high_traffic` over all hosts as well).
    public var isGlobalOnly: Bool { self == .sshDistributed || self == .httpScan }

    /// The rule whose config name is `name`, or nil.
    public init?(name: String) {
        guard let rule = RuleID.allCases.first(where: { $0.name == name }) else { return nil }
        self = rule
    }
}

/// How urgent an alert is; written into the alert's `severity` field.
public enum Severity: String, Sendable, Hashable {
    case info, warning, critical
}
