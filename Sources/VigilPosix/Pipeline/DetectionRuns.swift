public import VigilCore

/// A detection engine away from the thread that records its calls (`Analyzer.deferDetection`):
/// that thread hands them over a run at a time (`submit`), and other threads apply the runs,
/// one at a time in the order they were handed over, so the engine takes the calls it would
/// have taken in place and raises the same alerts (docs/architecture.md).
/// - `vigil analyze --threads N`: the extraction workers apply runs between chunks
///   (`applyOldest`), and the feeding thread when its next chunk is not ready.
/// - `serve` with a detection thread: that thread waits for runs (`waitAndApply`) and hands the
///   alerts each raised to `onAlerts`; the analysis thread reads or changes the engine with
///   `withEngine`, once every run handed over is applied.
///
/// Bounded: at most `capacity` runs wait; the submitting thread applies the oldest itself rather
/// than let more wait, so a slow detection holds its producer back instead of queueing without
/// end, and no thread ever waits for room (an analyze worker may be waiting for the chunk its
/// feeding thread frees next). The engine belongs to whichever thread holds the turn
/// (`applying`), taken and given back under the lock.
public final class DetectionRuns: @unchecked Sendable {
    /// Runs of calls that may wait.
    public static let capacity = 4

    private let lock = ConditionLock()
    /// Touched only by the thread holding the turn.
    private var engine: DetectionEngine
    /// Called with the alerts a run raised, holding the turn (so in the order they were raised);
    /// nil: they stay in the engine.
    private let onAlerts: (@Sendable ([DetectedAlert]) -> Void)?
    // Guarded by `lock`:
    private var waiting: [[DetectionInput]] = []
    private var spare: [[DetectionInput]] = []
    /// A thread is applying a run or using the engine (holds the turn).
    private var applying = false
    private var stopping = false
    /// Runs handed over, and applied, since the start (`drain`).
    private var submitted = 0
    private var applied = 0

    /// Runs `engine` from now on; get it back with `finish()`.
    public init(engine: DetectionEngine, onAlerts: (@Sendable ([DetectedAlert]) -> Void)? = nil) {
        self.engine = engine
        self.onAlerts = onAlerts
    }

    /// Hands over the calls in `inputs`, if any, and leaves an emptied run in its place (one
    /// applied earlier, its storage reused); applies the oldest run first when `capacity` wait.
    public func submit(_ inputs: inout [DetectionInput]) {
        guard !inputs.isEmpty else { return }
        while lock.withLock({ waiting.count >= Self.capacity }) { _ = applyOne(waitingForTurn: true) }
        let full = inputs
        inputs = lock.withLock {
            waiting.append(full)
            submitted += 1
            lock.broadcast()
            return spare.popLast() ?? []
        }
    }

    /// Applies the oldest run waiting unless another thread holds the turn; false when none
    /// waited or the turn was taken (a free thread's call, between chunks).
    public func applyOldest() -> Bool { applyOne(waitingForTurn: false) }

    /// Waits for a run and applies it (a detection thread's loop); false once `stop()` was called
    /// and every run handed over is applied.
    public func waitAndApply() -> Bool {
        let ready = lock.withLock {
            while waiting.isEmpty && !stopping { lock.wait() }
            return !waiting.isEmpty
        }
        guard ready else { return false }
        _ = applyOne(waitingForTurn: true)
        return true
    }

    /// Has `waitAndApply` return false once nothing waits.
    public func stop() {
        lock.withLock {
            stopping = true
            lock.broadcast()
        }
    }

    /// Waits until every run handed over before the call is applied (runs handed over meanwhile
    /// do not hold it up).
    public func drain() {
        lock.withLock {
            let target = submitted
            while applied < target { lock.wait() }
        }
    }

    /// Applies every run handed over before the call, then runs `body` on the engine holding the
    /// turn (no run is applied meanwhile); alerts it raised go to `onAlerts` like a run's.
    public func withEngine<R>(_ body: (inout DetectionEngine) -> R) -> R {
        drain()
        lock.withLock {
            while applying { lock.wait() }
            applying = true
        }
        let result = body(&engine)
        handOverAlerts()
        lock.withLock {
            applying = false
            lock.broadcast()
        }
        return result
    }

    /// Once nothing more is submitted: applies every run handed over, then gives the engine back.
    public func finish() -> DetectionEngine {
        while applyOne(waitingForTurn: true) {}
        // The last turn ended under the lock: the engine is this thread's now.
        var handed = DetectionEngine(settings: engine.settings)
        swap(&handed, &engine)
        return handed
    }

    /// Runs handed over and not yet taken (for tests of the bound).
    var waitingCount: Int { lock.withLock { waiting.count } }

    /// Takes the turn (waiting for it, or giving up when another holds it) and applies the
    /// oldest waiting run; false when none waited or the turn was taken.
    private func applyOne(waitingForTurn: Bool) -> Bool {
        let taken: [DetectionInput]? = lock.withLock {
            if waitingForTurn {
                while applying { lock.wait() }
            } else if applying {
                return nil
            }
            guard !waiting.isEmpty else { return nil }
            applying = true
            return waiting.removeFirst()
        }
        guard var run = taken else { return false }
        engine.apply(run)
        handOverAlerts()
        run.removeAll(keepingCapacity: true)
        lock.withLock {
            applying = false
            applied += 1
            spare.append(run)
            lock.broadcast()
        }
        return true
    }

    /// Gives the alerts the engine raised to `onAlerts` (holding the turn).
    private func handOverAlerts() {
        guard let onAlerts else { return }
        let raised = engine.takeAlerts()
        if !raised.isEmpty { onAlerts(raised) }
    }
}
