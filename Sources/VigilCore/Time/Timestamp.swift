/// A point in time as microseconds since the Unix epoch (UTC).
///
/// vigil never reads a clock inside pure code: the event loop reads the clock
/// once per wake-up and passes a `Timestamp` down, so tests can drive time.
public struct Timestamp: Hashable, Comparable, Sendable {
    /// Microseconds since 1970-01-01T00:00:00Z.
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }
    public init(seconds: Int64) { self.microseconds = seconds &* 1_000_000 }

    /// Whole seconds since the epoch, rounded towards negative infinity.
    public var seconds: Int64 {
        microseconds >= 0 ? microseconds / 1_000_000 : (microseconds - 999_999) / 1_000_000
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.microseconds < b.microseconds }

    public func adding(microseconds delta: Int64) -> Timestamp { Timestamp(microseconds: microseconds &+ delta) }
    public func adding(seconds delta: Int64) -> Timestamp { adding(microseconds: delta &* 1_000_000) }
}

/// A broken-down UTC date and time, as written in logs.
public struct CivilDateTime: Hashable, Sendable {
    public var year: Int
    public var month: Int   // 1...12
    public var day: Int     // 1...31
    public var hour: Int
    public var minute: Int
    public var second: Int
    public var microsecond: Int

    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0, microsecond: Int = 0) {
        self.year = year; self.month = month; self.day = day
        self.hour = hour; self.minute = minute; self.second = second; self.microsecond = microsecond
    }

    /// Whether the fields name a real date and a time of day (leap second 60 allowed).
    public var isValid: Bool {
        month >= 1 && month <= 12 && day >= 1 && day <= CivilDateTime.daysInMonth(year: year, month: month)
            && hour >= 0 && hour < 24 && minute >= 0 && minute < 60 && second >= 0 && second <= 60
            && microsecond >= 0 && microsecond < 1_000_000
    }

    /// The epoch day of a `YYYY-MM-DD` date (a day file's name, an API `day`), nil for any other
    /// bytes or an impossible date.
    public static func epochDay(isoDate b: some Collection<UInt8>) -> Int64? {
        let b = Array(b)
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return nil }
        func number(_ r: Range<Int>) -> Int? {
            var v = 0
            for c in b[r] {
                guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
                v = v * 10 + Int(c - UInt8(ascii: "0"))
            }
            return v
        }
        guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10),
              CivilDateTime(year: y, month: m, day: d).isValid else { return nil }
        return daysFromCivil(year: y, month: m, day: d)
    }

    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// The instant these fields denote when read with the given UTC offset.
    public func timestamp(utcOffsetSeconds: Int = 0) -> Timestamp {
        let days = CivilDateTime.daysFromCivil(year: year, month: month, day: day)
        let secs = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(utcOffsetSeconds)
        return Timestamp(microseconds: secs * 1_000_000 + Int64(microsecond))
    }

    /// Breaks a timestamp into UTC fields.
    public init(_ t: Timestamp) {
        let secs = t.seconds
        let micros = Int(t.microseconds - secs * 1_000_000)
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let rem = Int(secs - days * 86_400)
        let (y, m, d) = CivilDateTime.civilFromDays(days)
        self.init(year: y, month: m, day: d, hour: rem / 3600, minute: rem / 60 % 60, second: rem % 60, microsecond: micros)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64((month + 9) % 12)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01.
    public static func civilFromDays(_ z0: Int64) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (Int(y), Int(m), Int(d))
    }
}

extension Timestamp {
    /// RFC 3339 in UTC with a `Z`, e.g. `2026-11-22T10:00:09Z`; fractions only when non-zero
    /// and `fractionalDigits` > 0 (microseconds, trailing zeros kept to the requested width).
    public func rfc3339(fractionalDigits: Int = 0) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        appendRFC3339(to: &out, fractionalDigits: fractionalDigits)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the RFC 3339 form to a byte buffer without building a `String`.
    public func appendRFC3339(to out: inout [UInt8], fractionalDigits: Int = 0) {
        let c = CivilDateTime(self)
        appendDate(c, to: &out)
        out.append(UInt8(ascii: "T"))
        appendDigits(c.hour, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(c.minute, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(c.second, width: 2, to: &out)
        if fractionalDigits > 0 {
            out.append(UInt8(ascii: "."))
            let digits = min(fractionalDigits, 6)
            var divisor = 1
            for _ in 0..<(6 - digits) { divisor *= 10 }
            appendDigits(c.microsecond / divisor, width: digits, to: &out)
        }
        out.append(UInt8(ascii: "Z"))
    }

    /// The UTC day as `YYYY-MM-DD`, used to name per-day files.
    public var dayString: String {
        var out: [UInt8] = []
        out.reserveCapacity(10)
        appendDate(CivilDateTime(self), to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Days since the epoch of this instant's UTC date.
    public var epochDay: Int64 {
        let s = seconds
        return s >= 0 ? s / 86_400 : (s - 86_399) / 86_400
    }

    private func appendDate(_ c: CivilDateTime, to out: inout [UInt8]) {
        appendDigits(c.year, width: 4, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(c.month, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(c.day, width: 2, to: &out)
    }
}

/// Appends `value` in decimal, left-padded with zeros to `width`.
@inlinable
public func appendDigits(_ value: Int, width: Int, to out: inout [UInt8]) {
    var v = value < 0 ? -value : value
    if value < 0 { out.append(UInt8(ascii: "-")) }
    var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
              UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var n = 0
    withUnsafeMutableBytes(of: &tmp) { buf in
        repeat {
            buf[n] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
            n += 1
        } while v > 0 && n < 20
        while n < width && n < 20 { buf[n] = UInt8(ascii: "0"); n += 1 }
        for i in stride(from: n - 1, through: 0, by: -1) { out.append(buf[i]) }
    }
}
