import Glibc
import Testing
import VigilCore
@testable import vigil_bench

/// A bound loopback UDP socket that the tests read datagrams from.
private struct DatagramSink: ~Copyable {
    let fd: Int32
    let address: SocketAddress

    init() {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        setSocketOption(fd, SOL_SOCKET, SO_RCVBUF, 4 << 20)
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = bind(fd, $0, length)
                return getsockname(fd, $0, &length)
            }
        }
        self.fd = fd
        address = SocketAddress(ip: IPAddress(127, 0, 0, 1), port: UInt16(bigEndian: sin.sin_port))
    }

    deinit { close(fd) }

    /// Every datagram waiting now, each as received.
    func drain() -> [[UInt8]] {
        var datagrams: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n < 0 { return datagrams }
            datagrams.append(Array(buffer[0..<n]))
        }
    }
}

@Test func udpMixSendsOneWholeFramePerDatagramFromEveryHost() {
    let sink = DatagramSink()
    // 4 frames a host: few enough to sit in the socket buffer until they are read.
    let sender = RealisticSender(target: sink.address, transport: .udp, mix: .mixed, hosts: 41, ips: 1000,
                                 count: 164, rate: 0, deadline: .max)
    sender.run()
    #expect(sender.failure == nil)
    #expect(sender.sent == 164)
    let datagrams = sink.drain()
    #expect(datagrams.count == 164)
    #expect(datagrams.reduce(0) { $0 + $1.count } == sender.bytes)
    var hosts = Set<String>()
    var sshd = 0
    let parser = SyslogParser()
    for datagram in datagrams {
        // A bare frame: no octet count, no trailing LF, nothing a receiver could split it at.
        #expect(datagram.first == UInt8(ascii: "<"))
        #expect(!datagram.contains(UInt8(ascii: "\n")) && !datagram.contains(0))
        let fields = datagram.withUnsafeBytes { parser.parse($0, receivedAt: wallClockNow()) }
        #expect(!fields.isParseError)
        hosts.insert(String(decoding: datagram[fields.hostname], as: UTF8.self))
        if datagram[fields.appName].elementsEqual("sshd".utf8) { sshd += 1 }
    }
    #expect(hosts == Set((1...41).map { $0 < 10 ? "web-0\($0)" : "web-\($0)" }))
    #expect(sshd == 164 * 2 / 5)
}

@Test func loadTakesMixOverUDPButNotLineFeedFramesOverTCP() throws {
    let udp = try BenchOptions.parse(["--udp", "127.0.0.1:5514", "--count", "10", "--mix", "mixed", "--hosts", "41",
                                      "--rate", "100", "--connections", "3"]).get()
    #expect(udp.transport == .udp && udp.mix == .mixed && udp.hosts == 41 && udp.rate == 100)
    #expect((0..<3).map(udp.countShare) == [4, 3, 3])
    #expect((0..<3).map(udp.rateShare) == [34, 33, 33])
    #expect(try BenchOptions.parse(["--tcp", "127.0.0.1:5514", "--count", "10", "--mix", "mixed"]).get().hosts == benchHostCount)
    #expect(throws: UsageError.self) {
        try BenchOptions.parse(["--tcp", "127.0.0.1:5514", "--count", "10", "--mix", "mixed", "--framing", "lf"]).get()
    }
    #expect(throws: UsageError.self) {
        try BenchOptions.parse(["--udp", "127.0.0.1:5514", "--count", "10", "--mix", "mixed", "--hosts", "0"]).get()
    }
}

@Test func latencyPacesEverySenderWhenItsRateIsBelowTheConnections() throws {
    let options = try LatencyOptions.parse(["--tcp", "127.0.0.1:5514", "--alerts", "/dev/null", "--rate", "2",
                                            "--connections", "4"]).get()
    #expect((0..<4).map(options.rateShare) == [1, 1, 1, 1])
    let unpaced = try LatencyOptions.parse(["--tcp", "127.0.0.1:5514", "--alerts", "/dev/null", "--connections", "4"]).get()
    #expect((0..<4).map(unpaced.rateShare) == [0, 0, 0, 0])
}

@Test(arguments: [0, 1, 155, 156, 157, 24_335, 24_336, 29_999, 30_000, 30_001])
func addressCycleStartsWhereAdvancingWouldBe(first: Int) {
    var walked = AddressCycle(count: 30_000)
    for _ in 0..<(first % 30_000) { walked.advance() }
    let started = AddressCycle(count: 30_000, first: first)
    #expect([started.index, started.b, started.c, started.d] == [walked.index, walked.b, walked.c, walked.d])
}
