/// The alerts the API lists (docs/api.md, `/alerts`): the newest `capacity` alert records in the
/// order raised, which are firing now, and how many each rule fired and resolved since the start.
public struct RecentAlerts: Sendable {
    public let capacity: Int
    /// A ring: `records[(start + i) % capacity]` is the i-th oldest kept.
    private var records: [Alert] = []
    private var start = 0
    /// Ids of alerts that fired and have not resolved yet.
    private var firingIDs: Set<String> = []
    public private(set) var fired: [RuleID: UInt64] = [:]
    public private(set) var resolved: [RuleID: UInt64] = [:]

    public init(capacity: Int = 10_000) { self.capacity = max(1, capacity) }

    public mutating func record(_ alert: Alert) {
        switch alert.state {
        case .firing:
            fired[alert.rule, default: 0] &+= 1
            firingIDs.insert(alert.id)
        case .resolved:
            resolved[alert.rule, default: 0] &+= 1
            firingIDs.remove(alert.id)
        }
        if records.count < capacity {
            records.append(alert)
        } else {
            records[start] = alert
            start = (start + 1) % capacity
        }
    }

    /// Which records `newest` lists: every record, only the firing records of alerts that have
    /// not resolved since, or only resolved records.
    public enum StateFilter: Sendable { case any, firingNow, resolved }

    /// Up to `count` records, newest first, that pass the filters.
    public func newest(count: Int, state: StateFilter = .any, rule: RuleID? = nil) -> [Alert] {
        var out: [Alert] = []
        var i = records.count - 1
        while i >= 0 && out.count < count {
            let alert = records[(start + i) % records.count]
            i -= 1
            if let rule, alert.rule != rule { continue }
            switch state {
            case .any: break
            case .firingNow: if alert.state != .firing || !firingIDs.contains(alert.id) { continue }
            case .resolved: if alert.state != .resolved { continue }
            }
            out.append(alert)
        }
        return out
    }

    /// Alerts firing now (fired, not resolved yet), including those no longer in the ring.
    public var firingCount: Int { firingIDs.count }
}
