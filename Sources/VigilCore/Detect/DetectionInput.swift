/// One call to a `DetectionEngine`, kept so that the engine can take it later, on another
/// thread: `Analyzer.deferDetection()` records its calls as these, and whoever holds the engine
/// applies them in the order they were recorded (`DetectionEngine.apply(_:)`), which gives the
/// alerts the calls made at once would have (docs/architecture.md: "`vigil analyze` on several
/// threads", and the detection thread of `serve`). Plain values (an `SSHEvent`'s user range is not read by the engine).
public enum DetectionInput: Sendable, Equatable {
    /// `DetectionEngine.observeSSH(host:time:event:)`.
    case ssh(host: HostID, time: Timestamp, event: SSHEvent)
    /// `DetectionEngine.observeHTTP(host:time:clientIP:status:)`.
    case http(host: HostID, time: Timestamp, clientIP: IPAddress?, status: UInt16)
    /// `DetectionEngine.observeSessionSummary(host:time:summary:)`.
    case sessionSummary(host: HostID, time: Timestamp, summary: SessionSummary)
    /// `DetectionEngine.advance(now:)`.
    case advance(now: Timestamp)
    /// `DetectionEngine.leaveHostAlerts(of:)` (a relayed event's host).
    case leaveHostAlerts(host: HostID)
}

extension DetectionEngine {
    /// Makes the call `input` recorded.
    @inline(__always)
    public mutating func apply(_ input: DetectionInput) {
        switch input {
        case .ssh(let host, let time, let event): observeSSH(host: host, time: time, event: event)
        case .http(let host, let time, let clientIP, let status): observeHTTP(host: host, time: time, clientIP: clientIP, status: status)
        case .sessionSummary(let host, let time, let summary): observeSessionSummary(host: host, time: time, summary: summary)
        case .advance(let now): advance(now: now)
        case .leaveHostAlerts(let host): leaveHostAlerts(of: host)
        }
    }

    /// Makes the calls `inputs` recorded, in order.
    public mutating func apply(_ inputs: [DetectionInput]) {
        for input in inputs { apply(input) }
    }
}
