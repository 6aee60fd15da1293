import CVigilShim
import Glibc
public import VigilCore

/// Something the event loop calls back when its descriptor is ready.
public protocol EventHandler: AnyObject {
    /// `events` is the epoll event mask; `now` the wall-clock time read once for this wake-up.
    func handleEvents(_ events: UInt32, now: Timestamp)
}

/// A single-threaded epoll loop: descriptors with handlers, periodic timers, and
/// a monotonic "now" read once per wake-up and passed down.
///
/// Not `Sendable`: one thread owns the loop and everything registered with it.
public final class EventLoop {
    public static let readable = EPOLLIN.rawValue
    public static let writable = EPOLLOUT.rawValue
    public static let hangup = EPOLLHUP.rawValue | EPOLLERR.rawValue | EPOLLRDHUP.rawValue

    /// The epoll instance, owned here.
    private let epoll: FileDescriptor
    private var handlers: [(any EventHandler)?] = []
    private var timers: [Timer] = []
    private var afterWakeUp: [(Timestamp) -> Int64?] = []
    /// The monotonic time (µs) by which the next wait must end, as the after-wake-up actions of
    /// the last wake-up asked; nil: no such bound.
    private var wakeBy: Int64?
    private var events: UnsafeMutablePointer<epoll_event>
    private let maxEvents = 256
    /// `stop()` was called: `run()` returns after the current wake-up.
    public private(set) var stopping = false

    /// A repeating callback on the monotonic clock.
    private struct Timer {
        var intervalMicros: Int64
        var nextMicros: Int64
        var action: (Timestamp) -> Void
    }

    public init() throws(SystemError) {
        let fd = epoll_create1(Int32(EPOLL_CLOEXEC))
        if fd < 0 { throw SystemError("epoll_create1", errno: errno) }
        epoll = FileDescriptor(owning: fd)
        events = .allocate(capacity: maxEvents)
    }

    deinit {
        events.deallocate()
    }

    /// Watches `fd` for `mask` (level-triggered) and calls `handler` when ready.
    public func register(_ fd: Int32, mask: UInt32, handler: any EventHandler) throws(SystemError) {
        var ev = epoll_event()
        ev.events = mask
        ev.data.fd = fd
        if epoll_ctl(epoll.rawValue, EPOLL_CTL_ADD, fd, &ev) != 0 { throw SystemError("epoll_ctl add", errno: errno) }
        let index = Int(fd)
        if index >= handlers.count { handlers.append(contentsOf: repeatElement(nil, count: index - handlers.count + 1)) }
        handlers[index] = handler
    }

    /// Changes the events watched for `fd`.
    public func modify(_ fd: Int32, mask: UInt32) {
        var ev = epoll_event()
        ev.events = mask
        ev.data.fd = fd
        _ = epoll_ctl(epoll.rawValue, EPOLL_CTL_MOD, fd, &ev)
    }

    /// Stops watching `fd` (call before closing it).
    public func unregister(_ fd: Int32) {
        _ = epoll_ctl(epoll.rawValue, EPOLL_CTL_DEL, fd, nil)
        if Int(fd) < handlers.count { handlers[Int(fd)] = nil }
    }

    /// Calls `action` every `intervalMicros`, starting one interval from now.
    public func every(microseconds intervalMicros: Int64, _ action: @escaping (Timestamp) -> Void) {
        let interval = max(intervalMicros, 1_000)
        timers.append(Timer(intervalMicros: interval, nextMicros: Posix.monotonicMicros() + interval, action: action))
    }

    /// Calls `action` after the handlers of every wake-up: the place to act once per batch of
    /// input (for example, to hand out the alerts that batch raised). The action returns nil, or
    /// the monotonic time (µs, `Posix.monotonicMicros`) by which it must run again though nothing
    /// else happens (work it kept back for more to come): the loop then waits no longer.
    public func afterEachWakeUp(_ action: @escaping (Timestamp) -> Int64?) {
        afterWakeUp.append(action)
    }

    /// Makes `run()` return after the current wake-up.
    public func stop() { stopping = true }

    /// Runs until `stop()` is called by a handler or timer.
    public func run() {
        stopping = false
        while !stopping { runOnce(timeoutMilliseconds: -1) }
    }

    /// Waits at most `timeoutMilliseconds` (-1: until the next timer) for readiness, then
    /// dispatches what is ready and fires due timers. Returns the number of ready descriptors.
    @discardableResult
    public func runOnce(timeoutMilliseconds: Int32) -> Int {
        let untilTimer = millisecondsUntilNextTimer()
        let timeout = timeoutMilliseconds < 0 ? untilTimer
            : (untilTimer < 0 ? timeoutMilliseconds : min(timeoutMilliseconds, untilTimer))
        let n = Int(epoll_wait(epoll.rawValue, events, Int32(maxEvents), timeout))
        let now = Posix.wallClock()
        for i in 0..<max(n, 0) {
            let fd = Int(events[i].data.fd)
            if fd < handlers.count, let handler = handlers[fd] {
                handler.handleEvents(events[i].events, now: now)
            }
        }
        wakeBy = nil
        for action in afterWakeUp {
            if let by = action(now) { wakeBy = min(wakeBy ?? by, by) }
        }
        fireDueTimers(now: now)
        return max(n, 0)
    }

    /// Until the next timer or `wakeBy`, whichever comes first (-1: neither), rounded up.
    private func millisecondsUntilNextTimer() -> Int32 {
        var next = wakeBy ?? .max
        for timer in timers { next = min(next, timer.nextMicros) }
        guard next != .max else { return -1 }
        let delta = next - Posix.monotonicMicros()
        return delta <= 0 ? 0 : Int32(clamping: (delta + 999) / 1000)
    }

    private func fireDueTimers(now: Timestamp) {
        let mono = Posix.monotonicMicros()
        for i in timers.indices where timers[i].nextMicros <= mono {
            timers[i].nextMicros = mono + timers[i].intervalMicros
            timers[i].action(now)
        }
    }
}

/// Turns SIGTERM, SIGINT and SIGHUP into a readable descriptor so shutdown (and a reload) runs
/// on the loop.
public final class ShutdownSignals: EventHandler {
    private let fd: Int32
    private let onSignal: (Int32) -> Void

    /// Blocks SIGTERM, SIGINT and SIGHUP for this thread (call before starting other threads) and
    /// watches them.
    public init(loop: EventLoop, onSignal: @escaping (Int32) -> Void) throws(SystemError) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGHUP)
        ShutdownSignals.block()
        fd = signalfd(-1, &set, Int32(SFD_NONBLOCK | SFD_CLOEXEC))
        if fd < 0 { throw SystemError("signalfd", errno: errno) }
        self.onSignal = onSignal
        try loop.register(fd, mask: EventLoop.readable, handler: self)
    }

    /// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and in every thread it starts
    /// afterwards, so that only the signalfd sees them. Call it before starting any thread (sink
    /// senders, load threads): a thread created earlier would take the signal's default action,
    /// killing the process without its graceful shutdown (SIGHUP: logrotate's, a closed terminal's).
    public static func block() {
        _ = vigil_block_signal(SIGTERM)
        _ = vigil_block_signal(SIGINT)
        _ = vigil_block_signal(SIGHUP)
    }

    public func handleEvents(_ events: UInt32, now: Timestamp) {
        var info = signalfd_siginfo()
        let n = withUnsafeMutableBytes(of: &info) { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n == MemoryLayout<signalfd_siginfo>.size { onSignal(Int32(info.ssi_signo)) }
    }
}
