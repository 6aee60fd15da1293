/// An alert as one RFC 5424 syslog message (docs/sinks.md, `syslog+udp://` and `syslog+tcp://` sinks):
/// every alert field in one structured-data element `[alert@32473 ...]`, the summary as MSG.
///
/// The message never contains a line break (control characters become spaces), so it can be
/// spooled one per line and read by line-oriented receivers as well as octet-counting ones.
public enum AlertSyslogMessage {
    /// The SD-ID of the alert element (32473 is the private enterprise number RFC 5612 reserves for examples).
    public static let structuredDataID = "alert@32473"
    /// The facility every alert is sent with: 3, `daemon`.
    public static let facility: UInt8 = 3

    /// The syslog severity for an alert: critical → 2 (crit), warning → 4 (warning), info → 6 (info);
    /// a resolved alert is 5 (notice) whatever its rule's severity.
    public static func syslogSeverity(_ alert: Alert) -> UInt8 {
        if alert.state == .resolved { return 5 }
        switch alert.severity {
        case .critical: return 2
        case .warning: return 4
        case .info: return 6
        }
    }

    /// Appends `<PRI>1 TS HOSTNAME vigil PROCID RULE [alert@32473 ...] SUMMARY` (no framing, no newline).
    /// `hostname` is this machine's name (`-` when empty); `procID` the daemon's pid.
    public static func append(_ alert: Alert, hostname: String, procID: Int, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "<"))
        appendDigits(Int(facility) * 8 + Int(syslogSeverity(alert)), width: 1, to: &out)
        out.append(contentsOf: ">1 ".utf8)
        alert.ts.appendRFC3339(to: &out, fractionalDigits: 6)
        out.append(UInt8(ascii: " "))
        appendHeaderField(hostname, maxBytes: 255, to: &out)
        out.append(contentsOf: " vigil ".utf8)
        appendDigits(procID, width: 1, to: &out)
        out.append(UInt8(ascii: " "))
        appendHeaderField(alert.rule.name, maxBytes: 32, to: &out)
        out.append(UInt8(ascii: " "))
        out.append(UInt8(ascii: "["))
        out.append(contentsOf: structuredDataID.utf8)
        appendParam("id", alert.id, to: &out)
        appendParam("rule", alert.rule.name, to: &out)
        appendParam("state", alert.state.rawValue, to: &out)
        appendParam("severity", alert.severity.rawValue, to: &out)
        appendParam("scope", alert.scope.rawValue, to: &out)
        if let host = alert.host { appendParam("host", host, to: &out) }
        if let ip = alert.ip {
            var text: [UInt8] = []
            ip.append(to: &text)
            appendParam("ip", String(decoding: text, as: UTF8.self), to: &out)
        }
        appendParam("count", String(alert.count), to: &out)
        appendParam("window_s", String(alert.windowSeconds), to: &out)
        appendParam("hosts", alert.hosts.joined(separator: ","), to: &out)
        var time: [UInt8] = []
        alert.firstTs.appendRFC3339(to: &time)
        appendParam("first_ts", String(decoding: time, as: UTF8.self), to: &out)
        time.removeAll(keepingCapacity: true)
        alert.ts.appendRFC3339(to: &time)
        appendParam("ts", String(decoding: time, as: UTF8.self), to: &out)
        out.append(UInt8(ascii: "]"))
        out.append(UInt8(ascii: " "))
        for byte in alert.summary.utf8 { out.append(isControl(byte) ? UInt8(ascii: " ") : byte) }
    }

    /// A header field: printable US-ASCII only (others become `_`), at most `maxBytes`, `-` when empty.
    private static func appendHeaderField(_ text: String, maxBytes: Int, to out: inout [UInt8]) {
        if text.isEmpty { out.append(UInt8(ascii: "-")); return }
        for byte in text.utf8.prefix(maxBytes) { out.append(byte > 32 && byte < 127 ? byte : UInt8(ascii: "_")) }
    }

    /// ` name="value"` with `"`, `\` and `]` escaped by a backslash and control characters as spaces.
    private static func appendParam(_ name: StaticString, _ value: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        out.append(contentsOf: "=\"".utf8)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "]"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            default:
                out.append(isControl(byte) ? UInt8(ascii: " ") : byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func isControl(_ byte: UInt8) -> Bool { byte < 0x20 || byte == 0x7F }
}
