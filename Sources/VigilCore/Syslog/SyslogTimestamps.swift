// Timestamp readers for syslog headers: RFC 3339 (RFC 5424 and rsyslog's
// high-precision forms) and the BSD `Mmm dd hh:mm:ss` form of RFC 3164.
// All work on byte offsets into the frame and never read past `end`.

/// What a timestamp reader found: where the timestamp ended and the instant it names.
struct ScannedTimestamp {
    /// Offset just past the timestamp's last byte.
    var end: Int
    /// The instant, or nil when the text has the right shape but names no real time
    /// (a day past the month's end, or Feb 29 with no leap year nearby).
    var timestamp: Timestamp?
}

/// The date of the last RFC 3339 timestamp read: its first 11 bytes (`YYYY-MM-DDT`) and the
/// seconds since the epoch of that day's start (before any zone offset). Messages arrive in
/// time order, so most timestamps share their date with the one before and only the time of
/// day needs reading. Only a valid date is ever kept; the empty memo matches no bytes at all.
public struct TimestampMemo: Sendable {
    /// Bytes 0..<8, and bytes 8, 9 and 10 (low byte first; the empty memo's `UInt32.max` has a
    /// fourth byte no three bytes have).
    var head: UInt64 = 0
    var tail: UInt32 = .max
    var dayStart: Int64 = 0

    /// An empty memo.
    public init() {}

    init(head: UInt64, tail: UInt32, dayStart: Int64) {
        self.head = head; self.tail = tail; self.dayStart = dayStart
    }
}

enum SyslogTimestamps {
    /// The value of the two ASCII digits at `i`, or -1 when either is not a digit.
    @inline(__always)
    static func twoDigits(_ f: UnsafeRawBufferPointer, _ i: Int) -> Int {
        let a = Int(f[i]) &- 48, b = Int(f[i &+ 1]) &- 48
        guard a >= 0, a <= 9, b >= 0, b <= 9 else { return -1 }
        return a &* 10 &+ b
    }

    /// Reads an RFC 3339 timestamp occupying exactly `start..<end`
    /// (`YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm)`). Fractions keep their first six digits
    /// (microseconds) and ignore the rest; a missing zone means `defaultOffset` seconds east of UTC.
    /// Returns nil when the bytes are not such a timestamp or name no real date and time.
    static func rfc3339(_ f: UnsafeRawBufferPointer, _ start: Int, _ end: Int, defaultOffset: Int) -> Timestamp? {
        var memo = TimestampMemo()
        return rfc3339(f, start, end, defaultOffset: defaultOffset, memo: &memo)
    }

    /// `rfc3339(_:_:_:defaultOffset:)`, skipping the date when its bytes (`YYYY-MM-DDT`) are
    /// those `memo` holds, and keeping this timestamp's date in `memo` otherwise.
    static func rfc3339(_ f: UnsafeRawBufferPointer, _ start: Int, _ end: Int, defaultOffset: Int,
                        memo: inout TimestampMemo) -> Timestamp? {
        guard end &- start >= 19 else { return nil }
        let head = f.loadUnaligned(fromByteOffset: start, as: UInt64.self)
        let tail = UInt32(f[start &+ 8]) | UInt32(f[start &+ 9]) << 8 | UInt32(f[start &+ 10]) << 16
        let hour = twoDigits(f, start &+ 11), minute = twoDigits(f, start &+ 14), second = twoDigits(f, start &+ 17)
        guard f[start &+ 13] == 0x3A, f[start &+ 16] == 0x3A, hour >= 0, hour < 24, minute >= 0, minute < 60,
              second >= 0, second <= 60 else { return nil }
        let dayStart: Int64
        if head == memo.head && tail == memo.tail {
            dayStart = memo.dayStart
        } else {
            let yHi = twoDigits(f, start), yLo = twoDigits(f, start &+ 2)
            let month = twoDigits(f, start &+ 5), day = twoDigits(f, start &+ 8)
            guard yHi >= 0, yLo >= 0, f[start &+ 4] == 0x2D, f[start &+ 7] == 0x2D, f[start &+ 10] | 0x20 == 0x74,
                  month >= 1, month <= 12, day >= 1 else { return nil }
            let year = yHi &* 100 &+ yLo
            guard day <= CivilDateTime.daysInMonth(year: year, month: month) else { return nil }
            dayStart = Self.days(year: year, month: month, day: day) &* 86_400
            memo = TimestampMemo(head: head, tail: tail, dayStart: dayStart)
        }
        let minuteStart = dayStart &+ Int64(hour &* 3600 &+ minute &* 60)
        var i = start &+ 19
        var micro = 0
        if i < end, f[i] == 0x2E {
            i &+= 1
            let fracStart = i
            if end &- i >= 8, let (six, digits) = sixDigits(f, i) {
                // The usual six digits (or more), read as one word.
                micro = six
                i &+= digits
            }
            while i < end, f[i] &- 48 < 10 {
                if i &- fracStart < 6 { micro = micro &* 10 &+ Int(f[i] &- 48) }
                i &+= 1
            }
            let digits = i &- fracStart
            guard digits > 0 else { return nil }
            var scale = digits
            while scale < 6 { micro &*= 10; scale &+= 1 }
        }
        var offset = defaultOffset
        if i < end {
            let c = f[i]
            if c | 0x20 == 0x7A {
                offset = 0
                i &+= 1
            } else if c == 0x2B || c == 0x2D {
                guard end &- i >= 6, f[i &+ 3] == 0x3A else { return nil }
                let oh = twoDigits(f, i &+ 1), om = twoDigits(f, i &+ 4)
                guard oh >= 0, oh < 24, om >= 0, om < 60 else { return nil }
                offset = (oh &* 3600 &+ om &* 60) &* (c == 0x2D ? -1 : 1)
                i &+= 6
            } else {
                return nil
            }
        }
        guard i == end else { return nil }
        let seconds = minuteStart &+ Int64(second) &- Int64(offset)
        return Timestamp(microseconds: seconds &* 1_000_000 &+ Int64(micro))
    }

    /// When the eight bytes at `i` start with at least six ASCII digits: the value of the first
    /// six and how many of the eight are digits; nil otherwise. Reads the eight bytes as one word.
    @inline(__always)
    static func sixDigits(_ f: UnsafeRawBufferPointer, _ i: Int) -> (Int, Int)? {
        let word = f.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        let d = word &- 0x3030_3030_3030_3030
        // The high bit of each byte that is no digit (a borrow only disturbs bytes after it).
        let notDigit = (d | (d &+ 0x7676_7676_7676_7676)) & 0x8080_8080_8080_8080
        let digits = notDigit == 0 ? 8 : notDigit.trailingZeroBitCount / 8
        guard digits >= 6 else { return nil }
        // The six digits as the last six of eight ("00dddddd"), combined pairwise.
        var v = (d << 16) & 0x0F0F_0F0F_0F0F_0F0F
        v = (v &* 2561) >> 8 & 0x00FF_00FF_00FF_00FF
        v = (v &* 6_553_601) >> 16 & 0x0000_FFFF_0000_FFFF
        v = (v &* 42_949_672_960_001) >> 32
        return (Int(truncatingIfNeeded: v), digits)
    }

    /// The month number (1...12) of the English three-letter abbreviation at `i`
    /// (any letter case), or 0.
    @inline(__always)
    static func month(_ f: UnsafeRawBufferPointer, _ i: Int) -> Int {
        let key = UInt32(f[i] | 0x20) << 16 | UInt32(f[i &+ 1] | 0x20) << 8 | UInt32(f[i &+ 2] | 0x20)
        switch key {
        case 0x6A_616E: return 1   // jan
        case 0x66_6562: return 2   // feb
        case 0x6D_6172: return 3   // mar
        case 0x61_7072: return 4   // apr
        case 0x6D_6179: return 5   // may
        case 0x6A_756E: return 6   // jun
        case 0x6A_756C: return 7   // jul
        case 0x61_7567: return 8   // aug
        case 0x73_6570: return 9   // sep
        case 0x6F_6374: return 10  // oct
        case 0x6E_6F76: return 11  // nov
        case 0x64_6563: return 12  // dec
        default: return 0
        }
    }

    /// Reads a BSD timestamp `Mmm dd hh:mm:ss` (day may be space-padded, `Mmm  d`) at `start`,
    /// optionally with a fraction (`hh:mm:ss.mmm`). It must be followed by a space or `end`.
    /// The missing year is the one that puts the time nearest to `receivedAt`; the time is
    /// read as local time `utcOffset` seconds east of UTC. Returns nil when the shape does not match.
    static func bsd(_ f: UnsafeRawBufferPointer, _ start: Int, _ end: Int,
                    utcOffset: Int, receivedAt: Timestamp) -> ScannedTimestamp? {
        guard end &- start >= 15 else { return nil }
        let month = month(f, start)
        guard month != 0, f[start &+ 3] == 0x20, f[start &+ 9] == 0x3A, f[start &+ 12] == 0x3A,
              f[start &+ 6] == 0x20 else { return nil }
        var day = twoDigits(f, start &+ 4)
        if day < 0, f[start &+ 4] == 0x20 {
            let d = Int(f[start &+ 5]) &- 48
            day = d >= 0 && d <= 9 ? d : -1
        }
        let hour = twoDigits(f, start &+ 7), minute = twoDigits(f, start &+ 10), second = twoDigits(f, start &+ 13)
        guard day >= 1, day <= 31, hour >= 0, hour < 24, minute >= 0, minute < 60,
              second >= 0, second <= 60 else { return nil }
        var i = start &+ 15
        var micro = 0
        if i &+ 1 < end, f[i] == 0x2E, f[i &+ 1] &- 48 < 10 {
            i &+= 1
            let fracStart = i
            while i < end, f[i] &- 48 < 10 {
                if i &- fracStart < 6 { micro = micro &* 10 &+ Int(f[i] &- 48) }
                i &+= 1
            }
            var scale = i &- fracStart
            while scale < 6 { micro &*= 10; scale &+= 1 }
        }
        guard i == end || f[i] == 0x20 else { return nil }
        let secondOfDay = hour &* 3600 &+ minute &* 60 &+ second
        let ts = nearestYear(month: month, day: day, secondOfDay: secondOfDay, microsecond: micro,
                             utcOffset: utcOffset, receivedAt: receivedAt)
        return ScannedTimestamp(end: i, timestamp: ts)
    }

    /// The instant of a yearless local date and time, in whichever of the receive year and
    /// its neighbours puts it nearest to `receivedAt`; nil if the date exists in none of them.
    ///
    /// Runs per RFC 3164 message, so it works from days since the epoch: the receive year and
    /// the first days of it and its neighbours come from a few multiplications
    /// (`yearContaining`), not from a civil date conversion per candidate.
    static func nearestYear(month: Int, day: Int, secondOfDay: Int, microsecond: Int,
                            utcOffset: Int, receivedAt: Timestamp) -> Timestamp? {
        let received = receivedAt.seconds
        let localReceived = received &+ Int64(utcOffset)
        let localDay = floorDivide(localReceived, 86_400)
        let (receiveYear, receiveYearStart) = yearContaining(day: localDay)
        let before = Int64(daysBefore(month: month) &+ day &- 1)
        var best: Int64 = 0
        var bestDistance = Int64.max
        var yearStart = receiveYearStart &- (isLeap(receiveYear &- 1) ? 366 : 365)
        for year in (receiveYear &- 1)...(receiveYear &+ 1) {
            let leap = isLeap(year)
            defer { yearStart &+= leap ? 366 : 365 }
            if day > CivilDateTime.daysInMonth(year: year, month: month) { continue }
            let days = yearStart &+ before &+ (leap && month > 2 ? 1 : 0)
            let seconds = days &* 86_400 &+ Int64(secondOfDay) &- Int64(utcOffset)
            let distance = seconds > received ? seconds &- received : received &- seconds
            if distance < bestDistance { best = seconds; bestDistance = distance }
        }
        guard bestDistance != Int64.max else { return nil }
        return Timestamp(microseconds: best &* 1_000_000 &+ Int64(microsecond))
    }

    /// `a / b` rounded toward negative infinity (`b` > 0).
    @inline(__always)
    static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : (a &- b &+ 1) / b }

    /// Whether `year` of the proleptic Gregorian calendar has a February 29.
    @inline(__always)
    static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    /// Days of a common year before the first of `month` (1...12): 0, 31, 59, 90, … 334.
    @inline(__always)
    static func daysBefore(month: Int) -> Int { (367 &* month &- 362) / 12 &- (month > 2 ? 2 : 0) }

    /// Days since 1970-01-01 of a valid date. Runs per RFC 3339 timestamp: from 1901 to 2099
    /// every fourth year is a leap year, so the days come from shifts and adds; other years go
    /// through `CivilDateTime.daysFromCivil`.
    @inline(__always)
    static func days(year: Int, month: Int, day: Int) -> Int64 {
        guard year >= 1901 && year <= 2099 else { return CivilDateTime.daysFromCivil(year: year, month: month, day: day) }
        // Leap days between 1970-01-01 and January 1 of `year`: floor((year - 1969) / 4).
        let leaps = (year &- 1901) >> 2 &- 17
        let leapDay = month > 2 && year & 3 == 0 ? 1 : 0
        return Int64(365 &* (year &- 1970) &+ leaps &+ daysBefore(month: month) &+ leapDay &+ day &- 1)
    }

    /// Days since 1970-01-01 of January 1 of `year` (proleptic Gregorian).
    @inline(__always)
    static func yearStart(_ year: Int64) -> Int64 {
        let p = year &- 1
        let leaps = floorDivide(p, 4) &- floorDivide(p, 100) &+ floorDivide(p, 400)
        return 365 &* (year &- 1970) &+ leaps &- 477  // 477 leap days fall before 1970
    }

    /// The year holding day `day` (days since 1970-01-01) and the day its January 1 falls on:
    /// an estimate from the mean year length (400 years are 146,097 days), corrected by one.
    @inline(__always)
    static func yearContaining(day: Int64) -> (year: Int, start: Int64) {
        var year = 1970 &+ floorDivide(day &* 400, 146_097)
        var start = yearStart(year)
        if start > day {
            year &-= 1
            start = yearStart(year)
        } else {
            let next = yearStart(year &+ 1)
            if next <= day {
                year &+= 1
                start = next
            }
        }
        return (Int(year), start)
    }
}
