/// Appends `message` to `out` as one stored line: control bytes escaped the way rsyslog does (`#` and three
/// octal digits, so LF becomes `#012` and NUL `#000`; TAB is kept), then a final `\n`.
///
/// Most messages contain no control byte: they are found eight bytes at a time and copied in one piece.
func appendEscapedLine(_ message: UnsafeRawBufferPointer, to out: inout [UInt8]) {
    let count = message.count
    var runStart = 0
    var i = firstEscapeCandidate(message, from: 0)
    while i < count {
        let byte = message[i]
        if needsEscape(byte) {
            if runStart < i { appendBytes(message, runStart..<i, to: &out) }
            out.append(UInt8(ascii: "#"))
            out.append(UInt8(ascii: "0") + (byte >> 6))
            out.append(UInt8(ascii: "0") + ((byte >> 3) & 7))
            out.append(UInt8(ascii: "0") + (byte & 7))
            runStart = i + 1
        }
        i = firstEscapeCandidate(message, from: i + 1)
    }
    if runStart < count { appendBytes(message, runStart..<count, to: &out) }
    out.append(UInt8(ascii: "\n"))
}

/// Copies a range of bytes with one bulk copy (a typed buffer appends with memcpy).
@inline(__always)
private func appendBytes(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, to out: inout [UInt8]) {
    out.append(contentsOf: UnsafeBufferPointer(start: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + range.lowerBound,
                                               count: range.count))
}

/// The index of the first byte at or after `start` that may need escaping (a control byte, TAB included,
/// or DEL), or `bytes.count`. Scans a word at a time: a word is skipped when none of its bytes is below
/// 0x20 or equal to 0x7F.
@inline(__always)
private func firstEscapeCandidate(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
    let count = bytes.count
    var i = start
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    while i + 8 <= count {
        let word = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        let below20 = (word &- ones &* 0x20) & ~word & highs
        let del = word ^ (ones &* 0x7F)
        let isDel = (del &- ones) & ~del & highs
        if below20 | isDel != 0 { break }
        i += 8
    }
    while i < count {
        let byte = bytes[i]
        if byte < 0x20 || byte == 0x7F { return i }
        i += 1
    }
    return count
}

/// Control characters (C0 except TAB, and DEL) would break the one-message-per-line layout or a terminal.
@inline(__always)
private func needsEscape(_ byte: UInt8) -> Bool {
    (byte < 0x20 && byte != UInt8(ascii: "\t")) || byte == 0x7F
}
