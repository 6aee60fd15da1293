/// Splits a byte stream into LF-terminated lines (a CR before the LF is dropped), for plain
/// log files where a leading digit is just data, never an octet count: the one LF splitter of
/// the file readers, `FileTailer` (which pushes what it reads through `feed`) and `LineReader`
/// (which pulls lines out of its own buffer with `nextLine` and `cut`).
///
/// Lines wholly inside the bytes given are passed as slices of them (zero copy); `feed` keeps
/// only a partial tail. A line longer than `maxLineBytes` is delivered cut to that length with
/// `truncated` set, and the rest of it is skipped up to the next LF.
public struct LineSplitter: Sendable {
    public let maxLineBytes: Int
    private var pending: [UInt8] = []
    /// Skipping the remainder of an over-long line until its LF.
    public private(set) var discarding = false

    public init(maxLineBytes: Int = 65_536) {
        self.maxLineBytes = max(1, maxLineBytes)
    }

    /// Bytes held for an unfinished line.
    public var pendingCount: Int { pending.count }

    /// Feeds bytes; calls `onLine(line, truncated)` for each complete line, in order.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, onLine: (UnsafeRawBufferPointer, Bool) -> Void) {
        var start = 0
        if !pending.isEmpty {
            // The held start of a line (never while discarding) ends at the first LF.
            guard let lf = firstLineEnd(in: bytes, from: 0, to: bytes.count, orNUL: false) else {
                absorbTail(bytes, onLine: onLine)
                return
            }
            let room = maxLineBytes - pending.count
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<min(room, lf)]))
            pending.withUnsafeBytes { emit($0, truncated: lf > room, onLine: onLine) }
            pending.removeAll(keepingCapacity: true)
            start = lf + 1
        }
        while let (line, truncated) = nextLine(in: bytes, from: &start) { onLine(line, truncated) }
        if start < bytes.count { absorbTail(UnsafeRawBufferPointer(rebasing: bytes[start...]), onLine: onLine) }
    }

    /// The next complete line of `bytes` from `start` on, without its LF and CR, and whether it
    /// was cut to `maxLineBytes`; moves `start` past its LF. Nil when no LF is left: the bytes
    /// from `start` on are an unfinished line. Skips what is left of a line cut before.
    /// For callers that keep the unfinished line in their own buffer (no partial line held here).
    @inline(__always)
    public mutating func nextLine(in bytes: UnsafeRawBufferPointer, from start: inout Int) -> (line: UnsafeRawBufferPointer, truncated: Bool)? {
        while let lf = firstLineEnd(in: bytes, from: start, to: bytes.count, orNUL: false) {
            let lineStart = start
            start = lf + 1
            if discarding {
                discarding = false
                continue
            }
            return ending(UnsafeRawBufferPointer(rebasing: bytes[lineStart..<lf]), truncated: false)
        }
        return nil
    }

    /// The start of a line longer than the caller's buffer, `bytes` (as they are, at most
    /// `maxLineBytes` of them): returned once, after which the rest of the line up to its LF is
    /// skipped; nil while that rest is being skipped.
    public mutating func cut(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        if discarding { return nil }
        discarding = true
        return UnsafeRawBufferPointer(rebasing: bytes[0..<min(bytes.count, maxLineBytes)])
    }

    /// End of input for a `nextLine` caller: the unterminated last line of `bytes` from `start`
    /// on, without its CR, as `finish` gives it to a `feed` caller; nil when there is none or it
    /// is the rest of a line cut before. Moves `start` to the end.
    public mutating func lastLine(in bytes: UnsafeRawBufferPointer, from start: inout Int) -> UnsafeRawBufferPointer? {
        defer {
            start = bytes.count
            discarding = false
        }
        guard start < bytes.count, !discarding else { return nil }
        return ending(UnsafeRawBufferPointer(rebasing: bytes[start...]), truncated: false).line
    }

    /// End of input: delivers an unterminated last line, if any.
    public mutating func finish(onLine: (UnsafeRawBufferPointer, Bool) -> Void) {
        if !pending.isEmpty {
            pending.withUnsafeBytes { emit($0, truncated: false, onLine: onLine) }
            pending.removeAll(keepingCapacity: true)
        }
        discarding = false
    }

    /// Forgets any partial line (the file it came from was truncated or replaced).
    public mutating func reset() {
        pending.removeAll(keepingCapacity: true)
        discarding = false
    }

    private mutating func absorbTail(_ tail: UnsafeRawBufferPointer, onLine: (UnsafeRawBufferPointer, Bool) -> Void) {
        if discarding { return }
        let room = maxLineBytes - pending.count
        if tail.count <= room {
            pending.append(contentsOf: tail)
            return
        }
        pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: tail[0..<room]))
        pending.withUnsafeBytes { emit($0, truncated: true, onLine: onLine) }
        pending.removeAll(keepingCapacity: true)
        discarding = true
    }

    private func emit(_ line: UnsafeRawBufferPointer, truncated: Bool, onLine: (UnsafeRawBufferPointer, Bool) -> Void) {
        let (line, truncated) = ending(line, truncated: truncated)
        onLine(line, truncated)
    }

    /// `line` without a trailing CR, cut to `maxLineBytes` (and then `truncated`).
    @inline(__always)
    private func ending(_ line: UnsafeRawBufferPointer, truncated: Bool) -> (line: UnsafeRawBufferPointer, truncated: Bool) {
        var end = line.count
        if end > 0 && line[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        if end > maxLineBytes { return (UnsafeRawBufferPointer(rebasing: line[0..<maxLineBytes]), true) }
        return (UnsafeRawBufferPointer(rebasing: line[0..<end]), truncated)
    }
}

/// The offset of the first LF in `bytes[from..<to]` (with `orNUL`, of the first LF or NUL), eight
/// bytes at a time where possible: the search of `LineSplitter` and of `FrameDecoder`'s LF mode.
@inline(__always)
func firstLineEnd(in bytes: UnsafeRawBufferPointer, from: Int, to: Int, orNUL: Bool) -> Int? {
    let lf = UInt8(ascii: "\n")
    var i = from
    if let base = bytes.baseAddress {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let lfs: UInt64 = ones &* UInt64(lf)
        while i &+ 8 <= to {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let x = word ^ lfs
            // The lowest set high bit marks the first zero byte of `x` (a LF in `word`) or of `word`
            // (a NUL); bits above it may be set by the borrow, never one below it.
            var found = (x &- ones) & ~x
            if orNUL { found |= (word &- ones) & ~word }
            found &= 0x8080_8080_8080_8080
            if found != 0 { return i &+ found.trailingZeroBitCount &>> 3 }
            i &+= 8
        }
    }
    while i < to {
        let byte = bytes[i]
        if byte == lf || orNUL && byte == 0 { return i }
        i += 1
    }
    return nil
}
