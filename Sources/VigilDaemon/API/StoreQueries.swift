public import VigilCore
import VigilPosix

/// The API's queries that read the store (docs/api.md). Each builds a `BackgroundWork.Job`: a
/// closure over `Sendable` values only, run on the API's thread, never on the event loop.
/// Host names reaching here were checked by `APIService` (exactly a store directory name).
public enum StoreQueries {
    /// One host of `/hosts` as memory knows it (messages and counts since the start).
    public struct HostSummary: Sendable {
        public var host: String
        public var messages: UInt64 = 0
        public var sshFailures: UInt64 = 0
        public var httpHits: UInt64 = 0
        public var lastSeen: Timestamp?
        public init(host: String) { self.host = host }
    }

    /// Lines of the newest day file read to find programs a host logged before this start.
    static let programScanLines = 10_000
    /// A log search stops after this long, or once its answer is this large, and answers what
    /// it found (saying so in `X-Vigil-Partial`): one query cannot hold the query thread for
    /// minutes over a large store, nor build an answer of hundreds of megabytes.
    static let searchBudgetMicros: Int64 = 10_000_000
    static let maxAnswerBytes = 16 << 20

    /// `job`, for a host seen since the start or with a directory in the store; else 404.
    static func ofKnownHost(directory: String, seen: Bool, _ job: @escaping BackgroundWork.Job) -> BackgroundWork.Job {
        return {
            guard seen || Posix.status(directory)?.isDirectory == true else {
                return .error(404, "unknown host")
            }
            return job()
        }
    }

    /// `/hosts`: the hosts seen since the start and those with a directory in the store (their
    /// `last_seen` then the time their newest day file was written), sorted by name.
    static func hosts(hostsDirectory: String, seen: [HostSummary]) -> BackgroundWork.Job {
        return {
            var all: [String: HostSummary] = [:]
            for summary in seen { all[summary.host] = summary }
            if case .success(let names) = directoryEntries(hostsDirectory) {
                for name in names where all[name] == nil && HostName.sanitize(name) == name {
                    var summary = HostSummary(host: name)
                    summary.lastSeen = newestDayFile(hostsDirectory + "/" + name).flatMap { modificationTime(hostsDirectory + "/" + name + "/" + $0.name) }
                    all[name] = summary
                }
            }
            let body = JSONWriter.dataList { json in
                for summary in all.values.sorted(by: { $0.host < $1.host }) {
                    json.beginObject()
                    json.member("host", summary.host)
                    json.member("url", "/hosts/" + summary.host + "/files")
                    json.key("last_seen")
                    json.time(summary.lastSeen)
                    json.member("messages", summary.messages)
                    json.member("ssh_failures", summary.sshFailures)
                    json.member("http_hits", summary.httpHits)
                    json.endObject()
                }
            }
            return .json(body)
        }
    }

    /// `/hosts/{host}/files`: the programs the host logged since the start, and those of the last
    /// `programScanLines` lines of its newest day file; each with the URL of its logs.
    static func programs(host: String, directory: String, inMemory: [[UInt8]]) -> BackgroundWork.Job {
        return {
            var programs = inMemory
            if programs.count < HostActivity.maxProgramsPerHost, let newest = newestDayFile(directory),
               let reader = try? BackwardLineReader(path: directory + "/" + newest.name) {
                let parser = SyslogParser()
                let now = Timestamp(seconds: newest.day * 86_400)
                for _ in 0..<programScanLines {
                    guard let line = try? reader.previous() else { break }
                    let program = line.withUnsafeBytes { raw -> [UInt8] in
                        let fields = parser.parse(raw, receivedAt: now)
                        return Array(raw[fields.appName])
                    }
                    if !program.isEmpty && !programs.contains(program) {
                        programs.append(program)
                        if programs.count >= HostActivity.maxProgramsPerHost { break }
                    }
                }
            }
            let body = JSONWriter.dataList { json in
                for program in programs.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                    let name = String(decoding: program, as: UTF8.self)
                    json.beginObject()
                    json.key("file")
                    program.withUnsafeBytes { json.string(bytes: $0) }
                    json.member("url", "/hosts/" + host + "/logs?file=" + percentEncoded(name))
                    json.endObject()
                }
            }
            return .json(body)
        }
    }

    /// `/hosts/{host}/logs`: the newest lines that pass `query`, newest first, reading each day
    /// file backwards from its end and stopping at `query.count` lines or at the first day before
    /// `query.since`.
    static func logs(directory: String, query: LogQuery, now: Timestamp) -> BackgroundWork.Job {
        return {
            let parser = SyslogParser()
            var found = 0
            var failure: (any Error)?
            var partial: String?
            let deadline = Posix.monotonicMicros() + searchBudgetMicros
            var scanned = 0
            let body = JSONWriter.dataList { json in
                days: for file in dayFiles(directory) {
                    if let since = query.since, file.day < since.epochDay { break }
                    let reader: BackwardLineReader
                    do { reader = try BackwardLineReader(path: directory + "/" + file.name) } catch {
                        failure = error
                        continue
                    }
                    let dayStart = Timestamp(seconds: file.day * 86_400)
                    while found < query.count {
                        let next: [UInt8]?
                        do { next = try reader.previous() } catch {
                            failure = error
                            break
                        }
                        guard let line = next else { break }
                        scanned += 1
                        if scanned % 4096 == 0 && Posix.monotonicMicros() > deadline {
                            partial = "time: searched back to \(dayStart.dayString)"
                            break days
                        }
                        if json.bytes.count > maxAnswerBytes {
                            partial = "size"
                            break days
                        }
                        line.withUnsafeBytes { raw in
                            guard let match = query.match(raw, parser: parser, receivedAt: dayStart) else { return }
                            found += 1
                            json.beginObject()
                            json.member("day", dayStart.dayString)
                            json.key("ts")
                            json.time(match.time)
                            json.key("file")
                            json.string(bytes: UnsafeRawBufferPointer(rebasing: raw[match.program]))
                            json.key("line")
                            json.string(bytes: raw)
                            json.endObject()
                        }
                    }
                    if found >= query.count { break days }
                }
            }
            if found == 0, let failure { return .error(500, "cannot read the store: \(failure)") }
            var response = HTTPResponse.json(body)
            if let partial { response.extraHeaders.append("X-Vigil-Partial: " + partial) }
            return response
        }
    }

    /// `/hosts/{host}/ssh/logins?day=`: that day file's ssh logins (`SSHLoginTally`).
    static func sshLogins(host: String, directory: String, day: Int64, now: Timestamp) -> BackgroundWork.Job {
        return {
            let dayStart = Timestamp(seconds: day * 86_400)
            var tally = SSHLoginTally()
            let path = directory + "/" + dayFileName(day)
            if Posix.status(path) != nil {
                do {
                    let reader = try LineReader(path: path)
                    while let line = try reader.next() { tally.add(line, receivedAt: dayStart) }
                } catch {
                    return .error(500, "cannot read the store: \(error)")
                }
            }
            let body = JSONWriter.dataList { json in
                json.beginObject()
                json.member("host", host)
                json.member("day", dayStart.dayString)
                json.member("attempts", tally.attempts)
                json.member("failures", tally.failures)
                json.member("successes", tally.successes)
                json.member("invalid_users", tally.invalidUsers)
                json.key("top_ips")
                json.beginArray()
                for address in tally.topAddresses(10) {
                    json.beginObject()
                    json.member("ip", address.ip.description)
                    json.member("attempts", address.attempts)
                    json.member("failures", address.failures)
                    json.member("successes", address.successes)
                    json.endObject()
                }
                json.endArray()
                json.endObject()
            }
            return .json(body)
        }
    }

    /// A host directory's day files, newest first.
    static func dayFiles(_ directory: String) -> [(name: String, day: Int64)] {
        guard case .success(let names) = directoryEntries(directory) else { return [] }
        return names.compactMap { name in parseDayFileName(name).map { (name: name, day: $0) } }.sorted { $0.day > $1.day }
    }

    static func newestDayFile(_ directory: String) -> (name: String, day: Int64)? { dayFiles(directory).first }

    static func modificationTime(_ path: String) -> Timestamp? { Posix.status(path)?.modified }

    /// Percent-encodes everything but unreserved characters, for a query value.
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 15, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
