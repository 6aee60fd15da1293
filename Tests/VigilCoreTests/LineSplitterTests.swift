import Testing
@testable import VigilCore

@Suite struct LineSplitterTests {
    func split(_ chunks: [String], max: Int = 65_536, finish: Bool = true) -> [String] {
        var splitter = LineSplitter(maxLineBytes: max)
        var lines: [String] = []
        let record: (UnsafeRawBufferPointer, Bool) -> Void = { lines.append(String(decoding: $0, as: UTF8.self) + ($1 ? "…" : "")) }
        for chunk in chunks {
            var copy = chunk
            copy.withUTF8 { splitter.feed(UnsafeRawBufferPointer($0), onLine: record) }
        }
        if finish { splitter.finish(onLine: record) }
        return lines
    }

    @Test func linesAcrossChunksAndCRLF() {
        #expect(split(["a\nb", "c\r\n", "\n12 digits first\n"]) == ["a", "bc", "", "12 digits first"])
    }

    @Test func everySplitPointGivesTheSameLines() {
        let text = "first line\r\nsecond\n\nthird without end"
        let whole = split([text])
        for i in 0...text.utf8.count {
            let bytes = Array(text.utf8)
            let a = String(decoding: bytes[0..<i], as: UTF8.self), b = String(decoding: bytes[i...], as: UTF8.self)
            #expect(split([a, b]) == whole)
        }
        #expect(whole == ["first line", "second", "", "third without end"])
    }

    @Test func overlongLinesAreCutAndTheRestSkipped() {
        #expect(split(["abcdefgh\nxy\n"], max: 4) == ["abcd…", "xy"])
        #expect(split(["ab", "cdef", "gh\nxy\n"], max: 4) == ["abcd…", "xy"])
        #expect(split(["abcd\n"], max: 4) == ["abcd"])
    }

    @Test func pendingStaysBoundedWithoutNewlines() {
        var splitter = LineSplitter(maxLineBytes: 1024)
        let chunk = [UInt8](repeating: UInt8(ascii: "z"), count: 4096)
        var lines = 0
        for _ in 0..<2_500 {  // 10 MB without a newline
            chunk.withUnsafeBytes { splitter.feed($0, onLine: { _, _ in lines += 1 }) }
            #expect(splitter.pendingCount <= 1024)
        }
        #expect(lines == 1)
    }
}
