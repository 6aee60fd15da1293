import VigilCore

/// A block of ready-to-send syslog frames in one contiguous buffer, sent over and over
/// by one connection so that building messages never slows the sender down.
struct FrameBlock {
    /// All frames back to back, framing included.
    var bytes: [UInt8]
    /// End offset (exclusive) of each frame in `bytes`.
    var ends: [Int]

    /// Number of bytes taken by the first `frames` frames.
    func length(ofFirst frames: Int) -> Int { frames == 0 ? 0 : ends[frames - 1] }
}

/// How each message is wrapped in the block.
enum FrameKind {
    /// RFC 6587 octet-counting: `LEN SP MSG`.
    case octetCounted
    /// Non-transparent framing: `MSG LF`.
    case lineFeed
    /// Bare message, one per UDP datagram.
    case datagram
}

/// Number of distinct `bench-host-NN` names the generated messages rotate through; also the
/// default number of `web-NN` hosts of the realistic frames (`TrafficBlock`).
let benchHostCount = 16

/// Builds `frames` RFC 5424 messages of exactly `size` bytes each (framing excluded, as long
/// as `size` leaves room for the header): `<134>1 TIMESTAMP bench-host-NN bench CONN - - seq=N xxxx…`.
/// Hosts rotate through `bench-host-01…16`, starting at an offset that depends on `connection`.
func buildFrameBlock(frames: Int, size: Int, kind: FrameKind, connection: Int, timestamp: Timestamp) -> FrameBlock {
    var stamp: [UInt8] = []
    timestamp.appendRFC3339(to: &stamp, fractionalDigits: 6)
    var bytes: [UInt8] = []
    bytes.reserveCapacity(frames * (size + 8))
    var ends: [Int] = []
    ends.reserveCapacity(frames)
    var message: [UInt8] = []
    message.reserveCapacity(size + 64)
    let filler = Array("abcdefghijklmnopqrstuvwxyz".utf8)
    for i in 0..<frames {
        message.removeAll(keepingCapacity: true)
        message.append(contentsOf: "<134>1 ".utf8)
        message.append(contentsOf: stamp)
        message.append(contentsOf: " bench-host-".utf8)
        appendDigits((connection + i) % benchHostCount + 1, width: 2, to: &message)
        message.append(contentsOf: " bench ".utf8)
        appendDigits(connection, width: 4, to: &message)
        message.append(contentsOf: " - - seq=".utf8)
        appendDigits(i, width: 10, to: &message)
        message.append(UInt8(ascii: " "))
        var f = i
        while message.count < size {
            message.append(filler[f % filler.count])
            f += 1
        }
        switch kind {
        case .octetCounted:
            appendDigits(message.count, width: 0, to: &bytes)
            bytes.append(UInt8(ascii: " "))
            bytes.append(contentsOf: message)
        case .lineFeed:
            bytes.append(contentsOf: message)
            bytes.append(UInt8(ascii: "\n"))
        case .datagram:
            bytes.append(contentsOf: message)
        }
        ends.append(bytes.count)
    }
    return FrameBlock(bytes: bytes, ends: ends)
}
