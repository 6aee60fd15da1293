import Testing
import VigilTestSupport
@testable import VigilCore

@Suite struct SyslogStructuredDataTests {
    /// Every element of `sd` (parsed from a real frame) as (SD-ID, [(name, unescaped value)]).
    static func walk(_ frame: [UInt8]) -> [(String, [(String, String)])] {
        frame.withUnsafeBytes { buf in
            let fields = SyslogParser().parse(buf, receivedAt: SyslogTestSupport.receivedAt)
            var out: [(String, [(String, String)])] = []
            var reader = StructuredDataReader(buf, range: fields.structuredData)
            while let element = reader.next() {
                var params: [(String, String)] = []
                var paramReader = reader.parameters(of: element)
                while let p = paramReader.next() {
                    params.append((String(decoding: buf[p.name], as: UTF8.self),
                                   StructuredDataReader.unescapeValue(buf, p.rawValue)))
                }
                out.append((String(decoding: buf[element.id], as: UTF8.self), params))
            }
            return out
        }
    }

    static func flatten(_ elements: [(String, [(String, String)])]) -> [String] {
        elements.map { id, params in id + params.map { " \($0.0)=\($0.1)" }.joined() }
    }

    @Test func loggerSampleWithEscapes() {
        let frame = Fixtures.frames("logger-rfc5424-udp.udp")[4]
        #expect(Self.flatten(Self.walk(frame)) == [
            "timeQuality tzKnown=1 isSynced=0",
            "origin@32473 ip=127.0.0.1 note=quote \" bracket ] backslash \\ end",
            "meta@32473 seq=7",
        ])
    }

    @Test(arguments: [
        ("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]",
         ["exampleSDID@32473 iut=3 eventSource=Application eventID=1011", "examplePriority@32473 class=high"]),
        ("<13>1 - h a - - [a] x", ["a"]),
        ("<13>1 - h a - - [a x=\"]\" y=\"[\"] x", ["a x=] y=["]),
        ("<13>1 - h a - - [a x=\"\"] x", ["a x="]),
        ("<13>1 - h a - - - x", []),
    ])
    func elements(frame: String, expected: [String]) {
        #expect(Self.flatten(Self.walk(Array(frame.utf8))) == expected)
    }

    @Test(arguments: [
        ("plain", "plain"), ("a\\\"b", "a\"b"), ("back\\\\slash", "back\\slash"), ("br\\]acket", "br]acket"),
        ("\\n stays", "\\n stays"), ("trailing\\", "trailing\\"), ("\\\\\\\"", "\\\""), ("", ""),
        ("caf\u{E9}", "caf\u{E9}"),
    ])
    func unescape(raw: String, expected: String) {
        let bytes = Array(raw.utf8)
        #expect(bytes.withUnsafeBytes { StructuredDataReader.unescapeValue($0, 0..<bytes.count) } == expected)
    }

    @Test func unescapeRepairsInvalidUTF8AndClampsRange() {
        let bytes: [UInt8] = [0x61, 0xFF, 0x62]
        #expect(bytes.withUnsafeBytes { StructuredDataReader.unescapeValue($0, 0..<3) } == "a\u{FFFD}b")
        #expect(bytes.withUnsafeBytes { StructuredDataReader.unescapeValue($0, 2..<100) } == "b")
    }

    /// The reader stops at malformed input and never reads outside the frame or range.
    @Test(arguments: [
        ("[a x=\"1\"][b", 0, ["a x=1"]),
        ("[a x=\"1\"]junk[b]", 0, ["a x=1"]),
        ("[a x=\"1\" y]", 0, []),
        ("[a x=\"1\"]", 1, []),
        ("xx[a]", 2, ["a"]),
    ])
    func readerStopsAtMalformed(sd: String, start: Int, expected: [String]) {
        let bytes = Array(sd.utf8)
        let walked: [String] = bytes.withUnsafeBytes { buf in
            var out: [String] = []
            var reader = StructuredDataReader(buf, range: start..<(bytes.count + 50))
            while let element = reader.next() {
                var text = String(decoding: buf[element.id], as: UTF8.self)
                var params = reader.parameters(of: element)
                while let p = params.next() {
                    text += " " + String(decoding: buf[p.name], as: UTF8.self) + "="
                        + StructuredDataReader.unescapeValue(buf, p.rawValue)
                }
                out.append(text)
            }
            #expect(reader.next() == nil)
            return out
        }
        #expect(walked == expected)
    }

    @Test func parameterReaderStopsAtMalformed() {
        let bytes = Array(" a=\"1\" b=2 c=\"3\"".utf8)
        bytes.withUnsafeBytes { buf in
            var reader = StructuredDataParameterReader(buf, range: 0..<buf.count)
            #expect(reader.next().map { Array(buf[$0.rawValue]) } == Array("1".utf8))
            #expect(reader.next() == nil)
            #expect(reader.next() == nil)
        }
    }
}
