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

    /// The pull side (`LineReader`'s): the same lines as `feed`, the unfinished one left in the buffer.
    @Test func pullingLinesOutOfABuffer() {
        func text(_ line: UnsafeRawBufferPointer, _ truncated: Bool) -> String { String(decoding: line, as: UTF8.self) + (truncated ? "…" : "") }
        let bytes = Array("first line\r\nsecond\n\nab\r\nend".utf8)
        var splitter = LineSplitter(maxLineBytes: 4)
        var pulled: [String] = []
        bytes.withUnsafeBytes { buf in
            var start = 0
            while let (line, truncated) = splitter.nextLine(in: buf, from: &start) { pulled.append(text(line, truncated)) }
            #expect(String(decoding: buf[start...], as: UTF8.self) == "end")
        }
        #expect(pulled == ["firs…", "seco…", "", "ab"])
        #expect(pulled == split([String(decoding: bytes, as: UTF8.self)], max: 4, finish: false))

        // A line longer than the caller's buffer: its start once, then the rest skipped to its LF.
        var cutter = LineSplitter(maxLineBytes: 4)
        Array("abcd".utf8).withUnsafeBytes { #expect(cutter.cut($0).map { text($0, false) } == "abcd") }
        Array("efgh".utf8).withUnsafeBytes { #expect(cutter.cut($0) == nil) }
        Array("ij\nxy\n".utf8).withUnsafeBytes { buf in
            var start = 0
            #expect(cutter.nextLine(in: buf, from: &start).map { text($0.line, $0.truncated) } == "xy")
        }
    }

    /// The pull side's end of input gives the unterminated last line as `finish` does: without
    /// its CR, and nothing for the rest of a cut line.
    @Test func lastLineOfABufferEndsLikeFinish() {
        var splitter = LineSplitter()
        Array("one\r\nlast\r".utf8).withUnsafeBytes { buf in
            var start = 0
            _ = splitter.nextLine(in: buf, from: &start)
            #expect(splitter.lastLine(in: buf, from: &start).map { String(decoding: $0, as: UTF8.self) } == "last")
            #expect(start == buf.count && splitter.lastLine(in: buf, from: &start) == nil)
        }
        #expect(split(["one\r\nlast\r"]) == ["one", "last"])
        var cutter = LineSplitter(maxLineBytes: 4)
        Array("abcdef".utf8).withUnsafeBytes { buf in
            #expect(cutter.cut(buf) != nil)
            var start = 4
            #expect(cutter.lastLine(in: buf, from: &start) == nil && !cutter.discarding)
        }
    }
}
