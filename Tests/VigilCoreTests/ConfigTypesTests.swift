import Testing
@testable import VigilCore

/// Durations, sizes, offsets, listen addresses, CIDR blocks and sink URLs.
@Suite struct ConfigTypesTests {
    @Test(arguments: [
        ("500ms", 500_000), ("10s", 10_000_000), ("2m", 120_000_000), ("1h", 3_600_000_000),
        ("7d", 604_800_000_000), ("1h30m", 5_400_000_000), ("0s", 0),
    ] as [(String, Int64)])
    func durations(text: String, microseconds: Int64) throws {
        let span = try TimeSpan.parse(text).get()
        #expect(span.microseconds == microseconds)
        #expect(try TimeSpan.parse(span.description).get() == span)
    }

    @Test(arguments: [
        ("", "empty duration; use e.g. \"10s\""),
        ("10", "bad duration \"10\": missing unit (ms, s, m, h or d), e.g. \"10s\""),
        ("10x", "bad duration \"10x\": unknown unit `x` (use ms, s, m, h or d)"),
        ("1.5h", "bad duration \"1.5h\": unknown unit `.` (use ms, s, m, h or d)"),
        ("s", "bad duration \"s\": expected a number then a unit (ms, s, m, h, d), e.g. \"10s\""),
        ("-5s", "bad duration \"-5s\": expected a number then a unit (ms, s, m, h, d), e.g. \"10s\""),
        ("99999999999999999d", "duration \"99999999999999999d\" is too large"),
    ])
    func badDurations(text: String, message: String) {
        #expect(TimeSpan.parse(text) == .failure(ConfigValueError(message)))
    }

    @Test func durationDescriptions() {
        #expect(TimeSpan.seconds(600).description == "10m")
        #expect(TimeSpan.seconds(90).description == "90s")
        #expect(TimeSpan(microseconds: 1_500_000).description == "1500ms")
        #expect(TimeSpan(microseconds: 7).description == "7us")
    }

    @Test(arguments: [
        ("65536", 65536), ("64KiB", 65536), ("10MiB", 10_485_760), ("1GiB", 1_073_741_824), ("2TiB", 2 << 40),
        ("1KB", 1000), ("5MB", 5_000_000), ("100B", 100), ("1_000", 1000),
    ] as [(String, Int64)])
    func sizes(text: String, bytes: Int64) {
        #expect(parseByteSize(text) == .success(bytes))
    }

    @Test func badSizes() {
        #expect(parseByteSize("10 furlongs") == .failure(ConfigValueError(
            "bad size \"10 furlongs\": unknown unit `furlongs` (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)")))
        #expect(parseByteSize("KiB") == .failure(ConfigValueError(
            "bad size \"KiB\": expected bytes or a number with a unit, e.g. \"64KiB\"")))
        #expect(parseByteSize("99999999999TiB") == .failure(ConfigValueError("size \"99999999999TiB\" is too large")))
    }

    @Test func utcOffsets() {
        #expect(parseUTCOffset("UTC") == .success(0))
        #expect(parseUTCOffset("+02:00") == .success(7200))
        #expect(parseUTCOffset("-05:30") == .success(-19800))
        #expect(parseUTCOffset("+0100") == .success(3600))
        for bad in ["CET", "+2", "+24:00", "+01:60", "02:00", "+01-00"] {
            #expect((try? parseUTCOffset(bad).get()) == nil, "\(bad)")
        }
    }

    @Test(arguments: [
        ("0.0.0.0:5514", "0.0.0.0:5514", false), ("127.0.0.1:0", "127.0.0.1:0", true),
        ("[::1]:5514", "[::1]:5514", true), ("[::]:514", "[::]:514", false),
        ("[2001:db8::7]:65535", "[2001:db8::7]:65535", false), ("127.9.9.9:80", "127.9.9.9:80", true),
    ])
    func listenAddresses(text: String, formatted: String, loopback: Bool) throws {
        let address = try ListenAddress.parse(text).get()
        #expect(address.description == formatted)
        #expect(address.isLoopback == loopback)
    }

    @Test func ipv6ListenAddressKeepsItsFamily() throws {
        let v6 = try ListenAddress.parse("[::1]:5514").get()
        #expect(!v6.ip.isIPv4)
        #expect(v6.ip == IPAddress.parse("::1"))
        #expect(v6.port == 5514)
        let v4 = try ListenAddress.parse("10.1.2.3:514").get()
        #expect(v4.ip == IPAddress(10, 1, 2, 3))
    }

    @Test(arguments: [
        ("::1:5514", "bad address \"::1:5514\": write IPv6 addresses in brackets, e.g. [::1]:5514"),
        ("[::1:5514", "bad address \"[::1:5514\": missing `]`"),
        ("[::1]5514", "bad address \"[::1]5514\": expected `:PORT` after `]`"),
        ("[127.0.0.1]:5514", "bad listen address \"[127.0.0.1]:5514\": brackets are only for IPv6"),
        ("0.0.0.0", "bad address \"0.0.0.0\": missing `:PORT`"),
        ("0.0.0.0:65536", "bad port in \"0.0.0.0:65536\": expected 0...65535"),
        ("0.0.0.0:", "bad port in \"0.0.0.0:\": expected 0...65535"),
        ("0.0.0.0:-1", "bad port in \"0.0.0.0:-1\": expected 0...65535"),
        (":5514", "bad address \":5514\": missing host"),
        ("localhost:5514", "bad listen address \"localhost:5514\": `localhost` is not an IP address"),
        ("300.1.1.1:5514", "bad listen address \"300.1.1.1:5514\": `300.1.1.1` is not an IP address"),
    ])
    func badListenAddresses(text: String, message: String) {
        #expect(ListenAddress.parse(text) == .failure(ConfigValueError(message)))
    }

    func cidr(_ text: String) throws -> CIDR { try CIDR.parse(text).get() }
    func ip(_ text: String) -> IPAddress { IPAddress.parse(text)! }

    @Test func ipv4Blocks() throws {
        let all = try cidr("0.0.0.0/0")
        #expect(all.contains(ip("1.2.3.4")) && all.contains(ip("255.255.255.255")) && all.contains(ip("0.0.0.0")))
        let ten = try cidr("10.0.0.0/8")
        #expect(ten.contains(ip("10.0.0.0")) && ten.contains(ip("10.255.255.255")))
        #expect(!ten.contains(ip("11.0.0.0")) && !ten.contains(ip("9.255.255.255")))
        let host = try cidr("203.0.113.7/32")
        #expect(host.contains(ip("203.0.113.7")) && !host.contains(ip("203.0.113.8")))
        #expect(try cidr("203.0.113.7") == host)
        let odd = try cidr("192.168.4.0/22")
        #expect(odd.contains(ip("192.168.7.255")) && !odd.contains(ip("192.168.8.0")))
    }

    @Test func ipv6Blocks() throws {
        let net = try cidr("2001:db8:1:2::/64")
        #expect(net.contains(ip("2001:db8:1:2::1")) && net.contains(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")))
        #expect(!net.contains(ip("2001:db8:1:3::")))
        let loop = try cidr("::1/128")
        #expect(loop.contains(ip("::1")) && !loop.contains(ip("::2")))
        let short = try cidr("2001:db8::/32")
        #expect(short.contains(ip("2001:db8:ffff::1")) && !short.contains(ip("2001:db9::")))
        #expect(short.description == "2001:db8::/32")
    }

    /// IPv4 blocks never match IPv6 addresses and the other way round, even at /0.
    @Test func familiesDoNotMix() throws {
        #expect(!(try cidr("0.0.0.0/0")).contains(ip("::1")))
        #expect(!(try cidr("0.0.0.0/0")).contains(ip("2001:db8::1")))
        #expect(!(try cidr("::/0")).contains(ip("10.1.2.3")))
        #expect((try cidr("::/0")).contains(ip("2001:db8::1")))
        #expect(!(try cidr("::/64")).contains(ip("0.0.0.1")))
    }

    @Test(arguments: [
        ("10.0.0.1/8", "bad CIDR \"10.0.0.1/8\": host bits are set (did you mean 10.0.0.0/8?)"),
        ("10.0.0.0/33", "bad CIDR \"10.0.0.0/33\": prefix length must be 0...32"),
        ("2001:db8::/129", "bad CIDR \"2001:db8::/129\": prefix length must be 0...128"),
        ("10.0.0.0/", "bad CIDR \"10.0.0.0/\": prefix length must be 0...32"),
        ("10.0.0/8", "bad CIDR \"10.0.0/8\": `10.0.0` is not an IP address"),
        ("2001:db8::1/64", "bad CIDR \"2001:db8::1/64\": host bits are set (did you mean 2001:db8::/64?)"),
    ])
    func badCIDRs(text: String, message: String) {
        #expect(CIDR.parse(text) == .failure(ConfigValueError(message)))
    }

    @Test(arguments: [
        ("stdout", SinkSpec.stdout, "stdout"),
        ("file:/var/log/vigil/alerts.jsonl", .file(path: "/var/log/vigil/alerts.jsonl"), "file:/var/log/vigil/alerts.jsonl"),
        ("syslog+udp://siem:514", .syslogUDP(host: "siem", port: 514), "syslog+udp://siem:514"),
        ("syslog+tcp://[2001:db8::5]:6000", .syslogTCP(host: "2001:db8::5", port: 6000), "syslog+tcp://[2001:db8::5]:6000"),
        ("syslog+tcp://central", .syslogTCP(host: "central", port: 514), "syslog+tcp://central:514"),
        ("http://hooks.local:8080/alerts/in", .http(host: "hooks.local", port: 8080, path: "/alerts/in"),
         "http://hooks.local:8080/alerts/in"),
        ("http://hooks.local", .http(host: "hooks.local", port: 80, path: "/"), "http://hooks.local:80/"),
        ("alertmanager://am:9093", .alertmanager(host: "am", port: 9093), "alertmanager://am:9093"),
    ])
    func sinks(text: String, spec: SinkSpec, formatted: String) {
        #expect(SinkSpec.parse(text) == .success(spec))
        #expect(spec.description == formatted)
    }

    @Test(arguments: [
        ("file:", "bad sink \"file:\": file: needs a path"),
        ("stderr", "bad sink \"stderr\": expected stdout, file:PATH, syslog+udp://, syslog+tcp://, http:// or alertmanager://"),
        ("syslog+tpc://x:514", "bad sink \"syslog+tpc://x:514\": unknown scheme `syslog+tpc` (did you mean syslog+tcp?)"),
        ("https://x/y", "bad sink \"https://x/y\": unknown scheme `https` (did you mean http?)"),
        ("alertmanager://am:9093/api", "bad sink \"alertmanager://am:9093/api\": alertmanager takes no path"),
        ("syslog+udp://siem:99999", "bad sink \"syslog+udp://siem:99999\": bad port in \"siem:99999\": expected 0...65535"),
    ])
    func badSinks(text: String, message: String) {
        #expect(SinkSpec.parse(text) == .failure(ConfigValueError(message)))
    }

    @Test func didYouMean() {
        #expect(closestMatch(to: "treshold", among: ["enabled", "threshold", "window"]) == "threshold")
        #expect(closestMatch(to: "windw", among: ["enabled", "threshold", "window"]) == "window")
        #expect(closestMatch(to: "colour", among: ["enabled", "threshold", "window"]) == nil)
        #expect(closestMatch(to: "ab", among: ["xy"]) == nil)
    }
}
