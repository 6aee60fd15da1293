/// The kinds of log file `vigil analyze` reads (README, "Working with log files").
public enum LogFormat: String, CaseIterable, Sendable, Hashable {
    /// Syslog lines (RFC 5424, RFC 3164 and rsyslog's file forms) of any program.
    case syslog
    /// An sshd log (auth.log): syslog lines, or bare sshd messages without a syslog header.
    case sshd
    /// ssh session summary lines `IP : dd/mm/yy hh:mm - dd/mm/yy hh:mm`.
    case sessions
    /// Common Log Format access log.
    case clf
    /// Combined Log Format access log.
    case combined
    /// The CSV access-log form with a header line.
    case csv

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
            return SSHExtractor.isSSHD(app: UnsafeRawBufferPointer(rebasing: line[fields.appName])) ? .sshd : .syslog
        }
        if let request = AccessLogExtractor.extract(line) {
            return request.referer.isEmpty && request.userAgent.isEmpty ? .clf : .combined
        }
        return ssh.extract(line, pid: 0) != nil ? .sshd : nil
    }
}
