/// Counters for the periodic stats block (README, "Stats block") and for the HTTP and ssh totals of the
/// offline report: per host and for all hosts, the hits, hits/s, top sections, status
/// classes, bytes and top client IPs of the HTTP traffic, and the ssh events and open sessions.
///
/// Pure accumulation: the caller records events as they come, calls `render` when its
/// interval elapses, then `reset()` to start the next interval (the offline report never
/// resets and reads the totals through `host(_:)` and `allHosts()`). Open sessions are a
/// gauge and survive `reset()`. Distinct sections and client IPs per host are capped per
/// interval (`unlimited` for no cap); the excess is counted as "other".
public struct TrafficStats: Sendable {
    /// The counters of one host for one interval (or of all hosts, from `allHosts()`).
    public struct Counters: Sendable {
        public fileprivate(set) var hits = 0
        public fileprivate(set) var bytes: Int64 = 0
        /// 1xx, 2xx, 3xx, 4xx, 5xx, anything else.
        public fileprivate(set) var statusClasses = [Int](repeating: 0, count: 6)
        /// sshd events by `SSHEvent.Kind.rawValue`, each weighted by its count.
        public fileprivate(set) var sshEvents = [Int](repeating: 0, count: SSHEvent.Kind.allCases.count)
        /// The open-session gauge: opens minus closes, never below zero.
        public fileprivate(set) var openSessions = 0
        /// Section bytes to their position in `sectionNames` and `sectionHits`.
        fileprivate var sectionIndex: ByteStringIndex
        fileprivate var sectionNames: [String] = []
        fileprivate var sectionHits: [Int] = []
        /// Hits whose section was empty or past the cap.
        public fileprivate(set) var otherSectionHits = 0
        /// Hits per client address (up to the cap).
        fileprivate var clientHits = AddressCounts()
        /// Hits without a client address or past the cap.
        public fileprivate(set) var otherClientHits = 0
        /// Hits and failed logins of the intervals before this one (kept across `reset`, added up
        /// there, so counting since the start costs nothing per message).
        public fileprivate(set) var hitsBefore = 0
        public fileprivate(set) var sshFailuresBefore = 0

        /// Hits since the start.
        public var hitsSinceStart: Int { hitsBefore + hits }
        /// Failed logins (invalid users included) since the start.
        public var sshFailuresSinceStart: Int { sshFailuresBefore + sshFailures }

        /// Failed logins, invalid users included.
        public var sshFailures: Int {
            sshEvents[Int(SSHEvent.Kind.authFailure.rawValue)] + sshEvents[Int(SSHEvent.Kind.invalidUser.rawValue)]
        }
        /// Accepted logins.
        public var sshSuccesses: Int { sshEvents[Int(SSHEvent.Kind.authSuccess.rawValue)] }

        /// The counted sections with their hits, in the order first seen.
        public var sections: Zip2Sequence<[String], [Int]> { zip(sectionNames, sectionHits) }

        /// The `n` sections with most hits, ties by name.
        public func topSections(_ n: Int) -> [(section: String, hits: Int)] {
            Array(sections.map { (section: $0.0, hits: $0.1) }
                .sorted { $0.hits != $1.hits ? $0.hits > $1.hits : $0.section < $1.section }.prefix(n))
        }

        /// How many distinct client addresses were counted.
        public var clientCount: Int { clientHits.count }

        /// Every counted client address with its hits, in no order.
        public var clients: [(ip: IPAddress, hits: Int)] { clientHits.all.map { (ip: $0.ip, hits: $0.count) } }

        /// The `n` client addresses with most hits, ties by address.
        public func topClients(_ n: Int) -> [(ip: IPAddress, hits: Int)] {
            clientHits.top(n).map { (ip: $0.ip, hits: $0.count) }
        }

        /// Empty counters whose section index hashes under `seed`.
        init(seed: UInt64 = 0) { sectionIndex = ByteStringIndex(seed: seed) }

        mutating func clearInterval() {
            hitsBefore += hits
            sshFailuresBefore += sshFailures
            hits = 0
            bytes = 0
            for i in statusClasses.indices { statusClasses[i] = 0 }
            for i in sshEvents.indices { sshEvents[i] = 0 }
            sectionIndex.removeAll()
            sectionNames.removeAll(keepingCapacity: true)
            sectionHits.removeAll(keepingCapacity: true)
            otherSectionHits = 0
            clientHits.removeAll()
            otherClientHits = 0
        }

        /// Adds `other`'s counters (sections by name, clients by address) to these, without caps.
        mutating func add(_ other: Counters) {
            hits += other.hits
            bytes += other.bytes
            for i in statusClasses.indices { statusClasses[i] += other.statusClasses[i] }
            for i in sshEvents.indices { sshEvents[i] += other.sshEvents[i] }
            openSessions += other.openSessions
            otherSectionHits += other.otherSectionHits
            otherClientHits += other.otherClientHits
            for (name, n) in other.sections {
                let i = Array(name.utf8).withUnsafeBytes { sectionIndex.add($0) }
                if i < sectionNames.count {
                    sectionHits[i] += n
                } else {
                    sectionNames.append(name)
                    sectionHits.append(n)
                }
            }
            other.clientHits.forEach { ip, n in _ = clientHits.add(ip, n) }
        }

        var isIdle: Bool { hits == 0 && sshEvents.allSatisfy { $0 == 0 } && openSessions == 0 }
    }

    private var hosts: [Counters] = []
    /// Most distinct sections counted per host and interval.
    public let maxSectionsPerHost: Int
    /// Most distinct client IPs counted per host and interval.
    public let maxClientsPerHost: Int

    /// Seeds the hashing of the sections (which senders choose).
    private let hashSeed: UInt64

    /// Empty stats with the given caps on distinct sections and clients; `hashSeed` seeds the
    /// hashing of section names (a daemon passes a random one so that senders cannot choose
    /// paths that all land in one probe run).
    public init(maxSectionsPerHost: Int = 1024, maxClientsPerHost: Int = 16_384, hashSeed: UInt64 = 0) {
        self.maxSectionsPerHost = maxSectionsPerHost
        self.maxClientsPerHost = maxClientsPerHost
        self.hashSeed = hashSeed
    }

    /// Stats without caps (memory follows the distinct sections and clients), for a report over
    /// a whole input that is never reset.
    public static var unlimited: TrafficStats { TrafficStats(maxSectionsPerHost: .max, maxClientsPerHost: .max) }

    /// The counters of `host` (empty when it recorded nothing).
    public func host(_ host: HostID) -> Counters {
        let h = Int(host.rawValue)
        return h < hosts.count ? hosts[h] : Counters()
    }

    /// The hosts that recorded anything since the last reset (or hold open sessions), by id.
    public var activeHosts: [HostID] {
        hosts.indices.filter { !hosts[$0].isIdle }.map { HostID(UInt32($0)) }
    }

    /// The counters of every host added up.
    public func allHosts() -> Counters {
        var all = Counters()
        for c in hosts where !c.isIdle { all.add(c) }
        return all
    }

    @inline(__always)
    private mutating func ensure(_ host: HostID) -> Int {
        let h = Int(host.rawValue)
        while hosts.count <= h { hosts.append(Counters(seed: hashSeed)) }
        return h
    }

    /// Starts loading where `recordHTTP` will count `ip` among `host`'s clients (a hint: changes nothing).
    @inline(__always)
    public func prefetchClient(host: HostID, ip: IPAddress) {
        let h = Int(host.rawValue)
        if h < hosts.count { hosts[h].clientHits.prefetch(ip) }
    }

    /// Counts one HTTP request of `host`; `request.section` is a range into `text`.
    public mutating func recordHTTP(host: HostID, request: HTTPRequest, text: UnsafeRawBufferPointer) {
        let h = ensure(host)
        hosts[h].hits += 1
        hosts[h].bytes += max(0, request.bytes)
        let cls = Int(request.status / 100)
        hosts[h].statusClasses[cls >= 1 && cls <= 5 ? cls - 1 : 5] += 1

        // The client first: its table is large and its probe likely misses the cache; the
        // section lookup below then runs while that load is outstanding.
        if let ip = request.clientIP, hosts[h].clientHits.add(ip, 1, limit: maxClientsPerHost) {
            // counted
        } else {
            hosts[h].otherClientHits += 1
        }

        let section = UnsafeRawBufferPointer(rebasing: text[request.section.clamped(to: 0..<text.count)])
        if let i = hosts[h].sectionIndex.index(of: section) {
            hosts[h].sectionHits[i] += 1
        } else if hosts[h].sectionNames.count < maxSectionsPerHost && !section.isEmpty {
            _ = hosts[h].sectionIndex.add(section)
            hosts[h].sectionNames.append(String(decoding: section, as: UTF8.self))
            hosts[h].sectionHits.append(1)
        } else {
            hosts[h].otherSectionHits += 1
        }
    }

    /// Counts one sshd event of `host` by kind (`count` times), and moves the open-session
    /// gauge (opens minus closes).
    public mutating func recordSSH(host: HostID, event: SSHEvent) {
        let h = ensure(host)
        let n = max(1, event.count)
        hosts[h].sshEvents[Int(event.kind.rawValue)] += n
        switch event.kind {
        case .sessionOpen: hosts[h].openSessions += n
        case .sessionClose: hosts[h].openSessions = max(0, hosts[h].openSessions - n)
        default: break
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
    ///
    /// Host names and sections come from senders: each is escaped with `TerminalText.escaped`,
    /// so the block has exactly these lines whatever they hold and no control character.
    public func render(at: Timestamp, intervalSeconds: Int64, top: Int = 5, hostName: (HostID) -> String) -> String {
        var out = "stats at \(at.rfc3339()) over \(Alert.durationText(intervalSeconds))\n"
        out += Self.line(label: "all hosts", allHosts(), seconds: intervalSeconds, top: top)
        for (name, h) in activeHosts.map({ (hostName($0), $0) }).sorted(by: { $0.0 < $1.0 }) {
            out += Self.line(label: "host " + TerminalText.escaped(name), host(h), seconds: intervalSeconds, top: top)
        }
        return out
    }

    private static func line(label: String, _ c: Counters, seconds: Int64, top: Int) -> String {
        let rate = Alert.twoDecimals(Double(c.hits) / Double(max(1, seconds)))
        let s = c.statusClasses
        var out = "\(label): hits \(c.hits) (\(rate)/s) bytes \(c.bytes) | 2xx \(s[1]) 3xx \(s[2]) 4xx \(s[3]) 5xx \(s[4])"
        if s[0] + s[5] > 0 { out += " other \(s[0] + s[5])" }
        out += " | ssh failures \(c.sshFailures) successes \(c.sshSuccesses) open sessions \(c.openSessions)\n"
        if c.hits > 0 {
            let topSections = c.topSections(top)
            out += "  top sections: " + topSections.map { TerminalText.escaped($0.section) + " \($0.hits)" }.joined(separator: ", ")
            if c.otherSectionHits > 0 { out += (topSections.isEmpty ? "" : ", ") + "(other) \(c.otherSectionHits)" }
            out += "\n"
            let topClients = c.topClients(top)
            out += "  top clients: " + topClients.map { "\($0.ip) \($0.hits)" }.joined(separator: ", ")
            if c.otherClientHits > 0 { out += (topClients.isEmpty ? "" : ", ") + "(other) \(c.otherClientHits)" }
            out += "\n"
        }
        return out
    }
}
