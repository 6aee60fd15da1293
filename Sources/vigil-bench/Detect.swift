import Glibc
import VigilCore

/// The parsed arguments of `vigil-bench detect`.
struct DetectOptions {
    /// Messages to analyze.
    var count = 0
    /// Distinct source addresses the messages cycle through.
    var ips = 100_000
    var mix = TrafficMix.mixed
    /// Messages per second of event time: how fast the logs' own clock moves during the run.
    var eventRate = 100_000
    /// Whether the detection rules run (`--rules off` disables all seven: what they cost).
    var rules = true

    /// Parses the arguments after `detect`.
    static func parse(_ args: [String]) -> Result<DetectOptions, UsageError> {
        Result { () throws(UsageError) in
            var options = DetectOptions()
            for (flag, value) in try flagPairs(args) {
                switch flag {
                case "--count": options.count = try integer(flag, value, in: 1...BenchOptions.maxCount)
                case "--ips": options.ips = try integer(flag, value, in: 1...AddressCycle.capacity)
                case "--mix": options.mix = try trafficMix(value)
                case "--event-rate": options.eventRate = try integer(flag, value, in: 1...100_000_000)
                case "--rules":
                    guard value == "on" || value == "off" else { throw UsageError(message: "--rules takes on or off, not \(value)") }
                    options.rules = value == "on"
                default: throw unknownFlag(flag)
                }
            }
            guard options.count > 0 else { throw UsageError(message: "--count is required") }
            return options
        }
    }
}

/// Frames in the block the detect benchmark rewrites and reuses (a power of two).
let detectBlockFrames = 4096

/// Host names for the analyzer's alerts, shared with its `hostName` closure.
final class HostNames {
    var table = HostTable()
}

/// Times `SyslogParser` alone, then `SyslogParser` + `Analyzer` (extraction, detection with the
/// default rules, traffic stats) over the same stream on this thread, and reports messages per
/// second and resident memory (VmRSS at five points of the run, VmHWM at the end).
///
/// The stream: `count` realistic frames from `TrafficBlock`, each rewritten in place with the
/// next of `ips` source addresses and with an event clock that moves `eventRate` messages per
/// second from 01:00 UTC today. Detection time advances and alerts are collected every 4096
/// messages and the stats are reset every 10 s of event time, as the daemon does.
func runDetectBenchmark(_ options: DetectOptions) -> String {
    let today = wallClockNow().seconds / 86_400 * 86_400
    let start = Timestamp(seconds: today + 3600)
    let block = TrafficBlock(frames: detectBlockFrames, mix: options.mix, hosts: benchHostCount, kind: .datagram, start: start)
    let mask = detectBlockFrames - 1
    let parser = SyslogParser()

    /// The event time of message `j`.
    func eventTime(_ j: Int) -> Timestamp {
        start.adding(microseconds: Int64(j) * 1_000_000 / Int64(options.eventRate))
    }

    // Pass 1: parsing alone, with the same rewriting, to separate its cost.
    var checksum = 0
    var addresses = AddressCycle(count: options.ips)
    var second = Int64.min
    var clock = ClockText(start)
    let parseBegin = monotonicNanoseconds()
    for j in 0..<options.count {
        let t = j & mask
        let now = eventTime(j)
        if now.seconds != second {
            second = now.seconds
            clock = ClockText(now)
        }
        block.rewriteAddress(t, addresses)
        block.rewriteClock(t, clock)
        addresses.advance()
        let fields = parser.parse(block.message(t), receivedAt: now)
        checksum &+= fields.text.count
    }
    let parseElapsed = monotonicNanoseconds() - parseBegin

    // Pass 2: parse, intern the host, analyze.
    let names = HostNames()
    var settings = DetectionSettings(config: .defaults)
    if !options.rules {
        for rule in RuleID.allCases { settings[rule].enabled = false }
    }
    var analyzer = Analyzer(settings: settings)
    // Frames are rewritten in place, so a batch is analyzed before its frames are rewritten: it
    // fills with consecutive frames of the block (whose size is a multiple of the batch's).
    var batch = Analyzer.Batch()
    let baseline = memoryStatus()
    var rssSamples: [Int] = []
    let sampleEvery = max(1, options.count / 5)
    var alerts = 0
    var firing = 0
    addresses = AddressCycle(count: options.ips)
    second = Int64.min
    var statsSecond = start.seconds
    let begin = monotonicNanoseconds()
    for j in 0..<options.count {
        let t = j & mask
        let now = eventTime(j)
        if now.seconds != second {
            second = now.seconds
            clock = ClockText(now)
            if second - statsSecond >= 10 {
                statsSecond = second
                analyzer.analyze(&batch)
                analyzer.stats.reset()
            }
        }
        block.rewriteAddress(t, addresses)
        block.rewriteClock(t, clock)
        addresses.advance()
        let frame = block.message(t)
        let fields = parser.parse(frame, receivedAt: now)
        let host = names.table.intern(UnsafeRawBufferPointer(rebasing: frame[fields.hostname]))
        batch.append(frame: frame, fields: fields, host: host, receivedAt: now)
        if batch.isFull { analyzer.analyze(&batch) }
        if t == mask {
            analyzer.analyze(&batch)
            analyzer.advance(now: now)
            // Named as a dispatcher names them (the cost the engine had when it named them itself).
            for alert in analyzer.engine.takeAlerts().map({ $0.named(by: names.table.name(of:)) }) {
                alerts += 1
                if alert.state == .firing { firing += 1 }
            }
        }
        if (j + 1) % sampleEvery == 0 { rssSamples.append(memoryStatus().rssKiB) }
    }
    let elapsed = monotonicNanoseconds() - begin
    let end = memoryStatus()

    let counters = analyzer.counters
    let keys = RuleID.allCases.map { "\($0.name)=\(analyzer.engine.keyCount(of: $0))" }.joined(separator: ",")
    let evictions = RuleID.allCases.reduce(0) { $0 + analyzer.engine.evictions(of: $1) }
    func rate(_ nanos: UInt64) -> Int { nanos > 0 ? Int(Double(options.count) * 1e9 / Double(nanos)) : 0 }
    let parseNs = Double(parseElapsed) / Double(options.count)
    let totalNs = Double(elapsed) / Double(options.count)
    return "vigil-bench: detect mix=\(options.mix.rawValue) rules=\(options.rules ? "on" : "off") messages=\(options.count) ips=\(options.ips) "
        + "event_rate=\(options.eventRate) rate=\(rate(elapsed)) ns_per_msg=\(Int(totalNs)) "
        + "parse_rate=\(rate(parseElapsed)) parse_ns_per_msg=\(Int(parseNs)) "
        + "analyze_ns_per_msg=\(Int(max(0, totalNs - parseNs))) "
        + "ssh_lines=\(counters.sshLines) ssh_events=\(counters.sshEvents) http_requests=\(counters.httpRequests) "
        + "late=\(analyzer.engine.lateEvents) alerts=\(alerts) firing=\(firing) keys=\(keys) evictions=\(evictions) "
        + "rss_base_kib=\(baseline.rssKiB) rss_kib=\(rssSamples.map(String.init).joined(separator: ",")) "
        + "hwm_kib=\(end.hwmKiB) checksum=\(checksum)"
}

/// Resident memory of this process from /proc/self/status, in KiB.
struct MemoryStatus {
    /// VmRSS: resident now.
    var rssKiB = 0
    /// VmHWM: the peak resident size so far.
    var hwmKiB = 0
}

/// Reads VmRSS and VmHWM from /proc/self/status (zeros when it cannot be read).
func memoryStatus() -> MemoryStatus {
    var status = MemoryStatus()
    let fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return status }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard n > 0 else { return status }
    for line in buffer[0..<n].split(separator: UInt8(ascii: "\n")) {
        // "VmRSS:\t  123456 kB"
        let text = String(decoding: line, as: UTF8.self)
        var value = 0
        for c in line where c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") { value = value * 10 + Int(c - 48) }
        if text.hasPrefix("VmRSS:") { status.rssKiB = value }
        if text.hasPrefix("VmHWM:") { status.hwmKiB = value }
    }
    return status
}
