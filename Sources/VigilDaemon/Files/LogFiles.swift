import Glibc
public import VigilCore
public import VigilPosix

/// Runs `vigil analyze` over files: one file streams straight through (its lines read on
/// `threads` threads, `ParallelAnalysis`); several are merged line by line in time order (so
/// cross-host rules see one timeline), each file's lines staying in their own order, on one thread.
public enum LogFiles {
    /// An input that could not be analysed, or not to its end, and why.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Reason: Sendable, Equatable {
            /// It could not be opened (skipped), or a read failed (cut short, or skipped when
            /// nothing of it was read yet).
            case system(SystemError)
            /// It starts with gzip's magic bytes: skipped (vigil reads no compressed input).
            case gzip
        }

        public var path: String
        public var reason: Reason
        /// True when nothing of the input was analysed; false when a read error cut it short.
        public var skipped: Bool

        /// The reason in a few words (`No such file or directory`, `gzip-compressed`).
        public var why: String {
            switch reason {
            case .system(let e): return String(cString: strerror(e.errno))
            case .gzip: return "gzip-compressed"
            }
        }

        /// One line naming the input: `FILE: No such file or directory (skipped)`,
        /// `FILE is gzip-compressed; run: zcat FILE | vigil analyze -`, or a read error.
        public var description: String {
            switch reason {
            case .gzip where path == "-": return "standard input is gzip-compressed; run: zcat FILE | vigil analyze -"
            case .gzip: return "\(path) is gzip-compressed; run: zcat \(path) | vigil analyze -"
            case .system where skipped: return "\(path): \(why) (skipped)"
            case .system: return "\(path): read error: \(why) (the report has the lines read before it)"
            }
        }
    }

    /// How many bytes of lines `analyze` hands to a thread at a time: enough that handing them
    /// over costs nothing next to reading them, few enough that `2 · threads` of them in flight
    /// stay a few MiB.
    public static let defaultChunkBytes = 256 << 10

    /// Analyses every readable path into `analysis` (sources named by path, lines that name no
    /// host under `host`, see `Posix.fileHost`) and marks the end of the input
    /// (`LogAnalysis.finish()`); returns the inputs that failed, in the order given. An input
    /// that cannot be opened or starts with gzip's magic bytes is skipped whole. A single
    /// input's lines are read on `threads` threads in chunks of about `chunkBytes` bytes; the
    /// report is the same at every thread count. Lines longer than `LineReader` keeps are
    /// analysed cut and counted per source (`AnalysisReport.SourceSummary.cutLines`).
    public static func analyze(_ paths: [String], host: String, threads: Int = 1, chunkBytes: Int = defaultChunkBytes,
                               into analysis: inout LogAnalysis) -> [Failure] {
        defer { analysis.finish() }
        var failures: [Failure] = []
        var cursors: [Cursor] = []
        for path in paths {
            do {
                let reader = try LineReader(path: path)
                if try reader.isGzip() {
                    failures.append(Failure(path: path, reason: .gzip, skipped: true))
                    continue
                }
                let source = analysis.addSource(name: path, host: host)
                cursors.append(Cursor(reader: reader, source: source))
            } catch {
                failures.append(Failure(path: path, reason: .system(error), skipped: true))
            }
        }
        if cursors.count == 1 {
            let c = cursors[0]
            do {
                try ParallelAnalysis.feed(c.reader, source: c.source, into: &analysis, threads: threads, chunkBytes: chunkBytes)
            } catch {
                failures.append(Failure(path: c.reader.path, reason: .system(error), skipped: false))
            }
        } else {
            for i in cursors.indices { advance(&cursors[i], &analysis, &failures) }
            while true {
                var best = -1
                for i in cursors.indices where !cursors[i].done {
                    if best < 0 || cursors[i].time < cursors[best].time { best = i }
                }
                if best < 0 { break }
                analysis.feed(cursors[best].chunk, source: cursors[best].source)
                advance(&cursors[best], &analysis, &failures)
            }
        }
        for c in cursors { analysis.addCutLines(c.reader.truncatedLines, source: c.source) }
        return failures.sorted { a, b in (paths.firstIndex(of: a.path) ?? 0) < (paths.firstIndex(of: b.path) ?? 0) }
    }

    struct Cursor {
        let reader: LineReader
        let source: Int
        /// The next line with a time, read (`LogAnalysis.read(_:source:into:)`) but not yet fed.
        let chunk = LineChunk(reservingBytes: 1024)
        var time: Int64 = .min
        var done = false
    }

    /// Moves a cursor to its next line that has a time, feeding timeless lines (headers,
    /// invalid lines) at once: they cannot be placed on the timeline and change no window.
    private static func advance(_ c: inout Cursor, _ analysis: inout LogAnalysis, _ failures: inout [Failure]) {
        do {
            while let line = try c.reader.next() {
                analysis.read(line, source: c.source, into: c.chunk)
                if let t = c.chunk.firstLineTime {
                    c.time = t.microseconds
                    return
                }
                analysis.feed(c.chunk, source: c.source)
            }
        } catch {
            failures.append(Failure(path: c.reader.path, reason: .system(error), skipped: false))
        }
        c.done = true
    }
}
