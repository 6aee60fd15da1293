/// Why a connection's byte stream can no longer be framed (the connection is then closed).
public enum FramingError: Error, Equatable, Sendable {
    /// An octet-counted frame's length is not 1 to 9 digits (no leading zero, not 0) followed by a space.
    case invalidOctetCount
    /// The stream ended inside an octet-counted frame (its length field or its counted bytes).
    case incompleteOctetFrame
}

/// Splits one TCP connection's byte stream into syslog frames (RFC 6587): the first byte of each frame
/// decides — a digit means octet-counting `LEN SP MSG`, anything else non-transparent framing ended by LF
/// (CRLF and NUL also end a frame).
///
/// Empty frames and LF, CR or NUL bytes between frames are skipped. A trailing CR before the LF of a
/// non-transparent frame, and a trailing LF (or CRLF) inside an octet-counted frame (rsyslog counts the LF of its
/// templates), are not part of the frame, so one message reads the same whichever framing its sender used.
///
/// A message longer than `maxMessageBytes` is delivered as its first `maxMessageBytes` bytes with
/// `truncated == true`; the rest is skipped without being buffered and the next frame is intact. The decoder's
/// own buffer never holds more than `maxMessageBytes` bytes, and every input byte is examined once.
public struct FrameDecoder: Sendable {
    /// Where the decoder is in the stream.
    private enum State: Equatable, Sendable {
        /// Between frames: skipping separators, waiting for a frame's first byte.
        case idle
        /// Reading an octet count: `value` so far and how many digits it had.
        case count(value: Int, digits: Int)
        /// Reading the counted bytes: `take` of them are delivered, `length - take` then discarded.
        case octets(length: Int, take: Int)
        /// Skipping what is left of an oversized octet-counted frame.
        case discardOctets(remaining: Int)
        /// Reading a non-transparent frame; `buffer` holds its bytes so far, none of them a terminator.
        case line
        /// Skipping the rest of an oversized non-transparent frame up to its terminator.
        case discardLine
        /// The stream cannot be framed any more.
        case failed(FramingError)
    }

    /// The longest message delivered whole; longer ones are truncated to this many bytes.
    public let maxMessageBytes: Int
    private var state: State = .idle
    /// The bytes of a frame that began in an earlier `feed` call.
    private var buffer: [UInt8] = []

    /// A buffer that grew past this many bytes is released after use instead of kept, so thousands of idle
    /// connections do not each pin the memory of their largest partial frame.
    private static let retainedCapacity = 16 * 1024

    /// Creates a decoder for one connection.
    public init(maxMessageBytes: Int = 65_536) {
        precondition(maxMessageBytes > 0, "maxMessageBytes must be positive")
        self.maxMessageBytes = maxMessageBytes
    }

    /// How many bytes of a partial frame the decoder holds (bounded by `maxMessageBytes`).
    public var bufferedByteCount: Int { buffer.count }

    /// Feeds bytes just read; calls `onFrame(frameBytes, truncated)` for each complete frame, in order.
    /// Frames wholly inside `bytes` are passed as slices of `bytes` (zero copy); only a partial tail is copied
    /// into the decoder's own buffer. Returns a FramingError when the stream cannot be framed any more; the
    /// decoder then ignores further bytes and returns the same error again.
    public mutating func feed(
        _ bytes: UnsafeRawBufferPointer, onFrame: (UnsafeRawBufferPointer, Bool) -> Void
    ) -> FramingError? {
        let end = bytes.count
        var pos = 0
        while pos < end {
            switch state {
            case .failed(let error):
                return error

            case .idle:
                let byte = bytes[pos]
                if byte == Self.lf || byte == Self.cr || byte == 0 {
                    pos += 1
                } else if byte >= Self.digit0 && byte <= Self.digit9 {
                    // A count may not start with 0: that is either the count 0 or a leading zero.
                    if byte == Self.digit0 { return fail(.invalidOctetCount) }
                    state = .count(value: Int(byte - Self.digit0), digits: 1)
                    pos += 1
                } else {
                    state = .line
                }

            case .count(let value, let digits):
                let byte = bytes[pos]
                pos += 1
                if byte == Self.space {
                    let take = min(value, maxMessageBytes)
                    state = .octets(length: value, take: take)
                } else if byte >= Self.digit0 && byte <= Self.digit9 && digits < 9 {
                    state = .count(value: value * 10 + Int(byte - Self.digit0), digits: digits + 1)
                } else {
                    return fail(.invalidOctetCount)
                }

            case .octets(let length, let take):
                let need = take - buffer.count
                if buffer.isEmpty && end - pos >= take {
                    emitOctetFrame(UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + take)]),
                                   truncated: length > take, onFrame)
                    pos += take
                } else if end - pos >= need {
                    buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + need)]))
                    pos += need
                    buffer.withUnsafeBytes { emitOctetFrame($0, truncated: length > take, onFrame) }
                    releaseBuffer()
                } else {
                    buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[pos..<end]))
                    pos = end
                    continue
                }
                state = length > take ? .discardOctets(remaining: length - take) : .idle

            case .discardOctets(let remaining):
                let skip = min(remaining, end - pos)
                pos += skip
                state = remaining == skip ? .idle : .discardOctets(remaining: remaining - skip)

            case .line:
                // Look at no more than one byte past the limit: enough to know the frame is too long.
                let limit = min(end, pos + (maxMessageBytes + 1 - buffer.count))
                if let stop = firstLineEnd(in: bytes, from: pos, to: limit, orNUL: true) {
                    if buffer.isEmpty {
                        emitLineFrame(UnsafeRawBufferPointer(rebasing: bytes[pos..<stop]), onFrame)
                    } else {
                        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[pos..<stop]))
                        buffer.withUnsafeBytes { emitLineFrame($0, onFrame) }
                        releaseBuffer()
                    }
                    pos = stop + 1
                    state = .idle
                } else if buffer.count + (limit - pos) > maxMessageBytes {
                    let keep = maxMessageBytes - buffer.count
                    if buffer.isEmpty {
                        onFrame(UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + keep)]), true)
                    } else {
                        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + keep)]))
                        buffer.withUnsafeBytes { onFrame($0, true) }
                        releaseBuffer()
                    }
                    // The byte after the kept ones was seen not to be a terminator.
                    pos = limit
                    state = .discardLine
                } else {
                    buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[pos..<end]))
                    pos = end
                }

            case .discardLine:
                if let stop = firstLineEnd(in: bytes, from: pos, to: end, orNUL: true) {
                    pos = stop + 1
                    state = .idle
                } else {
                    pos = end
                }
            }
        }
        if case .failed(let error) = state { return error }
        return nil
    }

    /// Cuts the frame being pieced together short (to free its memory): what the decoder holds of it
    /// is delivered with `truncated == true`, and the rest of that frame is skipped when it comes, so
    /// the next frame is intact. Returns whether there was anything to cut.
    @discardableResult
    public mutating func cut(onFrame: (UnsafeRawBufferPointer, Bool) -> Void) -> Bool {
        guard !buffer.isEmpty else { return false }
        switch state {
        case .line:
            buffer.withUnsafeBytes { onFrame($0, true) }
            state = .discardLine
        case .octets(let length, _):
            buffer.withUnsafeBytes { onFrame($0, true) }
            state = length > buffer.count ? .discardOctets(remaining: length - buffer.count) : .idle
        default:
            return false
        }
        buffer = []  // the point is the memory: give it all back
        return true
    }

    /// The capacity of the decoder's own buffer: the memory it holds.
    public var bufferCapacity: Int { buffer.capacity }

    /// End of stream: emits a final unterminated LF-framed message if any (not a partial octet-counted one; that
    /// is counted as a framing error via the return value). The decoder is then ready for a new stream.
    /// After a failure already returned by `feed`, emits nothing and returns nil.
    public mutating func finish(onFrame: (UnsafeRawBufferPointer, Bool) -> Void) -> FramingError? {
        defer {
            state = .idle
            releaseBuffer()
        }
        switch state {
        case .idle, .discardLine, .failed:
            return nil
        case .line:
            buffer.withUnsafeBytes { emitLineFrame($0, onFrame) }
            return nil
        case .count, .octets, .discardOctets:
            return .incompleteOctetFrame
        }
    }

    // MARK: - Helpers

    private static let lf = UInt8(ascii: "\n")
    private static let cr = UInt8(ascii: "\r")
    private static let space = UInt8(ascii: " ")
    private static let digit0 = UInt8(ascii: "0")
    private static let digit9 = UInt8(ascii: "9")

    private mutating func fail(_ error: FramingError) -> FramingError {
        state = .failed(error)
        releaseBuffer()
        return error
    }

    /// Empties the buffer, keeping its storage only when it is small.
    private mutating func releaseBuffer() {
        if buffer.capacity > Self.retainedCapacity {
            buffer = []
        } else {
            buffer.removeAll(keepingCapacity: true)
        }
    }

    /// Delivers a complete non-transparent frame without the CR of a CRLF ending; empty frames are skipped.
    private func emitLineFrame(_ frame: UnsafeRawBufferPointer, _ onFrame: (UnsafeRawBufferPointer, Bool) -> Void) {
        var count = frame.count
        if count > 0 && frame[count - 1] == Self.cr { count -= 1 }
        if count > 0 { onFrame(UnsafeRawBufferPointer(rebasing: frame[0..<count]), false) }
    }

    /// Delivers a counted frame without a trailing LF or CRLF (unless truncated, where the end is arbitrary).
    private func emitOctetFrame(
        _ frame: UnsafeRawBufferPointer, truncated: Bool, _ onFrame: (UnsafeRawBufferPointer, Bool) -> Void
    ) {
        var count = frame.count
        if !truncated && count > 0 && frame[count - 1] == Self.lf {
            count -= 1
            if count > 0 && frame[count - 1] == Self.cr { count -= 1 }
        }
        onFrame(UnsafeRawBufferPointer(rebasing: frame[0..<count]), truncated)
    }
}
