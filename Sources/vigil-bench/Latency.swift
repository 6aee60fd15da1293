import CVigilShim
import Glibc
import VigilCore
import VigilPosix

/// The parsed arguments of `vigil-bench latency`.
struct LatencyOptions: PacedConnections {
    var target = SocketAddress(ip: IPAddress(127, 0, 0, 1), port: 0)
    /// The alert file (a `file:` sink or DATA/alerts.jsonl) to watch.
    var alerts = ""
    /// Background load in messages per second (0: no load).
    var rate = 0
    var duration = 10
    /// Bursts per second that must each fire `ssh_bruteforce`.
    var probeRate = 10
    /// Failures per burst: the rule's threshold.
    var threshold = 5
    var mix = TrafficMix.http
    var ips = 1_000_000
    /// TCP connections carrying the background load.
    var connections = 1
    /// Number of the first burst: its address is the first-th of 172.16.0.0/12. Runs against one
    /// daemon need distinct ranges, since an address already firing does not fire again.
    var firstProbe = 1

    /// Parses the arguments after `latency`.
    static func parse(_ args: [String]) -> Result<LatencyOptions, UsageError> {
        Result { () throws(UsageError) in
            var options = LatencyOptions()
            var sawTarget = false
            for (flag, value) in try flagPairs(args) {
                switch flag {
                case "--tcp": options.target = try loopbackTarget(value); sawTarget = true
                case "--alerts": options.alerts = value
                case "--mix": options.mix = try trafficMix(value)
                case "--rate": options.rate = try integer(flag, value, in: 0...10_000_000)
                case "--duration": options.duration = try integer(flag, value, in: 1...600)
                case "--probes-per-s": options.probeRate = try integer(flag, value, in: 1...1000)
                case "--threshold": options.threshold = try integer(flag, value, in: 1...1000)
                case "--ips": options.ips = try integer(flag, value, in: 1...AddressCycle.capacity)
                case "--connections": options.connections = try integer(flag, value, in: 1...BenchOptions.maxConnections)
                case "--first-probe": options.firstProbe = try integer(flag, value, in: 1...(1 << 20) - 1)
                default: throw unknownFlag(flag)
                }
            }
            guard sawTarget else { throw UsageError(message: "--tcp HOST:PORT is required") }
            guard !options.alerts.isEmpty else { throw UsageError(message: "--alerts FILE is required") }
            return options
        }
    }
}

/// Reads what is appended to a file, from its end at the time it is opened (or from its start
/// when it does not exist yet), and finds text in it.
struct AppendedText {
    let path: String
    private var fd: Int32 = -1
    private var pending: [UInt8] = []

    init(path: String) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { _ = lseek(fd, 0, SEEK_END) }
    }

    /// Reads what was appended since the last call and returns true when it (with what was
    /// read before and not yet matched) contains `needle`; the text up to the match is consumed.
    mutating func find(_ needle: [UInt8]) -> Bool {
        if fd < 0 {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 { return false }
        }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            pending.append(contentsOf: chunk[0..<n])
        }
        guard pending.count >= needle.count else { return false }
        var i = 0
        let last = pending.count - needle.count
        while i <= last {
            if pending[i] == needle[0] && pending[i..<(i + needle.count)].elementsEqual(needle) {
                pending.removeFirst(i + needle.count)
                return true
            }
            i += 1
        }
        // Keep a tail that may hold the start of a match.
        if pending.count > needle.count { pending.removeFirst(pending.count - needle.count) }
        return false
    }
}

/// `p` (0...100) of sorted `values`, nearest rank.
func percentile(_ sorted: [UInt64], _ p: Int) -> UInt64 {
    guard !sorted.isEmpty else { return 0 }
    let rank = max(1, (sorted.count * p + 99) / 100)
    return sorted[min(sorted.count, rank) - 1]
}

/// Milliseconds with one decimal.
func millisText(_ nanos: UInt64) -> String {
    let tenths = nanos / 100_000
    return "\(tenths / 10).\(tenths % 10)"
}

/// Alert latency in a running daemon: a paced background load (`RealisticSender`) plus, on a
/// connection of their own, bursts of `threshold` failed logins from a fresh address (one
/// `10.x` address space for the load, `172.16.0.0/12` for the bursts) that must each fire
/// `ssh_bruteforce`. For each burst, the time from just before its write until the alert naming
/// its address shows in the alert file (polled every 0.2 ms); bursts whose alert does not show
/// within 5 s count as missed.
func runLatencyBenchmark(_ options: LatencyOptions) -> Result<String, LoadError> {
    let deadline = monotonicNanoseconds() + UInt64(options.duration) * 1_000_000_000
    var senders: [RealisticSender] = []
    var threads: [JoinableThread] = []
    if options.rate > 0 {
        for c in 0..<options.connections {
            senders.append(RealisticSender(target: options.target, transport: .tcp, mix: options.mix, hosts: benchHostCount,
                                           ips: options.ips, count: BenchOptions.maxCount,
                                           rate: options.rateShare(c), deadline: deadline))
        }
        for sender in senders {
            do {
                threads.append(try JoinableThread(named: "bench-load") { sender.run() })
            } catch {
                for t in threads { t.join() }
                return .failure(.system(error.call, error.errno))
            }
        }
    }
    defer { for t in threads { t.join() } }

    let fd: Int32
    switch connectedSocket(Int32(SOCK_STREAM.rawValue), to: options.target) {
    case .success(let opened): fd = opened
    case .failure(let error): return .failure(error)
    }
    defer { close(fd) }
    var alerts = AppendedText(path: options.alerts)
    // Let the load reach its pace before the first burst.
    var pause = timespec(tv_sec: 0, tv_nsec: 500_000_000)
    nanosleep(&pause, nil)

    var latencies: [UInt64] = []
    var missed = 0
    var probes = 0
    let interval = 1_000_000_000 / UInt64(options.probeRate)
    var nextProbe = monotonicNanoseconds()
    var burst: [UInt8] = []
    while monotonicNanoseconds() + 1_000_000_000 < deadline {
        let now = monotonicNanoseconds()
        if now < nextProbe {
            var wait = timespec(tv_sec: 0, tv_nsec: Int(nextProbe - now))
            nanosleep(&wait, nil)
        }
        nextProbe += interval
        let probe = (options.firstProbe + probes) & ((1 << 20) - 1)
        probes += 1
        let ip = "172.\(16 + probe >> 16 & 15).\(probe >> 8 & 255).\(probe & 255)"
        burst.removeAll(keepingCapacity: true)
        appendProbeBurst(ip: ip, pid: 40_000 + probe % 20_000, failures: options.threshold, to: &burst)
        let needle = Array("\"ip\":\"\(ip)\"".utf8)
        let sentAt = monotonicNanoseconds()
        if let error = burst.withUnsafeBytes({ writeAll(fd, $0) }) { return .failure(error) }
        var seen = false
        while monotonicNanoseconds() - sentAt < 5_000_000_000 {
            if alerts.find(needle) {
                latencies.append(monotonicNanoseconds() - sentAt)
                seen = true
                break
            }
            var tick = timespec(tv_sec: 0, tv_nsec: 200_000)
            nanosleep(&tick, nil)
        }
        if !seen { missed += 1 }
    }
    _ = shutdown(fd, Int32(SHUT_WR))
    for t in threads { t.join() }
    threads.removeAll()
    if let error = senders.lazy.compactMap(\.failure).first { return .failure(error) }
    let sent = senders.reduce(0) { $0 + $1.sent }
    let elapsed = senders.map(\.elapsedNanoseconds).max() ?? 0
    let loadRate = elapsed > 0 ? Int(Double(sent) * 1e9 / Double(elapsed)) : 0
    let sorted = latencies.sorted()
    return .success("vigil-bench: latency target=\(options.target) load_rate_asked=\(options.rate) "
        + "load_sent=\(sent) load_rate=\(loadRate) mix=\(options.mix.rawValue) probes=\(probes) seen=\(sorted.count) "
        + "missed=\(missed) p50_ms=\(millisText(percentile(sorted, 50))) p90_ms=\(millisText(percentile(sorted, 90))) "
        + "p99_ms=\(millisText(percentile(sorted, 99))) max_ms=\(millisText(sorted.last ?? 0))")
}

/// Appends `failures` octet-counted sshd lines `Failed password for invalid user probe from IP …`
/// from host `latency-probe`, stamped with the wall clock.
func appendProbeBurst(ip: String, pid: Int, failures: Int, to out: inout [UInt8]) {
    var stamp: [UInt8] = []
    wallClockNow().appendRFC3339(to: &stamp, fractionalDigits: 6)
    var message: [UInt8] = []
    for i in 0..<failures {
        message.removeAll(keepingCapacity: true)
        message.append(contentsOf: "<38>1 ".utf8)
        message.append(contentsOf: stamp)
        message.append(contentsOf: " latency-probe sshd ".utf8)
        appendDigits(pid, width: 0, to: &message)
        message.append(contentsOf: " - - Failed password for invalid user probe from ".utf8)
        message.append(contentsOf: ip.utf8)
        message.append(contentsOf: " port ".utf8)
        appendDigits(40_000 + i, width: 0, to: &message)
        message.append(contentsOf: " ssh2".utf8)
        appendDigits(message.count, width: 0, to: &out)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: message)
    }
}
