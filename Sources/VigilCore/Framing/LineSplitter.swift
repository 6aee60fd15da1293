/// Splits a byte stream into LF-terminated lines (a CR before the LF is dropped), for plain
/// log files where a leading digit is just data, never an octet count.
///
/// Lines wholly inside the bytes fed are passed as slices of them (zero copy); only a partial
/// tail is kept. A line longer than `maxLineBytes` is delivered cut to that length with
/// `truncated` set, and the rest of it is skipped up to the next LF.
public struct LineSplitter: Sendable {
    public let maxLineBytes: Int
    private var pending: [UInt8] = []
    /// Skipping the remainder of an over-long line until its LF.
    private var discarding = false

    public init(maxLineBytes: Int = 65_536) {
        self.maxLineBytes = max(1, maxLineBytes)
    }

    /// Bytes held for an unfinished line.
    public var pendingCount: Int { pending.count }

    /// Feeds bytes; calls `onLine(line, truncated)` for each complete line, in order.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, onLine: (UnsafeRawBufferPointer, Bool) -> Void) {
        var start = 0
        let count = bytes.count
        while start < count {
            guard let lf = Self.indexOfLF(bytes, from: start) else {
                absorbTail(UnsafeRawBufferPointer(rebasing: bytes[start..<count]), onLine: onLine)
                return
            }
            if discarding {
                discarding = false
            } else if pending.isEmpty {
                emit(UnsafeRawBufferPointer(rebasing: bytes[start..<lf]), truncated: false, onLine: onLine)
            } else {
                let room = maxLineBytes - pending.count
                let take = min(room, lf - start)
                pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<(start + take)]))
                let truncated = lf - start > room
                pending.withUnsafeBytes { emit($0, truncated: truncated, onLine: onLine) }
                pending.removeAll(keepingCapacity: true)
            }
            start = lf + 1
        }
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
        var end = line.count
        if end > 0 && line[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        if end > maxLineBytes { onLine(UnsafeRawBufferPointer(rebasing: line[0..<maxLineBytes]), true); return }
        onLine(UnsafeRawBufferPointer(rebasing: line[0..<end]), truncated)
    }

    @inline(__always)
    static func indexOfLF(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var i = start
        let n = bytes.count
        while i < n {
            if bytes[i] == UInt8(ascii: "\n") { return i }
            i += 1
        }
        return nil
    }
}
