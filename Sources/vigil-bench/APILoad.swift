import Glibc
import VigilCore

/// The parsed arguments of `vigil-bench api`: `connections` keep-alive clients, each sending
/// `GET path` with the token and waiting for the answer before the next, for `duration` seconds.
struct APILoadOptions {
    var target = SocketAddress(ip: IPAddress(127, 0, 0, 1), port: 0)
    var token = ""
    var path = "/healthz"
    var connections = 4
    var duration = 10

    static func parse(_ args: [String]) -> Result<APILoadOptions, UsageError> {
        Result { () throws(UsageError) in
            var options = APILoadOptions()
            var sawTarget = false
            for (flag, value) in try flagPairs(args) {
                switch flag {
                case "--http": options.target = try loopbackTarget(value); sawTarget = true
                case "--token": options.token = value
                case "--path":
                    guard value.hasPrefix("/"), !value.utf8.contains(where: { $0 <= 0x20 }) else {
                        throw UsageError(message: "--path must start with / and hold no spaces")
                    }
                    options.path = value
                case "--connections": options.connections = try integer(flag, value, in: 1...BenchOptions.maxConnections)
                case "--duration": options.duration = try integer(flag, value, in: 1...600)
                default: throw unknownFlag(flag)
                }
            }
            guard sawTarget else { throw UsageError(message: "--http HOST:PORT is required") }
            return options
        }
    }
}

/// One keep-alive client of `vigil-bench api`; runs on its own thread, results read after join.
final class APIClient: LoadSender, @unchecked Sendable {
    let options: APILoadOptions
    let deadline: UInt64
    /// Each answered request's latency, in microseconds.
    private(set) var latencies: [UInt32] = []
    /// Answers other than 200, and connections lost.
    private(set) var errors = 0
    private(set) var failure: LoadError?

    init(options: APILoadOptions, deadline: UInt64) {
        self.options = options
        self.deadline = deadline
    }

    func run() {
        let request = Array("GET \(options.path) HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer \(options.token)\r\n\r\n".utf8)
        var fd: Int32 = -1
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var held = 0
        defer { if fd >= 0 { close(fd) } }
        while monotonicNanoseconds() < deadline {
            if fd < 0 {
                switch connectedSocket(Int32(SOCK_STREAM.rawValue), to: options.target) {
                case .success(let opened): fd = opened
                case .failure(let error): failure = error; return
                }
                held = 0
            }
            let start = monotonicNanoseconds()
            if request.withUnsafeBytes({ writeAll(fd, $0) }) != nil {
                errors += 1
                close(fd); fd = -1
                continue
            }
            // Read one whole answer: the head, then Content-Length bytes of body.
            var answer: (status: Int, total: Int)?
            while answer == nil {
                if held == buffer.count { buffer += [UInt8](repeating: 0, count: buffer.count) }
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + held, $0.count - held) }
                if n <= 0 { break }
                held += n
                answer = Self.complete(buffer, held)
            }
            guard let (status, total) = answer else {
                errors += 1
                close(fd); fd = -1
                continue
            }
            buffer.withUnsafeMutableBytes { raw in
                if held > total { memmove(raw.baseAddress!, raw.baseAddress! + total, held - total) }
            }
            held -= total
            if status == 200 {
                latencies.append(UInt32(min(UInt64(UInt32.max), (monotonicNanoseconds() - start) / 1000)))
            } else {
                errors += 1
            }
        }
    }

    /// The status and the length of the first answer in `buffer[0..<held]`, once it is whole.
    static func complete(_ buffer: [UInt8], _ held: Int) -> (status: Int, total: Int)? {
        guard held >= 4 else { return nil }
        var end = -1
        for i in 0...(held - 4) where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
            end = i
            break
        }
        guard end >= 0 else { return nil }
        let head = String(decoding: buffer[0..<end], as: UTF8.self).lowercased()
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        var length = 0
        for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
            length = Int(line.dropFirst("content-length:".count).drop(while: { $0 == " " })) ?? 0
        }
        let total = end + 4 + length
        return held >= total ? (status, total) : nil
    }
}

/// `vigil-bench api`: requests/s and latency percentiles of one API path under `connections`
/// clients; `requests=N errors=N rate=N p50_us=N p99_us=N max_us=N`.
func runAPILoad(_ options: APILoadOptions) -> Result<String, LoadError> {
    let deadline = monotonicNanoseconds() + UInt64(options.duration) * 1_000_000_000
    let clients = (0..<options.connections).map { _ in APIClient(options: options, deadline: deadline) }
    let elapsed: UInt64
    switch runInThreads(clients, named: "bench-api") {
    case .failure(let error): return .failure(error)
    case .success(let nanoseconds): elapsed = max(1, nanoseconds)
    }
    let latencies = clients.flatMap(\.latencies).sorted()
    func percentile(_ p: Int) -> UInt32 { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, latencies.count * p / 100)] }
    let rate = UInt64(latencies.count) * 1_000_000_000 / elapsed
    return .success("requests=\(latencies.count) errors=\(clients.reduce(0) { $0 + $1.errors }) rate=\(rate) "
        + "p50_us=\(percentile(50)) p99_us=\(percentile(99)) max_us=\(latencies.last ?? 0)")
}
