/// One ssh login session on one host, from authentication (or the PAM `session
/// opened` line) to its end.
public struct SSHSession: Sendable, Equatable {
    public var host: HostID
    /// The sshd monitor PID that logged `Accepted` and the PAM session lines.
    public var pid: Int32
    public var ip: IPAddress?
    public var port: UInt16
    /// When the PAM session opened, or when the login was accepted if PAM logged no session.
    public var start: Timestamp
    /// When it ended; nil while it is open.
    public var end: Timestamp?

    public init(host: HostID, pid: Int32, ip: IPAddress?, port: UInt16, start: Timestamp, end: Timestamp? = nil) {
        self.host = host; self.pid = pid; self.ip = ip; self.port = port; self.start = start; self.end = end
    }

    /// Length of an ended session in microseconds; nil while open.
    public var durationMicroseconds: Int64? { end.map { $0.microseconds - start.microseconds } }
}

/// What `SSHConnectionTracker.track` made of one line.
public struct SSHTrackResult: Sendable, Equatable {
    /// The line's event with its address filled in from the connection; nil when the
    /// line is no event, is held (an IP-less probe whose connection is not known yet),
    /// or repeats the end of a session already reported.
    public var event: SSHEvent?
    /// Earlier IP-less probes of this connection that this line's address resolved,
    /// as one probe event whose `count` says how many.
    public var joined: SSHEvent?
    /// On a session opening: the session; on a session end: the session with `end` set.
    public var session: SSHSession?

    public init(event: SSHEvent? = nil, joined: SSHEvent? = nil, session: SSHSession? = nil) {
        self.event = event; self.joined = joined; self.session = session
    }
}

/// Joins sshd lines that belong to one connection, by host and sshd PID.
///
/// One attempt with an unknown user name is logged twice — `Invalid user U from IP port N` when
/// the name arrives, then `Failed password for invalid user U …` — and is counted once: the
/// first such failure after a counted `Invalid user` on the same connection is not an event.
///
/// sshd writes some lines without an address (`kex_exchange_identification`,
/// `[preauth]` noise, PAM session lines); the tracker fills the address in from
/// the connection's other lines, holding an IP-less probe until the address
/// arrives. It pairs a login's `Accepted` / `session opened` with its end to give
/// durations. In OpenSSH 9.x the monitor process logs `Accepted`, `session opened`
/// and `session closed` under one PID, while the unprivileged child logs
/// `Disconnected from user U IP port N` under another PID slightly earlier, so
/// sessions are keyed by (host, monitor PID) and that child line is matched by
/// (host, address, port); whichever end arrives first closes the session and the
/// other is swallowed.
///
/// Pure: time is passed in. State is bounded by `capacity`; pre-auth state idles
/// out after `connectionTimeoutSeconds`, open sessions after `sessionTimeoutSeconds`.
public struct SSHConnectionTracker: Sendable {
    private struct ConnKey: Hashable, Sendable { var host: HostID; var pid: Int32 }
    private struct AddrKey: Hashable, Sendable { var host: HostID; var ip: IPAddress; var port: UInt16 }

    private struct Conn: Sendable {
        var ip: IPAddress?
        var port: UInt16 = 0
        var lastSeen: Timestamp
        /// IP-less probes waiting for the connection's address.
        var held = 0
        /// Set by `Accepted`; the key under which `byAddress` finds this connection.
        var accepted: AddrKey?
        var acceptedAt: Timestamp?
        var sessionStart: Timestamp?
        /// The session's end was already reported (by `Disconnected from user`).
        var ended = false
        /// `Invalid user U` was counted and no `Failed … for invalid user U` has followed yet:
        /// that first failure is the same attempt, not another one.
        var invalidUserCounted = false

        var inSession: Bool { accepted != nil && !ended }
    }

    private var conns: [ConnKey: Conn] = [:]
    private var byAddress: [AddrKey: Int32] = [:]

    /// Most connections (with or without a session) kept at once.
    public let capacity: Int
    /// How long a connection that is not in a session is remembered after its last line.
    public let connectionTimeoutSeconds: Int64
    /// How long an open session is remembered after its last line.
    public let sessionTimeoutSeconds: Int64
    /// Connections dropped because `capacity` was reached (a metric).
    public private(set) var evictions = 0

    public init(capacity: Int = 65_536, connectionTimeoutSeconds: Int64 = 600, sessionTimeoutSeconds: Int64 = 7 * 86_400) {
        self.capacity = max(1, capacity)
        self.connectionTimeoutSeconds = connectionTimeoutSeconds
        self.sessionTimeoutSeconds = sessionTimeoutSeconds
    }

    /// How many connections are remembered now.
    public var count: Int { conns.count }

    /// Joins one extracted line, logged on `host` at `now`, to its connection.
    public mutating func track(_ line: SSHLine, host: HostID, at now: Timestamp) -> SSHTrackResult {
        var result = SSHTrackResult(event: line.event)
        if line.message == .userDisconnected {
            // Logged by the child under its own PID: find the session by address.
            if let ip = line.ip, let pid = byAddress[AddrKey(host: host, ip: ip, port: line.port)],
               var c = conns[ConnKey(host: host, pid: pid)] {
                if c.inSession {
                    c.ended = true
                    c.lastSeen = now
                    conns[ConnKey(host: host, pid: pid)] = c
                    result.session = session(of: c, host: host, pid: pid, end: now)
                    // Report the end under the session's (monitor) PID, the one its opening carried,
                    // so whoever pairs opens and closes by PID sees this session end.
                    result.event?.pid = pid
                } else {
                    result.event = nil  // the monitor's `session closed` already ended it
                }
            }
            return result
        }

        let key = ConnKey(host: host, pid: line.pid)
        var c: Conn
        if let known = conns[key], !isStale(known, now) {
            c = known
        } else {
            if let old = conns[key] { remove(key, old) }
            makeRoom(now)
            c = Conn(lastSeen: now)
        }
        c.lastSeen = now

        if let ip = line.ip {
            if !c.inSession { c.ip = ip; c.port = line.port }
            if c.held > 0 {
                result.joined = SSHEvent(kind: .probe, ip: ip, port: line.port, pid: line.pid, count: c.held)
                c.held = 0
            }
        } else if c.ip != nil {
            result.event?.ip = c.ip
            result.event?.port = c.port
        } else if line.kind == .probe {
            c.held += line.count
            result.event = nil
        }

        if line.message == .invalidUser && result.event != nil {
            c.invalidUserCounted = true
        } else if line.invalidUser && line.kind == .authFailure && c.invalidUserCounted {
            c.invalidUserCounted = false
            result.event = nil
        }

        switch line.message {
        case .accepted:
            if let ip = line.ip {
                if let old = c.accepted { byAddress[old] = nil }
                let a = AddrKey(host: host, ip: ip, port: line.port)
                c.accepted = a
                c.acceptedAt = now
                c.sessionStart = nil
                c.ended = false
                byAddress[a] = line.pid
            }
        case .sessionOpened:
            if c.sessionStart == nil { c.sessionStart = now }
            result.session = session(of: c, host: host, pid: line.pid, end: nil)
        case .sessionClosed:
            if c.ended {
                result.event = nil  // the child's `Disconnected from user` already ended it
                remove(key, c)
                return result
            }
            if c.accepted != nil || c.sessionStart != nil {
                result.session = session(of: c, host: host, pid: line.pid, end: now)
            }
            if c.accepted == nil {
                remove(key, c)
                return result
            }
            // Keep a marker so the child's `Disconnected from user` (found by address) is
            // recognised as the same end; forget the address so a reused PID starts clean.
            c.ended = true
            c.ip = nil
            c.port = 0
            c.held = 0
        default:
            break
        }
        conns[key] = c
        return result
    }

    /// Forgets connections idle past their timeout (held probes are dropped unresolved).
    public mutating func expire(now: Timestamp) {
        for (key, c) in conns where isStale(c, now) { remove(key, c) }
    }

    private func isStale(_ c: Conn, _ now: Timestamp) -> Bool {
        let limit = c.inSession ? sessionTimeoutSeconds : connectionTimeoutSeconds
        return now.microseconds - c.lastSeen.microseconds > limit * 1_000_000
    }

    private func session(of c: Conn, host: HostID, pid: Int32, end: Timestamp?) -> SSHSession {
        SSHSession(host: host, pid: pid, ip: c.ip, port: c.port, start: c.sessionStart ?? c.acceptedAt ?? end ?? c.lastSeen, end: end)
    }

    private mutating func remove(_ key: ConnKey, _ c: Conn) {
        conns[key] = nil
        if let a = c.accepted, byAddress[a] == key.pid { byAddress[a] = nil }
    }

    /// Before adding a connection at capacity: drop idle ones, then the least recently
    /// seen quarter (counted in `evictions`).
    private mutating func makeRoom(_ now: Timestamp) {
        if conns.count < capacity { return }
        expire(now: now)
        if conns.count < capacity { return }
        var seen = conns.values.map(\.lastSeen.microseconds)
        seen.sort()
        let cutoff = seen[min(seen.count - 1, max(0, seen.count / 4))]
        for (key, c) in conns where c.lastSeen.microseconds < cutoff || (conns.count >= capacity && c.lastSeen.microseconds == cutoff) {
            remove(key, c)
            evictions += 1
        }
    }
}
