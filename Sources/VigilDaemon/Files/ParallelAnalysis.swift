import VigilCore
import VigilPosix

/// Feeds one input to a `LogAnalysis` on several threads (`vigil analyze --threads N`), with the
/// report one thread gives: the calling thread reads the lines into `LineChunk`s; N − 1 worker
/// threads extract them (parse the syslog header, read the sshd line or the request: the
/// part of the work that does not depend on the lines before); the calling thread feeds the
/// extracted chunks to the analysis in file order (the file's timeline, connections, detection,
/// report: the part that does). When the next chunk in file order is still waiting for a
/// worker, the calling thread extracts it itself. At most `2 · N` chunks exist at once: the
/// reader waits for the analysis rather than buffering the file (docs/architecture.md,
/// "vigil analyze").
enum ParallelAnalysis {
    /// What the calling thread and the workers share; every field is guarded by `lock`.
    private final class Queue: @unchecked Sendable {
        let lock = ConditionLock()
        /// Chunks read and not yet taken by a thread to extract, in file order.
        var waiting: [LineChunk] = []
        /// Chunks a worker finished extracting, not yet fed.
        var extracted: Set<ObjectIdentifier> = []
        var stopping = false
        /// How the input's lines read (its format known and not CSV): each worker reads with a copy.
        let extractor: LineExtractor

        init(extractor: LineExtractor) { self.extractor = extractor }

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

        /// Takes `chunk`, the next one to feed, once extracted; true when no worker took it
        /// yet (it is the caller's to extract).
        func claim(_ chunk: LineChunk) -> Bool {
            lock.withLock {
                if let i = waiting.firstIndex(where: { $0 === chunk }) {
                    waiting.remove(at: i)
                    return true
                }
                while extracted.remove(ObjectIdentifier(chunk)) == nil { lock.wait() }
                return false
            }
        }

        func submit(_ chunk: LineChunk) {
            lock.withLock {
                waiting.append(chunk)
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
    /// (the caller's included) in chunks of about `chunkBytes` bytes. Lines are fed one by one
    /// on the calling thread while how a line reads still depends on the lines before it (the
    /// input's format not yet detected, or a CSV access log's header: then the whole input).
    /// Throws the read error that cut the input short, after feeding every line read before it.
    static func feed(_ reader: LineReader, source: Int, into analysis: inout LogAnalysis, threads: Int,
                     chunkBytes: Int) throws(SystemError) {
        while !analysis.extractor(of: source).readsLinesIndependently {
            guard let line = try reader.next() else { return }
            analysis.feed(line, source: source)
        }
        let queue = Queue(extractor: analysis.extractor(of: source))
        var workers: [JoinableThread] = []
        defer {
            queue.stop()
            for worker in workers { worker.join() }
        }
        for n in 1..<max(1, threads) {
            // Without a thread, fewer chunks are extracted at once; the report is the same.
            guard let worker = try? JoinableThread(named: "vigil-analyze\(n)", { queue.work() }) else { break }
            workers.append(worker)
        }
        var ownExtractor = queue.extractor
        var free = (0..<(2 * max(1, threads))).map { _ in LineChunk(reservingBytes: chunkBytes) }
        /// Chunks submitted and not yet fed, in file order.
        var inFlight: [LineChunk] = []
        var atEnd = false
        var readError: SystemError?
        while true {
            while !atEnd, let chunk = free.popLast() {
                do {
                    atEnd = try fill(chunk, from: reader, bytes: chunkBytes)
                } catch {
                    readError = error
                    atEnd = true
                }
                if chunk.isEmpty {
                    free.append(chunk)
                    break
                }
                queue.submit(chunk)
                inFlight.append(chunk)
            }
            guard !inFlight.isEmpty else { break }
            let next = inFlight.removeFirst()
            if queue.claim(next) { next.extract(with: &ownExtractor) }
            analysis.feed(next, source: source)
            next.removeAll()
            free.append(next)
        }
        if let readError { throw readError }
    }

    /// Copies lines of `reader` into `chunk` until it holds `bytes` bytes; true at the end of the input.
    private static func fill(_ chunk: LineChunk, from reader: LineReader, bytes: Int) throws(SystemError) -> Bool {
        while chunk.byteCount < bytes {
            guard let line = try reader.next() else { return true }
            chunk.append(line)
        }
        return false
    }
}
