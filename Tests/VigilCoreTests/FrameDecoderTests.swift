import Glibc
import Testing
import VigilTestSupport
@testable import VigilCore

/// One decoded frame as the tests compare it.
private struct Frame: Equatable, CustomStringConvertible {
    var bytes: [UInt8]
    var truncated: Bool
    init(_ bytes: [UInt8], truncated: Bool = false) { self.bytes = bytes; self.truncated = truncated }
    init(_ text: String, truncated: Bool = false) { self.init(Array(text.utf8), truncated: truncated) }
    var description: String { "\(String(decoding: bytes, as: UTF8.self).debugDescription)\(truncated ? " (truncated)" : "")" }
}

/// Everything a decoder produced for a whole stream: its frames and the error that ended it, if any.
private struct Outcome: Equatable {
    var frames: [Frame] = []
    var error: FramingError?
}

/// Decodes a stream delivered as the given chunks, then ends it.
private func decode(_ chunks: [ArraySlice<UInt8>], max: Int) -> Outcome {
    var decoder = FrameDecoder(maxMessageBytes: max)
    var outcome = Outcome()
    for chunk in chunks {
        let error = Array(chunk).withUnsafeBytes { raw in
            decoder.feed(raw) { frame, truncated in outcome.frames.append(Frame(Array(frame), truncated: truncated)) }
        }
        #expect(decoder.bufferedByteCount <= max)
        if let error { outcome.error = error; return outcome }
    }
    outcome.error = decoder.finish { frame, truncated in outcome.frames.append(Frame(Array(frame), truncated: truncated)) }
    return outcome
}

/// Checks the stream decodes to `expected` when fed all at once, one byte at a time, and split at every point.
private func expectAllSplits(_ stream: [UInt8], max: Int = 65_536, _ expected: Outcome,
                             sourceLocation: SourceLocation = #_sourceLocation) {
    let whole = decode([stream[...]], max: max)
    #expect(whole == expected, "fed at once", sourceLocation: sourceLocation)
    let bytewise = decode(stream.indices.map { stream[$0...$0] }, max: max)
    #expect(bytewise == expected, "fed one byte at a time", sourceLocation: sourceLocation)
    for i in 0...stream.count {
        let split = decode([stream[..<i], stream[i...]], max: max)
        if split != expected {
            Issue.record("split at \(i): \(split.frames) \(String(describing: split.error))", sourceLocation: sourceLocation)
            return
        }
    }
}

@Suite struct FrameDecoderTests {
    @Test(arguments: [
        ("logger-rfc5424-tcp-octet.tcp", 5), ("logger-rfc5424-tcp-lf.tcp", 5),
        ("rsyslog-tcp-traditional.tcp", 4), ("rsyslog-tcp-forward.tcp", 4),
        ("rsyslog-tcp-proto23-octet.tcp", 4), ("sshd-normal-rsyslog-tcp-octet.tcp", 62),
    ])
    func capturedStreamsFrameIdenticallyHoweverSplit(file: String, frameCount: Int) {
        let stream = Fixtures.sample(file)
        let outcome = decode([stream[...]], max: 65_536)
        #expect(outcome.error == nil)
        #expect(outcome.frames.count == frameCount)
        for frame in outcome.frames {
            #expect(frame.bytes.first == UInt8(ascii: "<"), "\(frame)")
            #expect(frame.bytes.last != UInt8(ascii: "\n") && !frame.truncated, "\(frame)")
        }
        expectAllSplits(stream, outcome)
    }

    @Test func octetCountedAndLineFramedGiveTheSameMessage() {
        // rsyslog counts the LF its template appends; logger does not.
        let counted = decode([Array("24 <13>1 - vm app - - - hi\n".utf8)[...]], max: 100)
        let lined = decode([Array("<13>1 - vm app - - - hi\n".utf8)[...]], max: 100)
        #expect(counted == Outcome(frames: [Frame("<13>1 - vm app - - - hi")]))
        #expect(counted == lined)
    }

    @Test(arguments: [
        // Octet counting, back to back, with stray separators between frames.
        ("5 <1>ab3 <2>", ["<1>ab", "<2>"]),
        ("5 <1>ab\n\r\u{0}3 <2>\n", ["<1>ab", "<2>"]),
        // A counted frame keeps LF, CR and NUL inside it; only a final LF (or CRLF) is dropped.
        ("9 <1>a\nb\0c\n6 <2>x\r\n", ["<1>a\nb\0c", "<2>x"]),
        // Non-transparent: LF, CRLF and NUL end a frame; empty frames are skipped.
        ("<1>a\n<2>b\r\n<3>c\u{0}<4>d", ["<1>a", "<2>b", "<3>c", "<4>d"]),
        ("\n\n\r\n<1>a\n\n<2>b\r\n\r\n", ["<1>a", "<2>b"]),
        // A CR not followed by LF is part of the message.
        ("<1>a\rb\n", ["<1>a\rb"]),
        // Each frame picks its own framing.
        ("<1>a\n4 <2>b<3>c\n", ["<1>a", "<2>b", "<3>c"]),
        // A counted frame need not look like syslog.
        ("3 abc", ["abc"]),
    ] as [(String, [String])])
    func framesWithoutErrors(input: String, frames: [String]) {
        expectAllSplits(Array(input.utf8), Outcome(frames: frames.map { Frame($0) }))
    }

    @Test(arguments: [
        ("99999999999 x", [], FramingError.invalidOctetCount),
        ("1234567890 x", [], .invalidOctetCount),
        ("12a <13>hello", [], .invalidOctetCount),
        ("0 ", [], .invalidOctetCount),
        ("05 <1>a", [], .invalidOctetCount),
        ("12\n<13>hello", [], .invalidOctetCount),
        ("3 <1>4x <2>", ["<1>"], .invalidOctetCount),
        ("<1>a\n7", ["<1>a"], .incompleteOctetFrame),
        ("<1>a\n7 <2>", ["<1>a"], .incompleteOctetFrame),
        ("12", [], .incompleteOctetFrame),
    ] as [(String, [String], FramingError)])
    func streamsThatCannotBeFramed(input: String, frames: [String], error: FramingError) {
        expectAllSplits(Array(input.utf8), Outcome(frames: frames.map { Frame($0) }, error: error))
    }

    /// Cutting a partial frame short delivers what is held, truncated, frees it, and skips the
    /// rest of that frame when it comes: the next frame is intact (line and octet framing).
    @Test(arguments: [
        ("<13>1 - h a - - - first half", " and its second half\n<13>1 - h a - - - next\n"),
        ("40 <13>1 - h a - - - counted", " frame rest!!!!22 <13>1 - h a - - - next"),  // 25 held, 15 to skip
    ])
    func aCutFrameIsDeliveredTruncatedAndItsRestSkipped(head: String, tail: String) {
        var decoder = FrameDecoder(maxMessageBytes: 1024)
        var frames: [Frame] = []
        let record: (UnsafeRawBufferPointer, Bool) -> Void = { frames.append(Frame(Array($0), truncated: $1)) }
        _ = Array(head.utf8).withUnsafeBytes { decoder.feed($0, onFrame: record) }
        #expect(frames.isEmpty && decoder.bufferedByteCount > 0)
        let cut = decoder.cut(onFrame: record)
        #expect(cut)
        #expect(decoder.bufferedByteCount == 0 && decoder.bufferCapacity == 0)
        let again = decoder.cut(onFrame: record)
        #expect(!again)  // nothing left to cut
        _ = Array(tail.utf8).withUnsafeBytes { decoder.feed($0, onFrame: record) }
        let kept = head.hasPrefix("40 ") ? String(head.dropFirst(3)) : head
        #expect(frames == [Frame(kept, truncated: true), Frame("<13>1 - h a - - - next")])
    }

    @Test func nineDigitCountIsSaneAndDiscardedWithoutBuffering() {
        // 999,999,999 announced bytes: the first 4 are delivered, the rest skipped as they arrive.
        var decoder = FrameDecoder(maxMessageBytes: 4)
        var frames: [Frame] = []
        let head = Array("999999999 <1>abc".utf8)
        let error = head.withUnsafeBytes { decoder.feed($0) { frames.append(Frame(Array($0), truncated: $1)) } }
        #expect(error == nil)
        #expect(frames == [Frame("<1>a", truncated: true)])
        let filler = [UInt8](repeating: UInt8(ascii: "z"), count: 1 << 20)
        for _ in 0..<8 {
            _ = filler.withUnsafeBytes { decoder.feed($0) { frames.append(Frame(Array($0), truncated: $1)) } }
            #expect(decoder.bufferedByteCount == 0)
        }
        #expect(frames.count == 1)
        #expect(decoder.finish { _, _ in } == .incompleteOctetFrame)
    }

    @Test func oversizedOctetFrameIsTruncatedAndTheNextFrameIsIntact() {
        expectAllSplits(Array("12 <1>abcdefghi5 <2>xy".utf8), max: 6,
                        Outcome(frames: [Frame("<1>abc", truncated: true), Frame("<2>xy")]))
        // Exactly the limit is not truncated.
        expectAllSplits(Array("6 <1>abc5 <2>xy".utf8), max: 6, Outcome(frames: [Frame("<1>abc"), Frame("<2>xy")]))
    }

    @Test func oversizedLineFrameIsTruncatedUpToTheNextTerminator() {
        expectAllSplits(Array("<1>abcdefghi\n<2>xy\n".utf8), max: 6,
                        Outcome(frames: [Frame("<1>abc", truncated: true), Frame("<2>xy")]))
        expectAllSplits(Array("<1>abcdefghi\u{0}<2>xy".utf8), max: 6,
                        Outcome(frames: [Frame("<1>abc", truncated: true), Frame("<2>xy")]))
        // Exactly the limit, then its terminator: whole. One byte more: truncated.
        expectAllSplits(Array("<1>abc\n<1>abcd\n".utf8), max: 6,
                        Outcome(frames: [Frame("<1>abc"), Frame("<1>abc", truncated: true)]))
        // An oversized tail at end of stream yields only the truncated part.
        expectAllSplits(Array("<1>abcdefghi".utf8), max: 6, Outcome(frames: [Frame("<1>abc", truncated: true)]))
    }

    @Test func oversizedSampleFrameFromRsyslog() {
        // The fourth rsyslog frame carries 1101 counted bytes of which the limit keeps 512.
        let outcome = decode([Fixtures.sample("rsyslog-tcp-proto23-octet.tcp")[...]], max: 512)
        #expect(outcome.error == nil)
        #expect(outcome.frames.map(\.truncated) == [false, false, false, true])
        #expect(outcome.frames[3].bytes.count == 512)
        #expect(outcome.frames[3].bytes.starts(with: Array("<27>1 2026-11-22T23:06:08.317861+00:00 edge-tcp-proto23-octet".utf8)))
    }

    @Test func partialLineFrameIsDeliveredAtEndOfStream() {
        expectAllSplits(Array("<1>a\n<2>tail".utf8), Outcome(frames: [Frame("<1>a"), Frame("<2>tail")]))
        expectAllSplits(Array("<2>tail\r".utf8), Outcome(frames: [Frame("<2>tail")]))
    }

    @Test func framesInsideOneReadAreSlicesOfIt() {
        var decoder = FrameDecoder()
        let stream = Array("<1>a\n5 <2>b\n<3>partial".utf8)
        stream.withUnsafeBytes { raw in
            let range = UInt(bitPattern: raw.baseAddress!)..<UInt(bitPattern: raw.baseAddress! + raw.count)
            var seen = 0
            let error = decoder.feed(raw) { frame, _ in
                seen += 1
                #expect(range.contains(UInt(bitPattern: frame.baseAddress!)))
            }
            #expect(error == nil)
            #expect(seen == 2)
        }
        #expect(decoder.bufferedByteCount == "<3>partial".utf8.count)
    }

    @Test func failureIsSticky() {
        var decoder = FrameDecoder()
        var frames = 0
        #expect(Array("x1".utf8).withUnsafeBytes { decoder.feed($0) { _, _ in frames += 1 } } == nil)
        #expect(Array("\n0 ".utf8).withUnsafeBytes { decoder.feed($0) { _, _ in frames += 1 } } == .invalidOctetCount)
        #expect(Array("<1>ok\n".utf8).withUnsafeBytes { decoder.feed($0) { _, _ in frames += 1 } } == .invalidOctetCount)
        #expect(frames == 1)
        #expect(decoder.finish { _, _ in frames += 1 } == nil)
        #expect(frames == 1)
    }

    @Test func bufferStaysBoundedOverTenMegabytesWithoutNewline() {
        let max = 65_536
        var decoder = FrameDecoder(maxMessageBytes: max)
        var frames: [Frame] = []
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        var highest = 0
        for _ in 0..<10_000 {
            let error = chunk.withUnsafeBytes { decoder.feed($0) { frames.append(Frame(Array($0), truncated: $1)) } }
            #expect(error == nil)
            highest = Swift.max(highest, decoder.bufferedByteCount)
        }
        #expect(highest <= max)
        #expect(frames.count == 1 && frames[0].truncated && frames[0].bytes.count == max)
        #expect(decoder.bufferedByteCount == 0)
        // The line ends; the next frame is intact.
        _ = Array("\n<1>next\n".utf8).withUnsafeBytes { decoder.feed($0) { frames.append(Frame(Array($0), truncated: $1)) } }
        #expect(frames.last == Frame("<1>next"))
    }
}
