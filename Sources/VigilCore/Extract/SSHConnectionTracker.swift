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
/// Connections and accepted addresses live in seeded `SlotTable`s with their state in
/// arrays by slot: no `Hasher` per line, and `expire` scans one array of deadlines only
/// when the earliest of them has passed.
public struct SSHConnectionTracker: Sendable {
    /// Where an accepted session's child reports its end: host, client address and port.
    struct AddrKey: SlotKey, Sendable {
        var host: HostID
        var ip: IPAddress
        var port: UInt16

        @inline(__always)
        func slotHash(_ seed: UInt64) -> UInt64 {
            mixHash(ip.low, ip.high, seed &+ (UInt64(host.rawValue) << 16 | UInt64(port)))
        }
    }

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

    /// Connections by (host, PID); `state` and `deadlines` are indexed by their slots.
    private var conns: SlotTable<HostPID>
    /// Per slot, the connection; nil for a free slot.
    private var state: [Conn?] = []
    /// Per slot, the time (µs) after which the connection is stale; `Int64.max` for a free slot.
    private var deadlines: [Int64] = []
    /// No connection goes stale before this time (a lower bound; deadlines only move later).
    private var earliestDeadline = Int64.max
    /// Accepted sessions by (host, address, port); `sessionPIDs` is indexed by their slots.
    private var byAddress: SlotTable<AddrKey>
    /// Per `byAddress` slot, the PID of the connection that accepted it.
    private var sessionPIDs: [Int32] = []
    private let connectionLimit: Int64
    private let sessionLimit: Int64

    /// Most connections (with or without a session) kept at once.
    public let capacity: Int
    /// How long a connection that is not in a session is remembered after its last line.
    public let connectionTimeoutSeconds: Int64
    /// How long an open session is remembered after its last line.
    public let sessionTimeoutSeconds: Int64
    /// Connections dropped because `capacity` was reached (a metric).
    public private(set) var evictions = 0

    /// A tracker of at most `capacity` connections with the given idle timeouts; `hashSeed`
    /// seeds the hashing of its tables (a daemon passes a random one so that senders cannot
    /// choose PIDs and addresses that all land in one probe run).
    public init(capacity: Int = 65_536, connectionTimeoutSeconds: Int64 = 600, sessionTimeoutSeconds: Int64 = 7 * 86_400,
                hashSeed: UInt64 = 0) {
        self.capacity = max(1, capacity)
        self.connectionTimeoutSeconds = connectionTimeoutSeconds
        self.sessionTimeoutSeconds = sessionTimeoutSeconds
        connectionLimit = Self.microseconds(connectionTimeoutSeconds)
        sessionLimit = Self.microseconds(sessionTimeoutSeconds)
        conns = SlotTable(capacity: self.capacity, seed: hashSeed)
        byAddress = SlotTable(capacity: self.capacity, seed: hashSeed &+ 1)
    }

    /// `seconds` in microseconds, saturating.
    private static func microseconds(_ seconds: Int64) -> Int64 {
        let (v, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        return overflow ? (seconds < 0 ? .min : .max) : v
    }

    /// How many connections are remembered now.
    public var count: Int { conns.count }

    /// Starts loading where `track` will look for the connection of `pid` on `host` (a hint:
    /// changes nothing).
    @inline(__always)
    public func prefetch(host: HostID, pid: Int32) {
        conns.prefetch(HostPID(host: host, pid: pid))
    }

    /// Joins one extracted line, logged on `host` at `now`, to its connection.
    public mutating func track(_ line: SSHLine, host: HostID, at now: Timestamp) -> SSHTrackResult {
        var result = SSHTrackResult(event: line.event)
        if line.message == .userDisconnected {
            // Logged by the child under its own PID: find the session by address.
            if let ip = line.ip, let a = byAddress.slot(of: AddrKey(host: host, ip: ip, port: line.port)) {
                let pid = sessionPIDs[Int(a)]
                if let s = conns.slot(of: HostPID(host: host, pid: pid)), var c = state[Int(s)] {
                    if c.inSession {
                        c.ended = true
                        c.lastSeen = now
                        put(c, at: s)
                        result.session = session(of: c, host: host, pid: pid, end: now)
                        // Report the end under the session's (monitor) PID, the one its opening carried,
                        // so whoever pairs opens and closes by PID sees this session end.
                        result.event?.pid = pid
                    } else {
                        result.event = nil  // the monitor's `session closed` already ended it
                    }
                }
            }
            return result
        }

        let key = HostPID(host: host, pid: line.pid)
        var slot = conns.slot(of: key)
        var c: Conn
        if let s = slot, let known = state[Int(s)], !isStale(s, now) {
            c = known
        } else {
            if let s = slot {
                remove(s)
                slot = nil
            }
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
                if let old = c.accepted, let b = byAddress.slot(of: old) { byAddress.remove(slot: b) }
                let a = AddrKey(host: host, ip: ip, port: line.port)
                c.accepted = a
                c.acceptedAt = now
                c.sessionStart = nil
                c.ended = false
                let b = Int(byAddress.touch(a).slot)
                if b >= sessionPIDs.count {
                    sessionPIDs.reserveOnce(byAddress.capacity)
                    sessionPIDs.append(contentsOf: repeatElement(0, count: b + 1 - sessionPIDs.count))
                }
                sessionPIDs[b] = line.pid
            }
        case .sessionOpened:
            if c.sessionStart == nil { c.sessionStart = now }
            result.session = session(of: c, host: host, pid: line.pid, end: nil)
        case .sessionClosed:
            if c.ended {
                result.event = nil  // the child's `Disconnected from user` already ended it
                if let s = slot { remove(s) }
                return result
            }
            if c.accepted != nil || c.sessionStart != nil {
                result.session = session(of: c, host: host, pid: line.pid, end: now)
            }
            if c.accepted == nil {
                if let s = slot { remove(s) }
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
        put(c, at: slot ?? insert(key))
        return result
    }

    /// Forgets connections idle past their timeout (held probes are dropped unresolved).
    public mutating func expire(now: Timestamp) {
        let t = now.microseconds
        if t <= earliestDeadline { return }
        var earliest = Int64.max
        for s in deadlines.indices {
            let d = deadlines[s]
            if t > d {
                remove(Int32(truncatingIfNeeded: s))
            } else {
                earliest = min(earliest, d)
            }
        }
        earliestDeadline = earliest
    }

    /// The time after which `c` is stale: its last line plus the timeout of its kind.
    private func deadline(of c: Conn) -> Int64 {
        let (d, overflow) = c.lastSeen.microseconds.addingReportingOverflow(c.inSession ? sessionLimit : connectionLimit)
        return overflow ? (d < 0 ? .max : .min) : d
    }

    private func isStale(_ s: Int32, _ now: Timestamp) -> Bool { now.microseconds > deadlines[Int(s)] }

    private func session(of c: Conn, host: HostID, pid: Int32, end: Timestamp?) -> SSHSession {
        SSHSession(host: host, pid: pid, ip: c.ip, port: c.port, start: c.sessionStart ?? c.acceptedAt ?? end ?? c.lastSeen, end: end)
    }

    /// A slot for the new connection `key` (room was made before).
    private mutating func insert(_ key: HostPID) -> Int32 {
        let s = conns.touch(key).slot
        if Int(s) >= state.count {
            state.reserveOnce(conns.capacity)
            deadlines.reserveOnce(conns.capacity)
            state.append(contentsOf: repeatElement(nil, count: Int(s) + 1 - state.count))
            deadlines.append(contentsOf: repeatElement(.max, count: Int(s) + 1 - deadlines.count))
        }
        return s
    }

    /// Stores `c` as the connection in slot `s`.
    private mutating func put(_ c: Conn, at s: Int32) {
        let d = deadline(of: c)
        state[Int(s)] = c
        deadlines[Int(s)] = d
        earliestDeadline = min(earliestDeadline, d)
    }

    /// Forgets the connection in slot `s`, and its accepted address if that still names it.
    private mutating func remove(_ s: Int32) {
        let pid = conns.key(of: s).pid
        if let a = state[Int(s)]?.accepted, let b = byAddress.slot(of: a), sessionPIDs[Int(b)] == pid {
            byAddress.remove(slot: b)
        }
        conns.remove(slot: s)
        state[Int(s)] = nil
        deadlines[Int(s)] = .max
    }

    /// Before adding a connection at capacity: drop idle ones, then the least recently
    /// seen quarter (counted in `evictions`).
    private mutating func makeRoom(_ now: Timestamp) {
        if conns.count < capacity { return }
        expire(now: now)
        if conns.count < capacity { return }
        var seen = state.compactMap { $0?.lastSeen.microseconds }
        seen.sort()
        let cutoff = seen[min(seen.count - 1, max(0, seen.count / 4))]
        for s in state.indices {
            guard let last = state[s]?.lastSeen.microseconds else { continue }
            if last < cutoff || (conns.count >= capacity && last == cutoff) {
                remove(Int32(truncatingIfNeeded: s))
                evictions += 1
            }
        }
    }
}
