/// Writes metrics in the Prometheus text exposition format (version 0.0.4) for `/metrics`
/// (docs/api.md): each family once, with `# HELP` and `# TYPE`, then its samples.
public struct PrometheusText: Sendable {
    public enum Kind: String, Sendable { case counter, gauge }

    public private(set) var text = ""

    public init() {}

    /// Starts a family; `name` ends in `_total` for a counter.
    public mutating func family(_ name: String, _ kind: Kind, _ help: String) {
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(kind.rawValue)\n"
    }

    /// One sample of the family just started.
    public mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String> = [:], _ value: some BinaryInteger) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.key)=\"\(Self.escapeLabel($0.value))\"" }.joined(separator: ",") + "}"
        }
        text += " \(value)\n"
    }

    /// A family with a single unlabelled sample.
    public mutating func single(_ name: String, _ kind: Kind, _ help: String, _ value: some BinaryInteger) {
        family(name, kind, help)
        sample(name, [:], value)
    }

    /// Label values escape backslash, double quote and line feed.
    static func escapeLabel(_ value: String) -> String {
        var out = ""
        for c in value.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Help text escapes backslash and line feed.
    static func escapeHelp(_ help: String) -> String {
        help.replacing("\\", with: "\\\\").replacing("\n", with: "\\n")
    }
}
