/// Appends `message` to `out` as one stored line: control bytes escaped the way rsyslog does (`#` and three
/// octal digits, so LF becomes `#012` and NUL `#000`; TAB is kept), then a final `\n`.
func appendEscapedLine(_ message: UnsafeRawBufferPointer, to out: inout [UInt8]) {
    var runStart = 0
    for i in 0..<message.count {
        let byte = message[i]
        guard needsEscape(byte) else { continue }
        if runStart < i { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: message[runStart..<i])) }
        out.append(UInt8(ascii: "#"))
        out.append(UInt8(ascii: "0") + (byte >> 6))
        out.append(UInt8(ascii: "0") + ((byte >> 3) & 7))
        out.append(UInt8(ascii: "0") + (byte & 7))
        runStart = i + 1
    }
    if runStart < message.count {
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: message[runStart..<message.count]))
    }
    out.append(UInt8(ascii: "\n"))
}

/// Control characters (C0 except TAB, and DEL) would break the one-message-per-line layout or a terminal.
@inline(__always)
private func needsEscape(_ byte: UInt8) -> Bool {
    (byte < 0x20 && byte != UInt8(ascii: "\t")) || byte == 0x7F
}
