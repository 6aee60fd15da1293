import Testing
@testable import VigilCore

/// The retry schedule: doubling ceilings up to the maximum, waits in the upper half of the ceiling.
@Suite struct AlertFormatBackoffTests {
    @Test func ceilingsDoubleUpToTheMaximum() {
        let b = RetryBackoff(baseMicros: 500_000, maximumMicros: 60_000_000)
        #expect((1...10).map { b.ceiling(attempt: $0) }
            == [500_000, 1_000_000, 2_000_000, 4_000_000, 8_000_000, 16_000_000, 32_000_000, 60_000_000, 60_000_000, 60_000_000])
        #expect(b.ceiling(attempt: 10_000) == 60_000_000)
    }

    @Test(arguments: [
        (1, UInt64(0), Int64(250_000)),          // lowest draw: half the ceiling
        (1, 250_000, 500_000),                   // highest draw: the ceiling
        (1, 250_001, 250_000),                   // wraps modulo (half + 1)
        (3, 1_000, 1_001_000),
        (20, UInt64.max, 30_000_000 + Int64(UInt64.max % 30_000_001)),
    ])
    func jitteredDelay(attempt: Int, random: UInt64, expected: Int64) {
        let b = RetryBackoff(baseMicros: 500_000, maximumMicros: 60_000_000)
        #expect(b.delayMicros(attempt: attempt, random: random) == expected)
    }

    @Test func delaysStayWithinHalfAndFullCeiling() {
        let b = RetryBackoff(baseMicros: 100_000, maximumMicros: 5_000_000)
        var r: UInt64 = 0x9E37_79B9_7F4A_7C15
        for attempt in 1...30 {
            r = r &* 6364136223846793005 &+ 1442695040888963407
            let d = b.delayMicros(attempt: attempt, random: r)
            let c = b.ceiling(attempt: attempt)
            #expect(d >= c / 2 && d <= c)
        }
    }

    @Test func maximumBelowBaseIsRaisedToBase() {
        let b = RetryBackoff(baseMicros: 2_000_000, maximumMicros: 1_000_000)
        #expect(b.ceiling(attempt: 5) == 2_000_000)
        #expect(RetryBackoff(baseMicros: 0, maximumMicros: 0).delayMicros(attempt: 1, random: 7) == 1)
    }
}
