/// What one sshd log line means, reduced to what detection needs.
///
/// Textual fields (`user`) are byte ranges into the text the extractor was
/// given, so extraction allocates nothing; callers that keep an event beyond
/// the message build a `String` from the range themselves.
public struct SSHEvent: Sendable, Equatable {
    /// The kinds of sshd event vigil tells apart (README, "What vigil recognises").
    public enum Kind: UInt8, Sendable, CaseIterable {
        case authFailure, invalidUser, authSuccess, sessionOpen, sessionClose, probe
    }

    public var kind: Kind
    /// Source address, taken only from where sshd writes it; nil on IP-less lines
    /// (to be joined to their connection by PID).
    public var ip: IPAddress?
    /// Source port; 0 when the line has none.
    public var port: UInt16
    /// The sshd process ID from the syslog PROCID / `sshd[PID]`; 0 when unknown.
    public var pid: Int32
    /// The user name as a range into the text; empty when the line names none.
    public var user: Range<Int>
    /// How many times this event happened (`message repeated N times: [ … ]` gives N).
    public var count: Int

    public init(kind: Kind, ip: IPAddress? = nil, port: UInt16 = 0, pid: Int32 = 0, user: Range<Int> = 0..<0, count: Int = 1) {
        self.kind = kind; self.ip = ip; self.port = port; self.pid = pid; self.user = user; self.count = count
    }
}

/// One finished ssh session from a summary line `IP : dd/mm/yy hh:mm - dd/mm/yy hh:mm`.
public struct SessionSummary: Sendable, Equatable {
    public var ip: IPAddress
    public var start: Timestamp
    public var end: Timestamp
    public init(ip: IPAddress, start: Timestamp, end: Timestamp) { self.ip = ip; self.start = start; self.end = end }
    public var durationSeconds: Int64 { (end.microseconds - start.microseconds) / 1_000_000 }
}

/// One HTTP request from an access-log line (CLF, Combined, or the CSV form).
///
/// Textual fields are byte ranges into the line the extractor was given.
public struct HTTPRequest: Sendable, Equatable {
    public var clientIP: IPAddress?
    /// The client field as written (a hostname when it is not an address).
    public var client: Range<Int>
    public var user: Range<Int>
    /// The request's own time; nil when unreadable.
    public var time: Timestamp?
    /// The request line as written, without its quotes (kept even when it is malformed).
    public var request: Range<Int>
    /// Empty when the request line has no `METHOD SP TARGET` shape.
    public var method: Range<Int>
    public var path: Range<Int>
    public var proto: Range<Int>
    /// The path up to its second `/` (`/pages/create` → `/pages`, `/` → `/`).
    public var section: Range<Int>
    public var status: UInt16
    /// Response size; 0 for `-`.
    public var bytes: Int64
    public var referer: Range<Int>
    public var userAgent: Range<Int>

    public init(clientIP: IPAddress? = nil, client: Range<Int> = 0..<0, user: Range<Int> = 0..<0, time: Timestamp? = nil,
                request: Range<Int> = 0..<0, method: Range<Int> = 0..<0, path: Range<Int> = 0..<0, proto: Range<Int> = 0..<0, section: Range<Int> = 0..<0,
                status: UInt16 = 0, bytes: Int64 = 0, referer: Range<Int> = 0..<0, userAgent: Range<Int> = 0..<0) {
        self.clientIP = clientIP; self.client = client; self.user = user; self.time = time; self.request = request
        self.method = method; self.path = path; self.proto = proto; self.section = section
        self.status = status; self.bytes = bytes; self.referer = referer; self.userAgent = userAgent
    }
}
