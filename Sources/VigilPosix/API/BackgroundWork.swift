import CVigilShim
import Glibc
public import VigilCore

/// One thread that runs slow API work (reading and searching the store) off the event loop
/// (docs/api.md, "Never in the way of ingest"): the loop submits a job with what it needs
/// (`Sendable` values only), the thread runs it, and the loop gets the result back through an
/// eventfd it polls, then calls the job's completion on the loop thread.
///
/// At most `capacity` jobs wait at once; past that `submit` refuses (the API answers 503), so a
/// flood of queries cannot build an unbounded backlog. One thread: store queries can take at
/// most one core from ingest.
public final class BackgroundWork: EventHandler {
    public typealias Job = @Sendable () -> HTTPResponse

    private let shared: Shared
    /// The eventfd the thread signals (`Shared.wakeFD` is its number), owned here until `stop()`.
    private var wake: FileDescriptor?
    private unowned let loop: EventLoop
    /// Completions waiting for their job's result, by job number (loop thread only).
    private var completions: [UInt64: (HTTPResponse) -> Void] = [:]
    private var nextJob: UInt64 = 0
    private var thread: pthread_t?
    public let capacity: Int

    /// What the loop and the worker thread share; every field is guarded by `lock`.
    private final class Shared: @unchecked Sendable {
        let lock = ConditionLock()
        let wakeFD: Int32
        var jobs: [(UInt64, Job)] = []
        var results: [(UInt64, HTTPResponse)] = []
        var stopping = false
        init(wakeFD: Int32) { self.wakeFD = wakeFD }

        func run() {
            while true {
                let next: (UInt64, Job)? = lock.withLock {
                    while jobs.isEmpty && !stopping { lock.wait(untilMonotonicMicros: Posix.monotonicMicros() + 60_000_000) }  // woken by submit and stop
                    return jobs.isEmpty ? nil : jobs.removeFirst()
                }
                guard let (number, job) = next else { return }
                let response = job()
                lock.withLock { results.append((number, response)) }
                Posix.signalEventCounter(wakeFD)
            }
        }
    }

    public init(loop: EventLoop, capacity: Int = 64) throws(SystemError) {
        let wake = try FileDescriptor.eventCounter()
        let fd = wake.rawValue
        shared = Shared(wakeFD: fd)
        self.wake = consume wake
        self.loop = loop
        self.capacity = capacity
        try loop.register(fd, mask: EventLoop.readable, handler: self)  // on failure `wake` closes as it goes
        let shared = self.shared
        do { thread = try startThread(named: "vigil-api") { shared.run() } } catch {
            loop.unregister(fd)
            throw error
        }
    }

    deinit { stop() }

    /// Queues `job`; `completion` runs on the loop thread with its result. False (nothing
    /// queued) when `capacity` jobs are waiting already.
    public func submit(_ job: @escaping Job, completion: @escaping (HTTPResponse) -> Void) -> Bool {
        let number = nextJob
        let accepted = shared.lock.withLock {
            guard shared.jobs.count < capacity, !shared.stopping else { return false }
            shared.jobs.append((number, job))
            shared.lock.broadcast()
            return true
        }
        guard accepted else { return false }
        nextJob += 1
        completions[number] = completion
        return true
    }

    public func handleEvents(_ events: UInt32, now: Timestamp) {
        Posix.clearEventCounter(shared.wakeFD)
        let done = shared.lock.withLock {
            let r = shared.results
            shared.results.removeAll()
            return r
        }
        for (number, response) in done {
            completions.removeValue(forKey: number)?(response)
        }
    }

    /// Lets the thread finish the job it runs and stops it; waiting jobs are dropped.
    public func stop() {
        guard let t = thread else { return }
        thread = nil
        shared.lock.withLock {
            shared.stopping = true
            shared.jobs.removeAll()
            shared.lock.broadcast()
        }
        pthread_join(t, nil)
        loop.unregister(shared.wakeFD)
        wake = nil
        completions.removeAll()
    }
}
