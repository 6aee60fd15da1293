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

    /// Of the `eligible` `connections`, one of the source holding the most (`perSource`), and of
    /// those the one idle the longest (`lastActivity`, smallest first); nil when none is eligible.
    /// Called at a cap, so once per connection accepted there (20,000 connections on a TCP
    /// listener): the busiest source is found among the sources and its connections compared,
    /// and only when it has none eligible is every connection's source looked up.
    static func evictionVictim<C>(_ connections: some Collection<C>, perSource: [IPAddress: Int],
                                  source: (C) -> IPAddress, lastActivity: (C) -> Int64,
                                  eligible: (C) -> Bool = { _ in true }) -> C? {
        var victim: C?, victimHeld = 0
        func consider(_ connection: C, held: Int) {
            if victim == nil || held > victimHeld || (held == victimHeld && lastActivity(connection) < lastActivity(victim!)) {
                victim = connection
                victimHeld = held
            }
        }
        if let busiest = perSource.max(by: { $0.value < $1.value }) {
            for connection in connections where source(connection) == busiest.key && eligible(connection) {
                consider(connection, held: busiest.value)
            }
            if victim != nil { return victim }
        }
        for connection in connections where eligible(connection) {
            consider(connection, held: perSource[source(connection), default: 0])
        }
        return victim
    }
}
