import Testing
@testable import VigilCore

/// Syntax-level parsing: values, comments, arrays, and every syntax error with its line.
@Suite struct ConfigFileTests {
    func parse(_ text: String) -> ConfigFile { ConfigFile.parse(text, path: "t.conf") }

    func lines(_ diagnostics: [ConfigDiagnostic]) -> [String] { diagnostics.map(\.description) }

    /// check-config and serve name where a setting they refuse is set.
    @Test func locationOfASetting() {
        let file = parse("""
            [server]
            # the API
            http = ["0.0.0.0:8514"]
            [api]
            token = ""
            """)
        #expect(file.location(of: "server.http") == "t.conf:3")
        #expect(file.location(of: "api.token") == "t.conf:5")
        #expect(file.location(of: "api.token_file") == nil)
        #expect(file.location(of: "nodot") == nil)
    }

    @Test func valuesOfEveryType() {
        let file = parse("""
            [server]
            a = "text"
            b = 42
            c = -7
            d = 0.5
            e = true
            f = false
            g = 1_000_000
            h = ["x", "y"]
            i = []
            """)
        #expect(file.diagnostics.isEmpty)
        #expect(file.sections.count == 1)
        let values = file.sections[0].entries.map(\.value)
        #expect(values == [
            .string("text"), .integer(42), .integer(-7), .decimal(0.5), .boolean(true), .boolean(false),
            .integer(1_000_000), .array([.string("x"), .string("y")]), .array([]),
        ])
        #expect(file.sections[0].entries.map(\.line) == Array(2...10))
    }

    @Test func commentsAndEscapes() {
        let file = parse("""
            # leading comment
            [sink.ops]   # trailing comment on a header
            url = "file:/tmp/a#b.jsonl"   # the # inside quotes is kept
            q = "say \\"hi\\" \\\\ done"
            empty = ""
            """)
        #expect(file.diagnostics.isEmpty)
        #expect(file.sections.map(\.name) == ["sink.ops"])
        #expect(file.sections[0].line == 2)
        #expect(file.sections[0].entries.map(\.value) == [
            .string("file:/tmp/a#b.jsonl"), .string("say \"hi\" \\ done"), .string(""),
        ])
    }

    @Test func multiLineArrayWithCommentsAndTrailingComma() {
        let file = parse("""
            [detection]
            allowlist = [
                "10.0.0.0/8",     # office
                "192.168.0.0/16", # lab, with ] and , in a comment
            ]
            lateness = "5s"
            """)
        #expect(file.diagnostics.isEmpty)
        #expect(file.sections[0].entries.map(\.key) == ["allowlist", "lateness"])
        #expect(file.sections[0].entries[0].value == .array([.string("10.0.0.0/8"), .string("192.168.0.0/16")]))
        #expect(file.sections[0].entries[1].line == 6)
    }

    @Test func crlfAndBOM() {
        let file = parse("\u{FEFF}[server]\r\nudp = \"off\"\r\n")
        #expect(file.diagnostics.isEmpty)
        #expect(file.sections[0].entries == [ConfigEntry(key: "udp", value: .string("off"), line: 2)])
    }

    /// Each syntax error on its own line, and parsing goes on after each one.
    @Test(arguments: [
        ("[server\nx = 1", "t.conf:1: bad section header `[server`: missing `]`"),
        ("[a.b.c]", "t.conf:1: bad section header `[a.b.c]`: expected [section] or [section.name] (letters, digits, _ and -)"),
        ("[]", "t.conf:1: bad section header `[]`: expected [section] or [section.name] (letters, digits, _ and -)"),
        ("[rule.]", "t.conf:1: bad section header `[rule.]`: expected [section] or [section.name] (letters, digits, _ and -)"),
        ("[server] x", "t.conf:1: unexpected text after section header: `x`"),
        ("[s]\n\nname = \"abc", "t.conf:3: unterminated string (missing closing \")"),
        ("[s]\nname = \"a\\qb\"", "t.conf:2: unknown escape `\\q` in string (only \\\" and \\\\ are allowed)"),
        ("[s]\nwindow = 10s", "t.conf:2: bad value `10s`: durations and sizes are quoted strings, e.g. \"10s\" or \"64KiB\""),
        ("[s]\nname = stdout", "t.conf:2: bad value `stdout`: strings must be in double quotes"),
        ("[s]\nname =", "t.conf:2: missing value for `name`"),
        ("[s]\njust words", "t.conf:2: expected `key = value`, found `just words`"),
        ("[s]\nx = 1 2", "t.conf:2: unexpected text after the value of `x`: `2`"),
        ("x = 1", "t.conf:1: `x` is outside any [section]"),
        ("[s]\nx = 1\n# c\nx = 2", "t.conf:4: duplicate key `x` (first set at line 2)"),
        ("[s]\n[t]\n[s]", "t.conf:3: duplicate section [s] (first at line 1)"),
        ("[s]\nx = [\"a\" \"b\"]", "t.conf:2: expected `,` or `]` in array, found `\"b\"]`"),
        ("[s]\nx = [\"a\", [\"b\"]]", "t.conf:2: nested arrays are not supported"),
        ("[s]\nx = [,]", "t.conf:2: empty element in array"),
        ("[s]\nx = [\"a\",\n  \"b\"\ny = 1", "t.conf:2: unterminated array (missing `]`)"),
        ("[s]\nx = [\"a\",", "t.conf:2: unterminated array (missing `]`)"),
    ])
    func syntaxErrors(text: String, expected: String) {
        #expect(lines(parse(text).diagnostics) == [expected])
    }

    /// After an unterminated array the next statement is still parsed.
    @Test func recoversAfterUnterminatedArray() {
        let file = parse("[s]\nx = [\"a\",\n  \"b\"\ny = 1\n")
        #expect(file.sections[0].entries.map(\.key) == ["y"])
        #expect(file.sections[0].entries[0].line == 4)
    }

    /// A bad element inside a multi-line array does not swallow the next lines.
    @Test func recoversAfterBadArrayElement() {
        let file = parse("[s]\nx = [\n  \"a\",\n  bad,\n  \"c\",\n]\ny = 2\nz = oops\n")
        #expect(lines(file.diagnostics) == [
            "t.conf:4: bad value `bad`: strings must be in double quotes",
            "t.conf:8: bad value `oops`: strings must be in double quotes",
        ])
        #expect(file.sections[0].entries.map(\.key) == ["y"])
        #expect(file.sections[0].entries[0].line == 7)
    }

    /// Entries under a broken or duplicate header are dropped without more errors.
    @Test func entriesUnderBadHeaderAreDropped() {
        let file = parse("[s]\na = 1\n[s]\na = 2\n[bad header]\nb = 1\n")
        #expect(lines(file.diagnostics) == [
            "t.conf:3: duplicate section [s] (first at line 1)",
            "t.conf:5: bad section header `[bad header]`: expected [section] or [section.name] (letters, digits, _ and -)",
        ])
        #expect(file.sections.count == 1)
        #expect(file.sections[0].entries.map(\.value) == [.integer(1)])
    }

    @Test func valueRendersBackToConfigSyntax() {
        let value = ConfigValue.array([.string("a\"b\\c"), .integer(3), .decimal(0.5), .boolean(true)])
        #expect(value.description == #"["a\"b\\c", 3, 0.5, true]"#)
        let reparsed = parse("[s]\nx = \(value)")
        #expect(reparsed.sections[0].entries[0].value == value)
    }
}
