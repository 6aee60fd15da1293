extension DetectionSettings {
    /// The detection settings a configuration asks for (`[detection]` and `[rule.NAME]`).
    public init(config: VigilConfig) {
        self.init()
        latenessMicroseconds = config.detection.lateness.microseconds
        clockToleranceMicroseconds = config.detection.clockTolerance.microseconds
        allowList = AllowList(config.detection.allowlist)
        let rules = config.rules
        func counting(_ id: RuleID, _ rule: VigilConfig.CountRule) {
            self[id].enabled = rule.enabled
            self[id].threshold = Double(rule.threshold)
            self[id].windowMicroseconds = rule.window.microseconds
        }
        counting(.sshBruteforce, rules.sshBruteforce)
        counting(.sshDistributed, rules.sshDistributed)
        counting(.sshRepeatAccess, rules.sshRepeatAccess)
        counting(.httpScan, rules.httpScan.counting)
        self[.httpScan].resolveAfterMicroseconds = rules.httpScan.resolveAfter.microseconds
        self[.sshLongSession].enabled = rules.sshLongSession.enabled
        self[.sshLongSession].windowMicroseconds = rules.sshLongSession.threshold.microseconds
        self[.httpHighTraffic].enabled = rules.httpHighTraffic.enabled
        self[.httpHighTraffic].threshold = rules.httpHighTraffic.threshold
        self[.httpHighTraffic].windowMicroseconds = rules.httpHighTraffic.window.microseconds
        self[.httpHighTraffic].resolveAfterMicroseconds = rules.httpHighTraffic.resolveAfter.microseconds
        // The config states the 5xx share as a fraction (0.5); the engine counts in percent.
        self[.httpErrorBurst].enabled = rules.httpErrorBurst.enabled
        self[.httpErrorBurst].threshold = rules.httpErrorBurst.threshold * 100
        self[.httpErrorBurst].minRequests = rules.httpErrorBurst.minRequests
        self[.httpErrorBurst].windowMicroseconds = rules.httpErrorBurst.window.microseconds
        self[.httpErrorBurst].resolveAfterMicroseconds = rules.httpErrorBurst.resolveAfter.microseconds
        for id in RuleID.allCases { self[id].maxKeys = config.detection.maxKeys }
        self = fitted(memoryBudget: config.detection.maxMemory, maxHosts: config.server.maxHosts)
    }
}
