/// Where `vigil forward` sends: `tcp://HOST:PORT`, HOST an IPv4 literal, `[v6]` or a DNS name
/// (resolved at each connection attempt, docs/forward.md).
public struct ForwardTarget: Sendable, Equatable, CustomStringConvertible {
    /// The host as given, without brackets.
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) { self.host = host; self.port = port }

    /// Parses `tcp://HOST:PORT`; UDP is refused (it can lose lines, forward promises it loses none).
    public static func parse(_ text: String) -> Result<ForwardTarget, ConfigValueError> {
        if text.hasPrefix("udp://") {
            return .failure(ConfigValueError("--to \(text): UDP can lose lines and forward promises to lose none; use tcp://HOST:PORT"))
        }
        guard text.hasPrefix("tcp://") else {
            return .failure(ConfigValueError("--to \(text): expected tcp://HOST:PORT"))
        }
        switch splitHostPort(String(text.dropFirst(6)), defaultPort: nil) {
        case .failure(let e): return .failure(ConfigValueError("--to \(text): \(e.message)"))
        case .success(let (host, port, _)):
            guard port != 0 else { return .failure(ConfigValueError("--to \(text): port 0")) }
            return .success(ForwardTarget(host: host, port: port))
        }
    }

    public var description: String { host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)" }

    /// Parses a spool bound (`--spool-max`): bytes, or a number with a unit such as `512MiB`; at least 64 KiB.
    public static func parseSpoolSize(_ text: String) -> Result<Int, ConfigValueError> {
        switch parseByteSize(text) {
        case .failure(let e): return .failure(e)
        case .success(let n) where n < 65_536: return .failure(ConfigValueError("must be at least 64KiB, got `\(text)`"))
        case .success(let n): return .success(Int(n))
        }
    }
}
