import Testing
@testable import VigilCore

/// Detection handed to another thread (`LogAnalysis.deferDetection`, what `vigil analyze
/// --threads N` does): the engine's calls are recorded, applied elsewhere in the order they
/// were taken, and the report is the one detection in place gives.
@Suite struct ReportDeferredDetectionTests {
    static let referenceTime = Timestamp(seconds: 1_795_000_000)

    /// Generated lines of `kind` with every attack of `scenarios`, over three hosts.
    func lines(_ kind: TrafficGenerator.Kind, _ scenarios: [TrafficGenerator.Scenario], count: Int) -> [[UInt8]] {
        var generator = TrafficGenerator(options: .init(kind: kind, count: count, hosts: 3, scenarios: scenarios, seed: 11))
        var all: [[UInt8]] = []
        var line: [UInt8] = []
        while generator.next(into: &line) {
            all.append(line)
            line.removeAll(keepingCapacity: true)
        }
        return all
    }

    func analysis() -> LogAnalysis {
        LogAnalysis(settings: DetectionSettings(), options: .init(referenceTime: Self.referenceTime))
    }

    /// The finished report of `lines` fed in place.
    func inPlace(_ lines: [[UInt8]]) -> AnalysisReport {
        var a = analysis()
        let source = a.addSource(name: "log", host: "h")
        for line in lines { line.withUnsafeBytes { a.feed($0, source: source) } }
        a.finish()
        return a.report()
    }

    /// The finished report of `lines` with detection deferred after `deferAfter` lines; the
    /// calls are taken every `every` lines and applied to the handed engine; also how many
    /// calls were taken.
    func deferred(_ lines: [[UInt8]], deferAfter: Int, every: Int) -> (AnalysisReport, calls: Int) {
        var a = analysis()
        let source = a.addSource(name: "log", host: "h")
        var engine: DetectionEngine?
        var inputs: [DetectionInput] = []
        var calls = 0
        for (n, line) in lines.enumerated() {
            if n == deferAfter { engine = a.deferDetection() }
            line.withUnsafeBytes { a.feed($0, source: source) }
            if engine != nil && n % every == 0 {
                a.takeDetectionInputs(into: &inputs)
                calls += inputs.count
                engine!.apply(inputs)
            }
        }
        // The calls not taken yet are applied when the engine comes back.
        a.resumeDetection(engine!)
        a.finish()
        return (a.report(), calls)
    }

    @Test(arguments: [(0, 1), (0, 97), (1_234, 500)])
    func sshAttacksRaiseTheSameAlertsWhenDetectionIsDeferred(deferAfter: Int, every: Int) {
        let log = lines(.ssh, [.bruteforce, .distributed, .longSession, .repeatAccess], count: 6_000)
        let expected = inPlace(log)
        let (got, calls) = deferred(log, deferAfter: deferAfter, every: every)
        #expect(calls > 1_000)
        #expect(got.text() == expected.text() && got.json() == expected.json())
        #expect(Set(expected.alerts.map(\.rule)).isSuperset(of: [.sshBruteforce, .sshDistributed, .sshLongSession]))
    }

    @Test func webAttacksRaiseTheSameAlertsWhenDetectionIsDeferred() {
        let log = lines(.http, [.scan, .spike, .errors], count: 6_000)
        let expected = inPlace(log)
        let (got, calls) = deferred(log, deferAfter: 10, every: 64)
        #expect(calls > 1_000)
        #expect(got.text() == expected.text() && got.json() == expected.json())
        #expect(!expected.alerts.isEmpty)
    }

    /// A central's relayed events, deferred: the host's alerts are left to its edge in the same
    /// place among the calls, so the alerts (a distributed attack over hosts whose own alerts
    /// stay with their edges) and the count of alerts left are those of detection in place.
    @Test func relayedEventsGiveTheSameAlertsWhenDetectionIsDeferred() {
        func run(deferred: Bool) -> (alerts: [DetectedAlert], left: Int) {
            var a = Analyzer(settings: DetectionSettings())
            var engine = deferred ? a.deferDetection() : nil
            let text: [UInt8] = []
            text.withUnsafeBytes { buffer in
                for i in 0..<30 {
                    let time = Timestamp(seconds: 1_000 + Int64(i))
                    let event = SSHEvent(kind: .authFailure, ip: IPAddress(203, 0, 113, 9), port: 22)
                    _ = a.acceptRelayed(.ssh(event, time: time), text: buffer, host: HostID(UInt32(i % 3)), receivedAt: time)
                }
            }
            a.advance(now: Timestamp(seconds: 5_000))
            if var handed = engine {
                var inputs: [DetectionInput] = []
                a.takeDeferredDetection(into: &inputs)
                handed.apply(inputs)
                engine = nil
                a.resumeDetection(handed)
            }
            return (a.engine.takeAlerts(), a.engine.alertsLeft)
        }
        let inPlace = run(deferred: false), deferred = run(deferred: true)
        #expect(inPlace.alerts.map(\.rule).contains(.sshDistributed) && inPlace.left > 0)
        #expect(deferred.alerts == inPlace.alerts && deferred.left == inPlace.left)
    }

    /// While deferred, the analysis's own engine takes nothing: every call is in the inputs.
    @Test func aDeferredAnalyzerRecordsEveryCallInsteadOfMakingIt() {
        var a = Analyzer(settings: DetectionSettings())
        let handed = a.deferDetection()
        let failure = Array("Failed password for root from 10.0.0.1 port 22 ssh2".utf8)
        for s in 0..<10 {
            failure.withUnsafeBytes {
                _ = a.observeSSH($0, text: 0..<$0.count, pid: 7, host: HostID(0),
                                 at: MessageTime(claimed: nil, received: Timestamp(seconds: 1_000 + Int64(s))))
            }
        }
        a.advance(now: Timestamp(seconds: 2_000))
        var inputs: [DetectionInput] = []
        a.takeDeferredDetection(into: &inputs)
        #expect(inputs.count == 11)
        #expect(inputs.last == .advance(now: Timestamp(seconds: 2_000)))
        #expect(a.engine.takeAlerts().isEmpty)
        var engine = handed
        engine.apply(inputs)
        // Ten failures within the window fire ssh_bruteforce; the advance an hour on resolves it.
        #expect(engine.takeAlerts().map(\.state) == [.firing, .resolved])
    }
}
