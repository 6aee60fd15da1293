/// An alert as the body Prometheus Alertmanager's `POST /api/v2/alerts` takes (docs/sinks.md,
/// `alertmanager://` sink): a JSON array holding one postable alert.
///
/// Labels (which identify the alert to Alertmanager, so a firing and its resolved alert carry the
/// same ones): `alertname` (the rule), `severity`, `scope`, `host` and `ip` when present, and
/// `vigil_id` (the incident). Annotations: `summary`, `count`. `startsAt` is the first event;
/// a resolved alert also carries `endsAt`, its resolve time.
public enum AlertmanagerBody {
    /// The API path the body is posted to.
    public static let path = "/api/v2/alerts"

    /// Appends `[{"labels":{…},"annotations":{…},"startsAt":"…"[,"endsAt":"…"]}]` (one line).
    public static func append(_ alert: Alert, to out: inout [UInt8]) {
        out.append(contentsOf: #"[{"labels":{"alertname":"#.utf8)
        JSON.appendString(alert.rule.name, to: &out)
        out.append(contentsOf: #","severity":"#.utf8)
        JSON.appendString(alert.severity.rawValue, to: &out)
        out.append(contentsOf: #","scope":"#.utf8)
        JSON.appendString(alert.scope.rawValue, to: &out)
        if let host = alert.host {
            out.append(contentsOf: #","host":"#.utf8)
            JSON.appendString(host, to: &out)
        }
        if let ip = alert.ip {
            out.append(contentsOf: #","ip":""#.utf8)
            ip.append(to: &out)
            out.append(UInt8(ascii: "\""))
        }
        out.append(contentsOf: #","vigil_id":"#.utf8)
        JSON.appendString(alert.id, to: &out)
        out.append(contentsOf: #"},"annotations":{"summary":"#.utf8)
        JSON.appendString(alert.summary, to: &out)
        out.append(contentsOf: #","count":""#.utf8)
        appendDigits(alert.count, width: 1, to: &out)
        out.append(contentsOf: #""},"startsAt":""#.utf8)
        alert.firstTs.appendRFC3339(to: &out)
        out.append(UInt8(ascii: "\""))
        if alert.state == .resolved {
            out.append(contentsOf: #","endsAt":""#.utf8)
            alert.ts.appendRFC3339(to: &out)
            out.append(UInt8(ascii: "\""))
        }
        out.append(contentsOf: "}]".utf8)
    }
}
