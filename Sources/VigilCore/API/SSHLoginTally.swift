/// Counts the ssh logins of one host's day (docs/api.md, `/hosts/{host}/ssh/logins`) from its
/// stored lines, fed in any order: attempts are the distinct sshd process IDs that logged a
/// client's connection or login (sshd forks one process per connection), failures the failed
/// passwords, keys (as detection counts them) and other methods, one per `Failed …` line (not
/// the `maximum authentication attempts` line that follows some), invalid users the `Invalid
/// user` lines, successes the accepted logins. Per client address too, for the top addresses.
/// Pure: the caller reads the lines.
public struct SSHLoginTally: Sendable {
    /// One client address's counts.
    public struct AddressCounts: Sendable, Equatable {
        public var ip: IPAddress
        public var attempts: Int
        public var failures: Int
        public var successes: Int
    }

    /// Addresses tallied one by one; beyond this many (a day-long scan from everywhere) the
    /// rest count in the totals only.
    public static let maxAddresses = 100_000

    public private(set) var failures = 0
    public private(set) var successes = 0
    public private(set) var invalidUsers = 0
    private var pids: Set<Int32> = []
    private var byAddress: [IPAddress: (pids: Set<Int32>, failures: Int, successes: Int)] = [:]
    private let parser: SyslogParser
    private let extractor: SSHExtractor

    public init(parser: SyslogParser = SyslogParser(), extractor: SSHExtractor = SSHExtractor()) {
        self.parser = parser
        self.extractor = extractor
    }

    public var attempts: Int { pids.count }

    /// Adds one stored line; lines of other programs, or sshd lines about no client, change nothing.
    public mutating func add(_ line: UnsafeRawBufferPointer, receivedAt: Timestamp) {
        let fields = parser.parse(line, receivedAt: receivedAt)
        guard SSHExtractor.isSSHD(app: UnsafeRawBufferPointer(rebasing: line[fields.appName])) else { return }
        let pid = Analyzer.pid(line, fields.procID)
        guard let ssh = extractor.extract(line, range: fields.text, pid: pid), ssh.ip != nil || ssh.kind != nil else { return }
        if pid != 0 { pids.insert(pid) }
        let failed = ssh.kind == .authFailure && ssh.message != .maxAuthAttempts ? ssh.count : 0
        let succeeded = ssh.kind == .authSuccess ? 1 : 0
        failures += failed
        successes += succeeded
        if ssh.kind == .invalidUser { invalidUsers += 1 }
        guard let ip = ssh.ip, byAddress[ip] != nil || byAddress.count < Self.maxAddresses else { return }
        var counts = byAddress[ip] ?? (pids: [], failures: 0, successes: 0)
        if pid != 0 { counts.pids.insert(pid) }
        counts.failures += failed
        counts.successes += succeeded
        byAddress[ip] = counts
    }

    /// The `n` addresses with the most failures (then attempts, then the lower address).
    public func topAddresses(_ n: Int) -> [AddressCounts] {
        byAddress.map { AddressCounts(ip: $0.key, attempts: $0.value.pids.count, failures: $0.value.failures, successes: $0.value.successes) }
            .sorted { ($0.failures, $0.attempts, $1.ip) > ($1.failures, $1.attempts, $0.ip) }
            .prefix(n).map { $0 }
    }
}
