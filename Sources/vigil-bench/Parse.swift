import Glibc
import VigilCore

/// The parsed arguments of `vigil-bench parse`.
struct ParseOptions {
    /// Frames to parse in total.
    var count = 0
    /// Bytes of each generated RFC 5424 frame.
    var size = 200

    /// Parses the arguments after `parse`.
    static func parse(_ args: [String]) -> Result<ParseOptions, UsageError> {
        Result { () throws(UsageError) in
            var options = ParseOptions()
            for (flag, value) in try flagPairs(args) {
                switch flag {
                case "--count": options.count = try integer(flag, value, in: 1...BenchOptions.maxCount)
                case "--size": options.size = try integer(flag, value, in: BenchOptions.sizeRange)
                default: throw unknownFlag(flag)
                }
            }
            guard options.count > 0 else { throw UsageError(message: "--count is required") }
            return options
        }
    }
}

/// Real-world RFC 3164 shapes parsed alongside the generated RFC 5424 frames: sshd through
/// rsyslog's traditional forward format, nginx's syslog output, and rsyslog's RFC 3339 variant.
let rfc3164Corpus: [String] = [
    "<38>Nov 22 23:06:43 vm sshd[18410]: Connection closed by 127.0.0.1 port 41470",
    "<86>Nov 22 23:06:44 vm sshd[18421]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=127.0.0.1  user=root",
    "<38>Nov 22 23:06:45 vm sshd[18421]: Failed password for invalid user admin from 127.0.0.1 port 50122 ssh2",
    "<190>Nov 22 23:06:35 vm nginx: 127.0.0.1 - - [22/Nov/2026:23:06:35 +0000] \"GET /index.html HTTP/1.1\" 200 43 \"-\" \"curl/7.88.1\"",
    "<76>2026-11-22T23:06:08.304599+00:00 edge-tcp-forward cron[17136]: rsyslog tcp-forward with pid",
]

/// Parses `count` frames (half generated RFC 5424 of `size` bytes, half the RFC 3164 corpus) with
/// `SyslogParser` and reports frames per second and nanoseconds per frame.
func runParseBenchmark(_ options: ParseOptions) -> String {
    let now = wallClockNow()
    let block = buildFrameBlock(frames: 1024, size: options.size, kind: .datagram, connection: 0, timestamp: now)
    var frames: [[UInt8]] = []
    var start = 0
    for (i, end) in block.ends.enumerated() {
        frames.append(Array(block.bytes[start..<end]))
        frames.append(Array(rfc3164Corpus[i % rfc3164Corpus.count].utf8))
        start = end
    }
    let parser = SyslogParser()
    var checksum = 0
    var unparsed = 0
    var bytes = 0
    let begin = monotonicNanoseconds()
    for i in 0..<options.count {
        let frame = frames[i % frames.count]
        frame.withUnsafeBytes { raw in
            let fields = parser.parse(raw, receivedAt: now)
            checksum &+= fields.hostname.lowerBound &+ fields.text.count
            if fields.isParseError { unparsed += 1 }
            bytes += raw.count
        }
    }
    let elapsed = monotonicNanoseconds() - begin
    let perFrame = Double(elapsed) / Double(options.count)
    let rate = elapsed > 0 ? Int(Double(options.count) * 1e9 / Double(elapsed)) : 0
    let megabytes = elapsed > 0 ? Int(Double(bytes) * 1e3 / Double(elapsed)) : 0
    return "vigil-bench: parse frames=\(options.count) bytes=\(bytes) unparsed=\(unparsed) "
        + "ns_per_frame=\(Int(perFrame)) rate=\(rate) mb_per_s=\(megabytes) checksum=\(checksum)"
}
