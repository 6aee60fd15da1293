import Glibc
import Testing
import VigilTestSupport
@testable import VigilCore
import VigilDaemon
@testable import VigilPosix

/// One host, one name in every command: the same file read by `analyze`, `follow` and `serve`'s
/// `[input.file]` names its hosts alike — a host a line names in any case under its sanitized
/// name (`HostName`, by `HostTable`), a line that names none under `Posix.fileHost`.
@Suite struct HostNamingTests {
    /// An auth log of five failed passwords on `WEB1` (a syslog line names its host) and an
    /// access log (its lines name none), timed now so `serve` and `follow` take them as they come.
    func writeLogs(_ dir: String, now: Timestamp) -> [String] {
        var auth = ""
        for i in 0..<5 {
            auth += "<38>1 \(now.rfc3339()) WEB1 sshd 4\(i) - - Failed password for root from 203.0.113.7 port 4\(i)000 ssh2\n"
        }
        var clf: [UInt8] = []
        TrafficGenerator.appendCLFTime(now, to: &clf)
        let access = #"192.0.2.1 - - ["# + String(decoding: clf, as: UTF8.self) + #"] "GET / HTTP/1.1" 200 5 "-" "curl""# + "\n"
        for (name, text) in [("auth.log", auth), ("access.log", access)] {
            let fd = open(dir + "/" + name, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            _ = text.withCString { write(fd, $0, strlen($0)) }
            close(fd)
        }
        return [dir + "/auth.log", dir + "/access.log"]
    }

    @Test func analyzeFollowAndServeNameTheSameHostsAlike() throws {
        let dir = TemporaryDirectory().path
        let now = Posix.wallClock()
        let logs = writeLogs(dir, now: now)
        let fileHost = Posix.fileHost("Edge-1")

        // analyze
        var analysis = LogAnalysis(settings: DetectionSettings(), options: .init(referenceTime: now))
        #expect(LogFiles.analyze(logs, host: fileHost, into: &analysis).isEmpty)
        let report = analysis.report()
        #expect(report.lines.map(\.host) == ["edge-1", "web1"])
        #expect(report.bruteForce.map(\.host) == ["web1"])

        // follow
        final class Output: @unchecked Sendable { var lines: [String] = [] }
        let out = Output()
        let follower = Follower(paths: logs, settings: DetectionSettings(), host: fileHost, start: .beginning,
                                output: { out.lines.append($0) }, notice: { _ in })
        follower.check(now: now)
        follower.printStats(now: now)
        let followed = out.lines.joined()
        #expect(followed.contains(" FIRING warning ssh_bruteforce web1 203.0.113.7"))
        #expect(followed.contains("\nhost edge-1: hits 1") && followed.contains("\nhost web1: hits 0"))

        // serve, [input.file]
        var config = VigilConfig.defaults
        config.server.threads = 2  // the loop reads every connection, whatever the CPUs (shards: IngestShardTests)
        config.server.udp = []
        config.server.tcp = []
        config.server.http = []
        config.server.dataDirectory = dir + "/data"
        config.sinks = []
        config.fileInput.paths = logs
        config.fileInput.fromBeginning = true
        config.fileInput.host = "Edge-1"
        let server = try Server(config: config, log: { _ in })
        server.fileInputs.check(now: now)
        server.shutdown()
        #expect(try directoryNames(dir + "/data/hosts") == ["edge-1", "web1"])
        let alerts = try readLines(dir + "/data/alerts.jsonl")
        #expect(alerts.count == 1 && alerts[0].contains(#""rule":"ssh_bruteforce","state":"firing""#)
            && alerts[0].contains(#""host":"web1""#))
    }

    @Test func aFileHostNotConfiguredIsThisMachinesName() {
        #expect(Posix.fileHost(nil) == Posix.machineName())
        #expect(Posix.fileHost("") == Posix.machineName())
        #expect(Posix.fileHost("web9") == "web9")
    }

    func directoryNames(_ path: String) throws -> [String] {
        guard let d = opendir(path) else { throw SystemError("opendir \(path)", errno: errno) }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
