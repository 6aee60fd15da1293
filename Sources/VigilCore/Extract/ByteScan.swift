/// Small allocation-free helpers the extractors share: literal matching,
/// searching and number reading over a byte buffer, by offset.
///
/// Every function works on `buffer[lo..<hi]` and returns offsets into `buffer`,
/// so results are ranges into the text the caller handed in.
enum ByteScan {
    static let space = UInt8(ascii: " ")

    /// Whether `needle` occurs anywhere in `b` (a plain search: the first byte, then the rest).
    static func contains(_ b: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first else { return true }
        guard needle.count <= b.count else { return false }
        let last = b.count - needle.count
        var i = 0
        while i <= last {
            guard let at = index(of: first, b, i, last + 1) else { return false }
            var k = 1
            while k < needle.count && b[at + k] == needle[k] { k += 1 }
            if k == needle.count { return true }
            i = at + 1
        }
        return false
    }

    /// Whether `buffer[at...]` starts with `literal` and the literal fits before `hi`.
    /// Compares eight bytes at a time (the literals are up to 50 bytes, checked on every line).
    @inline(__always)
    static func has(_ b: UnsafeRawBufferPointer, _ at: Int, _ hi: Int, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        if at < 0 || at + n > hi || hi > b.count { return false }
        guard let base = b.baseAddress else { return n == 0 }
        let x = base + at
        let y = UnsafeRawPointer(literal.utf8Start)
        var i = 0
        while i + 8 <= n {
            if x.loadUnaligned(fromByteOffset: i, as: UInt64.self) != y.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
                return false
            }
            i += 8
        }
        if i + 4 <= n {
            if x.loadUnaligned(fromByteOffset: i, as: UInt32.self) != y.loadUnaligned(fromByteOffset: i, as: UInt32.self) {
                return false
            }
            i += 4
        }
        while i < n {
            if x.load(fromByteOffset: i, as: UInt8.self) != y.load(fromByteOffset: i, as: UInt8.self) { return false }
            i += 1
        }
        return true
    }

    /// Whether `buffer[lo..<hi]` ends with `literal`.
    @inline(__always)
    static func hasSuffix(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        return hi - n >= lo && has(b, hi - n, hi, literal)
    }

    /// The offset of the first `literal` in `buffer[lo..<hi]`, or nil.
    static func find(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int, _ literal: StaticString) -> Int? {
        let n = literal.utf8CodeUnitCount
        if n == 0 || hi - lo < n { return nil }
        let first = literal.utf8Start[0]
        var i = lo
        while i <= hi - n {
            if b[i] == first && has(b, i, hi, literal) { return i }
            i += 1
        }
        return nil
    }

    /// The offset of the last `literal` in `buffer[lo..<hi]`, or nil.
    static func findLast(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int, _ literal: StaticString) -> Int? {
        let n = literal.utf8CodeUnitCount
        if n == 0 || hi - lo < n { return nil }
        let first = literal.utf8Start[0]
        var i = hi - n
        while i >= lo {
            if b[i] == first && has(b, i, hi, literal) { return i }
            i -= 1
        }
        return nil
    }

    /// The offset of the first `byte` in `buffer[lo..<hi]`, or nil.
    @inline(__always)
    static func index(of byte: UInt8, _ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int) -> Int? {
        var i = lo
        while i < hi {
            if b[i] == byte { return i }
            i += 1
        }
        return nil
    }

    /// The offset of the last `byte` in `buffer[lo..<hi]`, or nil.
    @inline(__always)
    static func lastIndex(of byte: UInt8, _ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int) -> Int? {
        var i = hi - 1
        while i >= lo {
            if b[i] == byte { return i }
            i -= 1
        }
        return nil
    }

    @inline(__always)
    static func isDigit(_ c: UInt8) -> Bool { c &- UInt8(ascii: "0") < 10 }

    /// Reads an unsigned decimal that fills `buffer[lo..<hi]` exactly (1 to 18 digits).
    static func decimal(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int) -> Int64? {
        if hi <= lo || hi - lo > 18 { return nil }
        var v: Int64 = 0
        for i in lo..<hi {
            let c = b[i]
            if !isDigit(c) { return nil }
            v = v * 10 + Int64(c - UInt8(ascii: "0"))
        }
        return v
    }

    /// Reads exactly `count` decimal digits at `at` (for fixed-width date fields).
    @inline(__always)
    static func fixedDigits(_ b: UnsafeRawBufferPointer, _ at: Int, _ count: Int, _ hi: Int) -> Int? {
        if at < 0 || at + count > hi { return nil }
        var v = 0
        for i in at..<(at + count) {
            let c = b[i]
            if !isDigit(c) { return nil }
            v = v * 10 + Int(c - UInt8(ascii: "0"))
        }
        return v
    }

    /// The start offset of the run of digits that ends at `hi` (== `hi` when there is none).
    @inline(__always)
    static func digitsBefore(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int) -> Int {
        var i = hi
        while i > lo && isDigit(b[i - 1]) { i -= 1 }
        return i
    }

    /// `lo..<hi` with leading and trailing spaces, tabs, CR, LF and NUL removed (empty when `lo > hi`).
    static func trimmed(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int) -> Range<Int> {
        var l = min(lo, hi), h = hi
        while l < h && isBlank(b[l]) { l += 1 }
        while h > l && isBlank(b[h - 1]) { h -= 1 }
        return l..<h
    }

    @inline(__always)
    static func isBlank(_ c: UInt8) -> Bool {
        c == space || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") || c == 0
    }

    /// Parses an IPv4 or IPv6 address filling `buffer[lo..<hi]`.
    @inline(__always)
    static func address(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int) -> IPAddress? {
        if hi <= lo { return nil }
        return IPAddress.parse(UnsafeRawBufferPointer(rebasing: b[lo..<hi]))
    }
}
