import Glibc
import VigilCore

/// The transport a load run uses.
enum Transport: String {
    case tcp, udp
}

/// How TCP frames are delimited (RFC 6587): octet-counting or a trailing LF.
enum TCPFraming: String {
    case octet, lf
}

/// A command-line mistake, reported with the usage text and exit code 2.
struct UsageError: Error {
    var message: String
}

/// Options whose `rate` (messages per second, 0: unpaced) is split over `connections` senders.
protocol PacedConnections {
    var rate: Int { get }
    var connections: Int { get }
}

extension PacedConnections {
    /// Connection `c`'s share of `rate` (at least 1, so a paced sender never runs unpaced), or 0
    /// when unpaced.
    func rateShare(_ c: Int) -> Int { rate > 0 ? max(evenShare(rate, of: connections, c), 1) : 0 }
}

/// The parsed arguments of `vigil-bench load`.
struct BenchOptions: PacedConnections {
    /// Upper bound on `--count`, so that a typo cannot start an endless run.
    static let maxCount = 100_000_000
    /// Upper bound on `--connections` (one thread each).
    static let maxConnections = 256
    /// Accepted range of `--size` (bytes of one message, framing excluded).
    static let sizeRange = 80...65_536

    var transport: Transport
    var target: SocketAddress
    var connections = 1
    var count = 0
    var framing = TCPFraming.octet
    var size = 200
    /// Messages per second for UDP; 0 means as fast as possible.
    var rate = 0
    /// Send realistic sshd/nginx frames of this mix (`TrafficBlock`) instead of filler:
    /// octet-counted over TCP, one bare frame per datagram over UDP.
    var mix: TrafficMix?
    /// Distinct source addresses the realistic frames cycle through.
    var ips = 1_000_000
    /// Hosts (`web-01…`) the realistic frames are spread over.
    var hosts = benchHostCount

    /// The text printed after a usage error.
    static let usage = """
        usage: vigil-bench load --tcp HOST:PORT --count N [--connections N] [--framing octet|lf] [--size BYTES]
               vigil-bench load --tcp HOST:PORT --count N --mix ssh|http|mixed [--ips N] [--hosts N] [--connections N]
               vigil-bench load --udp HOST:PORT --count N [--connections N] [--rate MSGS_PER_S] [--size BYTES]
               vigil-bench load --udp HOST:PORT --count N --mix ssh|http|mixed [--ips N] [--hosts N] [--connections N]
                   [--rate MSGS_PER_S]
               vigil-bench parse --count N [--size BYTES]
               vigil-bench detect --count N [--ips N] [--mix ssh|http|mixed] [--event-rate MSGS_PER_S] [--rules on|off]
               vigil-bench latency --tcp HOST:PORT --alerts FILE [--rate MSGS_PER_S] [--duration S]
                   [--probes-per-s N] [--threshold N] [--mix ssh|http|mixed] [--ips N] [--connections N]
                   [--first-probe N]
               vigil-bench api --http HOST:PORT --token T --path PATH [--connections N] [--duration S]
        HOST must be a loopback address (127.0.0.0/8, ::1 as [::1], or localhost).
        """

    /// Parses the arguments after `load`; everything is checked before any socket is opened.
    static func parse(_ args: [String]) -> Result<BenchOptions, UsageError> {
        Result { () throws(UsageError) in
            var transport: Transport?
            var options = BenchOptions(transport: .tcp, target: SocketAddress(ip: IPAddress(127, 0, 0, 1), port: 0))
            for (flag, value) in try flagPairs(args) {
                switch flag {
                case "--tcp", "--udp":
                    if transport != nil { throw UsageError(message: "give exactly one of --tcp and --udp") }
                    transport = flag == "--tcp" ? .tcp : .udp
                    options.target = try loopbackTarget(value)
                case "--connections": options.connections = try integer(flag, value, in: 1...maxConnections)
                case "--count": options.count = try integer(flag, value, in: 1...maxCount)
                case "--framing":
                    guard let framing = TCPFraming(rawValue: value) else {
                        throw UsageError(message: "--framing must be octet or lf, got '\(value)'")
                    }
                    options.framing = framing
                case "--size": options.size = try integer(flag, value, in: sizeRange)
                case "--rate": options.rate = try integer(flag, value, in: 0...100_000_000)
                case "--mix": options.mix = try trafficMix(value)
                case "--ips": options.ips = try integer(flag, value, in: 1...AddressCycle.capacity)
                case "--hosts": options.hosts = try integer(flag, value, in: 1...999)
                default: throw unknownFlag(flag)
                }
            }
            guard let transport else { throw UsageError(message: "give one of --tcp HOST:PORT or --udp HOST:PORT") }
            guard options.count > 0 else { throw UsageError(message: "--count is required") }
            if transport == .tcp && options.mix != nil && options.framing != .octet {
                throw UsageError(message: "--mix frames are octet-counted over TCP")
            }
            if transport == .tcp && options.rate != 0 { throw UsageError(message: "--rate applies to --udp only") }
            if transport == .udp && options.size > 65_000 {
                throw UsageError(message: "--size for UDP must fit a datagram (at most 65000)")
            }
            options.transport = transport
            return options
        }
    }

    /// Connection `c`'s share of `count` (the first ones take the remainder).
    func countShare(_ c: Int) -> Int { evenShare(count, of: connections, c) }
}

/// Part `index` of `total` split into `parts` shares that differ by at most one.
func evenShare(_ total: Int, of parts: Int, _ index: Int) -> Int {
    total / parts + (index < total % parts ? 1 : 0)
}

/// Parses `127.0.0.1:5514`, `[::1]:5514` or `localhost:5514` and refuses any address
/// outside 127.0.0.0/8 and ::1, so the generator can never flood another machine.
func parseLoopbackTarget(_ text: String) -> Result<SocketAddress, UsageError> {
    var host: Substring
    var portText: Substring
    if text.hasPrefix("[") {
        guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
            return .failure(UsageError(message: "bad address '\(text)': expected [IPv6]:PORT"))
        }
        host = text[text.index(after: text.startIndex)..<close]
        portText = text[text.index(close, offsetBy: 2)...]
    } else {
        guard let colon = text.lastIndex(of: ":") else {
            return .failure(UsageError(message: "bad address '\(text)': expected HOST:PORT"))
        }
        host = text[..<colon]
        portText = text[text.index(after: colon)...]
    }
    guard let port = UInt16(portText), port != 0 else {
        return .failure(UsageError(message: "bad port in '\(text)'"))
    }
    if host == "localhost" { host = "127.0.0.1" }
    guard let ip = IPAddress.parse(String(host)) else {
        return .failure(UsageError(message: "bad address '\(text)': HOST must be a numeric loopback address"))
    }
    guard ip.isLoopback else {
        return .failure(UsageError(message: "refusing non-loopback target '\(text)': only 127.0.0.0/8 and ::1 are allowed"))
    }
    return .success(SocketAddress(ip: ip, port: port))
}

/// Writes one line to stderr.
func printError(_ line: String) {
    var copy = line + "\n"
    copy.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
