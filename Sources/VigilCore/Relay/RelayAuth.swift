/// Why a relay key file cannot be used.
public struct RelayKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The secret that edges sign relay messages with and centrals check them against
/// (docs/relay.md): the bytes of the key file without trailing whitespace, at least
/// `minimumBytes` of them (`openssl rand -hex 32` makes a good one). Only its HMAC state is kept.
public struct RelayKey: Sendable {
    /// The shortest key accepted.
    public static let minimumBytes = 32
    let hmac: HMACSHA256

    /// The key a key file holds; fails when it is shorter than `minimumBytes`.
    public init(fileContents: [UInt8]) throws(RelayKeyError) {
        var end = fileContents.count
        while end > 0, [0x20, 0x09, 0x0A, 0x0D].contains(fileContents[end - 1]) { end -= 1 }
        guard end >= Self.minimumBytes else {
            throw RelayKeyError("the key is \(end) bytes; at least \(Self.minimumBytes) are needed (make one with `openssl rand -hex 32`)")
        }
        hmac = HMACSHA256(key: Array(fileContents[0..<end]))
    }

    /// The MAC of `bytes`.
    func authenticationCode(for bytes: UnsafeRawBufferPointer) -> SHA256Digest { hmac.authenticationCode(for: bytes) }
}

/// Seals the relay messages of one edge run: appends the edge's name, the run's boot number and
/// the next sequence number to the event element, then the HMAC-SHA256 of the element so far
/// (`mac`, the last parameter), and closes it. A central accepts each (edge, boot, sequence) once
/// and in increasing order (`RelayReplayGuard`): `boot` must grow from one run of the edge to the
/// next (the daemon keeps the last one on disk).
public struct RelaySigner: Sendable {
    /// The longest edge name.
    public static let maxEdgeBytes = 64
    /// The name the central tells this edge's messages apart by.
    public let edge: String
    /// This run's boot number.
    public let boot: UInt64
    /// The sequence number the next message gets.
    public private(set) var nextSequence: UInt64 = 1
    private let key: RelayKey

    /// A signer for the run `boot` of the edge called `edge` (see `isValidEdgeName`), whose next
    /// message gets `firstSequence`.
    public init(key: RelayKey, edge: String, boot: UInt64, firstSequence: UInt64 = 1) {
        precondition(Self.isValidEdgeName(edge), "invalid edge name")
        self.key = key
        self.edge = edge
        self.boot = boot
        nextSequence = max(1, firstSequence)
    }

    /// 1…64 bytes of ASCII letters, digits and `.`, `-`, `_`, `:` (a host name fits).
    public static func isValidEdgeName(_ name: String) -> Bool {
        var copy = name
        return copy.withUTF8 { isValidEdgeName(UnsafeRawBufferPointer($0)) }
    }

    /// `isValidEdgeName` over bytes.
    public static func isValidEdgeName(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty, bytes.count <= maxEdgeBytes else { return false }
        return bytes.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == 0x2E || c == 0x2D || c == 0x5F || c == 0x3A
        }
    }

    /// Closes the element that starts (at its `[`) at `elementStart` in `out`: ` edge=… boot=… seq=…`,
    /// then ` mac="…"` over every byte of the element before it, then `]`.
    public mutating func seal(_ out: inout [UInt8], elementStart: Int) {
        RelayMessage.appendParam("edge", edge, to: &out)
        RelayMessage.appendNumberParam("boot", boot, to: &out)
        RelayMessage.appendNumberParam("seq", nextSequence, to: &out)
        nextSequence += 1
        let mac = out.withUnsafeBytes { key.authenticationCode(for: UnsafeRawBufferPointer(rebasing: $0[elementStart...])) }
        out.append(contentsOf: #" mac=""#.utf8)
        mac.appendHex(to: &out)
        out.append(contentsOf: #""]"#.utf8)
    }
}

/// What the central remembers of each edge so that a captured relay message is accepted at most
/// once: the newest (boot, sequence) accepted from it. A message is taken only when its pair is
/// greater — a new run of the edge, or the next messages of the current one; a replay, or a
/// message older than one already taken, is refused. Kept for at most `maxEdges` edges (an edge
/// needs the key to be remembered at all); saved to disk by the daemon (`savedText`), so a
/// restart of the central does not reopen the door.
public struct RelayReplayGuard: Sendable {
    /// Edges remembered at most; a message from a further edge is refused.
    public static let maxEdges = 10_000

    /// What `admit` decided.
    public enum Admission: Sendable, Equatable {
        case accepted
        /// Not newer than what this edge already sent.
        case replayed
        /// From an edge beyond `maxEdges`.
        case tooManyEdges
    }

    private var latest: [String: Position] = [:]
    /// The last edge admitted, so a run of messages from one edge costs no hashing or allocation.
    private var lastName: [UInt8] = []
    private var lastPosition = Position(boot: 0, sequence: 0)

    private struct Position: Comparable, Sendable {
        var boot: UInt64
        var sequence: UInt64
        static func < (a: Position, b: Position) -> Bool { a.boot != b.boot ? a.boot < b.boot : a.sequence < b.sequence }
    }

    /// Edges remembered.
    public var count: Int { latest.count }

    /// An empty guard.
    public init() {}

    /// A guard holding what `savedText` lists (`EDGE BOOT SEQ` lines); unreadable lines are skipped.
    public init(savedText: String) {
        for line in savedText.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 3, let boot = UInt64(parts[1]), let seq = UInt64(parts[2]),
                  RelaySigner.isValidEdgeName(String(parts[0])), latest.count < Self.maxEdges else { continue }
            latest[String(parts[0])] = Position(boot: boot, sequence: seq)
        }
    }

    /// Takes the message numbered `sequence` of run `boot` of `edge` if it is newer than anything
    /// that edge sent before.
    public mutating func admit(edge: UnsafeRawBufferPointer, boot: UInt64, sequence: UInt64) -> Admission {
        let position = Position(boot: boot, sequence: sequence)
        if !lastName.isEmpty && lastName.withUnsafeBytes({ $0.elementsEqual(edge) }) {
            guard lastPosition < position else { return .replayed }
            lastPosition = position
            return .accepted
        }
        let name = String(decoding: edge, as: UTF8.self)
        if let known = latest[name] {
            guard known < position else { return .replayed }
        } else if latest.count >= Self.maxEdges {
            return .tooManyEdges
        }
        rememberLast()
        latest[name] = position
        lastName = Array(edge)
        lastPosition = position
        return .accepted
    }

    /// Writes the last edge's position (kept aside while its messages come in a run) back to `latest`.
    private mutating func rememberLast() {
        if !lastName.isEmpty { latest[String(decoding: lastName, as: UTF8.self)] = lastPosition }
    }

    /// `EDGE BOOT SEQ` per remembered edge, sorted by name: what `init(savedText:)` reads.
    public var savedText: String {
        var all = self
        all.rememberLast()
        return all.latest.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.boot) \($0.value.sequence)\n" }.joined()
    }
}
