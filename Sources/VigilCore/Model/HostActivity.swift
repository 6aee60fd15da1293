/// What the API tells about each host since the start (docs/api.md, `/hosts` and
/// `/hosts/{host}/files`): messages, when the last arrived, sshd failures, HTTP requests, and
/// the programs (APP-NAME, or the RFC 3164 tag) it logged. Indexed by `HostID`; filled on the
/// ingest path, so recording a message is an array index and, usually, one comparison with the
/// program the host logged last.
public struct HostActivity: Sendable {
    /// One host's counts.
    public struct Entry: Sendable {
        public var messages: UInt64 = 0
        public var lastSeen: Timestamp?
        public var sshFailures: UInt64 = 0
        public var httpHits: UInt64 = 0
        /// The programs seen, at most `maxProgramsPerHost`, in the order first seen.
        public var programs: [[UInt8]] = []
        /// Programs not kept because the list was full.
        public var programsDropped: UInt64 = 0
        fileprivate var lastProgram = -1
    }

    /// A sender choosing APP-NAMEs cannot grow a host's list without bound.
    public static let maxProgramsPerHost = 64
    public private(set) var entries: [Entry] = []

    public init() {}

    public func entry(_ host: HostID) -> Entry? {
        let i = Int(host.rawValue)
        return i < entries.count ? entries[i] : nil
    }

    /// One message of `host` received at `time`, logged by `program` (empty: none named).
    public mutating func recordMessage(host: HostID, program: UnsafeRawBufferPointer, at time: Timestamp) {
        let i = index(host)
        entries[i].messages &+= 1
        entries[i].lastSeen = time
        guard !program.isEmpty else { return }
        let last = entries[i].lastProgram
        if last >= 0, entries[i].programs[last].withUnsafeBytes({ $0.elementsEqual(program) }) { return }
        if let known = entries[i].programs.firstIndex(where: { $0.withUnsafeBytes { $0.elementsEqual(program) } }) {
            entries[i].lastProgram = known
        } else if entries[i].programs.count < Self.maxProgramsPerHost {
            entries[i].programs.append(Array(program))
            entries[i].lastProgram = entries[i].programs.count - 1
        } else {
            entries[i].programsDropped &+= 1
        }
    }

    /// What the analyzer made of one message of `host`.
    public mutating func record(_ observation: Analyzer.Observation, host: HostID) {
        switch observation {
        case .ssh(let result, _):
            let failures = [result.event, result.joined].reduce(0) { sum, event in
                guard let event, event.kind.isLoginFailure else { return sum }
                return sum + event.count
            }
            if failures > 0 { entries[index(host)].sshFailures &+= UInt64(failures) }
        case .http:
            entries[index(host)].httpHits &+= 1
        case .none, .sessionSummary:
            break
        }
    }

    private mutating func index(_ host: HostID) -> Int {
        let i = Int(host.rawValue)
        if i >= entries.count { entries.append(contentsOf: repeatElement(Entry(), count: i + 1 - entries.count)) }
        return i
    }
}
