/// Lines one ingest loop of `vigil serve` read for hosts whose store another loop keeps
/// (docs/architecture.md, "The store, divided by host"): each line's bytes copied out of the
/// listener's buffer, back to back, with its host, its receive day and whether it may be dropped.
///
/// Like `CopiedBatch`, a batch is emptied and used again, so filling one allocates nothing once
/// its arrays have grown.
public struct HandedLines: Sendable {
    /// One line: its bytes end at `end` in `bytes` and start where the previous line ended.
    public struct Line: Sendable {
        /// The host whose file it goes to.
        public let host: HostID
        /// Days since the epoch (the receive day), the day file it goes to.
        public let day: Int64
        /// Where its bytes end in `bytes`.
        public let end: Int
        /// A datagram's line, which the store may refuse past its memory bound.
        public let droppable: Bool
    }

    /// Lines in a full batch.
    public static let lineCapacity = 512
    /// Bytes in a full batch (a longer single line still fits: the array grows for it).
    public static let byteCapacity = 256 << 10

    /// Every line's bytes, back to back.
    public private(set) var bytes: [UInt8] = []
    /// The lines, in the order they were appended.
    public private(set) var lines: [Line] = []

    /// An empty batch (its storage grows with its first use).
    public init() {}

    /// Whether it holds no line.
    public var isEmpty: Bool { lines.isEmpty }
    /// Whether it should be handed over before another line is added.
    public var isFull: Bool { lines.count >= Self.lineCapacity || bytes.count >= Self.byteCapacity }

    /// Copies in `line` of `host`, received on `day`.
    public mutating func append(_ line: UnsafeRawBufferPointer, host: HostID, day: Int64, droppable: Bool) {
        bytes.append(contentsOf: line)
        lines.append(Line(host: host, day: day, end: bytes.count, droppable: droppable))
    }

    /// Calls `body` with each line, in the order they were appended.
    public func forEach(_ body: (Line, UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBytes { all in
            var start = 0
            for line in lines {
                body(line, UnsafeRawBufferPointer(rebasing: all[start..<line.end]))
                start = line.end
            }
        }
    }

    /// Empties it, keeping its storage unless one long line grew it past twice a full batch
    /// (as `CopiedBatch.removeAll`, so spare batches do not each keep the longest line seen).
    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: bytes.capacity <= 2 * Self.byteCapacity)
        lines.removeAll(keepingCapacity: true)
    }
}
