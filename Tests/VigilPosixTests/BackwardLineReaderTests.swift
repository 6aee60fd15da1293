import Testing
import VigilTestSupport
@testable import VigilPosix

/// Reading a day file from its end, in blocks smaller than its lines.
@Suite struct BackwardLineReaderTests {
    func lines(_ text: String, blockBytes: Int, maxLineBytes: Int = 1 << 20) throws -> [String] {
        let path = TemporaryDirectory().path + "/day.log"
        try TextFile.writeAtomically(path, text)
        let reader = try BackwardLineReader(path: path, blockBytes: blockBytes, maxLineBytes: maxLineBytes)
        var out: [String] = []
        while let line = try reader.previous() { out.append(String(decoding: line, as: UTF8.self)) }
        return out
    }

    @Test(arguments: [16, 17, 64, 65_536])
    func everyLineNewestFirstWhateverTheBlockSize(_ block: Int) throws {
        let text = (1...40).map { "line \($0) " + String(repeating: "x", count: $0) }.joined(separator: "\n") + "\n"
        #expect(try lines(text, blockBytes: block) == (1...40).reversed().map { "line \($0) " + String(repeating: "x", count: $0) })
    }

    @Test func emptyLinesStayAndAMissingFinalNewlineLosesNothing() throws {
        #expect(try lines("a\n\nb", blockBytes: 16) == ["b", "", "a"])
        #expect(try lines("a\n\n", blockBytes: 16) == ["", "a"])
        #expect(try lines("\n", blockBytes: 16) == [""])
        #expect(try lines("", blockBytes: 16) == [])
    }

    @Test func aLineLongerThanTheLimitKeepsItsEnd() throws {
        let long = String(repeating: "a", count: 100) + String(repeating: "b", count: 30)
        #expect(try lines("first\n" + long + "\nlast\n", blockBytes: 16, maxLineBytes: 40) == ["last", String(repeating: "a", count: 10) + String(repeating: "b", count: 30), "first"])
        #expect(try lines(long, blockBytes: 16, maxLineBytes: 40).map(\.count) == [40])
    }

    @Test func aMissingFileIsAnError() {
        #expect(throws: SystemError.self) { try BackwardLineReader(path: TemporaryDirectory().path + "/none.log") }
    }
}
