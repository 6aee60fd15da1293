import CVigilShim
import Glibc
import VigilCore

/// What `vigil forward`'s reader (the event loop) and its sender thread share, every field guarded
/// by `lock` (docs/forward.md, "State and guarantees"): the spool, how far of it is committed (its lines'
/// file positions are saved in the state file) and the sender's counters.
///
/// The sender sends only committed records, so a record that reaches the collector is never read
/// again from its file after a crash; it marks them sent (`SinkSpool.markDelivered`, which empties
/// the spool once everything is sent) after each write to the socket.
final class ForwardChannel: @unchecked Sendable {
    let lock = ConditionLock()
    let spool: SinkSpool
    /// An eventfd that, once signalled, makes the sender's socket waits give up (closing).
    private let cancel: FileDescriptor
    /// `cancel`'s number, for the sender's socket waits.
    var cancelFD: Int32 { cancel.rawValue }
    private(set) var committed: Int
    private(set) var stopping = false
    /// The last attempt to send failed; cleared by the next success.
    private(set) var down = false
    private(set) var linesSent = 0
    private(set) var reconnects = 0

    init(spool: SinkSpool) throws(SystemError) {
        cancel = try FileDescriptor.eventCounter()
        self.spool = spool
        committed = spool.end
    }

    /// Reader: appends records (each followed by a newline in `records`), outside the committed
    /// part, if the spool holds at least `minimumEnd` bytes (checked under the lock, so the sender
    /// cannot empty it in between); false, nothing appended, when it holds less.
    @discardableResult
    func append(_ records: [UInt8], ifEndIsAtLeast minimumEnd: Int = 0) throws(SystemError) -> Bool {
        var failure: SystemError?
        let appended = lock.withLock {
            guard spool.end >= minimumEnd else { return false }
            do throws(SystemError) { try spool.append(CollectionOfOne(Array(records.dropLast()))) } catch { failure = error }
            return true
        }
        if let failure { throw failure }
        return appended
    }

    /// The spool's length now.
    var end: Int { lock.withLock { spool.end } }

    /// Bytes waiting to be sent.
    var pendingBytes: Int { lock.withLock { spool.end - spool.deliveredOffset } }

    /// Reader: the whole spool holds only lines whose positions are saved; the sender may send it.
    /// (Only the reader appends, so the spool is what it saved, or empty if the sender emptied it since.)
    func commit() {
        lock.withLock {
            committed = spool.end
            lock.broadcast()
        }
    }

    /// Sender: reads the next committed records, framed (`LEN SP MSG`), into `frames`; waits while
    /// there are none. Returns the offset after them and how many, nil when stopping.
    func next(frames: inout [UInt8], chunk: inout [UInt8], maxBytes: Int, log: (String) -> Void) -> (next: Int, count: Int)? {
        lock.withLock {
            while true {
                if stopping { return nil }
                let start = spool.deliveredOffset
                if start < committed {
                    var count = 0
                    frames.removeAll(keepingCapacity: true)
                    if let next = spool.readRecords(at: start, limit: committed, maxBytes: maxBytes, into: &chunk, each: { payload in
                        appendDigits(payload.count, width: 1, to: &frames)
                        frames.append(UInt8(ascii: " "))
                        frames.append(contentsOf: payload)
                        count += 1
                    }) {
                        return (next, count)
                    }
                    log("vigil forward: spool unreadable at byte \(start); skipping to byte \(committed)")
                    spool.markDelivered(upTo: committed)
                    committed = min(committed, spool.end)
                    continue
                }
                lock.wait(untilMonotonicMicros: Posix.monotonicMicros() + 60_000_000)
            }
        }
    }

    /// Sender: the records before `next` (`count` of them) were written to the socket.
    func sent(upTo next: Int, count: Int) {
        lock.withLock {
            down = false
            spool.markDelivered(upTo: next)
            if spool.end == 0 { committed = 0 }
            linesSent += count
            lock.broadcast()
        }
    }

    /// Sender: an attempt failed; the reader stops waiting for a drain at close.
    func failed() { lock.withLock { down = true; lock.broadcast() } }

    /// Sender: a connection was made after an earlier one.
    func reconnected() { lock.withLock { reconnects += 1 } }

    /// Sender: waits out a backoff; false when stopping.
    func pause(micros: Int64) -> Bool {
        let deadline = Posix.monotonicMicros() + micros
        return lock.withLock {
            while !stopping && Posix.monotonicMicros() < deadline { lock.wait(untilMonotonicMicros: deadline) }
            return !stopping
        }
    }

    /// Lets the sender send what is committed for up to `drainMicros` (not while the collector is
    /// down), then stops it.
    func stop(drainMicros: Int64) {
        let deadline = Posix.monotonicMicros() + drainMicros
        lock.withLock {
            while spool.deliveredOffset < committed && !down && Posix.monotonicMicros() < deadline {
                lock.wait(untilMonotonicMicros: deadline)
            }
            stopping = true
            lock.broadcast()
        }
        var one: UInt64 = 1
        _ = Glibc.write(cancelFD, &one, 8)
    }
}

/// The sender thread of `vigil forward`: one TCP connection to the collector (reopened when it
/// closes, `ClientSocket` resolves the host at each attempt), committed spool records written in
/// batches, exponential backoff with jitter while the collector is down.
final class ForwardSender: @unchecked Sendable {
    let channel: ForwardChannel
    let target: ForwardTarget
    let socket: ClientSocket
    let backoff: RetryBackoff
    let log: @Sendable (String) -> Void
    private var random: UInt64 = Posix.randomSeed() | 1
    /// Bytes of records sent per write.
    static let batchBytes = 256 * 1024

    init(channel: ForwardChannel, target: ForwardTarget, backoff: RetryBackoff, timeoutMillis: Int32,
         log: @escaping @Sendable (String) -> Void) {
        self.channel = channel
        self.target = target
        self.backoff = backoff
        self.log = log
        socket = ClientSocket(host: target.host, port: target.port, type: Int32(SOCK_STREAM.rawValue),
                              timeoutMillis: timeoutMillis, cancelFD: channel.cancelFD)
    }

    func run() {
        var failures = 0
        var connections = 0
        var frames: [UInt8] = []
        var chunk: [UInt8] = []
        while let (next, count) = channel.next(frames: &frames, chunk: &chunk, maxBytes: Self.batchBytes, log: log) {
            // A collector that closed the idle connection is noticed before writing into it.
            if socket.isOpen && socket.peerClosed() { socket.close() }
            let wasOpen = socket.isOpen
            var failure = socket.connectIfNeeded()
            if failure == nil && !wasOpen {
                connections += 1
                if connections > 1 { channel.reconnected() }
                log("vigil forward: connected to \(target)")
                failures = 0
            }
            if failure == nil { failure = socket.writeAll(frames) }
            guard let reason = failure else {
                channel.sent(upTo: next, count: count)
                continue
            }
            failures += 1
            channel.failed()
            // xorshift64: jitter only, never security.
            random ^= random << 13; random ^= random >> 7; random ^= random << 17
            let delay = backoff.delayMicros(attempt: failures, random: random)
            let tenths = (delay + 50_000) / 100_000
            log("vigil forward: collector \(target) down (\(reason)); retrying in \(tenths / 10).\(tenths % 10)s")
            if !channel.pause(micros: delay) { break }
        }
        socket.close()
    }
}
