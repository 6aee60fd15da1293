/// What the ingest thread hands to an analyzer on a thread of its own (docs/architecture.md,
/// "Threads"): parsed messages, relayed events and clock ticks, in arrival order, their bytes
/// copied out of the buffers the listeners reuse.
///
/// Bytes sit back to back in one array and entries name them by offset, so filling a batch
/// copies each frame once and allocates nothing once the arrays have grown (a batch is emptied
/// and used again, keeping its storage). `Analyzer.analyze(_:scratch:)` makes exactly the calls the ingest thread would
/// have made itself, in the same order, so alerts do not depend on where the analyzer runs.
public struct CopiedBatch: Sendable {
    /// One thing to analyze, in arrival order.
    public enum Entry: Sendable {
        /// A parsed message: its frame is `bytes[start..<start + count]`, which `fields` index from 0.
        case message(start: Int, count: Int, fields: SyslogFields, host: HostID, received: Timestamp)
        /// An authenticated relay event of `host` (`Analyzer.acceptRelayed`); its textual ranges
        /// index `bytes[start..<start + count]` from 0.
        case relayed(start: Int, count: Int, event: RelayEvent, host: HostID, received: Timestamp)
        /// Detection time moves to `now` (`Analyzer.advance`).
        case advance(Timestamp)
    }

    /// Entries in a full batch: enough that handing a batch over costs little per message.
    public static let entryCapacity = 512
    /// Bytes in a full batch (a longer single frame still fits: the array grows for it).
    public static let byteCapacity = 256 << 10

    public private(set) var bytes: [UInt8] = []
    public private(set) var entries: [Entry] = []

    /// An empty batch (its storage grows with its first use).
    public init() {}

    public var isEmpty: Bool { entries.isEmpty }
    /// Whether it is time to hand it over.
    public var isFull: Bool { entries.count >= Self.entryCapacity || bytes.count >= Self.byteCapacity }

    /// Copies in the message `frame`, parsed into `fields`, of `host`, received at `received`.
    public mutating func appendMessage(frame: UnsafeRawBufferPointer, fields: SyslogFields, host: HostID, received: Timestamp) {
        let start = bytes.count
        bytes.append(contentsOf: frame)
        entries.append(.message(start: start, count: frame.count, fields: fields, host: host, received: received))
    }

    /// Copies in a relayed event of `host` and `text`, the buffer its ranges point into.
    public mutating func appendRelayed(_ event: RelayEvent, text: UnsafeRawBufferPointer, host: HostID, received: Timestamp) {
        let start = bytes.count
        bytes.append(contentsOf: text)
        entries.append(.relayed(start: start, count: text.count, event: event, host: host, received: received))
    }

    /// Adds a clock tick.
    public mutating func appendAdvance(_ now: Timestamp) { entries.append(.advance(now)) }

    /// Empties it, keeping its storage, unless one long frame grew the bytes past twice a full
    /// batch: that storage is given back, so the batches that wait and the spares cannot each
    /// keep the largest message ever received (up to `server.max_message_bytes`, 16 MiB).
    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: bytes.capacity <= 2 * Self.byteCapacity)
        entries.removeAll(keepingCapacity: true)
    }
}

extension Analyzer {
    /// Analyzes a copied batch in order: messages through `analyze(_:each:)` in groups of up to
    /// `Batch.capacity` (`scratch` is that batch, kept by the caller so its storage is reused),
    /// relayed events through `acceptRelayed`, ticks through `advance`.
    public mutating func analyze(_ copied: CopiedBatch, scratch: inout Batch) {
        copied.bytes.withUnsafeBytes { all in
            for entry in copied.entries {
                switch entry {
                case .message(let start, let count, let fields, let host, let received):
                    let frame = UnsafeRawBufferPointer(rebasing: all[start..<start + count])
                    scratch.append(frame: frame, fields: fields, host: host, receivedAt: received)
                    if scratch.isFull { analyze(&scratch) }
                case .relayed(let start, let count, let event, let host, let received):
                    if !scratch.isEmpty { analyze(&scratch) }
                    acceptRelayed(event, text: UnsafeRawBufferPointer(rebasing: all[start..<start + count]), host: host,
                                  receivedAt: received)
                case .advance(let now):
                    if !scratch.isEmpty { analyze(&scratch) }
                    advance(now: now)
                }
            }
            if !scratch.isEmpty { analyze(&scratch) }
        }
    }
}
