public import VigilCore

/// How the ingest loops of `vigil serve` divide the store by host (docs/architecture.md, "The
/// store, divided by host"): every host has one owner loop, `owner(of:loops:)`, which writes all
/// of that host's lines the loops read from the network, whichever loop read them. A loop that reads
/// a line of a host it does not own copies it into a `HandedLines` for the owner and hands the
/// batch over here; the owner's event loop is woken (an eventfd) and stores what waits for it.
/// So one connection carrying many hosts (a relay) has its store work, the largest part of a
/// loop's work, spread over every loop, while the loop that reads it keeps the order of its
/// messages for the analysis thread.
///
/// Bounded: at most `capacity` batches wait for each loop. A loop whose batch for a full owner is
/// not full yet keeps adding to it (`handIfRoom`); a full batch for
/// a full owner waits, and while it waits its loop stores what was handed to it, so two loops
/// that each wait for the other still move on. Backpressure thus reaches the readers of every
/// loop, as the analysis thread's does; nothing is dropped between loops. Every loop also learns
/// here whether another loop's store cannot write (`anyStoreBlocked`), to stop reading TCP as
/// its own full store would make it.
///
/// At stop, each loop reads what its connections and sockets hold, hands it over, and then
/// `finishReading` stores what the others hand it until every loop has done so.
public final class StoreExchange: @unchecked Sendable {
    /// Batches that may wait for one loop.
    public static let capacity = 8
    /// The loops that read and store syslog (the server's loop is 0, its ingest shards 1…).
    public let loops: Int
    private let lock = ConditionLock()
    private let inboxes: [Inbox]
    // Guarded by `lock`:
    /// Which loops have finished reading (`finishReading`).
    private var finished: [Bool]
    /// Which loops' stores cannot write.
    private var blocked: [Bool]
    /// Emptied batches, reused by the next loop that hands one over.
    private var spares: [HandedLines] = []
    private var waitCount = 0
    /// Set by `abandon`: no loop waits any more.
    private var abandoned = false

    /// An exchange between `loops` loops (at least 2), each of which must `receive` before it runs.
    public init(loops: Int) throws(SystemError) {
        precondition(loops >= 2)
        self.loops = loops
        finished = Array(repeating: false, count: loops)
        blocked = Array(repeating: false, count: loops)
        var made: [Inbox] = []
        for number in 0..<loops { made.append(Inbox(number: number, wake: try FileDescriptor.eventCounter())) }
        inboxes = made
    }

    /// The loop, of `loops`, that stores `host`'s lines.
    @inline(__always)
    public static func owner(of host: HostID, loops: Int) -> Int { Int(host.rawValue % UInt32(loops)) }

    /// Makes loop `number` store what is handed to it, on its own `loop`: `store` gets each batch.
    /// Called once per loop before any loop runs (the thread that starts them orders it before).
    public func receive(number: Int, on loop: EventLoop, store: @escaping (HandedLines) -> Void) throws(SystemError) {
        let inbox = inboxes[number]
        inbox.store = store
        inbox.exchange = self
        try loop.register(inbox.wake.rawValue, mask: EventLoop.readable, handler: inbox)
    }

    /// Hands `lines` to loop `owner` if it has room for a batch now (giving `lines` back empty),
    /// and says whether it did: a loop whose batch is not full goes on filling it otherwise.
    public func handIfRoom(_ lines: inout HandedLines, to owner: Int) -> Bool {
        let (handed, wake) = lock.withLock { append(&lines, to: owner) }
        if wake { Posix.signalEventCounter(inboxes[owner].wake.rawValue) }
        return handed
    }

    /// Hands `lines` to loop `owner`, giving `lines` back empty (a spare). While `owner` has no
    /// room it waits, storing what is handed to loop `me` in the meantime.
    public func hand(_ lines: inout HandedLines, to owner: Int, from me: Int) {
        precondition(owner != me)
        var counted = false
        while true {
            let (handed, wake): (Bool, Bool) = lock.withLock {
                if !counted && inboxes[owner].waiting.count >= Self.capacity && !abandoned {
                    waitCount += 1
                    counted = true
                }
                while inboxes[owner].waiting.count >= Self.capacity && inboxes[me].waiting.isEmpty && !abandoned {
                    lock.wait()
                }
                return append(&lines, to: owner)
            }
            if handed {
                if wake { Posix.signalEventCounter(inboxes[owner].wake.rawValue) }
                return
            }
            deliver(to: me)  // the loop this one waits for may be waiting for this one
        }
    }

    /// Under `lock`: queues `lines` for `owner` if it has room; whether it did, and whether the
    /// owner must be woken (its queue was empty, so no wake-up is on its way).
    private func append(_ lines: inout HandedLines, to owner: Int) -> (handed: Bool, wake: Bool) {
        guard inboxes[owner].waiting.count < Self.capacity || abandoned else { return (false, false) }
        let wasEmpty = inboxes[owner].waiting.isEmpty
        inboxes[owner].waiting.append(lines)
        lines = spares.popLast() ?? HandedLines()
        lock.broadcast()  // a loop finishing its reading waits for its inbox
        return (true, wasEmpty)
    }

    /// Stores, on loop `number`'s thread, everything waiting for it.
    public func deliver(to number: Int) {
        let inbox = inboxes[number]
        var taken: [HandedLines] = []
        lock.withLock {
            swap(&taken, &inbox.waiting)
            lock.broadcast()  // room for the loops waiting to hand a batch over
        }
        guard !taken.isEmpty else { return }
        for batch in taken { inbox.store?(batch) }
        // Emptied in place, where each batch's storage has one owner: emptying a copy would
        // allocate new storage for it (and a batch's 256 KiB come fresh from mmap, page by page).
        for i in taken.indices { taken[i].removeAll() }
        lock.withLock {
            spares.append(contentsOf: taken.prefix(max(0, loops * Self.capacity - spares.count)))
        }
    }

    /// Says whether loop `number`'s store cannot write (a full disk).
    public func setStoreBlocked(_ isBlocked: Bool, loop number: Int) {
        lock.withLock { blocked[number] = isBlocked }
    }

    /// Whether some loop's store cannot write: lines handed to it would wait in its memory.
    public var anyStoreBlocked: Bool { lock.withLock { blocked.contains(true) } }

    /// How often a loop found no room to hand a batch over (and waited, or stored its own inbox
    /// first), since the start.
    public var waits: Int { lock.withLock { waitCount } }

    /// At stop, once loop `number` has read what its sockets held and handed over its batches:
    /// stores what the other loops hand it until every loop has done the same, then returns.
    /// A second call (a second stop) only stores what waits.
    public func finishReading(loop number: Int) {
        lock.withLock {
            finished[number] = true
            lock.broadcast()
        }
        while true {
            let everyLoopDone: Bool = lock.withLock {
                while !everyLoopFinished && inboxes[number].waiting.isEmpty { lock.wait() }
                return everyLoopFinished
            }
            deliver(to: number)
            if everyLoopDone { return }
        }
    }

    /// When the server fails to start after some loops ran (a shard's thread could not be made):
    /// no loop waits for another any more, in `hand` or `finishReading`. What was handed to a
    /// loop that never ran is not stored; the server stops before it said it was ready.
    public func abandon() {
        lock.withLock {
            abandoned = true
            lock.broadcast()
        }
    }

    /// Under `lock`: whether no loop will hand another anything any more.
    private var everyLoopFinished: Bool { abandoned || !finished.contains(false) }

    /// One loop's batches waiting, and the eventfd that wakes it for them.
    private final class Inbox: EventHandler {
        let number: Int
        let wake: FileDescriptor
        /// Guarded by the exchange's lock.
        var waiting: [HandedLines] = []
        /// Set by `receive`, before the loops run.
        var store: ((HandedLines) -> Void)?
        weak var exchange: StoreExchange?

        init(number: Int, wake: consuming FileDescriptor) {
            self.number = number
            self.wake = wake
        }

        func handleEvents(_ events: UInt32, now: Timestamp) {
            Posix.clearEventCounter(wake.rawValue)
            exchange?.deliver(to: number)
        }
    }
}
