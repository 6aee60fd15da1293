import Testing
@testable import VigilCore

/// `TerminalText`: what a terminal would obey, or what reorders text, is shown as an escape;
/// everything else is kept.
@Suite struct TerminalTextTests {
    /// The two-digit lowercase hex of a byte.
    static func hex(_ b: UInt8) -> String { (b < 0x10 ? "0" : "") + String(b, radix: 16) }

    /// Whether `text` holds a byte a terminal would act on: C0 (LF allowed when `lines`), DEL, or a C1 control.
    static func hasControl(_ text: String, lines: Bool = false) -> Bool {
        let u = Array(text.utf8)
        return u.indices.contains { i in
            (u[i] < 0x20 && !(lines && u[i] == 0x0A)) || u[i] == 0x7F
                || (u[i] == 0xC2 && i + 1 < u.count && (0x80...0x9F).contains(u[i + 1]))
        }
    }

    @Test func everyC0ByteAndDELIsEscaped() {
        for b in Array(UInt8(0)...0x1F) + [0x7F] {
            let expected = switch b {
            case 0x0A: "\\n"
            case 0x0D: "\\r"
            case 0x09: "\\t"
            default: "\\x" + Self.hex(b)
            }
            let text = "a" + String(Unicode.Scalar(b)) + "b"
            #expect(TerminalText.escaped(text) == "a" + expected + "b")
            #expect([b].withUnsafeBytes { TerminalText.escaped(bytes: $0) } == expected)
        }
        #expect(TerminalText.escaped("\u{1b}[2J") == "\\x1b[2J")
    }

    @Test func c1ControlsAreEscaped() {
        for v in UInt32(0x80)...0x9F {
            let text = "x" + String(Unicode.Scalar(v)!) + "y"
            #expect(TerminalText.escaped(text) == "x\\u{00" + Self.hex(UInt8(v)) + "}y")
            #expect(!Self.hasControl(TerminalText.escaped(text)))
        }
        // The first character past the C1 block (no-break space) is printable.
        #expect(TerminalText.escaped("\u{a0}") == "\u{a0}")
    }

    @Test func bidirectionalControlsAreEscaped() {
        for v in Array(UInt32(0x202A)...0x202E) + Array(UInt32(0x2066)...0x2069) {
            #expect(TerminalText.escaped("a" + String(Unicode.Scalar(v)!) + "b") == "a\\u{" + String(v, radix: 16) + "}b")
        }
        // Their neighbours are ordinary characters.
        for v: UInt32 in [0x2029, 0x202F, 0x2065, 0x206A] {
            let text = String(Unicode.Scalar(v)!)
            #expect(TerminalText.escaped(text) == text)
        }
    }

    @Test func backslashIsDoubledSoNoEscapeCanBeForged() {
        #expect(TerminalText.escaped(#"a\b"#) == #"a\\b"#)
        // Text that spells an escape does not read like the escape of a real ESC.
        #expect(TerminalText.escaped(#"\x1b"#) == #"\\x1b"#)
        #expect(TerminalText.escaped(#"\x1b"#) != TerminalText.escaped("\u{1b}"))
    }

    @Test func printableTextIsUnchanged() {
        let ascii = String(decoding: (UInt8(0x20)...0x7E).filter { $0 != UInt8(ascii: "\\") }, as: UTF8.self)
        for text in [ascii, "héllo ✓ 日本", "emoji 😀 ok", ""] {
            #expect(TerminalText.escaped(text) == text)
            #expect(TerminalText.escapedBlock(text) == text)
            #expect(Array(text.utf8).withUnsafeBytes { TerminalText.escaped(bytes: $0) } == text)
        }
    }

    @Test func invalidUTF8IsShownAsHex() {
        // A lone continuation byte, an overlong form, a surrogate, a truncated sequence, and 0xFF.
        let bytes: [UInt8] = [0x41, 0x80, 0xC0, 0xAF, 0xED, 0xA0, 0x80, 0xFF, 0xC3, 0xA9, 0xE2, 0x82]
        #expect(bytes.withUnsafeBytes { TerminalText.escaped(bytes: $0) }
            == #"A\x80\xc0\xaf\xed\xa0\x80\xffé\xe2\x82"#)
    }

    @Test func aHostileFieldBecomesOneVisibleLine() {
        let field = "evil\nFAKE\r\u{1b}[2J\t\u{9b}31m\u{202e}cod.exe\u{7f}"
        let shown = TerminalText.escaped(field)
        #expect(shown == #"evil\nFAKE\r\x1b[2J\t\u{009b}31m\u{202e}cod.exe\x7f"#)
        #expect(!Self.hasControl(shown))
    }

    @Test func blockKeepsItsLinesAndTheEscapesOfItsFields() {
        let field = TerminalText.escaped("web\u{1b}[1m\\1")
        let block = "host " + field + ": ok\nnext\u{1b}[2J line\r\u{9b}\u{202e}\n"
        let shown = TerminalText.escapedBlock(block)
        #expect(shown == #"host web\x1b[1m\\1: ok"# + "\n" + #"next\x1b[2J line\r\u{009b}\u{202e}"# + "\n")
        #expect(!Self.hasControl(shown, lines: true))
        // Already safe text passes unchanged: the escapes of the fields are not doubled.
        #expect(TerminalText.escapedBlock(shown) == shown)
    }
}
