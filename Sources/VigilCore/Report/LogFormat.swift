/// The kinds of log file `vigil analyze` reads and `vigil generate` writes, one name each in
/// both commands' `--format` and in the report (README, "Working with log files").
public enum LogFormat: String, CaseIterable, Sendable, Hashable {
    /// Syslog lines (RFC 5424, RFC 3164 and rsyslog's file forms) of any program; `generate`
    /// writes one RFC 5424 message per line.
    case syslog
    /// An auth.log: sshd's syslog lines (rsyslog's file form: `2026-01-01T00:00:05.123456+00:00
    /// host sshd[2001]: …`, or any other syslog form), or bare sshd messages without a header.
    case auth
    /// ssh session summary lines `IP : dd/mm/yy hh:mm - dd/mm/yy hh:mm`.
    case sessions
    /// Common Log Format access log.
    case clf
    /// Combined Log Format access log.
    case combined
    /// The CSV access-log form with a header line.
    case csv

    /// The format named `name`: its own name, or the one an earlier version used in one of the
    /// two commands (`sshd` in analyze for `auth`, `rfc5424` in generate for `syslog`).
    public init?(name: String) {
        switch name {
        case "sshd": self = .auth
        case "rfc5424": self = .syslog
        default: self.init(rawValue: name)
        }
    }

    /// Every name, for help texts and errors: `syslog, auth, sessions, clf, combined, csv`.
    public static let names = allCases.map(\.rawValue).joined(separator: ", ")

    /// The format one line looks like, or nil when it looks like none. Tried from the most
    /// specific shape to the loosest.
    public static func detect(_ line: UnsafeRawBufferPointer, parser: SyslogParser, ssh: SSHExtractor,
                              referenceTime: Timestamp) -> LogFormat? {
        var start = 0
        while start < line.count && line[start] == UInt8(ascii: " ") { start += 1 }
        guard start < line.count else { return nil }
        if line[start] == UInt8(ascii: "\"") {
            var probe = CSVAccessLogReader()
            return probe.read(line) == .invalid ? nil : .csv
        }
        if SessionSummaryExtractor.extract(line) != nil { return .sessions }
        // Before access logs: `<190>1 TS host nginx - - - 1.2.3.4 - - [...] ...` also reads as a CLF
        // line with client `<190>1`, but no access-log line reads as syslog.
        let fields = parser.parse(line, receivedAt: referenceTime)
        if !fields.isParseError {
            return SSHExtractor.isSSHD(app: UnsafeRawBufferPointer(rebasing: line[fields.appName])) ? .auth : .syslog
        }
        if let request = AccessLogExtractor.extract(line) {
            return request.referer.isEmpty && request.userAgent.isEmpty ? .clf : .combined
        }
        return ssh.extract(line, pid: 0) != nil ? .auth : nil
    }
}
