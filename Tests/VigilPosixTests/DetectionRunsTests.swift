import Testing
import VigilCore
@testable import VigilPosix
@testable import VigilDaemon

/// `DetectionRuns`, the engine of `vigil analyze --threads N` applied by the extraction
/// workers: runs handed over are applied in order, whichever thread applies them, and a
/// full queue never makes the feeding thread wait.
@Suite struct DetectionRunsTests {
    /// 40 runs of calls: failures from 20 addresses on 3 hosts (bruteforce on one host,
    /// distributed across them), each run ending with an advance that resolves what went quiet.
    func runs() -> [[DetectionInput]] {
        (0..<40).map { r in
            var run: [DetectionInput] = []
            for i in 0..<50 {
                let t = Timestamp(microseconds: Int64(r) * 120_000_000 + Int64(i) * 100_000)
                let ip = IPAddress(10, 0, 0, UInt8(truncatingIfNeeded: (r * 7 + i) % 20))
                run.append(.ssh(host: HostID(UInt32(i % 3)), time: t, event: SSHEvent(kind: .authFailure, ip: ip, port: 22)))
            }
            run.append(.advance(now: Timestamp(microseconds: Int64(r) * 120_000_000 + 60_000_000)))
            return run
        }
    }

    /// The alerts of applying `runs` in place, in order.
    func inPlace(_ runs: [[DetectionInput]]) -> [DetectedAlert] {
        var engine = DetectionEngine()
        for run in runs { engine.apply(run) }
        return engine.takeAlerts()
    }

    /// Each run is waited for until a worker took it: every run is applied by the worker, none
    /// by the feeding thread, and the engine given back has the alerts of the runs in order.
    @Test func aWorkerApplyingRunsGivesTheAlertsOfApplyingThemInPlace() throws {
        let runs = runs()
        let expected = inPlace(runs)
        #expect(expected.count > 10)
        let detection = DetectionRuns(engine: DetectionEngine())
        let done = Flag()
        let worker = try JoinableThread(named: "test-detect") {
            while !done.isSet { _ = detection.applyOldest() }
        }
        for run in runs {
            var handed = run
            detection.submit(&handed)
            #expect(handed.isEmpty)
            while detection.waitingCount > 0 {}
        }
        done.set()
        worker.join()
        var engine = detection.finish()
        #expect(engine.takeAlerts() == expected)
    }

    /// Nobody applies: no more than `capacity` runs ever wait, the feeding thread applying the
    /// oldest itself instead of waiting for room.
    @Test func aFullQueueIsAppliedByTheFeederInsteadOfWaiting() {
        let runs = runs()
        let detection = DetectionRuns(engine: DetectionEngine())
        for (n, run) in runs.enumerated() {
            var handed = run
            detection.submit(&handed)
            #expect(detection.waitingCount == min(n + 1, DetectionRuns.capacity))
        }
        var engine = detection.finish()
        #expect(detection.waitingCount == 0)
        #expect(engine.takeAlerts() == inPlace(runs))
    }

    /// A flag one thread sets and another reads.
    final class Flag: @unchecked Sendable {
        private let lock = ConditionLock()
        private var value = false
        var isSet: Bool { lock.withLock { value } }
        func set() { lock.withLock { value = true } }
    }
}
