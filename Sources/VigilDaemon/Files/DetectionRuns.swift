import VigilCore
import VigilPosix

/// The detection engine of `vigil analyze --threads N` (N ≥ 2), away from the thread that feeds
/// the analysis in file order: that thread hands over the engine's calls a chunk at a time
/// (`LogAnalysis.takeDetectionInputs`), and the extraction workers apply them between chunks,
/// one run at a time in the order they were handed over, so detection runs beside the timeline,
/// connection joining and report of the next chunk, and the engine takes the calls it would
/// have taken in place (docs/architecture.md, "`vigil analyze` on several threads").
///
/// Bounded: at most `capacity` runs wait; the feeding thread applies the oldest itself rather
/// than let more wait, so a slow detection holds the reading back instead of buffering the file,
/// and no thread ever waits for room (a worker may be waiting for the feeder's next free chunk).
/// The engine belongs to whichever thread holds the turn (`applying`), and to the caller once
/// `finish()` returned.
final class DetectionRuns: @unchecked Sendable {
    /// Runs of calls that may wait.
    static let capacity = 4

    private let lock = ConditionLock()
    /// Touched only by the thread holding the turn.
    private var engine: DetectionEngine
    // Guarded by `lock`:
    private var waiting: [[DetectionInput]] = []
    private var spare: [[DetectionInput]] = []
    /// A thread is applying a run (holds the turn).
    private var applying = false

    /// Runs `engine` from now on; get it back with `finish()`.
    init(engine: DetectionEngine) {
        self.engine = engine
    }

    /// Hands over the calls in `inputs`, if any, and leaves an emptied run in its place (one
    /// applied earlier, its storage reused); applies the oldest run first when `capacity` wait.
    func submit(_ inputs: inout [DetectionInput]) {
        guard !inputs.isEmpty else { return }
        while lock.withLock({ waiting.count >= Self.capacity }) { _ = applyOne(waitingForTurn: true) }
        let full = inputs
        inputs = lock.withLock {
            waiting.append(full)
            return spare.popLast() ?? []
        }
    }

    /// Applies the oldest run waiting unless another thread holds the turn; false when none
    /// waited or the turn was taken (a free thread's call, between chunks).
    func applyOldest() -> Bool { applyOne(waitingForTurn: false) }

    /// Once nothing more is submitted: applies every run handed over, then gives the engine back.
    func finish() -> DetectionEngine {
        while applyOne(waitingForTurn: true) {}
        // The last run's turn ended under the lock: the engine is this thread's now.
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
        run.removeAll(keepingCapacity: true)
        lock.withLock {
            applying = false
            spare.append(run)
            lock.broadcast()
        }
        return true
    }
}
