import Testing
@testable import VigilPosix

/// The loop's own scheduling: what bounds a wait besides descriptors and timers.
@Suite struct EventLoopTests {
    /// An after-wake-up action that kept work back bounds the loop's next wait: with nothing to
    /// watch and no timer, the second `runOnce` would otherwise wait its whole 5 s.
    @Test func anAfterWakeUpActionBoundsTheNextWait() throws {
        let loop = try EventLoop()
        var calls = 0
        loop.afterEachWakeUp { _ in
            calls += 1
            return calls == 1 ? Posix.monotonicMicros() + 3_000 : nil
        }
        loop.runOnce(timeoutMilliseconds: 0)  // asks to run again within 3 ms
        let start = Posix.monotonicMicros()
        loop.runOnce(timeoutMilliseconds: 5_000)
        let waited = Posix.monotonicMicros() - start
        #expect(calls == 2)
        #expect(waited >= 3_000 && waited < 2_000_000, "waited \(waited) µs")
    }
}
