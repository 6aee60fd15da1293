import Testing
import VigilCore
@testable import VigilPosix

/// `DetectionRuns`, the engine applied away from the thread that records its calls (`vigil
/// analyze`'s extraction workers, `serve`'s detection thread): runs handed over are applied in
/// order, whichever thread applies them, and a full queue never makes the submitter wait.
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
    @Test(.timeLimit(.minutes(1))) func aWorkerApplyingRunsGivesTheAlertsOfApplyingThemInPlace() throws {
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

    /// A detection thread (`serve`): it waits for runs and applies them, the alerts go to
    /// `onAlerts` in order, `drain` returns once everything handed over is applied, `withEngine`
    /// reads the engine between runs, and `stop` ends the thread once nothing waits. Each run is
    /// drained before the next, so the thread, not the submitter, applies every one.
    @Test(.timeLimit(.minutes(1))) func aDetectionThreadAppliesRunsAndHandsOverTheirAlerts() throws {
        let runs = runs()
        var reference = DetectionEngine()
        for run in runs { reference.apply(run) }
        let expected = reference.takeAlerts()
        let received = Received()
        let detection = DetectionRuns(engine: DetectionEngine()) { received.add($0) }
        let thread = try JoinableThread(named: "test-detect") { while detection.waitAndApply() {} }
        for (n, run) in runs.enumerated() {
            var handed = run
            detection.submit(&handed)
            detection.drain()
            #expect(detection.waitingCount == 0)
            if n == runs.count / 2 {
                #expect(detection.withEngine { $0.keyCount(of: .sshBruteforce) } > 0)
            }
        }
        #expect(received.alerts == expected)
        detection.stop()
        thread.join()
        let engine = detection.finish()
        #expect(engine.keyCount(of: .sshDistributed) == reference.keyCount(of: .sshDistributed))
    }

    /// Alerts handed over by the applying thread.
    final class Received: @unchecked Sendable {
        private let lock = ConditionLock()
        private var all: [DetectedAlert] = []
        var alerts: [DetectedAlert] { lock.withLock { all } }
        func add(_ alerts: [DetectedAlert]) { lock.withLock { all += alerts } }
    }

    /// A flag one thread sets and another reads.
    final class Flag: @unchecked Sendable {
        private let lock = ConditionLock()
        private var value = false
        var isSet: Bool { lock.withLock { value } }
        func set() { lock.withLock { value = true } }
    }
}
