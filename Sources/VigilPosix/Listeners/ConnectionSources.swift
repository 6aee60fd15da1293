public import VigilCore

/// How the TCP listeners and the API's HTTP server share their connections out between sources,
/// so that no one client can lock the others out: each source (`key`) is capped on its own, and
/// at the total cap the source holding the most pays for a newcomer's room (`evictionVictim`).
public enum ConnectionSources {
    /// The source a connection is counted under: its IPv4 address, or the /64 of its IPv6
    /// address (one host usually holds a whole /64).
    public static func key(_ ip: IPAddress) -> IPAddress {
        ip.isIPv4 ? ip : IPAddress(high: ip.high, low: 0)
    }

    /// Of `connections`, the one idle the longest (`lastActivity`, smallest first) among those of
    /// the source holding the most in `perSource`; nil when there is none.
    static func evictionVictim<C>(_ connections: some Sequence<C>, perSource: [IPAddress: Int],
                                  source: (C) -> IPAddress, lastActivity: (C) -> Int64) -> C? {
        guard let busiest = perSource.max(by: { $0.value < $1.value })?.key else { return nil }
        var victim: C?
        for connection in connections where source(connection) == busiest {
            if victim == nil || lastActivity(connection) < lastActivity(victim!) { victim = connection }
        }
        return victim
    }
}
