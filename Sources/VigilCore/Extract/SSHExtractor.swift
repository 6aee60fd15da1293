/// One recognised sshd log line: what sshd said, in detail, plus the `SSHEvent`
/// kind it maps to under the extractor's policy.
///
/// Ranges (`user`, `method`) point into the buffer given to `SSHExtractor.extract`.
public struct SSHLine: Sendable, Equatable {
    /// Which sshd message the line is. Finer than `SSHEvent.Kind`, so callers and
    /// configuration can tell, say, a failed public key from a failed password.
    public enum Message: UInt8, Sendable, CaseIterable {
        /// `Failed password for …`
        case failedPassword
        /// `Failed publickey for … ssh2: KEYTYPE …` — a client trying its keys in turn.
        case failedPublickey
        /// `Failed keyboard-interactive/pam for …`
        case failedKeyboardInteractive
        /// `Failed none for …`
        case failedNone
        /// `Failed METHOD for …` with another method (hostbased, gssapi-with-mic).
        case failedOther
        /// `Invalid user U from IP port N`
        case invalidUser
        /// `Accepted METHOD for U from IP port N ssh2[: …]`
        case accepted
        /// `error: maximum authentication attempts exceeded for …`
        case maxAuthAttempts
        /// `Disconnecting … user U IP port N: Too many authentication failures`
        case tooManyAuthFailures
        /// `Connection closed by [authenticating user U |invalid user U ]IP port N`
        case connectionClosed
        /// `Connection reset by [… ]IP port N`
        case connectionReset
        /// `Disconnected from [authenticating user U |invalid user U ]IP port N` (pre-auth)
        case disconnected
        /// `Received disconnect from IP port N:CODE: reason`
        case receivedDisconnect
        /// `Timeout before authentication for IP port N`
        case timeout
        /// `Did not receive identification string from IP port N` (older OpenSSH)
        case noIdentification
        /// `error: kex_exchange_identification: …` (carries no address)
        case kexError
        /// `banner exchange: Connection from IP port N: invalid format`
        case bannerError
        /// `Unable to negotiate with IP port N: no matching …`
        case negotiationFailed
        /// Another line ending in ` [preauth]` (carries no address).
        case preauthOther
        /// `pam_unix(sshd:auth): authentication failure; … rhost=IP user=U` and
        /// `PAM N more authentication failures; …` — restate a `Failed …` line.
        case pamAuthFailure
        /// `pam_unix(sshd:session): session opened for user U(uid=N) by …`
        case sessionOpened
        /// `pam_unix(sshd:session): session closed for user U`
        case sessionClosed
        /// `Disconnected from user U IP port N` — an authenticated user went away.
        case userDisconnected
    }

    public var message: Message
    /// The event kind under the extractor's policy; nil when the line is recognised
    /// but is not an event (a PAM duplicate, a failed public key by default, the
    /// `Received disconnect … disconnected by user` of a finished session).
    public var kind: SSHEvent.Kind?
    /// Source address from where sshd writes it; nil on IP-less lines or when sshd
    /// wrote a host name.
    public var ip: IPAddress?
    /// Source port; 0 when the line has none.
    public var port: UInt16
    /// The sshd process ID (from the syslog PROCID, or the PID a line names).
    public var pid: Int32
    /// The user name; empty when the line names none.
    public var user: Range<Int>
    /// The authentication method of `Failed`/`Accepted` lines (`password`, `publickey`, …).
    public var method: Range<Int>
    /// The line said `invalid user` (the account does not exist).
    public var invalidUser: Bool
    /// The line ended with ` [preauth]`.
    public var preauth: Bool
    /// How many times it happened (`message repeated N times: [ … ]` gives N).
    public var count: Int

    public init(message: Message, kind: SSHEvent.Kind?, ip: IPAddress? = nil, port: UInt16 = 0, pid: Int32 = 0,
                user: Range<Int> = 0..<0, method: Range<Int> = 0..<0, invalidUser: Bool = false,
                preauth: Bool = false, count: Int = 1) {
        self.message = message; self.kind = kind; self.ip = ip; self.port = port; self.pid = pid
        self.user = user; self.method = method; self.invalidUser = invalidUser; self.preauth = preauth; self.count = count
    }

    /// The event this line is, or nil when it is not one under the extractor's policy.
    public var event: SSHEvent? {
        guard let kind else { return nil }
        return SSHEvent(kind: kind, ip: ip, port: port, pid: pid, user: user, count: count)
    }
}

/// Recognises sshd log lines (OpenSSH 8.x/9.x wording and PAM lines) in place.
///
/// Pure and allocation-free: it reads the bytes it is given and returns ranges
/// into them. The source address is taken only from the position sshd writes it
/// in — parsing from the right where a user name precedes it (`… from IP port N
/// ssh2`, `… IP port N [preauth]`) and from the left where the client controls
/// the tail (`Received disconnect from IP port N:11: reason`) — so a user name
/// such as `x from 1.2.3.4 port 22 ssh2` never moves the blame.
///
/// Kinds: `Failed …` (not publickey by default) and `maximum authentication attempts
/// exceeded` → `authFailure`; `Invalid user` → `invalidUser`; `Accepted` → `authSuccess`;
/// PAM `session opened` → `sessionOpen`; PAM `session closed` and `Disconnected from user`
/// → `sessionClose` (`SSHConnectionTracker` reports one end per session); every pre-auth
/// disconnect, close, reset, timeout, kex/banner/negotiation error → `probe`.
public struct SSHExtractor: Sendable {
    /// Count `Failed publickey` as an auth failure (off: a client trying several keys is normal).
    public var countFailedPublickey: Bool
    /// Count PAM `authentication failure` lines (off: they duplicate the `Failed password` line).
    public var countPAMFailures: Bool

    public init(countFailedPublickey: Bool = false, countPAMFailures: Bool = false) {
        self.countFailedPublickey = countFailedPublickey
        self.countPAMFailures = countPAMFailures
    }

    /// Whether a syslog APP-NAME is sshd: `sshd`, `sshd-session` (OpenSSH ≥ 9.8) or `sshd-auth`.
    public static func isSSHD(app: UnsafeRawBufferPointer) -> Bool {
        let n = app.count
        if n < 4 || !ByteScan.has(app, 0, n, "sshd") { return false }
        return n == 4 || (n == 12 && ByteScan.has(app, 4, n, "-session")) || (n == 9 && ByteScan.has(app, 4, n, "-auth"))
    }

    /// Recognises the whole of `text` as an sshd message logged by process `pid`.
    public func extract(_ text: UnsafeRawBufferPointer, pid: Int32) -> SSHLine? {
        extract(text, range: 0..<text.count, pid: pid)
    }

    /// Recognises `buffer[range]` (a syslog message's text) as an sshd message
    /// logged by process `pid`; returned ranges are offsets into `buffer`.
    public func extract(_ buffer: UnsafeRawBufferPointer, range: Range<Int>, pid: Int32) -> SSHLine? {
        let b = buffer
        let r = ByteScan.trimmed(b, max(0, range.lowerBound), min(b.count, range.upperBound))
        let lo = r.lowerBound, hi = r.upperBound
        if ByteScan.has(b, lo, hi, "message repeated ") {
            // rsyslog: `message repeated N times: [ original text]`
            let nLo = lo + 17
            var nHi = nLo
            while nHi < hi && ByteScan.isDigit(b[nHi]) { nHi += 1 }
            guard let n = ByteScan.decimal(b, nLo, nHi), n > 0, ByteScan.has(b, nHi, hi, " times: ["),
                  b[hi - 1] == UInt8(ascii: "]") else { return nil }
            let inner = ByteScan.trimmed(b, nHi + 9, hi - 1)
            guard var line = classify(b, inner.lowerBound, inner.upperBound, pid: pid) else { return nil }
            line.count = Int(n)
            return line
        }
        return classify(b, lo, hi, pid: pid)
    }

    // MARK: - Classification

    private func classify(_ b: UnsafeRawBufferPointer, _ lo0: Int, _ hi0: Int, pid: Int32) -> SSHLine? {
        var lo = lo0
        var hi = hi0
        if hi <= lo { return nil }
        let preauth = ByteScan.hasSuffix(b, lo, hi, " [preauth]")
        if preauth { hi -= 10 }
        if ByteScan.has(b, lo, hi, "error: ") || ByteScan.has(b, lo, hi, "fatal: ") { lo += 7 }
        var line = recognise(b, lo, hi, pid: pid, preauth: preauth)
        if line == nil && preauth { line = SSHLine(message: .preauthOther, kind: .probe, pid: pid) }
        line?.preauth = preauth
        return line
    }

    private func recognise(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int, pid: Int32, preauth: Bool) -> SSHLine? {
        if hi <= lo { return nil }
        switch b[lo] {
        case UInt8(ascii: "F"):
            return ByteScan.has(b, lo, hi, "Failed ") ? authLine(b, lo + 7, hi, pid: pid, accepted: false) : nil
        case UInt8(ascii: "A"):
            return ByteScan.has(b, lo, hi, "Accepted ") ? authLine(b, lo + 9, hi, pid: pid, accepted: true) : nil
        case UInt8(ascii: "I"):
            guard ByteScan.has(b, lo, hi, "Invalid user "), let a = fromAddress(b, lo + 13, hi) else { return nil }
            return SSHLine(message: .invalidUser, kind: .invalidUser, ip: a.ip, port: a.port, pid: pid,
                           user: a.before, invalidUser: true)
        case UInt8(ascii: "m"):
            guard ByteScan.has(b, lo, hi, "maximum authentication attempts exceeded for ") else { return nil }
            var u = lo + 45
            let invalid = ByteScan.has(b, u, hi, "invalid user ")
            if invalid { u += 13 }
            guard let a = fromAddress(b, u, ssh2End(b, u, hi)) else { return nil }
            return SSHLine(message: .maxAuthAttempts, kind: .authFailure, ip: a.ip, port: a.port, pid: pid,
                           user: a.before, invalidUser: invalid)
        case UInt8(ascii: "D"):
            if ByteScan.has(b, lo, hi, "Disconnected from ") { return disconnected(b, lo + 18, hi, pid: pid, preauth: preauth) }
            if ByteScan.has(b, lo, hi, "Disconnecting ") {
                guard ByteScan.hasSuffix(b, lo, hi, ": Too many authentication failures") else { return nil }
                return userAndAddress(b, lo + 14, hi - 34, message: .tooManyAuthFailures, pid: pid, requireUser: true)
            }
            if ByteScan.has(b, lo, hi, "Disconnecting: Too many authentication failures") {
                return SSHLine(message: .tooManyAuthFailures, kind: .probe, pid: pid)
            }
            if ByteScan.has(b, lo, hi, "Did not receive identification string from ") {
                return userAndAddress(b, lo + 43, hi, message: .noIdentification, pid: pid, requireUser: false)
            }
            return nil
        case UInt8(ascii: "C"):
            if ByteScan.has(b, lo, hi, "Connection closed by ") {
                return userAndAddress(b, lo + 21, hi, message: .connectionClosed, pid: pid, requireUser: false)
            }
            if ByteScan.has(b, lo, hi, "Connection reset by ") {
                return userAndAddress(b, lo + 20, hi, message: .connectionReset, pid: pid, requireUser: false)
            }
            return nil
        case UInt8(ascii: "R"):
            guard ByteScan.has(b, lo, hi, "Received disconnect from "),
                  let a = leadingAddress(b, lo + 25, hi), a.next < hi, b[a.next] == UInt8(ascii: ":") else { return nil }
            return SSHLine(message: .receivedDisconnect, kind: preauth ? .probe : nil, ip: a.ip, port: a.port, pid: pid)
        case UInt8(ascii: "T"):
            guard ByteScan.has(b, lo, hi, "Timeout before authentication for ") else { return nil }
            return timeout(b, lo + 34, hi, pid: pid)
        case UInt8(ascii: "b"):
            guard ByteScan.has(b, lo, hi, "banner exchange: Connection from "),
                  let a = leadingAddress(b, lo + 33, hi), a.next < hi, b[a.next] == UInt8(ascii: ":") else { return nil }
            return SSHLine(message: .bannerError, kind: .probe, ip: a.ip, port: a.port, pid: pid)
        case UInt8(ascii: "U"):
            guard ByteScan.has(b, lo, hi, "Unable to negotiate with "),
                  let a = leadingAddress(b, lo + 25, hi), a.next < hi, b[a.next] == UInt8(ascii: ":") else { return nil }
            return SSHLine(message: .negotiationFailed, kind: .probe, ip: a.ip, port: a.port, pid: pid)
        case UInt8(ascii: "k"):
            return ByteScan.has(b, lo, hi, "kex_exchange_identification: ")
                ? SSHLine(message: .kexError, kind: .probe, pid: pid) : nil
        case UInt8(ascii: "p"):
            return pam(b, lo, hi, pid: pid)
        case UInt8(ascii: "P"):
            // `PAM 2 more authentication failures; logname= … rhost=IP  user=U`
            guard ByteScan.has(b, lo, hi, "PAM "), let semi = ByteScan.index(of: UInt8(ascii: ";"), b, lo, hi),
                  ByteScan.find(b, lo, semi, " more authentication failure") != nil else { return nil }
            let n = ByteScan.decimal(b, lo + 4, ByteScan.index(of: ByteScan.space, b, lo + 4, semi) ?? semi) ?? 1
            var line = pamFailure(b, semi + 1, hi, pid: pid)
            line.count = Int(max(1, n))
            return line
        default:
            return nil
        }
    }

    /// `METHOD for [invalid user ]U from IP port N ssh2[: …]` after `Failed ` or `Accepted `.
    private func authLine(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int, pid: Int32, accepted: Bool) -> SSHLine? {
        guard let sp = ByteScan.index(of: ByteScan.space, b, lo, hi), sp > lo, ByteScan.has(b, sp, hi, " for ") else { return nil }
        let method = lo..<sp
        var u = sp + 5
        let invalid = !accepted && ByteScan.has(b, u, hi, "invalid user ")
        if invalid { u += 13 }
        guard let a = fromAddress(b, u, ssh2End(b, u, hi)) else { return nil }
        let message: SSHLine.Message
        let kind: SSHEvent.Kind?
        if accepted {
            message = .accepted; kind = .authSuccess
        } else {
            switch method.count {
            case 8 where ByteScan.has(b, lo, hi, "password"): message = .failedPassword
            case 9 where ByteScan.has(b, lo, hi, "publickey"): message = .failedPublickey
            case 4 where ByteScan.has(b, lo, hi, "none"): message = .failedNone
            default: message = ByteScan.has(b, lo, hi, "keyboard-interactive") ? .failedKeyboardInteractive : .failedOther
            }
            kind = message == .failedPublickey && !countFailedPublickey ? nil : .authFailure
        }
        return SSHLine(message: message, kind: kind, ip: a.ip, port: a.port, pid: pid, user: a.before,
                       method: method, invalidUser: invalid)
    }

    /// After `Disconnected from `: `user U IP port N` (authenticated) or the pre-auth forms.
    private func disconnected(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int, pid: Int32, preauth: Bool) -> SSHLine? {
        if !preauth && ByteScan.has(b, lo, hi, "user "), let a = tailAddress(b, lo + 5, hi),
           a.ipStart > lo + 5, b[a.ipStart - 1] == ByteScan.space {
            return SSHLine(message: .userDisconnected, kind: .sessionClose, ip: a.ip, port: a.port, pid: pid,
                           user: (lo + 5)..<(a.ipStart - 1))
        }
        return userAndAddress(b, lo, hi, message: .disconnected, pid: pid, requireUser: false)
    }

    /// `[authenticating user U |invalid user U ]IP port N` filling `lo..<hi`, as a probe.
    private func userAndAddress(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int, message: SSHLine.Message,
                                pid: Int32, requireUser: Bool) -> SSHLine? {
        guard let a = tailAddress(b, lo, hi) else { return nil }
        var u = lo
        var invalid = false
        if ByteScan.has(b, lo, hi, "authenticating user ") {
            u = lo + 20
        } else if ByteScan.has(b, lo, hi, "invalid user ") {
            u = lo + 13; invalid = true
        }
        if u == lo {
            guard !requireUser, a.ipStart == lo else { return nil }
            return SSHLine(message: message, kind: .probe, ip: a.ip, port: a.port, pid: pid)
        }
        guard a.ipStart > u, b[a.ipStart - 1] == ByteScan.space else { return nil }
        return SSHLine(message: message, kind: .probe, ip: a.ip, port: a.port, pid: pid,
                       user: u..<(a.ipStart - 1), invalidUser: invalid)
    }

    /// After `Timeout before authentication for `: `IP port N`, or (the OpenSSH ≥ 9.8
    /// listener) `connection from IP to IP, pid = N`, which names the child's PID.
    private func timeout(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int, pid: Int32) -> SSHLine? {
        if ByteScan.has(b, lo, hi, "connection from ") {
            let ipLo = lo + 16
            guard let sp = ByteScan.index(of: ByteScan.space, b, ipLo, hi), let eq = ByteScan.findLast(b, sp, hi, ", pid = "),
                  let child = ByteScan.decimal(b, eq + 8, hi), child <= Int64(Int32.max) else { return nil }
            return SSHLine(message: .timeout, kind: .probe, ip: ByteScan.address(b, ipLo, sp), pid: Int32(child))
        }
        return userAndAddress(b, lo, hi, message: .timeout, pid: pid, requireUser: false)
    }

    /// PAM lines: `MODULE(sshd:auth): authentication failure; …` and `MODULE(sshd:session): session opened|closed …`.
    private func pam(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int, pid: Int32) -> SSHLine? {
        guard ByteScan.has(b, lo, hi, "pam_"), let close = ByteScan.find(b, lo, min(hi, lo + 64), "): ") else { return nil }
        let body = close + 3
        if ByteScan.hasSuffix(b, lo, close + 1, "(sshd:auth)") {
            guard ByteScan.has(b, body, hi, "authentication failure;") else { return nil }
            return pamFailure(b, body + 23, hi, pid: pid)
        }
        guard ByteScan.hasSuffix(b, lo, close + 1, "(sshd:session)") else { return nil }
        if ByteScan.has(b, body, hi, "session opened for user ") {
            let u = body + 24
            guard var end = ByteScan.findLast(b, u, hi, " by ") else { return nil }
            // Newer PAM writes `user U(uid=N) by …`.
            if end > u, b[end - 1] == UInt8(ascii: ")"), let paren = ByteScan.findLast(b, u, end, "(uid=") { end = paren }
            return SSHLine(message: .sessionOpened, kind: .sessionOpen, pid: pid, user: u..<end)
        }
        if ByteScan.has(b, body, hi, "session closed for user ") {
            return SSHLine(message: .sessionClosed, kind: .sessionClose, pid: pid, user: (body + 24)..<hi)
        }
        return nil
    }

    /// The `key=value` tail of a PAM authentication failure: `… rhost=IP  user=U`.
    private func pamFailure(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int, pid: Int32) -> SSHLine {
        var line = SSHLine(message: .pamAuthFailure, kind: countPAMFailures ? .authFailure : nil, pid: pid)
        // rhost comes before user (the only field a remote party names), so read it from the left.
        if let r = ByteScan.find(b, lo, hi, " rhost=") {
            let vLo = r + 7
            let vHi = ByteScan.index(of: ByteScan.space, b, vLo, hi) ?? hi
            line.ip = ByteScan.address(b, vLo, vHi)
            if let u = ByteScan.find(b, vHi, hi, " user=") { line.user = (u + 6)..<hi }
        }
        return line
    }

    // MARK: - Address positions

    /// Where `… ssh2` ends the address part of an auth line: before a final ` ssh2`,
    /// before the last ` ssh2: ` (key details follow), else the whole range.
    private func ssh2End(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int) -> Int {
        if ByteScan.hasSuffix(b, lo, hi, " ssh2") { return hi - 5 }
        return ByteScan.findLast(b, lo, hi, " ssh2: ") ?? hi
    }

    /// `U from IP port N` filling `lo..<hi`, read from the right: `before` is U.
    private func fromAddress(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int) -> (ip: IPAddress?, port: UInt16, before: Range<Int>)? {
        guard let a = tailAddress(b, lo, hi), a.ipStart - 6 >= lo, ByteScan.has(b, a.ipStart - 6, hi, " from ") else { return nil }
        return (a.ip, a.port, lo..<(a.ipStart - 6))
    }

    /// `IP port N` ending exactly at `hi`: the last space-free token before ` port N`.
    private func tailAddress(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int) -> (ip: IPAddress?, port: UInt16, ipStart: Int)? {
        let d = ByteScan.digitsBefore(b, lo, hi)
        guard d < hi, let port = ByteScan.decimal(b, d, hi), port <= 65_535, d - 6 >= lo,
              ByteScan.has(b, d - 6, hi, " port ") else { return nil }
        let ipEnd = d - 6
        let ipStart = (ByteScan.lastIndex(of: ByteScan.space, b, lo, ipEnd) ?? (lo - 1)) + 1
        guard ipStart < ipEnd else { return nil }
        return (ByteScan.address(b, ipStart, ipEnd), UInt16(port), ipStart)
    }

    /// `IP port N` starting at `lo`, read from the left; `next` is the offset after N.
    private func leadingAddress(_ b: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int) -> (ip: IPAddress?, port: UInt16, next: Int)? {
        guard let sp = ByteScan.index(of: ByteScan.space, b, lo, hi), sp > lo, ByteScan.has(b, sp, hi, " port ") else { return nil }
        var e = sp + 6
        while e < hi && ByteScan.isDigit(b[e]) { e += 1 }
        guard let port = ByteScan.decimal(b, sp + 6, e), port <= 65_535 else { return nil }
        return (ByteScan.address(b, lo, sp), UInt16(port), e)
    }
}
