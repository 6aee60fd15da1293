/// Makes text that came from the network or a file safe to show on a terminal: every
/// character a terminal would obey instead of show, and every character that reorders what
/// the reader sees, becomes a visible backslash escape.
///
/// The notation, one escape per character (lowercase hex):
/// - `\\` a backslash, so that no escape can be forged by the text itself;
/// - `\n`, `\r`, `\t` line feed, carriage return and tab;
/// - `\xHH` every other C0 control byte (ESC is `\x1b`), DEL (`\x7f`), and each byte that is
///   not part of well-formed UTF-8;
/// - `\u{HHHH}` a C1 control U+0080…U+009F (`\u{009b}` is the 8-bit CSI) or a bidirectional
///   control U+202A…U+202E, U+2066…U+2069 (`\u{202e}`).
///
/// Everything else — printable ASCII and well-formed UTF-8 — is kept as it is.
public enum TerminalText {
    /// `text` as one field or one line for a terminal: every character listed in the type's
    /// notation escaped, line feeds and backslashes included. Returns `text` itself when
    /// nothing needs escaping.
    public static func escaped(_ text: String) -> String { escape(text, keepingLines: false) }

    /// Raw bytes as one field or one line for a terminal, as `escaped(_:)` does for a string;
    /// bytes that are not well-formed UTF-8 show as `\xHH`.
    public static func escaped(bytes: UnsafeRawBufferPointer) -> String {
        guard let out = escape(bytes, keepingLines: false) else { return String(decoding: bytes, as: UTF8.self) }
        return String(decoding: out, as: UTF8.self)
    }

    /// A block of lines whose untrusted fields were already passed through `escaped(_:)`, made
    /// safe as a whole: the line feeds that separate its lines and its backslashes (the escapes
    /// of its fields) are kept, every other character of the notation is escaped. This is the
    /// writers' safety net: a field a renderer forgot to escape can no longer reach the
    /// terminal as a control sequence. Returns `text` itself when nothing needs escaping.
    public static func escapedBlock(_ text: String) -> String { escape(text, keepingLines: true) }

    /// `text` escaped, or `text` itself when nothing needs escaping.
    private static func escape(_ text: String, keepingLines: Bool) -> String {
        var copy = text
        return copy.withUTF8 { escape(UnsafeRawBufferPointer($0), keepingLines: keepingLines) }
            .map { String(decoding: $0, as: UTF8.self) } ?? text
    }

    /// The escaped bytes of `b`, or nil when no byte needs escaping; with `keepingLines`, line
    /// feeds and backslashes pass unchanged.
    private static func escape(_ b: UnsafeRawBufferPointer, keepingLines: Bool) -> [UInt8]? {
        var out: [UInt8] = []
        var copied = 0
        /// Copies the plain bytes before `i` and starts an escape.
        func startEscape(at i: Int) {
            if out.isEmpty { out.reserveCapacity(b.count + 16) }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[copied..<i]))
            out.append(UInt8(ascii: "\\"))
        }
        var i = 0
        while i < b.count {
            let c = b[i]
            if c < 0x80 {
                let backslash = c == UInt8(ascii: "\\")
                let plain = c >= 0x20 && c != 0x7F && !backslash
                if plain || keepingLines && (c == 0x0A || backslash) {
                    i += 1
                    continue
                }
                startEscape(at: i)
                switch c {
                case UInt8(ascii: "\\"): out.append(c)
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                default: appendByte(c, to: &out)
                }
                i += 1
            } else {
                let n = UTF8Sequence.length(b, at: i)
                if n == 0 {
                    startEscape(at: i)
                    appendByte(c, to: &out)
                    i += 1
                } else if let scalar = UTF8Sequence.displayControl(b, at: i, length: n) {
                    startEscape(at: i)
                    out.append(contentsOf: "u{".utf8)
                    UTF8Sequence.appendHex(scalar, digits: 4, to: &out)
                    out.append(UInt8(ascii: "}"))
                    i += n
                } else {
                    i += n
                    continue
                }
            }
            copied = i
        }
        guard !out.isEmpty else { return nil }
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[copied...]))
        return out
    }

    /// Appends `xHH` for a byte (after its backslash).
    private static func appendByte(_ c: UInt8, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "x"))
        UTF8Sequence.appendHex(UInt32(c), digits: 2, to: &out)
    }
}

/// Byte-level reading of UTF-8 shared by the terminal and the JSON escapers.
enum UTF8Sequence {
    /// Appends the low `digits` hex digits of `value`, lowercase.
    static func appendHex(_ value: UInt32, digits: Int, to out: inout [UInt8]) {
        for k in stride(from: digits - 1, through: 0, by: -1) {
            let v = UInt8(truncatingIfNeeded: value >> UInt32(4 * k)) & 0xF
            out.append(v < 10 ? UInt8(ascii: "0") + v : UInt8(ascii: "a") + v - 10)
        }
    }

    /// The length of the well-formed multi-byte UTF-8 sequence at `i`, or 0 when it is not one.
    static func length(_ b: UnsafeRawBufferPointer, at i: Int) -> Int {
        let c = b[i]
        let n = b.count
        func cont(_ k: Int) -> Bool { k < n && b[k] & 0xC0 == 0x80 }
        switch c {
        case 0xC2...0xDF:
            return cont(i + 1) ? 2 : 0
        case 0xE0...0xEF:
            guard cont(i + 1), cont(i + 2) else { return 0 }
            let c1 = b[i + 1]
            if c == 0xE0 && c1 < 0xA0 { return 0 }          // overlong
            if c == 0xED && c1 >= 0xA0 { return 0 }         // surrogates
            return 3
        case 0xF0...0xF4:
            guard cont(i + 1), cont(i + 2), cont(i + 3) else { return 0 }
            let c1 = b[i + 1]
            if c == 0xF0 && c1 < 0x90 { return 0 }          // overlong
            if c == 0xF4 && c1 >= 0x90 { return 0 }         // above U+10FFFF
            return 4
        default:
            return 0
        }
    }

    /// The code point of the well-formed sequence of `length` bytes at `i` when it is a C1
    /// control (U+0080…U+009F) or a bidirectional control (U+202A…U+202E, U+2066…U+2069):
    /// characters a terminal obeys or that reorder the text around them. Nil for any other.
    @inline(__always)
    static func displayControl(_ b: UnsafeRawBufferPointer, at i: Int, length: Int) -> UInt32? {
        switch length {
        case 2 where b[i] == 0xC2 && b[i + 1] <= 0x9F:
            return UInt32(b[i + 1])
        case 3 where b[i] == 0xE2:
            let c1 = b[i + 1], c2 = b[i + 2]
            if (c1 == 0x80 && (0xAA...0xAE).contains(c2)) || (c1 == 0x81 && (0xA6...0xA9).contains(c2)) {
                return 0x2000 | UInt32(c1 & 0x3F) << 6 | UInt32(c2 & 0x3F)
            }
            return nil
        default:
            return nil
        }
    }
}
