import Glibc
import Testing
import VigilTestSupport
@testable import VigilCore
import VigilDaemon
@testable import VigilPosix

/// The store divided by host between ingest loops (docs/architecture.md, "The store, divided by
/// host"): batches handed between loops, without event loops running, so the test decides when
/// each side looks at its inbox.
@Suite struct StoreExchangeTests {
    /// What one loop stored, touched only by that loop's thread.
    final class Stored: @unchecked Sendable {
        var lines: [String] = []
    }

    /// Two loops that each hand the other more full batches than may wait: each stores what it
    /// was handed while it waits for room, so neither waits forever (without that, both would
    /// wait for the other here), and each stores every line of the other, in order.
    @Test(.timeLimit(.minutes(1))) func loopsHandingEachOtherMoreThanMayWaitBothMoveOn() throws {
        let exchange = try StoreExchange(loops: 2)
        let loops = try [EventLoop(), EventLoop()]
        let stored = [Stored(), Stored()]
        for n in 0..<2 {
            try exchange.receive(number: n, on: loops[n]) { batch in
                batch.forEach { _, bytes in stored[n].lines.append(String(decoding: bytes, as: UTF8.self)) }
            }
        }
        let perLoop = (StoreExchange.capacity + 4) * HandedLines.lineCapacity
        @Sendable func feed(_ me: Int) {
            let other = 1 - me
            var batch = HandedLines()
            for i in 0..<perLoop {
                Array("from-\(me)-\(i)".utf8).withUnsafeBytes {
                    batch.append($0, host: HostID(UInt32(other)), day: 0, droppable: false)
                }
                if batch.isFull { exchange.hand(&batch, to: other, from: me) }
            }
            if !batch.isEmpty { exchange.hand(&batch, to: other, from: me) }
            exchange.finishReading(loop: me)
        }
        let second = try JoinableThread(named: "test-loop1") { feed(1) }
        feed(0)
        second.join()
        #expect(stored[0].lines == (0..<perLoop).map { "from-1-\($0)" })
        #expect(stored[1].lines == (0..<perLoop).map { "from-0-\($0)" })
        #expect(exchange.waits > 0, "a loop found the other's inbox full")
    }

    /// When the server fails to start after a shard ran, `abandon` lets every loop finish at
    /// once: finishing reading returns (before, the count went below zero and it spun), as does
    /// a second finish (a second stop).
    @Test(.timeLimit(.minutes(1))) func finishingAfterAbandonOrTwiceReturns() throws {
        let exchange = try StoreExchange(loops: 3)
        let loop = try EventLoop()
        try exchange.receive(number: 1, on: loop) { _ in }
        exchange.abandon()
        exchange.finishReading(loop: 1)
        exchange.finishReading(loop: 1)
        var lines = HandedLines()
        for _ in 0...StoreExchange.capacity {
            Array("line".utf8).withUnsafeBytes { lines.append($0, host: HostID(1), day: 0, droppable: false) }
            exchange.hand(&lines, to: 1, from: 0)  // no loop waits any more, even past the capacity
        }
    }

    /// Two collectors on one thread, loops 0 and 1 of `exchange`, storing under `dir` (their
    /// event loops never run: the tests deliver each inbox themselves).
    func twoLoops(_ dir: String, _ exchange: StoreExchange, _ names: HostDirectory) throws -> [Collector] {
        let collectors = try (0..<2).map { number in
            Collector(parser: SyslogParser(), store: try HostStore(directory: dir, sharedWrites: StoreWriteLocks()),
                      analysis: .inline(Analyzer(settings: DetectionSettings())), hosts: names, sinks: [],
                      storeExchange: exchange, loopNumber: number)
        }
        let loops = try [EventLoop(), EventLoop()]
        for n in 0..<2 { try exchange.receive(number: n, on: loops[n]) { collectors[n].storeHanded($0) } }
        return collectors
    }

    /// Makes `host`'s file of `now`'s day /dev/full (every write fails), or a path to remove.
    func fullDayFile(_ dir: String, _ host: String, _ now: Timestamp) -> String {
        mkdir(dir + "/hosts", 0o750)
        mkdir(dir + "/hosts/" + host, 0o750)
        let file = dir + "/hosts/\(host)/\(now.dayString).log"
        symlink("/dev/full", file)
        return file
    }

    func send(_ collector: Collector, _ text: String, now: Timestamp) {
        var line = Array(text.utf8)
        line.withUnsafeMutableBytes {
            collector.consume(frame: UnsafeRawBufferPointer($0), truncated: false, sender: SocketAddress(ip: IPAddress(127, 0, 0, 1), port: 514),
                              transport: .stream, now: now)
        }
        collector.releaseFrames()
    }

    /// A loop whose gate another loop's full store closed, and whose own store then fails too,
    /// says so at once (before, only at its next retry, up to 8 s later): when the first store
    /// writes again, the loops go on waiting for the second.
    @Test func aStoreFailingWhileItsGateIsClosedStillTellsTheOthers() throws {
        let dir = TemporaryDirectory().path
        let exchange = try StoreExchange(loops: 2)
        let names = HostDirectory(table: HostTable(seed: 1, maxHosts: 100), lock: ConditionLock())
        let collectors = try twoLoops(dir, exchange, names)
        let first = names.intern("full-1"), second = names.intern("full-2")
        let x = collectors[StoreExchange.owner(of: first, loops: 2)], y = collectors[StoreExchange.owner(of: second, loops: 2)]
        #expect(x !== y)
        let now = Posix.wallClock()
        _ = fullDayFile(dir, "full-1", now)
        let secondFile = fullDayFile(dir, "full-2", now)
        let start = Posix.monotonicMicros()
        send(y, "<13>1 \(now.rfc3339()) full-2 app - - - first to block", now: now)
        y.flush(monotonicMicros: start)
        _ = x.handOver(monotonicMicros: start)
        #expect(!x.gate.isOpen && !x.isStoreBlocked, "x stops reading for y's store")
        for i in 0..<1_000 { send(x, "<13>1 \(now.rfc3339()) full-1 app - - - line \(i) of a store that cannot write", now: now) }
        #expect(x.isStoreBlocked, "x's buffer passed its write threshold and the write failed")
        #expect(unlink(secondFile) == 0)
        y.flush(monotonicMicros: start + 10_000_000)
        #expect(!y.isStoreBlocked)
        #expect(exchange.anyStoreBlocked, "x's store still cannot write, and said so")
        #expect(!y.gate.isOpen && !x.gate.isOpen)
    }

    /// A loop hands a host's lines to the loop that stores it; while that store cannot write (a
    /// full disk: the day file is /dev/full), the handing loop stops reading TCP as well, or it
    /// would go on filling the other store's memory; once the owner writes again, both read again
    /// (the reader at its next flush, not after its backoff) and the line is in the file.
    @Test func aLoopStopsReadingWhileTheStoreItHandsToCannotWrite() throws {
        let dir = TemporaryDirectory().path
        let exchange = try StoreExchange(loops: 2)
        let names = HostDirectory(table: HostTable(seed: 1, maxHosts: 100), lock: ConditionLock())
        let collectors = try twoLoops(dir, exchange, names)
        let owner = StoreExchange.owner(of: names.intern("web1"), loops: 2)
        let (reader, storer) = (collectors[1 - owner], collectors[owner])
        let now = Posix.wallClock()
        let file = fullDayFile(dir, "web1", now)
        send(reader, "<13>1 \(now.rfc3339()) web1 app - - - handed over", now: now)
        _ = reader.handOver(monotonicMicros: Posix.monotonicMicros())
        exchange.deliver(to: owner)
        let start = Posix.monotonicMicros()
        storer.flush(monotonicMicros: start)  // the write fails: the owner's store blocks
        #expect(storer.isStoreBlocked && !storer.gate.isOpen)
        #expect(reader.gate.isOpen && !reader.isStoreBlocked)
        _ = reader.handOver(monotonicMicros: start)  // the end of the reader's next wake-up
        #expect(!reader.gate.isOpen, "the reader stops reading TCP too")
        reader.flush(monotonicMicros: start + 10_000_000)
        #expect(!reader.gate.isOpen, "still closed while the owner's store cannot write")

        #expect(unlink(file) == 0)  // room again
        storer.flush(monotonicMicros: start + 10_000_000)
        #expect(storer.gate.isOpen)
        _ = reader.handOver(monotonicMicros: start)  // sees that no store is blocked any more
        reader.flush(monotonicMicros: start + 10_000_001)  // inside the backoff the last flush set
        #expect(reader.gate.isOpen)
        #expect(try readLines(file).last?.hasSuffix("handed over") == true)
        #expect(storer.counters.storedForOtherLoops == 1 && reader.counters.storedForOtherLoops == 0)
    }
}
