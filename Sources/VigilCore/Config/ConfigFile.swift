/// A value as written in a config file, before the schema gives it meaning.
public enum ConfigValue: Hashable, Sendable, CustomStringConvertible {
    case string(String)
    case integer(Int64)
    case decimal(Double)
    case boolean(Bool)
    case array([ConfigValue])

    /// A word for error messages ("a string", "an integer", ...).
    public var typeName: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .decimal: return "a decimal"
        case .boolean: return "a boolean"
        case .array: return "an array"
        }
    }

    /// The value in config-file syntax (strings quoted and escaped).
    public var description: String {
        switch self {
        case .string(let s):
            var out = "\""
            for c in s {
                if c == "\"" || c == "\\" { out.append("\\") }
                out.append(c)
            }
            return out + "\""
        case .integer(let v): return String(v)
        case .decimal(let v): return String(v)
        case .boolean(let v): return v ? "true" : "false"
        case .array(let items): return "[" + items.map(\.description).joined(separator: ", ") + "]"
        }
    }
}

/// One `key = value` line.
public struct ConfigEntry: Hashable, Sendable {
    public var key: String
    public var value: ConfigValue
    /// The line the key is on (1-based).
    public var line: Int
}

/// One `[section]` or `[section.name]` block and the entries under it.
public struct ConfigSection: Hashable, Sendable {
    /// The header text without brackets, e.g. `server` or `rule.ssh_bruteforce`.
    public var name: String
    /// The line of the header (1-based).
    public var line: Int
    public var entries: [ConfigEntry]
}

/// A config file parsed for syntax only: sections, entries and syntax errors.
///
/// Parsing never stops at the first error, so `check-config` can report every
/// mistake in one run; the schema (`VigilConfig.build`) adds meaning and the
/// remaining errors (unknown keys, wrong types, bad durations).
public struct ConfigFile: Hashable, Sendable {
    /// The path used in error messages.
    public var path: String
    public var sections: [ConfigSection]
    /// Syntax errors, in line order.
    public var diagnostics: [ConfigDiagnostic]

    /// Where `section.key` (e.g. `server.http`) is set in this file, as `PATH:LINE`; nil when the
    /// file does not set it.
    public func location(of dottedKey: String) -> String? {
        guard let dot = dottedKey.lastIndex(of: ".") else { return nil }
        let section = dottedKey[..<dot], key = dottedKey[dottedKey.index(after: dot)...]
        let line = sections.filter { $0.name == section }.flatMap(\.entries).last { $0.key == key }?.line
        return line.map { "\(path):\($0)" }
    }

    /// Parses config text. `path` only labels the diagnostics.
    public static func parse(_ text: String, path: String) -> ConfigFile {
        var parser = ConfigTextParser(bytes: Array(text.utf8), path: path)
        parser.run()
        return ConfigFile(path: path, sections: parser.sections, diagnostics: parser.diagnostics)
    }
}

/// The scanner behind `ConfigFile.parse`: one pass over the bytes, tracking the line.
private struct ConfigTextParser {
    let b: [UInt8]
    let path: String
    var i = 0
    var line = 1
    var sections: [ConfigSection] = []
    var diagnostics: [ConfigDiagnostic] = []
    /// Index into `sections` of the block receiving entries; nil before the first
    /// header, or after a broken or duplicate header (its entries are dropped).
    var current: Int?
    /// Whether any header was seen, to tell "outside any section" from "under a bad header".
    var sawHeader = false
    /// The line of each section header seen, and of each key seen per section (by index), so a
    /// duplicate is found in one lookup: a file of many keys parses in time linear in its size.
    var sectionLines: [String: Int] = [:]
    var keyLines: [[String: Int]] = []

    init(bytes: [UInt8], path: String) {
        self.b = bytes
        self.path = path
    }

    mutating func error(_ message: String, line l: Int? = nil) {
        diagnostics.append(ConfigDiagnostic(.file(path: path, line: l ?? line), message))
    }

    mutating func run() {
        if b.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        while true {
            skipBlanks()
            guard i < b.count else { return }
            switch b[i] {
            case UInt8(ascii: "\n"): i += 1; line += 1
            case UInt8(ascii: "#"): skipToEndOfLine()
            case UInt8(ascii: "["): parseHeader()
            default: parseEntry()
            }
        }
    }

    // MARK: lines

    mutating func skipBlanks() {
        while i < b.count, b[i] == UInt8(ascii: " ") || b[i] == UInt8(ascii: "\t") || b[i] == UInt8(ascii: "\r") { i += 1 }
    }

    mutating func skipToEndOfLine() {
        while i < b.count, b[i] != UInt8(ascii: "\n") { i += 1 }
    }

    var atEndOfLine: Bool { i >= b.count || b[i] == UInt8(ascii: "\n") || b[i] == UInt8(ascii: "#") }

    /// After a complete header or value only blanks and a comment may follow.
    mutating func expectEndOfLine(after what: String) {
        skipBlanks()
        if !atEndOfLine {
            error("unexpected text after \(what): `\(restOfLine())`")
        }
        skipToEndOfLine()
    }

    func restOfLine() -> String {
        var j = i
        while j < b.count, b[j] != UInt8(ascii: "\n"), b[j] != UInt8(ascii: "\r") { j += 1 }
        return String(decoding: b[i..<j], as: UTF8.self)
    }

    static func isNameByte(_ c: UInt8) -> Bool { isConfigNameByte(c) }

    // MARK: headers

    mutating func parseHeader() {
        let headerLine = line
        sawHeader = true
        current = nil
        i += 1
        var j = i
        while j < b.count, b[j] != UInt8(ascii: "]"), b[j] != UInt8(ascii: "\n") { j += 1 }
        guard j < b.count, b[j] == UInt8(ascii: "]") else {
            error("bad section header `[\(restOfLine())`: missing `]`")
            skipToEndOfLine()
            return
        }
        let raw = String(decoding: b[i..<j], as: UTF8.self)
        let parts = raw.split(separator: ".", omittingEmptySubsequences: false)
        let valid = !raw.isEmpty && parts.count <= 2 && parts.allSatisfy { part in
            !part.isEmpty && part.utf8.allSatisfy(Self.isNameByte)
        }
        i = j + 1
        guard valid else {
            error("bad section header `[\(raw)]`: expected [section] or [section.name] (letters, digits, _ and -)")
            skipToEndOfLine()
            return
        }
        if let first = sectionLines[raw] {
            error("duplicate section [\(raw)] (first at line \(first))")
        } else {
            sectionLines[raw] = headerLine
            sections.append(ConfigSection(name: raw, line: headerLine, entries: []))
            keyLines.append([:])
            current = sections.count - 1
        }
        expectEndOfLine(after: "section header")
    }

    // MARK: entries

    mutating func parseEntry() {
        let keyLine = line
        let start = i
        while i < b.count, Self.isNameByte(b[i]) { i += 1 }
        let key = String(decoding: b[start..<i], as: UTF8.self)
        skipBlanks()
        guard !key.isEmpty, i < b.count, b[i] == UInt8(ascii: "=") else {
            i = start
            error("expected `key = value`, found `\(restOfLine())`")
            skipToEndOfLine()
            return
        }
        i += 1
        skipBlanks()
        if atEndOfLine {
            error("missing value for `\(key)`")
            skipToEndOfLine()
            return
        }
        guard let value = parseValue(inArray: false) else { return }
        expectEndOfLine(after: "the value of `\(key)`")
        guard let index = current else {
            if !sawHeader { error("`\(key)` is outside any [section]", line: keyLine) }
            return
        }
        if let previous = keyLines[index][key] {
            error("duplicate key `\(key)` (first set at line \(previous))", line: keyLine)
            return
        }
        keyLines[index][key] = keyLine
        sections[index].entries.append(ConfigEntry(key: key, value: value, line: keyLine))
    }

    /// Parses one value at `i`; on error reports it, recovers past it and returns nil.
    mutating func parseValue(inArray: Bool) -> ConfigValue? {
        switch b[i] {
        case UInt8(ascii: "\""):
            return parseString(inArray: inArray)
        case UInt8(ascii: "["):
            if inArray {
                error("nested arrays are not supported")
                return nil
            }
            return parseArray()
        default:
            return parseBareWord(inArray: inArray)
        }
    }

    /// A double-quoted string with `\"` and `\\` escapes, on one line.
    mutating func parseString(inArray: Bool) -> ConfigValue? {
        let startLine = line
        i += 1
        var out: [UInt8] = []
        var bad = false
        while i < b.count, b[i] != UInt8(ascii: "\n") {
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                guard !bad else {
                    if !inArray { skipToEndOfLine() }
                    return nil
                }
                return .string(String(decoding: out, as: UTF8.self))
            }
            if c == UInt8(ascii: "\\") {
                let next: UInt8? = i + 1 < b.count ? b[i + 1] : nil
                if next == UInt8(ascii: "\"") || next == UInt8(ascii: "\\") {
                    out.append(next!)
                    i += 2
                    continue
                }
                if !bad {
                    let shown = next.map { String(decoding: [$0], as: UTF8.self) } ?? ""
                    error("unknown escape `\\\(shown)` in string (only \\\" and \\\\ are allowed)")
                }
                bad = true
            }
            out.append(c)
            i += 1
        }
        error("unterminated string (missing closing \")", line: startLine)
        return nil
    }

    /// An unquoted integer, decimal or boolean.
    mutating func parseBareWord(inArray: Bool) -> ConfigValue? {
        let start = i
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") || c == UInt8(ascii: "\n")
                || c == UInt8(ascii: "#") { break }
            if inArray && (c == UInt8(ascii: ",") || c == UInt8(ascii: "]")) { break }
            i += 1
        }
        let word = String(decoding: b[start..<i], as: UTF8.self)
        if let value = Self.classify(word) { return value }
        if let first = word.utf8.first, first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9") {
            error("bad value `\(word)`: durations and sizes are quoted strings, e.g. \"10s\" or \"64KiB\"")
        } else {
            error("bad value `\(word)`: strings must be in double quotes")
        }
        if !inArray { skipToEndOfLine() }
        return nil
    }

    /// true/false, an integer (underscores allowed between digits) or a decimal.
    static func classify(_ word: String) -> ConfigValue? {
        if word == "true" { return .boolean(true) }
        if word == "false" { return .boolean(false) }
        if let v = parseInteger(word) { return .integer(v) }
        var digitsBeforeDot = 0, digitsAfterDot = 0, dots = 0
        for (k, c) in word.utf8.enumerated() {
            if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                if dots == 0 { digitsBeforeDot += 1 } else { digitsAfterDot += 1 }
            } else if c == UInt8(ascii: ".") {
                dots += 1
            } else if !(k == 0 && (c == UInt8(ascii: "-") || c == UInt8(ascii: "+"))) {
                return nil
            }
        }
        guard dots == 1, digitsBeforeDot > 0, digitsAfterDot > 0, let d = Double(word) else { return nil }
        return .decimal(d)
    }

    // MARK: arrays

    /// `[a, b, ...]`, possibly over several lines, with comments and a trailing comma.
    mutating func parseArray() -> ConfigValue? {
        let openLine = line
        i += 1
        var items: [ConfigValue] = []
        var expectItem = true
        while true {
            guard skipArraySpace(openLine: openLine) else { return nil }
            let c = b[i]
            if c == UInt8(ascii: "]") {
                i += 1
                return .array(items)
            }
            if !expectItem {
                guard c == UInt8(ascii: ",") else {
                    error("expected `,` or `]` in array, found `\(restOfLine())`")
                    skipArrayRest()
                    return nil
                }
                i += 1
                expectItem = true
                continue
            }
            if c == UInt8(ascii: ",") {
                error("empty element in array")
                skipArrayRest()
                return nil
            }
            guard let item = parseValue(inArray: true) else {
                skipArrayRest()
                return nil
            }
            items.append(item)
            expectItem = false
        }
    }

    /// Skips blanks, newlines and comments inside an array. Returns false (after
    /// reporting) when the array is never closed: end of file, or a following
    /// line that starts a header or a `key =` entry.
    mutating func skipArraySpace(openLine: Int) -> Bool {
        while true {
            skipBlanks()
            guard i < b.count else {
                error("unterminated array (missing `]`)", line: openLine)
                return false
            }
            if b[i] == UInt8(ascii: "#") { skipToEndOfLine(); continue }
            if b[i] == UInt8(ascii: "\n") {
                i += 1
                line += 1
                skipBlanks()
                if startsStatement() {
                    error("unterminated array (missing `]`)", line: openLine)
                    return false
                }
                continue
            }
            return true
        }
    }

    /// Whether the text at `i` starts a header or a `key =` line.
    func startsStatement() -> Bool {
        guard i < b.count else { return false }
        if b[i] == UInt8(ascii: "[") { return true }
        var j = i
        while j < b.count, Self.isNameByte(b[j]) { j += 1 }
        guard j > i else { return false }
        while j < b.count, b[j] == UInt8(ascii: " ") || b[j] == UInt8(ascii: "\t") { j += 1 }
        return j < b.count && b[j] == UInt8(ascii: "=")
    }

    /// Recovery after a bad array element: skip to the closing `]`, or stop
    /// before a line that starts a new statement.
    mutating func skipArrayRest() {
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "]") { i += 1; skipToEndOfLine(); return }
            if c == UInt8(ascii: "#") { skipToEndOfLine(); continue }
            if c == UInt8(ascii: "\"") {
                i += 1
                while i < b.count, b[i] != UInt8(ascii: "\""), b[i] != UInt8(ascii: "\n") {
                    i += b[i] == UInt8(ascii: "\\") && i + 1 < b.count && b[i + 1] != UInt8(ascii: "\n") ? 2 : 1
                }
                if i < b.count, b[i] == UInt8(ascii: "\"") { i += 1 }
                continue
            }
            if c == UInt8(ascii: "\n") {
                i += 1
                line += 1
                skipBlanks()
                if startsStatement() { return }
                continue
            }
            i += 1
        }
    }
}

/// An integer literal: optional sign, digits, single underscores between digits.
func parseInteger(_ word: String) -> Int64? {
    var digits = ""
    var previousWasDigit = false
    for (k, c) in word.enumerated() {
        if c.isASCII, c.isNumber {
            digits.append(c)
            previousWasDigit = true
        } else if c == "_" && previousWasDigit {
            previousWasDigit = false
        } else if k == 0 && (c == "-" || c == "+") {
            if c == "-" { digits.append(c) }
        } else {
            return nil
        }
    }
    guard previousWasDigit else { return nil }
    return Int64(digits)
}

/// Bytes allowed in keys and section names: letters, digits, `_` and `-`.
func isConfigNameByte(_ c: UInt8) -> Bool {
    (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
        || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
}
