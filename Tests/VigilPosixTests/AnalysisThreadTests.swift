import Glibc
import Testing
import VigilTestSupport
@testable import VigilCore
import VigilDaemon
@testable import VigilPosix

/// `server.threads`: the analyzer on a thread of its own (and from 4 threads detection on
/// another) raises exactly what it raises on the ingest thread, and a slow analyzer holds
/// ingest back instead of losing anything.
@Suite struct AnalysisThreadTests {
    /// Every alert a collector hands out, as JSON lines.
    final class RecordingSink: AlertSink {
        let name = "recording"
        var lines: [String] = []
        var dropped: Int { 0 }
        var metrics: SinkMetrics { SinkMetrics(delivered: lines.count) }
        func deliver(_ alert: Alert) { lines.append(alert.jsonLine()) }
    }

    /// A stream of RFC 5424 frames from 12 hosts with every attack the generator knows: sshd
    /// (brute force, distributed, repeat access, long session) and nginx (scan, error burst,
    /// spike), the two kinds interleaved by event time.
    static let stream: [[UInt8]] = {
        func frames(_ kind: TrafficGenerator.Kind, _ scenarios: [TrafficGenerator.Scenario], seed: UInt64) -> [(Timestamp, [UInt8])] {
            var generator = TrafficGenerator(options: .init(kind: kind, format: .syslog, count: 6_000, hosts: 12,
                                                            scenarios: scenarios, seed: seed))
            var out: [(Timestamp, [UInt8])] = []
            var line: [UInt8] = []
            while generator.next(into: &line) {
                out.append((generator.lastTime, line))
                line.removeAll(keepingCapacity: true)
            }
            return out
        }
        let ssh = frames(.ssh, [.bruteforce, .distributed, .repeatAccess, .longSession], seed: 7)
        let http = frames(.http, [.scan, .errors, .spike], seed: 8)
        return (ssh + http).enumerated().sorted { ($0.element.0, $0.offset) < ($1.element.0, $1.offset) }.map(\.element.1)
    }()

    /// Feeds `stream` to a collector placed as `server.threads = threads` would place it (from 4,
    /// with detection on a thread of its own), each frame received one second after its own time,
    /// with a clock tick every 1,000 frames and, after frame `reloadAt`, a reload that changes
    /// `ssh_bruteforce`'s threshold (its firing alerts resolve); returns the alerts it raised,
    /// the messages its analyzer counted, the keys its engine holds at the end, and the first
    /// frame after which an `ssh_bruteforce` alert had been handed out (at 1 thread, the frame
    /// where it is firing).
    func run(threads: Int, reloadAt: Int = -1) throws -> (alerts: [String], analyzed: Int, keys: [Int], firstBruteforce: Int?) {
        let dir = TemporaryDirectory().path
        let store = try HostStore(directory: dir)
        let analyzer = Analyzer(settings: DetectionSettings(), idPrefix: "run-", hashSeed: 42)
        let placement: Collector.Placement = threads >= 2
            ? .thread(try AnalysisThread(analyzer: analyzer, capacity: 2, detectsOnOwnThread: threads >= 4)) : .inline(analyzer)
        var reloaded = DetectionSettings()
        reloaded[.sshBruteforce].threshold += 1
        let sink = RecordingSink()
        let collector = Collector(parser: SyslogParser(), store: store, analysis: placement, hosts: HostDirectory(), sinks: [sink])
        let parser = SyslogParser()
        let sender = SocketAddress(ip: IPAddress(127, 0, 0, 1), port: 514)
        var memo = TimestampMemo()
        var latest = Timestamp(microseconds: 0)
        var firstBruteforce: Int?
        for (i, frame) in Self.stream.enumerated() {
            frame.withUnsafeBytes { bytes in
                let received = Timestamp(microseconds: (parser.parse(bytes, receivedAt: latest, memo: &memo).timestamp?.microseconds ?? 0) + 1_000_000)
                latest = max(latest, received)
                collector.consume(frame: bytes, truncated: false, sender: sender, transport: .stream, now: received)
                collector.releaseFrames()
            }
            if i % 1_000 == 999 { collector.advance(now: latest) }
            if i == reloadAt { _ = collector.withAnalyzer { $0.reconfigure(reloaded, ssh: SSHExtractor()) } }
            if i % 97 == 0 {
                _ = collector.finishWakeUp(monotonicMicros: Int64(i) * 5)  // keeps a batch back at times
                if firstBruteforce == nil && sink.lines.contains(where: { $0.contains("\"rule\":\"ssh_bruteforce\"") }) { firstBruteforce = i }
            }
        }
        collector.advance(now: Timestamp(microseconds: latest.microseconds + 86_400_000_000))
        collector.finishAnalysis()
        let analyzed = collector.withAnalyzer { $0.counters.sshLines + $0.counters.httpRequests }
        let keys = collector.withAnalyzer { a in RuleID.allCases.map { a.engine.keyCount(of: $0) } }
        collector.close()
        return (sink.lines, analyzed, keys, firstBruteforce)
    }

    @Test func sameAlertsAtEveryThreadCount() throws {
        // Where ssh_bruteforce is firing, for the reload to resolve it.
        let firing = try #require(try run(threads: 1).firstBruteforce)
        let one = try run(threads: 1, reloadAt: firing)
        // Every scenario fired and resolved (the last tick is a day later).
        for rule in ["ssh_bruteforce", "ssh_distributed", "ssh_repeat_access", "ssh_long_session", "http_scan", "http_error_burst",
                     "http_high_traffic"] {
            #expect(one.alerts.contains { $0.contains("\"rule\":\"\(rule)\"") && $0.contains("\"state\":\"firing\"") }, "\(rule) fired")
            #expect(one.alerts.contains { $0.contains("\"rule\":\"\(rule)\"") && $0.contains("\"state\":\"resolved\"") }, "\(rule) resolved")
        }
        #expect(one.analyzed == Self.stream.count)
        #expect(one.alerts.contains { $0.contains("(rule reconfigured)") }, "the reload resolved a firing alert")
        #expect(one.keys.reduce(0, +) > 0)
        for threads in [2, 4] {
            let other = try run(threads: threads, reloadAt: firing)
            #expect(other.analyzed == one.analyzed)
            #expect(other.keys == one.keys, "the engine read at \(threads) threads")
            #expect(other.alerts == one.alerts, "alerts at \(threads) threads differ from 1 thread")
        }
    }

    /// The end of a wake-up hands a batch that is not full over at most once per
    /// `Collector.handOverIntervalMicros` (injected clock, to the microsecond): the first at once,
    /// the next kept back for more until the interval has passed, each time saying by when it
    /// must be called again; a full batch goes at once.
    @Test func batchesThatAreNotFullGoAtMostOncePerInterval() throws {
        let thread = try AnalysisThread(analyzer: Analyzer(settings: DetectionSettings()))
        let collector = Collector(parser: SyslogParser(), store: try HostStore(directory: TemporaryDirectory().path),
                                  analysis: .thread(thread), hosts: HostDirectory(), sinks: [])
        let frame = Array("<38>1 2026-01-01T00:00:00Z web1 sshd 7 - - Failed password for root from 198.51.100.9 port 22 ssh2".utf8)
        let sender = SocketAddress(ip: IPAddress(127, 0, 0, 1), port: 514)
        func send(_ count: Int) {
            frame.withUnsafeBytes { bytes in
                for _ in 0..<count {
                    collector.consume(frame: bytes, truncated: false, sender: sender, transport: .datagram,
                                      now: Timestamp(seconds: 1_767_225_601))
                }
            }
            collector.releaseFrames()
        }
        // What the analysis thread analyzed of what was handed to it (not what the collector keeps).
        func analyzed() -> Int { thread.withAnalyzer { $0.counters.sshLines } }
        let interval = Collector.handOverIntervalMicros
        send(3)
        #expect(collector.handOver(monotonicMicros: 5_000) == nil, "the first goes at once")
        #expect(analyzed() == 3)
        send(2)
        #expect(collector.handOver(monotonicMicros: 5_001) == 5_000 + interval)
        #expect(collector.handOver(monotonicMicros: 5_000 + interval - 1) == 5_000 + interval)
        #expect(analyzed() == 3)
        #expect(collector.handOver(monotonicMicros: 5_000 + interval) == nil)
        #expect(analyzed() == 5)
        #expect(collector.handOver(monotonicMicros: 5_000 + interval + 1) == nil, "nothing kept back")
        send(1)
        #expect(collector.handOver(monotonicMicros: 5_000 + interval + 10) == 5_000 + 2 * interval, "the interval runs from the last")
        send(CopiedBatch.entryCapacity - 1)
        #expect(analyzed() == 5 + CopiedBatch.entryCapacity, "a full batch went at once")
        #expect(collector.handOver(monotonicMicros: 5_000 + interval + 11) == nil)
        send(1)
        #expect(collector.handOver(monotonicMicros: 5_000 + 3 * interval) == nil, "after a quiet interval: at once")
        #expect(analyzed() == 6 + CopiedBatch.entryCapacity)
        collector.close()
    }

    /// While the analyzer is busy (held here by `withAnalyzer` on another thread), ingest fills
    /// the queue and then waits in `submit` — it neither drops a batch nor runs ahead; once the
    /// analyzer goes on, everything is analyzed.
    @Test func aFullQueueHoldsIngestBackAndLosesNothing() throws {
        // Its ingest side is used by one test thread at a time (ordered by the flags).
        let handed = HandedOver(try AnalysisThread(analyzer: Analyzer(settings: DetectionSettings()), capacity: 1))
        let frame = Array("<38>1 2026-01-01T00:00:00Z web1 sshd 7 - - Failed password for root from 198.51.100.9 port 22 ssh2".utf8)
        let fields = frame.withUnsafeBytes { SyslogParser().parse($0, receivedAt: Timestamp(seconds: 1_767_225_601)) }
        let received = Timestamp(seconds: 1_767_225_601)
        /// Fills one whole batch and hands it over.
        @Sendable func submitBatch() {
            var batch = CopiedBatch()
            frame.withUnsafeBytes { bytes in
                for _ in 0..<CopiedBatch.entryCapacity - 1 {
                    batch.appendMessage(frame: bytes, fields: fields, host: HostID(0), received: received)
                }
            }
            handed.value.submit(&batch)
        }
        let thread = handed.value
        let holder = OneShotFlag(), release = OneShotFlag(), submitted = OneShotFlag()
        let hold = try startThread(named: "test-hold") {
            handed.value.withAnalyzer { _ in
                holder.set()
                release.wait()
            }
        }
        holder.wait()
        let started = Posix.monotonicMicros()
        submitBatch()  // taken by the analyzer, which then waits for the lock
        submitBatch()  // waits in the queue (capacity 1); if the first was not taken yet, waits until it is
        // Taking a batch must wake a submit waiting for room (the waits' 60 s timeout would
        // otherwise hide a lost wake-up).
        #expect(Posix.monotonicMicros() - started < 20_000_000)
        let waitsBefore = thread.waits
        let producer = try startThread(named: "test-produce") {
            submitBatch()  // finds the queue full: must wait
            submitted.set()
        }
        #expect(waitUntil { thread.waits == waitsBefore + 1 }, "the third batch did not wait")
        #expect(!submitted.isSet, "ingest ran ahead of a busy analyzer")
        release.set()
        pthread_join(hold, nil)
        pthread_join(producer, nil)
        #expect(submitted.isSet)
        let counted = thread.withAnalyzer { $0.counters.sshLines }
        #expect(counted == 3 * (CopiedBatch.entryCapacity - 1))
        thread.stop()
        // After the stop a batch is analyzed on the caller's thread instead of waiting forever.
        submitBatch()
        #expect(thread.withAnalyzer { $0.counters.sshLines } == 4 * (CopiedBatch.entryCapacity - 1))
    }

    /// After `stop` a late submit or `withAnalyzer` still signals the thread's eventfd: it stays
    /// open (and an eventfd) until the thread is gone, so the signal cannot land in a file that
    /// took over its number.
    @Test func theEventfdOutlivesStop() throws {
        let thread = try AnalysisThread(analyzer: Analyzer(settings: DetectionSettings()))
        let fd = thread.wakeDescriptor
        thread.stop()
        var batch = CopiedBatch()
        let frame = Array("<38>1 2026-01-01T00:00:00Z web1 sshd 7 - - Failed password for root from 198.51.100.9 port 22 ssh2".utf8)
        frame.withUnsafeBytes { bytes in
            let fields = SyslogParser().parse(bytes, receivedAt: Timestamp(seconds: 1_767_225_601))
            for _ in 0..<20 { batch.appendMessage(frame: bytes, fields: fields, host: HostID(0), received: Timestamp(seconds: 1_767_225_601)) }
        }
        thread.submit(&batch)
        #expect(thread.takeAlerts().contains { $0.rule == .sshBruteforce }, "the late batch raised an alert, so it signalled")
        var target = [UInt8](repeating: 0, count: 64)
        let n = target.withUnsafeMutableBufferPointer { readlink("/proc/self/fd/\(fd)", $0.baseAddress!, 63) }
        #expect(n > 0 && String(decoding: target.prefix(max(0, n)), as: UTF8.self) == "anon_inode:[eventfd]",
                "descriptor \(fd) is no longer the eventfd")
    }

    /// With several producers (ingest shards) `drain` — and so `withAnalyzer`, on every stats
    /// block and API read — waits for what was submitted before it, not for a queue that the
    /// others keep filling: it returns while another thread goes on submitting full batches.
    @Test func drainDoesNotWaitForOtherProducers() throws {
        let handed = HandedOver(try AnalysisThread(analyzer: Analyzer(settings: DetectionSettings()), capacity: 2))
        let frame = Array("<38>1 2026-01-01T00:00:00Z web1 sshd 7 - - Failed password for root from 198.51.100.9 port 22 ssh2".utf8)
        let fields = frame.withUnsafeBytes { SyslogParser().parse($0, receivedAt: Timestamp(seconds: 1_767_225_601)) }
        let done = OneShotFlag(), producing = OneShotFlag()
        let produced = HandedOver(ConditionLockedCount())
        let producer = try startThread(named: "test-produce") {
            var batch = CopiedBatch()
            while !done.isSet && produced.value.value < 2_000 {
                frame.withUnsafeBytes { bytes in
                    for _ in 0..<CopiedBatch.entryCapacity - 1 {
                        batch.appendMessage(frame: bytes, fields: fields, host: HostID(0), received: Timestamp(seconds: 1_767_225_601))
                    }
                }
                handed.value.submit(&batch)
                produced.value.increment()
                if produced.value.value == 4 { producing.set() }
            }
        }
        producing.wait()
        for _ in 0..<20 { handed.value.drain() }
        let when = produced.value.value
        done.set()
        pthread_join(producer, nil)
        #expect(when < 2_000, "drain waited until the other producer stopped")
        handed.value.stop()
    }

    /// `server.threads`: 0 is the CPUs online; 2 or more give the analyzer its own thread, but never
    /// on an edge (its forwarding names hosts with the loop's table).
    @Test func threadsSettingPlacesTheAnalyzer() {
        #expect(Server.analyzesOnOwnThread(threads: 0, isEdge: false, processors: 1) == false)
        #expect(Server.analyzesOnOwnThread(threads: 0, isEdge: false, processors: 2) == true)
        #expect(Server.analyzesOnOwnThread(threads: 1, isEdge: false, processors: 8) == false)
        #expect(Server.analyzesOnOwnThread(threads: 2, isEdge: false, processors: 1) == true)
        #expect(Server.analyzesOnOwnThread(threads: 4, isEdge: true, processors: 4) == false)
        #expect(Server.analyzesOnOwnThread(threads: 0, isEdge: true, processors: 4) == false)
    }

    /// A batch that held one very long frame gives that storage back when emptied; an ordinary
    /// one keeps its storage for the next fill.
    @Test func anEmptiedBatchDoesNotKeepAnOversizedFrame() {
        let fields = SyslogFields(format: .unparsed)
        var batch = CopiedBatch()
        [UInt8](repeating: 65, count: 1_000).withUnsafeBytes {
            batch.appendMessage(frame: $0, fields: fields, host: HostID(0), received: Timestamp(seconds: 0))
        }
        batch.removeAll()
        #expect(batch.isEmpty && batch.bytes.capacity >= 1_000)
        [UInt8](repeating: 65, count: 4 * CopiedBatch.byteCapacity).withUnsafeBytes {
            batch.appendMessage(frame: $0, fields: fields, host: HostID(0), received: Timestamp(seconds: 0))
        }
        #expect(batch.isFull)
        batch.removeAll()
        #expect(batch.isEmpty && batch.bytes.capacity <= 2 * CopiedBatch.byteCapacity)
    }

    /// Polls `condition` (no sleep standing in for it) for at most 10 s.
    func waitUntil(_ condition: () -> Bool) -> Bool {
        let deadline = Posix.monotonicMicros() + 10_000_000
        while !condition() {
            if Posix.monotonicMicros() > deadline { return false }
            sched_yield()
        }
        return true
    }
}

/// A value handed from one test thread to another, used by one at a time.
final class HandedOver<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// A one-shot event between test threads.
final class OneShotFlag: @unchecked Sendable {
    private let lock = ConditionLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true; lock.broadcast() } }
    func wait() {
        lock.withLock { while !value { lock.wait(untilMonotonicMicros: Posix.monotonicMicros() + 1_000_000) } }
    }
}

/// A counter shared by test threads.
final class ConditionLockedCount: @unchecked Sendable {
    private let lock = ConditionLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func increment() { lock.withLock { count += 1 } }
}
