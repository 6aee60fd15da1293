public import VigilCore
public import VigilPosix

/// `[input.file]` of `serve`: follows files with tail -F semantics and takes every line like a
/// received message (stored, analyzed), remembering in `DATA/file-offsets` how far each file was
/// read so a restart resumes there instead of skipping or repeating lines.
public final class FileInputs {
    private let tailers: [FileTailer]
    private let collector: Collector
    private let host: HostID
    private let offsetsPath: String
    private let log: (String) -> Void
    private var watcher: DirectoryWatcher?
    /// What was last written to `DATA/file-offsets`, so an idle second writes nothing.
    private var savedText = ""

    /// Opens nothing yet: files are read on the first `check`. Lines without a host of their
    /// own are filed under `Posix.fileHost(input.host)`.
    public init(input: VigilConfig.FileInput, dataDirectory: String, collector: Collector, loop: EventLoop,
                log: @escaping (String) -> Void) throws(SystemError) {
        self.collector = collector
        self.log = log
        offsetsPath = dataDirectory + "/file-offsets"
        let saved = FileInputs.readOffsets(offsetsPath)
        tailers = input.paths.map { path in
            if let (identity, offset) = saved[path] { return FileTailer(path: path, start: .saved(identity, offset: offset)) }
            return FileTailer(path: path, start: input.fromBeginning ? .beginning : .end)
        }
        host = collector.hosts.intern(Posix.fileHost(input.host))
        if !tailers.isEmpty {
            watcher = try DirectoryWatcher(paths: input.paths, loop: loop) { [unowned self] now in self.check(now: now) }
        }
    }

    /// Reads what is new in every file; nothing while the collector's gate is closed (the store
    /// cannot write: the lines wait in their files).
    public func check(now: Timestamp) {
        guard collector.gate.isOpen else { return }
        for tailer in tailers {
            let notices = tailer.check { line, _ in self.collector.consumeLine(line, defaultHost: self.host, now: now) }
            for notice in notices { log("vigil: input.file: \(notice)") }
        }
    }

    /// Writes every file's position (device, inode, offset) to `DATA/file-offsets`, atomically.
    public func saveOffsets() {
        guard !tailers.isEmpty else { return }
        var text = ""
        for tailer in tailers {
            guard let (identity, offset) = tailer.position else { continue }
            text += "\(identity.device) \(identity.inode) \(offset) \(tailer.path)\n"
        }
        if text == savedText { return }
        do {
            try TextFile.writeAtomically(offsetsPath, text)
            savedText = text
        } catch {
            log("vigil: input.file: cannot save offsets: \(error)")
        }
    }

    /// `DEV INO OFFSET PATH` lines; anything unreadable is ignored (the files then start fresh).
    static func readOffsets(_ path: String) -> [String: (FileIdentity, Int64)] {
        guard let text = try? TextFile.read(path) else { return [:] }
        var offsets: [String: (FileIdentity, Int64)] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 3)
            guard parts.count == 4, let device = UInt64(parts[0]), let inode = UInt64(parts[1]), let offset = Int64(parts[2]) else { continue }
            offsets[String(parts[3])] = (FileIdentity(device: device, inode: inode), offset)
        }
        return offsets
    }

}
