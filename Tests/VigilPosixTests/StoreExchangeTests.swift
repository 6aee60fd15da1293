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

    /// A loop hands a host's lines to the loop that stores it; while that store cannot write (a
    /// full disk: the day file is /dev/full), the handing loop stops reading TCP as well, or it
    /// would go on filling the other store's memory; once the owner writes again, both read again
    /// and the line is in the file.
    @Test func aLoopStopsReadingWhileTheStoreItHandsToCannotWrite() throws {
        let dir = TemporaryDirectory().path
        let exchange = try StoreExchange(loops: 2)
        let names = HostDirectory(table: HostTable(seed: 1, maxHosts: 100), lock: ConditionLock())
        let collectors = try (0..<2).map { number in
            Collector(parser: SyslogParser(), store: try HostStore(directory: dir, sharedWrites: StoreWriteLocks()),
                      analysis: .inline(Analyzer(settings: DetectionSettings())), hosts: names, sinks: [],
                      storeExchange: exchange, loopNumber: number)
        }
        let loops = try [EventLoop(), EventLoop()]
        for n in 0..<2 { try exchange.receive(number: n, on: loops[n]) { collectors[n].storeHanded($0) } }
        let owner = StoreExchange.owner(of: names.intern("web1"), loops: 2)
        let (reader, storer) = (collectors[1 - owner], collectors[owner])
        let now = Posix.wallClock()
        mkdir(dir + "/hosts", 0o750)
        mkdir(dir + "/hosts/web1", 0o750)
        let file = dir + "/hosts/web1/\(now.dayString).log"
        #expect(symlink("/dev/full", file) == 0)

        var line = Array("<13>1 \(now.rfc3339()) web1 app - - - handed over".utf8)
        line.withUnsafeMutableBytes {
            reader.consume(frame: UnsafeRawBufferPointer($0), truncated: false, sender: SocketAddress(ip: IPAddress(127, 0, 0, 1), port: 514),
                           transport: .stream, now: now)
        }
        reader.releaseFrames()
        reader.handOver()
        exchange.deliver(to: owner)
        let start = Posix.monotonicMicros()
        storer.flush(monotonicMicros: start)  // the write fails: the owner's store blocks
        #expect(storer.isStoreBlocked && !storer.gate.isOpen)
        #expect(reader.gate.isOpen && !reader.isStoreBlocked)
        reader.handOver()  // the end of the reader's next wake-up
        #expect(!reader.gate.isOpen, "the reader stops reading TCP too")
        reader.flush(monotonicMicros: start + 10_000_000)
        #expect(!reader.gate.isOpen, "still closed while the owner's store cannot write")

        #expect(unlink(file) == 0)  // room again
        storer.flush(monotonicMicros: start + 10_000_000)
        #expect(storer.gate.isOpen)
        reader.flush(monotonicMicros: start + 20_000_000)
        #expect(reader.gate.isOpen)
        #expect(try readLines(file).last?.hasSuffix("handed over") == true)
        #expect(storer.counters.storedForOtherLoops == 1 && reader.counters.storedForOtherLoops == 0)
    }
}
