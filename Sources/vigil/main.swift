import Glibc
import VigilCore
import VigilDaemon
import VigilPosix

/// Writes one line to stderr.
func logLine(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
}

// TEMPORARY argument handling until the config module lands.
var settings = ServerSettings()
var args = Array(CommandLine.arguments.dropFirst())
guard args.first == "serve" else { logLine("usage: vigil serve"); exit(2) }
args.removeFirst()
var udp: [SocketAddress] = [], tcp: [SocketAddress] = []
func parseAddr(_ s: String) -> SocketAddress? {
    guard let colon = s.lastIndex(of: ":") else { return nil }
    var host = String(s[..<colon]); if host.hasPrefix("[") { host = String(host.dropFirst().dropLast()) }
    guard let ip = IPAddress.parse(host), let port = UInt16(s[s.index(after: colon)...]) else { return nil }
    return SocketAddress(ip: ip, port: port)
}
var i = 0
while i < args.count {
    let flag = args[i]; let value = i + 1 < args.count ? args[i + 1] : ""; i += 2
    switch flag {
    case "--udp": if value != "off" { udp.append(parseAddr(value)!) } else { udp = [] }
    case "--tcp": if value != "off" { tcp.append(parseAddr(value)!) } else { tcp = [] }
    case "--http": break
    case "--data-dir": settings.dataDirectory = value
    case "--max-message-size": settings.maxMessageBytes = Int(value)!
    case "--stats-interval": settings.statsIntervalMicros = Int64(value.dropLast())! * 1_000_000
    default: logLine("vigil: unknown flag \(flag)"); exit(2)
    }
}
settings.udp = udp.isEmpty ? [parseAddr("0.0.0.0:5514")!] : udp
settings.tcp = tcp.isEmpty ? [parseAddr("0.0.0.0:5514")!] : tcp
do {
    let server = try Server(settings: settings, log: logLine)
    try server.stopOnSignals()
    server.run()
} catch {
    logLine("vigil: \(error)")
    exit(1)
}
