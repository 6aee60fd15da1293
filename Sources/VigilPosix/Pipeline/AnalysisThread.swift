import Glibc
public import VigilCore

/// An `Analyzer` on a thread of its own (`server.threads` 2 or more; docs/architecture.md,
/// "Threads"): the ingest thread copies what it parsed into `CopiedBatch`es and submits them,
/// this thread analyzes them in the order they were submitted and keeps the alerts they raise
/// until the ingest thread takes them (`takeAlerts`, after a wake-up through `handleEvents`).
///
/// Bounded: at most `capacity` batches wait, whatever their size (a full one, or what a loop
/// copied since its last, which each loop hands over at most once a millisecond:
/// `Collector.handOverIntervalMicros`). A submit that finds them all waiting blocks the ingest thread
/// until the analyzer has taken one: it stops reading, so TCP senders wait
/// in their windows and nothing is dropped between the stages (counted in `waits`). The
/// analyzer never waits on the ingest thread. The ingest thread reads or changes the analyzer
/// (stats, counters, a reload) with `withAnalyzer`, once the queue is drained, under the lock
/// the analyzer holds while it works on a batch.
///
/// With `detectsOnOwnThread`, detection is a stage of its own (`server.threads` 4 or more): the
/// analyzer records the engine's calls (`Analyzer.deferDetection`) and hands each batch's to a
/// second thread, `vigil-detect`, through `DetectionRuns`, which applies them in order and
/// publishes the alerts they raise; `withAnalyzer` gives the analyzer its engine back for the
/// duration of the call.
public final class AnalysisThread: EventHandler {
    /// Batches that may wait for the analyzer (a full one holds `CopiedBatch.entryCapacity`
    /// messages, at most about `CopiedBatch.byteCapacity` bytes).
    public let capacity: Int
    private let shared: Shared
    /// The eventfd the thread signals when it has alerts (`Shared.wakeFD` is its number).
    private let wake: FileDescriptor
    private var thread: pthread_t?
    /// The detection thread (`detectsOnOwnThread`).
    private var detectionThread: pthread_t?
    private weak var loop: EventLoop?

    /// What both threads share: the queues under `queue`, the analyzer under `analysis`.
    private final class Shared: @unchecked Sendable {
        let queue = ConditionLock()
        let analysis = ConditionLock()
        let wakeFD: Int32
        /// Guarded by `analysis`.
        var analyzer: Analyzer
        /// Where the engine is while detection has its own thread; nil: in `analyzer`. Set by
        /// `init` and `stopDetection`, which, like `drain` and `withAnalyzer` that read it, run
        /// on the thread that owns the `AnalysisThread`.
        var detection: DetectionRuns?
        /// The engine's calls of the batch just analyzed (guarded by `analysis`).
        var inputs: [DetectionInput] = []
        // Guarded by `queue`:
        var waiting: [CopiedBatch] = []
        var spare: [CopiedBatch] = []
        var alerts: [DetectedAlert] = []
        var stopping = false
        var waits = 0
        /// Batches handed over, and batches analyzed, since the start: `drain` waits for the
        /// count at its start, so producers going on (ingest shards) cannot keep it waiting.
        var submitted = 0
        var analyzed = 0

        init(analyzer: Analyzer, wakeFD: Int32) {
            self.analyzer = analyzer
            self.wakeFD = wakeFD
        }

        /// The analysis thread: takes batches in order until stopped and drained.
        func run() {
            var scratch = Analyzer.Batch()
            while true {
                let next: CopiedBatch? = queue.withLock {
                    while waiting.isEmpty && !stopping { queue.wait(untilMonotonicMicros: Posix.monotonicMicros() + 60_000_000) }
                    guard !waiting.isEmpty else { return nil }
                    queue.broadcast()  // room for a submit waiting on a full queue
                    return waiting.removeFirst()
                }
                guard var batch = next else { return }
                analyze(batch, scratch: &scratch)
                batch.removeAll()
                queue.withLock {
                    analyzed += 1
                    spare.append(batch)
                    queue.broadcast()
                }
            }
        }

        /// Analyzes `batch` under the lock and publishes the alerts it raised, or hands its
        /// detection calls to the detection thread, which publishes them.
        func analyze(_ batch: CopiedBatch, scratch: inout Analyzer.Batch) {
            let raised = analysis.withLock {
                analyzer.analyze(batch, scratch: &scratch)
                if let detection {
                    handOverDetection(to: detection)
                    return false
                }
                return publish(analyzer.engine.takeAlerts())
            }
            if raised { signal() }
        }

        /// Hands the engine's calls recorded since the last time to the detection thread
        /// (called holding `analysis`).
        func handOverDetection(to detection: DetectionRuns) {
            analyzer.takeDeferredDetection(into: &inputs)
            detection.submit(&inputs)
        }

        /// Runs `body` on the analyzer with its engine (called holding `analysis`): the detection
        /// thread's engine, once every call handed to it is applied, is lent to the analyzer for
        /// the call; alerts the body raised are published.
        func withWholeAnalyzer<R>(_ body: (inout Analyzer) -> R) -> R {
            guard let detection else {
                let result = body(&analyzer)
                if publish(analyzer.engine.takeAlerts()) { signal() }
                return result
            }
            handOverDetection(to: detection)
            return detection.withEngine { analyzer.lendingDetection(&$0, body) }
        }

        /// Adds alerts to those the ingest thread takes (called holding `analysis`, or the
        /// detection turn when detection has its own thread, so alerts keep the order they were
        /// raised in); true when there were any.
        func publish(_ raised: [DetectedAlert]) -> Bool {
            guard !raised.isEmpty else { return false }
            queue.withLock { alerts.append(contentsOf: raised) }
            return true
        }

        func signal() { Posix.signalEventCounter(wakeFD) }
    }

    /// Starts the thread with `analyzer`, which it owns from now on; with `detectsOnOwnThread`,
    /// a second thread for its detection engine.
    public init(analyzer: Analyzer, capacity: Int = 8, detectsOnOwnThread: Bool = false) throws(SystemError) {
        let wake = try FileDescriptor.eventCounter()
        shared = Shared(analyzer: analyzer, wakeFD: wake.rawValue)
        self.wake = consume wake
        self.capacity = max(1, capacity)
        let shared = self.shared
        if detectsOnOwnThread {
            let detection = DetectionRuns(engine: shared.analyzer.deferDetection()) { raised in
                if shared.publish(raised) { shared.signal() }
            }
            do {
                detectionThread = try startThread(named: "vigil-detect") { while detection.waitAndApply() {} }
            } catch {
                shared.analyzer.resumeDetection(detection.finish())
                throw error
            }
            shared.detection = detection
        }
        do {
            thread = try startThread(named: "vigil-analyze") { shared.run() }
        } catch {
            stopDetection()
            throw error
        }
    }

    /// Stops the detection thread, if any, once it applied everything, and gives the analyzer
    /// its engine back.
    private func stopDetection() {
        guard let detection = shared.detection, let d = detectionThread else { return }
        detection.stop()
        pthread_join(d, nil)
        detectionThread = nil
        shared.analysis.withLock {
            shared.analyzer.resumeDetection(detection.finish())
            shared.detection = nil
        }
    }

    deinit { stop() }

    /// Has `loop` wake up (and its after-wake-up actions take the alerts) when the analyzer raised some.
    public func watch(on loop: EventLoop) throws(SystemError) {
        try loop.register(shared.wakeFD, mask: EventLoop.readable, handler: self)
        self.loop = loop
    }

    public func handleEvents(_ events: UInt32, now: Timestamp) { Posix.clearEventCounter(shared.wakeFD) }

    /// Hands over what `batch` holds, if anything, and leaves an empty batch in its place (one
    /// analyzed earlier, its storage reused); waits while `capacity` batches wait. After `stop`
    /// (nothing should come then) the batch is analyzed here, on the caller's thread.
    public func submit(_ batch: inout CopiedBatch) {
        guard !batch.isEmpty else { return }
        let shared = self.shared
        if thread == nil {
            var scratch = Analyzer.Batch()
            shared.analyze(batch, scratch: &scratch)
            batch.removeAll()
            return
        }
        let capacity = self.capacity
        let full = batch
        batch = shared.queue.withLock {
            if shared.waiting.count >= capacity {
                shared.waits += 1
                while shared.waiting.count >= capacity {
                    shared.queue.wait(untilMonotonicMicros: Posix.monotonicMicros() + 60_000_000)
                }
            }
            shared.waiting.append(full)
            shared.submitted += 1
            shared.queue.broadcast()
            return shared.spare.popLast() ?? CopiedBatch()
        }
    }

    /// Waits until the analyzer has analyzed everything submitted before the call (by any
    /// thread: what other producers submit meanwhile does not hold it up), and detected it.
    public func drain() {
        shared.queue.withLock {
            let target = shared.submitted
            while shared.analyzed < target { shared.queue.wait(untilMonotonicMicros: Posix.monotonicMicros() + 60_000_000) }
        }
        shared.detection?.drain()
    }

    /// The alerts raised since the last call, in the order they were raised.
    public func takeAlerts() -> [DetectedAlert] {
        shared.queue.withLock {
            let alerts = shared.alerts
            shared.alerts.removeAll()
            return alerts
        }
    }

    /// The eventfd's number, for tests that check it outlives `stop`.
    var wakeDescriptor: Int32 { shared.wakeFD }

    /// Times a full batch had to wait for the analyzer since the start.
    public var waits: Int { shared.queue.withLock { shared.waits } }

    /// Runs `body` on the analyzer once everything submitted is analyzed (so what it reads
    /// counts every message submitted before), while the thread waits; alerts it raises (a
    /// reload resolving a rule's) go out with the others.
    public func withAnalyzer<R>(_ body: (inout Analyzer) -> R) -> R {
        drain()
        let shared = self.shared
        return shared.analysis.withLock { shared.withWholeAnalyzer(body) }
    }

    /// Analyzes what was submitted, then stops the thread (the analyzer stays readable).
    public func stop() {
        guard let t = thread else { return }
        drain()
        thread = nil
        shared.queue.withLock {
            shared.stopping = true
            shared.queue.broadcast()
        }
        pthread_join(t, nil)
        stopDetection()
        loop?.unregister(shared.wakeFD)
        // The eventfd stays open until deinit: a submit or `withAnalyzer` after this still
        // signals it, and a closed number may already name another file.
    }
}
