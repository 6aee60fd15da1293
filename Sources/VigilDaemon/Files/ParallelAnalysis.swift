import VigilCore
import VigilPosix

/// Feeds one input to a `LogAnalysis` on several threads (`vigil analyze --threads N`), with the
/// report one thread gives: N − 1 worker threads take turns to copy the next lines into a
/// `LineChunk` and then extract it (parse the syslog header, read the sshd line or the request:
/// the part of the work that does not depend on the lines before); the calling thread feeds the
/// extracted chunks to the analysis in file order (the file's timeline, connections, report:
/// the part that does), and reads and extracts a chunk itself when none is waiting to be fed.
/// Detection, ordered too, is applied by whichever thread is free between chunks
/// (`DetectionRuns`). A chunk is extracted by the thread that copied its lines, so they are in that core's
/// cache. At most `2 · N` chunks exist at once: reading waits for the analysis rather than
/// buffering the file (docs/architecture.md, "`vigil analyze` on several threads"). With N = 1
/// the calling thread does all of it.
enum ParallelAnalysis {
    /// What the threads share; every `var` is guarded by `lock`.
    private final class Queue: @unchecked Sendable {
        let lock = ConditionLock()
        /// Used by the one thread whose turn it is to read (`reading`).
        let reader: LineReader
        let chunkBytes: Int
        /// How the input's lines read (its format known and not CSV): each thread reads with a copy.
        let extractor: LineExtractor
        /// Chunks to read into.
        var free: [LineChunk]
        /// Chunks read and not yet fed, in file order.
        var inOrder: [LineChunk] = []
        /// Chunks extracted and not yet fed.
        var extracted: Set<ObjectIdentifier> = []
        /// A thread is copying lines into a chunk.
        var reading = false
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

        /// Copies the next lines into a free chunk (its place in file order taken as it is read)
        /// and extracts them with `extractor`. A worker (`byFeeder` false) waits for its turn and
        /// a free chunk; the feeding thread reads only when no chunk waits to be fed and it can
        /// at once. False once the input is read to its end or the queue stops.
        @discardableResult
        func readAndExtract(with extractor: inout LineExtractor, byFeeder: Bool) -> Bool {
            let taken: LineChunk? = lock.withLock {
                if byFeeder {
                    guard inOrder.isEmpty else { return nil }
                } else {
                    while (reading || free.isEmpty) && !stopping && !readAll { lock.wait() }
                }
                guard !reading, !stopping, !readAll, let chunk = free.popLast() else { return nil }
                reading = true
                return chunk
            }
            guard let chunk = taken else { return lock.withLock { !readAll && !stopping } }
            var atEnd = false
            var error: SystemError?
            do {
                atEnd = try chunk.fill(upTo: chunkBytes) { () throws(SystemError) in try reader.next() }
            } catch let e {
                error = e
                atEnd = true
            }
            lock.withLock {
                reading = false
                if chunk.isEmpty { free.append(chunk) } else { inOrder.append(chunk) }
                if atEnd {
                    readAll = true
                    readError = error
                }
                lock.broadcast()
            }
            if !chunk.isEmpty {
                chunk.extract(with: &extractor)
                lock.withLock {
                    extracted.insert(ObjectIdentifier(chunk))
                    lock.broadcast()
                }
            }
            return !atEnd
        }

        /// The next chunk in file order once extracted; nil after the last.
        func next() -> LineChunk? {
            lock.withLock {
                while inOrder.isEmpty && !readAll { lock.wait() }
                guard !inOrder.isEmpty else { return nil }
                let chunk = inOrder.removeFirst()
                while extracted.remove(ObjectIdentifier(chunk)) == nil { lock.wait() }
                return chunk
            }
        }

        /// The next chunk in file order is extracted (or the input is all fed): `next()` would not wait.
        var nextIsReady: Bool {
            lock.withLock { inOrder.first.map { extracted.contains(ObjectIdentifier($0)) } ?? readAll }
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
        let threads = max(1, threads)
        let queue = Queue(reader: reader, chunkBytes: chunkBytes, chunks: 2 * threads, extractor: analysis.extractor(of: source))
        // With workers, they run detection too, between chunks: the engine's calls of each
        // chunk are handed to them once the chunk is fed.
        let detection = threads > 1 ? DetectionRuns(engine: analysis.deferDetection()) : nil
        var workers: [JoinableThread] = []
        defer {
            queue.stop()
            for worker in workers { worker.join() }
            if let detection { analysis.resumeDetection(detection.finish()) }
        }
        for n in 1..<threads {
            // Without a thread, fewer chunks are extracted at once; the report is the same.
            guard let worker = try? JoinableThread(named: "vigil-analyze\(n)", {
                var extractor = queue.extractor
                repeat {
                    while detection?.applyOldest() == true {}
                } while queue.readAndExtract(with: &extractor, byFeeder: false)
            }) else { break }
            workers.append(worker)
        }
        var inputs: [DetectionInput] = []
        var ownExtractor = queue.extractor
        while true {
            queue.readAndExtract(with: &ownExtractor, byFeeder: true)
            if let detection { while !queue.nextIsReady, detection.applyOldest() {} }
            guard let chunk = queue.next() else { break }
            analysis.feed(chunk, source: source)
            queue.recycle(chunk)
            if let detection {
                analysis.takeDetectionInputs(into: &inputs)
                detection.submit(&inputs)
            }
        }
        if let error = queue.lock.withLock({ queue.readError }) { throw error }
    }
}
