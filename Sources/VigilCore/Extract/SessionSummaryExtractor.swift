/// Reads ssh session summary lines: `IP : dd/mm/yy hh:mm - dd/mm/yy hh:mm`
/// (one line per finished session, times in UTC, years 2000–2099).
public enum SessionSummaryExtractor {
    /// The session the whole of `text` describes, or nil when it is not a summary line.
    public static func extract(_ text: UnsafeRawBufferPointer) -> SessionSummary? {
        extract(text, range: 0..<text.count)
    }

    /// The session `buffer[range]` describes, or nil when it is not a summary line
    /// (including one whose end is before its start).
    public static func extract(_ buffer: UnsafeRawBufferPointer, range: Range<Int>) -> SessionSummary? {
        let b = buffer
        let r = ByteScan.trimmed(b, max(0, range.lowerBound), min(b.count, range.upperBound))
        let lo = r.lowerBound, hi = r.upperBound
        // `IP : ` — an IPv6 address has colons but never " : ".
        guard let sep = ByteScan.find(b, lo, hi, " : "), let ip = ByteScan.address(b, lo, sep) else { return nil }
        let first = sep + 3
        // dd/mm/yy hh:mm - dd/mm/yy hh:mm
        guard hi - first == 31, ByteScan.has(b, first + 14, hi, " - "),
              let start = dateTime(b, first, hi), let end = dateTime(b, first + 17, hi), end >= start else { return nil }
        return SessionSummary(ip: ip, start: start, end: end)
    }

    /// `dd/mm/yy hh:mm` at `at` (14 bytes) as a UTC instant.
    private static func dateTime(_ b: UnsafeRawBufferPointer, _ at: Int, _ hi: Int) -> Timestamp? {
        guard let d = ByteScan.fixedDigits(b, at, 2, hi), b[at + 2] == UInt8(ascii: "/"),
              let m = ByteScan.fixedDigits(b, at + 3, 2, hi), b[at + 5] == UInt8(ascii: "/"),
              let y = ByteScan.fixedDigits(b, at + 6, 2, hi), b[at + 8] == ByteScan.space,
              let hh = ByteScan.fixedDigits(b, at + 9, 2, hi), b[at + 11] == UInt8(ascii: ":"),
              let mm = ByteScan.fixedDigits(b, at + 12, 2, hi) else { return nil }
        let c = CivilDateTime(year: 2000 + y, month: m, day: d, hour: hh, minute: mm)
        return c.isValid ? c.timestamp() : nil
    }
}
