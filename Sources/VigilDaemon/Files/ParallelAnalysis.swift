import VigilCore
import VigilPosix

/// Feeds one input to a `LogAnalysis` on several threads (`vigil analyze --threads N`), with the
/// report one thread gives: a reader thread copies the lines into `LineChunk`s; N − 1 worker
/// threads extract them (parse the syslog header, read the sshd line or the request: the part
/// of the work that does not depend on the lines before); the calling thread feeds the
/// extracted chunks to the analysis in file order (the file's timeline, connections, detection,
/// report: the part that does). When the next chunk in file order is still waiting for a
/// worker, the calling thread extracts it itself. At most `2 · N` chunks exist at once: the
/// reader waits for the analysis rather than buffering the file (docs/architecture.md,
/// "`vigil analyze` on several threads"). With N = 1 the calling thread does all of it.
enum ParallelAnalysis {
    /// What the threads share; every `var` is guarded by `lock`.
    private final class Queue: @unchecked Sendable {
        let lock = ConditionLock()
        /// Used by one thread at a time: the reader thread, or the calling thread when there is none.
        let reader: LineReader
        let chunkBytes: Int
        /// How the input's lines read (its format known and not CSV): each thread reads with a copy.
        let extractor: LineExtractor
        /// Chunks to read into.
        var free: [LineChunk]
        /// Chunks read and not yet fed, in file order.
        var inOrder: [LineChunk] = []
        /// Chunks read and not yet taken by a thread to extract, in file order.
        var waiting: [LineChunk] = []
        /// Chunks a worker finished extracting, not yet fed.
        var extracted: Set<ObjectIdentifier> = []
        /// The input is read to its end (or to `readError`).
        var readAll = false
        var readError: SystemError?
        var stopping = false

        init(reader: LineReader, chunkBytes: Int, chunks: Int, extractor: LineExtractor) {
            self.reader = reader
            self.chunkBytes = chunkBytes
            self.extractor = extractor
            free = (0..<chunks).map { _ in LineChunk(reservingBytes: chunkBytes) }
        }

        /// Reads the next chunk when one is free (waiting for one when `waits`); false once
        /// the input is read to its end or the queue stops.
        @discardableResult
        func readChunk(waits: Bool) -> Bool {
            let taken: LineChunk? = lock.withLock {
                while waits && free.isEmpty && !stopping { lock.wait() }
                return stopping || readAll ? nil : free.popLast()
            }
            guard let chunk = taken else { return !readAll && !stopping }
            var atEnd = false
            var error: SystemError?
            do {
                atEnd = try chunk.fill(upTo: chunkBytes) { () throws(SystemError) in try reader.next() }
            } catch let e {
                error = e
                atEnd = true
            }
            return lock.withLock {
                if chunk.isEmpty {
                    free.append(chunk)
                } else {
                    inOrder.append(chunk)
                    waiting.append(chunk)
                }
                if atEnd {
                    readAll = true
                    readError = error
                }
                lock.broadcast()
                return !atEnd
            }
        }

        /// A worker's loop: extracts waiting chunks until `stopping`.
        func work() {
            var extractor = self.extractor
            while true {
                let next: LineChunk? = lock.withLock {
                    while waiting.isEmpty && !stopping { lock.wait() }
                    return waiting.isEmpty ? nil : waiting.removeFirst()
                }
                guard let chunk = next else { return }
                chunk.extract(with: &extractor)
                lock.withLock {
                    extracted.insert(ObjectIdentifier(chunk))
                    lock.broadcast()
                }
            }
        }

        /// The next chunk in file order once read (nil after the last), and whether it is the
        /// caller's to extract (no worker took it yet) or already extracted.
        func next() -> (chunk: LineChunk, extractHere: Bool)? {
            lock.withLock {
                while inOrder.isEmpty && !readAll { lock.wait() }
                guard !inOrder.isEmpty else { return nil }
                let chunk = inOrder.removeFirst()
                if let i = waiting.firstIndex(where: { $0 === chunk }) {
                    waiting.remove(at: i)
                    return (chunk, true)
                }
                while extracted.remove(ObjectIdentifier(chunk)) == nil { lock.wait() }
                return (chunk, false)
            }
        }

        /// Gives back a chunk that was fed.
        func recycle(_ chunk: LineChunk) {
            chunk.removeAll()
            lock.withLock {
                free.append(chunk)
                lock.broadcast()
            }
        }

        func stop() {
            lock.withLock {
                stopping = true
                lock.broadcast()
            }
        }
    }

    /// Feeds the rest of `reader`'s lines to `analysis` as source `source`, on `threads` threads
    /// (the caller's included; and one that reads when `threads` > 1) in chunks of about
    /// `chunkBytes` bytes. Lines are fed one by one on the calling thread while how a line reads
    /// still depends on the lines before it (the input's format not yet detected, or a CSV
    /// access log's header: then the whole input). Throws the read error that cut the input
    /// short, after feeding every line read before it.
    static func feed(_ reader: LineReader, source: Int, into analysis: inout LogAnalysis, threads: Int,
                     chunkBytes: Int) throws(SystemError) {
        while !analysis.extractor(of: source).readsLinesIndependently {
            guard let line = try reader.next() else { return }
            analysis.feed(line, source: source)
        }
        let threads = max(1, threads)
        let queue = Queue(reader: reader, chunkBytes: chunkBytes, chunks: 2 * threads, extractor: analysis.extractor(of: source))
        var helpers: [JoinableThread] = []
        defer {
            queue.stop()
            for thread in helpers { thread.join() }
        }
        if threads > 1, let thread = try? JoinableThread(named: "vigil-read", { while queue.readChunk(waits: true) {} }) {
            helpers.append(thread)
        }
        let readsHere = helpers.isEmpty
        for n in 1..<threads {
            // Without a thread, fewer chunks are extracted at once; the report is the same.
            guard let worker = try? JoinableThread(named: "vigil-analyze\(n)", { queue.work() }) else { break }
            helpers.append(worker)
        }
        var ownExtractor = queue.extractor
        while true {
            if readsHere { queue.readChunk(waits: false) }
            guard let (chunk, extractHere) = queue.next() else { break }
            if extractHere { chunk.extract(with: &ownExtractor) }
            analysis.feed(chunk, source: source)
            queue.recycle(chunk)
        }
        if let error = queue.lock.withLock({ queue.readError }) { throw error }
    }
}
