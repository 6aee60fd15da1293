import Testing
@testable import VigilCore

/// `SenderClocks`: the time each event is detected at, to the microsecond at every boundary.
@Suite struct ClockSenderTests {
    let received = CivilDateTime(year: 2026, month: 12, day: 3, hour: 12).timestamp()
    let web1 = HostID(0), web2 = HostID(1)
    static let second: Int64 = 1_000_000
    static let tolerance: Int64 = 120 * second, lateness: Int64 = 5 * second

    func clocks() -> SenderClocks { SenderClocks(toleranceMicroseconds: Self.tolerance, latenessMicroseconds: Self.lateness) }

    func at(_ offset: Int64) -> Timestamp { received.adding(microseconds: offset) }

    @Test func aMessageWithoutATimeIsTakenAtItsArrival() {
        var c = clocks()
        #expect(c.detectionTime(claimed: nil, host: web1, received: received) == received)
        #expect(c.counters == .init())
    }

    @Test func noTimeIsTakenLaterThanItsArrivalAndOnlyPastTheToleranceIsFuture() {
        var c = clocks()
        #expect(c.detectionTime(claimed: at(1), host: web1, received: received) == received)
        #expect(c.detectionTime(claimed: at(Self.tolerance), host: web1, received: received) == received)
        #expect(c.counters.future == 0)
        #expect(c.detectionTime(claimed: at(Self.tolerance + 1), host: web1, received: received) == received)
        #expect(c.detectionTime(claimed: at(3600 * Self.second), host: web1, received: received) == received)
        #expect(c.counters.future == 2)
    }

    @Test func aTimeBehindIsKept() {
        var c = clocks()
        #expect(c.detectionTime(claimed: at(-Self.lateness), host: web1, received: received) == at(-Self.lateness))
        #expect(c.detectionTime(claimed: at(-Self.lateness - 1), host: web1, received: received) == at(-Self.lateness - 1))
        #expect(c.detectionTime(claimed: at(-3600 * Self.second), host: web1, received: received) == at(-3600 * Self.second))
        #expect(c.counters == .init())
    }

    /// A server five hours west of UTC writes RFC 3164 local time: read at UTC it is five hours
    /// behind. Zone-less, it is read in the zone that brings it near its arrival; with a zone it
    /// is what it says.
    @Test func aZonelessTimeIsReadInTheZoneThatFitsItsArrival() {
        var c = clocks()
        let west = at(-5 * 3600 * Self.second - 3 * Self.second)
        #expect(c.detectionTime(claimed: west, zoneless: true, host: web1, received: received) == at(-3 * Self.second))
        #expect(c.counters.zoneCorrected == 1)
        #expect(c.detectionTime(claimed: west, zoneless: false, host: web2, received: received) == west)
        // Two hours east: ahead, but not from the future once read in its zone.
        #expect(c.detectionTime(claimed: at(2 * 3600 * Self.second + Self.second), zoneless: true, host: web1, received: received)
            == received)
        #expect(c.counters == .init(future: 0, zoneCorrected: 2))
        // Nepal (+05:45) is a zone too; 20 minutes is no zone's distance (5 minutes off the nearest quarter hour).
        #expect(c.detectionTime(claimed: at(-(5 * 3600 + 45 * 60) * Self.second), zoneless: true, host: web1, received: received)
            == received)
        #expect(c.detectionTime(claimed: at(-20 * 60 * Self.second), zoneless: true, host: web1, received: received)
            == at(-20 * 60 * Self.second))
        // The quarter hour must be within the tolerance: 15 min + 2 min corrects, 15 min + 2 min + 1 µs does not.
        let edge = 15 * 60 * Self.second + Self.tolerance
        #expect(c.detectionTime(claimed: at(-edge), zoneless: true, host: web1, received: received) == at(-Self.tolerance))
        #expect(c.detectionTime(claimed: at(-edge - 1), zoneless: true, host: web1, received: received) == at(-edge - 1))
        // No zone is more than 14 hours away.
        #expect(c.detectionTime(claimed: at(-15 * 3600 * Self.second), zoneless: true, host: web1, received: received)
            == at(-15 * 3600 * Self.second))
    }

    /// A host whose clock is 30 s slow: after five events spread over 30 s of arrival time it is
    /// judged on its own clock, not before.
    @Test func aHostThatStaysBehindHasItsOffsetLearned() {
        var c = clocks()
        let slow: Int64 = 30 * Self.second
        for i: Int64 in 0..<4 {
            let r = at(i * 7 * Self.second)
            #expect(c.detectionTime(claimed: r.adding(microseconds: -slow), host: web1, received: r) == r.adding(microseconds: -slow))
        }
        // The fifth event comes 1 µs before the run spans 30 s: still not learned.
        let early = at(30 * Self.second - 1)
        #expect(c.detectionTime(claimed: early.adding(microseconds: -slow), host: web1, received: early)
            == early.adding(microseconds: -slow))
        #expect(c.offset(of: web1) == 0)
        let due = at(30 * Self.second)
        #expect(c.detectionTime(claimed: due.adding(microseconds: -slow), host: web1, received: due) == due)
        #expect(c.offset(of: web1) == -slow && c.counters.offsetsLearned == 1)
        // From now on web1's times are read on its own clock; web2's are untouched.
        let later = at(100 * Self.second)
        #expect(c.detectionTime(claimed: later.adding(microseconds: -slow - 2 * Self.second), host: web1, received: later)
            == later.adding(microseconds: -2 * Self.second))
        #expect(c.detectionTime(claimed: later.adding(microseconds: -slow), host: web2, received: later) == later.adding(microseconds: -slow))
    }

    /// Someone naming web1 sends lines an hour old while web1 keeps logging on time: each of
    /// web1's own lines breaks the run, so web1's clock is never taken to be behind.
    @Test func aTimeThatAgreesBreaksTheRun() {
        var c = clocks()
        for i: Int64 in 0..<60 {
            let r = at(i * Self.second)
            _ = c.detectionTime(claimed: r.adding(seconds: -3600), host: web1, received: r)
            if i % 10 == 9 { #expect(c.detectionTime(claimed: r, host: web1, received: r) == r) }
        }
        #expect(c.offset(of: web1) == 0 && c.counters.offsetsLearned == 0)
    }

    /// A sender's queue emptied after a ten-minute outage: its times run from ten minutes ago to
    /// now within two seconds. They are not consistent long enough to be a clock: nothing is learned.
    @Test func aBacklogIsNotAClock() {
        var c = clocks()
        for i: Int64 in 0..<600 {
            let r = at(i * 2 * Self.second / 600)
            let claimed = at(-600 * Self.second + i * Self.second)
            #expect(c.detectionTime(claimed: claimed, host: web1, received: r) <= r)
        }
        #expect(c.offset(of: web1) == 0 && c.counters.offsetsLearned == 0)
    }

    /// A clock ahead is never learned (it is already taken at the arrival): an hour ahead stays
    /// counted as future, however long it lasts.
    @Test func aClockAheadIsNeverLearned() {
        var c = clocks()
        for i: Int64 in 0..<100 {
            let r = at(i * Self.second)
            #expect(c.detectionTime(claimed: r.adding(seconds: 3600), host: web1, received: r) == r)
        }
        #expect(c.offset(of: web1) == 0 && c.counters.future == 100)
    }

    /// A host learned to be an hour behind whose clock is then fixed: its times look an hour
    /// ahead, and once that has lasted the learning period its offset goes back to zero.
    @Test func aFixedClockGetsItsOffsetBack() {
        var c = clocks()
        for i: Int64 in 0...30 {
            let r = at(i * Self.second)
            _ = c.detectionTime(claimed: r.adding(seconds: -3600), host: web1, received: r)
        }
        #expect(c.offset(of: web1) == -3600 * Self.second)
        for i: Int64 in 40...70 {
            let r = at(i * Self.second)
            #expect(c.detectionTime(claimed: r, host: web1, received: r) == r)
        }
        #expect(c.offset(of: web1) == 0 && c.counters.offsetsLearned == 2)
    }

    /// The end of a session summary is a past event, not the sender's clock: never learned from.
    @Test func timesThatAreNoClockAreOnlyBounded() {
        var c = clocks()
        for i: Int64 in 0...40 {
            let r = at(i * Self.second)
            #expect(c.detectionTime(claimed: r.adding(seconds: -600), host: web1, received: r, learns: false) == r.adding(seconds: -600))
        }
        #expect(c.detectionTime(claimed: at(3600 * Self.second), host: web1, received: received, learns: false) == received)
        #expect(c.offset(of: web1) == 0 && c.counters == .init(future: 1))
    }
}
