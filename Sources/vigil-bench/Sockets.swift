import CVigilShim
import Glibc
import VigilCore

/// A failed run: which step failed and why.
struct LoadError: Error, CustomStringConvertible {
    var description: String

    /// An error from a system call, with errno's text.
    static func system(_ call: String, _ code: Int32) -> LoadError {
        LoadError(description: "\(call): \(String(cString: strerror(code)))")
    }
}

/// What a load run sent, how long the sending took, and the CPU time it cost this process.
struct LoadReport {
    var messages: Int
    var bytes: Int
    var elapsedNanoseconds: UInt64
    /// This process's user and system CPU time over the run (`processCPUNanoseconds`): on loopback
    /// the kernel delivers each datagram in the sender's system time, so this is what the load
    /// takes from the cores a receiver on the same machine shares.
    var cpuNanoseconds: UInt64 = 0

    /// One `key=value` line that scripts can parse, e.g.
    /// `vigil-bench: tcp target=127.0.0.1:5514 connections=8 framing=octet size=200 sent=… bytes=… elapsed_s=… cpu_ns_per_msg=… rate=…`.
    func line(_ options: BenchOptions) -> String {
        let seconds = Double(elapsedNanoseconds) / 1e9
        let rate = seconds > 0 ? Int(Double(messages) / seconds) : 0
        let traffic = options.mix.map { "mix=\($0.rawValue) hosts=\(options.hosts) ips=\(options.ips)" } ?? "size=\(options.size)"
        let shape: String
        switch options.transport {
        case .tcp: shape = "connections=\(options.connections) framing=\(options.framing.rawValue) \(traffic)"
        case .udp: shape = "connections=\(options.connections) batch=\(udpBatchSize) max_rate=\(options.rate) \(traffic)"
        }
        let millis = Int(elapsedNanoseconds / 1_000_000)
        var fraction: [UInt8] = []
        appendDigits(millis % 1000, width: 3, to: &fraction)
        let elapsed = "\(millis / 1000).\(String(decoding: fraction, as: UTF8.self))"
        return "vigil-bench: \(options.transport.rawValue) target=\(options.target) \(shape) "
            + "sent=\(messages) bytes=\(bytes) elapsed_s=\(elapsed) cpu_ns_per_msg=\(cpuNanoseconds / UInt64(max(messages, 1))) rate=\(rate)"
    }
}

/// User plus system CPU time of this process so far, in nanoseconds (`getrusage`).
func processCPUNanoseconds() -> UInt64 {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    let micros = (Int64(usage.ru_utime.tv_sec) + Int64(usage.ru_stime.tv_sec)) * 1_000_000
        + Int64(usage.ru_utime.tv_usec) + Int64(usage.ru_stime.tv_usec)
    return UInt64(micros) * 1000
}

/// Monotonic clock reading in nanoseconds.
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// The wall clock, used only for the timestamp inside generated messages.
func wallClockNow() -> Timestamp {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Timestamp(microseconds: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec / 1000))
}

/// Opens a socket of `type` and connects it to `target`; returns the fd or the failing call.
func connectedSocket(_ type: Int32, to target: SocketAddress, from source: IPAddress? = nil) -> Result<Int32, LoadError> {
    let family = target.ip.isIPv4 ? AF_INET : AF_INET6
    let fd = socket(family, type | Int32(SOCK_CLOEXEC.rawValue), 0)
    if fd < 0 { return .failure(.system("socket", errno)) }
    var rc: Int32
    if let source, source.isIPv4 {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = source.ipv4Value.bigEndian
        rc = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            let code = errno
            close(fd)
            return .failure(.system("bind \(source)", code))
        }
    }
    if target.ip.isIPv4 {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = target.port.bigEndian
        sin.sin_addr.s_addr = target.ip.ipv4Value.bigEndian
        rc = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    } else {
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        sin6.sin6_port = target.port.bigEndian
        withUnsafeMutableBytes(of: &sin6.sin6_addr) { raw in
            for i in 0..<16 { raw[i] = target.ip.byte(i) }
        }
        rc = withUnsafePointer(to: &sin6) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
    }
    if rc != 0 {
        let code = errno
        close(fd)
        return .failure(.system("connect \(target)", code))
    }
    return .success(fd)
}

/// Sets an integer socket option, ignoring failure (buffer sizes are a hint).
func setSocketOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
    var v = value
    _ = setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
}
