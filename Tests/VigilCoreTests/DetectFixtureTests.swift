@testable import VigilCore

/// Shared helpers for the detection tests: a fixed epoch, named hosts, and an engine
/// built with explicit settings and deterministic ids.
enum DetectFixture {
    /// 2026-11-22T10:00:00Z, the day the sample frames were captured.
    static let base = CivilDateTime(year: 2026, month: 11, day: 22, hour: 10).timestamp()
    static let hostNames = ["web1", "web2", "web3", "db1"]
    static let web1 = HostID(0), web2 = HostID(1), web3 = HostID(2), db1 = HostID(3)
    static let attacker = IPAddress.parse("203.0.113.7")!
    static let other = IPAddress.parse("198.51.100.23")!

    /// `base` plus `seconds` and `micros`.
    static func at(_ seconds: Int64, _ micros: Int64 = 0) -> Timestamp {
        base.adding(seconds: seconds).adding(microseconds: micros)
    }

    /// An engine with lateness 0 (unless given) and ids `t1`, `t2`, ….
    static func engine(lateness: Int64 = 0, _ configure: (inout DetectionSettings) -> Void = { _ in }) -> DetectionEngine {
        var s = DetectionSettings()
        s.latenessMicroseconds = lateness
        configure(&s)
        return DetectionEngine(settings: s, idPrefix: "t")
    }

    /// The fixture's name of `host`.
    static func name(_ host: HostID) -> String { hostNames[Int(host.rawValue)] }
}

extension DetectionEngine {
    /// The alerts raised since the last call, named as a dispatcher names them: with `name`
    /// (by default the fixture's host names).
    mutating func takeNamedAlerts(_ name: (HostID) -> String = DetectFixture.name) -> [Alert] {
        takeAlerts().map { $0.named(by: name) }
    }

    /// One failed password from `ip` on `host` at `time`.
    mutating func fail(_ host: HostID, _ ip: IPAddress, _ time: Timestamp, kind: SSHEvent.Kind = .authFailure, count: Int = 1) {
        observeSSH(host: host, time: time, event: SSHEvent(kind: kind, ip: ip, port: 40_000, pid: 1000, count: count))
    }

    /// `n` requests of `host` at `time` answered `status` from `ip`.
    mutating func hits(_ host: HostID, _ time: Timestamp, _ n: Int, status: UInt16 = 200, ip: IPAddress = DetectFixture.other) {
        for _ in 0..<n { observeHTTP(host: host, time: time, clientIP: ip, status: status) }
    }
}
