/// Counters for the periodic stats block of SPEC §7: per host and for all hosts, the
/// hits, hits/s, top sections, status classes, bytes and top client IPs of the HTTP
/// traffic, and the ssh failures, successes and open sessions.
///
/// Pure accumulation: the caller records events as they come, calls `render` when its
/// interval elapses, then `reset()` to start the next interval. Open sessions are a
/// gauge and survive `reset()`. Distinct sections and client IPs per host are capped
/// per interval; the excess is counted as "other".
public struct TrafficStats {
    /// The counters of one host for one interval.
    struct Counters {
        var hits = 0
        var bytes: Int64 = 0
        /// 1xx, 2xx, 3xx, 4xx, 5xx, anything else.
        var statusClasses = [Int](repeating: 0, count: 6)
        var sshFailures = 0
        var sshSuccesses = 0
        var openSessions = 0
        var sectionIndex: [BytesKey: Int] = [:]
        var sectionNames: [String] = []
        var sectionHits: [Int] = []
        var otherSectionHits = 0
        var clients: [IPAddress: Int] = [:]
        var otherClientHits = 0

        mutating func clearInterval() {
            hits = 0
            bytes = 0
            for i in statusClasses.indices { statusClasses[i] = 0 }
            sshFailures = 0
            sshSuccesses = 0
            sectionIndex.removeAll(keepingCapacity: true)
            sectionNames.removeAll(keepingCapacity: true)
            sectionHits.removeAll(keepingCapacity: true)
            otherSectionHits = 0
            clients.removeAll(keepingCapacity: true)
            otherClientHits = 0
        }

        var isIdle: Bool { hits == 0 && sshFailures == 0 && sshSuccesses == 0 && openSessions == 0 }
    }

    private var hosts: [Counters] = []
    /// Most distinct sections counted per host and interval.
    public let maxSectionsPerHost: Int
    /// Most distinct client IPs counted per host and interval.
    public let maxClientsPerHost: Int

    /// Empty stats with the given caps on distinct sections and clients.
    public init(maxSectionsPerHost: Int = 1024, maxClientsPerHost: Int = 16_384) {
        self.maxSectionsPerHost = maxSectionsPerHost
        self.maxClientsPerHost = maxClientsPerHost
    }

    @inline(__always)
    private mutating func ensure(_ host: HostID) -> Int {
        let h = Int(host.rawValue)
        while hosts.count <= h { hosts.append(Counters()) }
        return h
    }

    /// Counts one HTTP request of `host`; `request.section` is a range into `text`.
    public mutating func recordHTTP(host: HostID, request: HTTPRequest, text: UnsafeRawBufferPointer) {
        let h = ensure(host)
        hosts[h].hits += 1
        hosts[h].bytes += max(0, request.bytes)
        let cls = Int(request.status / 100)
        hosts[h].statusClasses[cls >= 1 && cls <= 5 ? cls - 1 : 5] += 1

        let section = UnsafeRawBufferPointer(rebasing: text[request.section.clamped(to: 0..<text.count)])
        if let i = hosts[h].sectionIndex[BytesKey(borrowing: section)] {
            hosts[h].sectionHits[i] += 1
        } else if hosts[h].sectionNames.count < maxSectionsPerHost && !section.isEmpty {
            hosts[h].sectionIndex[BytesKey(owning: Array(section))] = hosts[h].sectionNames.count
            hosts[h].sectionNames.append(String(decoding: section, as: UTF8.self))
            hosts[h].sectionHits.append(1)
        } else {
            hosts[h].otherSectionHits += 1
        }

        if let ip = request.clientIP {
            if let i = hosts[h].clients.index(forKey: ip) {
                hosts[h].clients.values[i] += 1
            } else if hosts[h].clients.count < maxClientsPerHost {
                hosts[h].clients[ip] = 1
            } else {
                hosts[h].otherClientHits += 1
            }
        } else {
            hosts[h].otherClientHits += 1
        }
    }

    /// Counts one sshd event of `host`: failures (including invalid users), successes, and
    /// the open-session gauge (opens minus closes).
    public mutating func recordSSH(host: HostID, event: SSHEvent) {
        let h = ensure(host)
        let n = max(1, event.count)
        switch event.kind {
        case .authFailure, .invalidUser: hosts[h].sshFailures += n
        case .authSuccess: hosts[h].sshSuccesses += n
        case .sessionOpen: hosts[h].openSessions += n
        case .sessionClose: hosts[h].openSessions = max(0, hosts[h].openSessions - n)
        case .probe: break
        }
    }

    /// Starts a new interval: every counter but the open sessions goes back to zero.
    public mutating func reset() {
        for i in hosts.indices { hosts[i].clearInterval() }
    }

    /// The stats block for the interval of `intervalSeconds` ending at `at`: a header, an
    /// `all hosts` section, then one section per active host sorted by name, each with `top`
    /// sections and client IPs, e.g.
    ///
    /// ```
    /// stats at 2026-11-22T10:00:10Z over 10s
    /// all hosts: hits 30 (3.00/s) bytes 4096 | 2xx 25 3xx 1 4xx 3 5xx 1 | ssh failures 2 successes 1 open sessions 1
    ///   top sections: /pages 20, /api 10
    ///   top clients: 203.0.113.7 25, 10.0.0.2 5
    /// host web1: hits 30 (3.00/s) ...
    /// ```
    public func render(at: Timestamp, intervalSeconds: Int64, top: Int = 5, hostName: (HostID) -> String) -> String {
        var all = Counters()
        var sections: [String: Int] = [:]
        var clients: [IPAddress: Int] = [:]
        var active: [(String, Int)] = []
        for (h, c) in hosts.enumerated() where !c.isIdle {
            active.append((hostName(HostID(UInt32(h))), h))
            all.hits += c.hits
            all.bytes += c.bytes
            for i in c.statusClasses.indices { all.statusClasses[i] += c.statusClasses[i] }
            all.sshFailures += c.sshFailures
            all.sshSuccesses += c.sshSuccesses
            all.openSessions += c.openSessions
            all.otherSectionHits += c.otherSectionHits
            all.otherClientHits += c.otherClientHits
            for (i, name) in c.sectionNames.enumerated() { sections[name, default: 0] += c.sectionHits[i] }
            for (ip, n) in c.clients { clients[ip, default: 0] += n }
        }
        var out = "stats at \(at.rfc3339()) over \(Alert.durationText(intervalSeconds))\n"
        out += Self.line(label: "all hosts", all, seconds: intervalSeconds,
                         sections: Array(sections), clients: Array(clients), top: top)
        for (name, h) in active.sorted(by: { $0.0 < $1.0 }) {
            let c = hosts[h]
            out += Self.line(label: "host \(name)", c, seconds: intervalSeconds,
                             sections: Array(zip(c.sectionNames, c.sectionHits)), clients: Array(c.clients), top: top)
        }
        return out
    }

    private static func line(label: String, _ c: Counters, seconds: Int64, sections: [(String, Int)],
                             clients: [(IPAddress, Int)], top: Int) -> String {
        let rate = Alert.twoDecimals(Double(c.hits) / Double(max(1, seconds)))
        let s = c.statusClasses
        var out = "\(label): hits \(c.hits) (\(rate)/s) bytes \(c.bytes) | 2xx \(s[1]) 3xx \(s[2]) 4xx \(s[3]) 5xx \(s[4])"
        if s[0] + s[5] > 0 { out += " other \(s[0] + s[5])" }
        out += " | ssh failures \(c.sshFailures) successes \(c.sshSuccesses) open sessions \(c.openSessions)\n"
        if c.hits > 0 {
            let topSections = sections.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(top)
            out += "  top sections: " + topSections.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
            if c.otherSectionHits > 0 { out += (topSections.isEmpty ? "" : ", ") + "(other) \(c.otherSectionHits)" }
            out += "\n"
            let topClients = clients.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(top)
            out += "  top clients: " + topClients.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
            if c.otherClientHits > 0 { out += (topClients.isEmpty ? "" : ", ") + "(other) \(c.otherClientHits)" }
            out += "\n"
        }
        return out
    }
}
