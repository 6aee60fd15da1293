/// What the API tells about each host since the start (docs/api.md, `/hosts` and
/// `/hosts/{host}/files`): how many messages, when the last arrived, and the programs (APP-NAME,
/// or the RFC 3164 tag) it logged. Indexed by `HostID`, filled on the ingest path: recording a
/// message is two stores and, for a program name of up to 7 bytes (`sshd`, `nginx`, `CRON`),
/// one 8-byte load compared with the host's last program (then with its other programs).
public struct HostActivity: Sendable {
    /// A sender choosing APP-NAMEs cannot grow a host's list without bound.
    public static let maxProgramsPerHost = 64

    /// The hot part of each host's record, in one array: one bounds check per message.
    private struct Counts {
        var messages: UInt64 = 0
        /// Microseconds since the epoch; `Int64.min`: never.
        var lastSeen: Int64 = .min
        /// The last program, as `packedName`, 0 when it was longer than 7 bytes or there was none.
        var lastProgram: UInt64 = 0
    }

    private var counts: [Counts] = []
    /// Each host's programs, and their keys (`packedName`, or `longNameKey` for the longer ones).
    private var programs: [[[UInt8]]] = []
    private var packedPrograms: [[UInt64]] = []
    private var programsDropped: [UInt64] = []

    public init() {}

    /// One host's counts.
    public struct Entry: Sendable, Equatable {
        public var messages: UInt64
        public var lastSeen: Timestamp?
        /// The programs seen, at most `maxProgramsPerHost`, in the order first seen.
        public var programs: [[UInt8]]
        /// Programs not kept because the list was full.
        public var programsDropped: UInt64
    }

    /// One host's entries as several ingest threads counted them, as one: messages summed, the
    /// latest last message, the programs of all (the first `maxProgramsPerHost`, in order; the
    /// rest counted as dropped); nil when none counted the host.
    public static func combined(_ entries: [Entry]) -> Entry? {
        guard var total = entries.first else { return nil }
        for other in entries.dropFirst() {
            total.messages &+= other.messages
            if let last = other.lastSeen, total.lastSeen.map({ last > $0 }) ?? true { total.lastSeen = last }
            total.programsDropped &+= other.programsDropped
            for program in other.programs where !total.programs.contains(program) {
                if total.programs.count < maxProgramsPerHost { total.programs.append(program) } else { total.programsDropped &+= 1 }
            }
        }
        return total
    }

    public func entry(_ host: HostID) -> Entry? {
        let i = Int(host.rawValue)
        guard i < counts.count else { return nil }
        let c = counts[i]
        return Entry(messages: c.messages, lastSeen: c.lastSeen == .min ? nil : Timestamp(microseconds: c.lastSeen),
                     programs: programs[i], programsDropped: programsDropped[i])
    }

    /// One message of `host` received at `time`, logged by the program named at `program` in
    /// `frame` (an empty range: none named).
    @inline(__always)
    public mutating func recordMessage(host: HostID, frame: UnsafeRawBufferPointer, program: Range<Int>, at time: Timestamp) {
        let i = Int(host.rawValue)
        if i >= counts.count { grow(to: i + 1) }
        let packed = Self.packedName(frame, program)
        // One uniqueness check for the three fields (the array is this struct's alone).
        let known = counts.withUnsafeMutableBufferPointer { c in
            c[i].messages &+= 1
            c[i].lastSeen = time.microseconds
            return packed != 0 && packed == c[i].lastProgram
        }
        if !known && !program.isEmpty { recordProgram(i, UnsafeRawBufferPointer(rebasing: frame[program]), packed) }
    }

    /// The name at `range` of `buffer`, up to 7 bytes, and its length, in one integer; 0 for an
    /// empty or longer name. One 8-byte load when the buffer goes on past the name's start.
    @inline(__always)
    static func packedName(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) -> UInt64 {
        let n = range.count
        guard n > 0, n <= 7 else { return 0 }
        var bytes: UInt64
        if range.lowerBound + 8 <= buffer.count {
            bytes = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: range.lowerBound, as: UInt64.self))
        } else {
            bytes = 0
            for k in 0..<n { bytes |= UInt64(buffer[range.lowerBound + k]) << (8 * UInt64(k)) }
        }
        return (bytes & ((1 << (8 * UInt64(n))) - 1)) | UInt64(n) << 56
    }

    /// A key for a name longer than 7 bytes: its first 7 bytes and its length, with the top bit
    /// set (so it never equals a `packedName`). It only narrows the search: names sharing it are
    /// then compared byte by byte.
    static func longNameKey(_ name: UnsafeRawBufferPointer) -> UInt64 {
        var key = (0x80 | UInt64(min(name.count, 127))) << 56
        for k in 0..<min(name.count, 7) { key |= UInt64(name[k]) << (8 * UInt64(k)) }
        return key
    }

    /// The slow path: a program other than the host's last one, or a long name. Candidates are
    /// found by their key (integer comparisons); a long name's bytes are compared only with the
    /// candidates whose key matches, so a sender cycling through 64 long names costs integer
    /// comparisons per message, not byte-by-byte ones.
    private mutating func recordProgram(_ i: Int, _ program: UnsafeRawBufferPointer, _ packed: UInt64) {
        counts[i].lastProgram = packed
        let key = packed != 0 ? packed : Self.longNameKey(program)
        let keys = packedPrograms[i]
        for k in keys.indices where keys[k] == key {
            if packed != 0 || programs[i][k].withUnsafeBytes({ $0.elementsEqual(program) }) { return }
        }
        if programs[i].count < Self.maxProgramsPerHost {
            programs[i].append(Array(program))
            packedPrograms[i].append(key)
        } else {
            programsDropped[i] &+= 1
        }
    }

    private mutating func grow(to count: Int) {
        let more = count - counts.count
        counts.append(contentsOf: repeatElement(Counts(), count: more))
        programs.append(contentsOf: repeatElement([], count: more))
        packedPrograms.append(contentsOf: repeatElement([], count: more))
        programsDropped.append(contentsOf: repeatElement(0, count: more))
    }
}
