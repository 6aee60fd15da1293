import Glibc

/// The test fixtures of every test target: the captured sample frames in
/// `Tests/Fixtures/samples` (see its README) and other repository files, read with the C
/// library (tests avoid Foundation too) and split the way the README describes.
public enum Fixtures {
    /// The repository's root directory, derived from this file's path.
    public static let repositoryRoot: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }()

    /// `Tests/Fixtures/samples`.
    public static let samplesDirectory = repositoryRoot + "/Tests/Fixtures/samples"

    /// A whole file's bytes, nil when it cannot be opened.
    public static func readFile(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return bytes
    }

    /// A sample file's bytes (empty when it is missing, which the tests then notice).
    public static func sample(_ name: String) -> [UInt8] {
        readFile(samplesDirectory + "/" + name) ?? []
    }

    /// A sample file's lines as text, without their LF.
    public static func sampleLines(_ name: String) -> [String] {
        lines(sample(name)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Lines split on LF, without the LF; a final unterminated line counts too.
    public static func lines(_ bytes: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == 0x0A {
            out.append(Array(bytes[start..<i]))
            start = i + 1
        }
        if start < bytes.count { out.append(Array(bytes[start...])) }
        return out
    }

    /// The datagrams of a `.udp` sample, cut by its `.len` file.
    public static func datagrams(_ name: String) -> [[UInt8]] {
        let bytes = sample(name)
        var out: [[UInt8]] = []
        var offset = 0
        for line in lines(sample(name + ".len")) {
            guard let length = Int(String(decoding: line, as: UTF8.self)), offset + length <= bytes.count else { return out }
            out.append(Array(bytes[offset..<(offset + length)]))
            offset += length
        }
        return out
    }

    /// The frames of an RFC 6587 octet-counted capture (`LEN SP MSG`), exactly as counted.
    public static func octetCountedFrames(_ bytes: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        while i < bytes.count {
            var length = 0
            while i < bytes.count && bytes[i] != 0x20 { length = length * 10 + Int(bytes[i] &- 0x30); i += 1 }
            i += 1
            guard i + length <= bytes.count else { return out }
            out.append(Array(bytes[i..<(i + length)]))
            i += length
        }
        return out
    }

    /// The frames of one sample file: `.udp` by its `.len` file, `.tcp` by octet counts (when it
    /// starts with a digit) or by LF, `.log` by line.
    public static func frames(_ name: String) -> [[UInt8]] {
        if name.hasSuffix(".udp") { return datagrams(name) }
        let bytes = sample(name)
        if name.hasSuffix(".tcp"), let first = bytes.first, first >= 0x30, first <= 0x39 {
            return octetCountedFrames(bytes)
        }
        return lines(bytes)
    }
}

/// A fresh empty directory for one test. All of them live under `/tmp/vigil-tests-PID`, which is
/// removed with everything in it when the test process exits.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init() {
        let root = TemporaryDirectory.root
        if mkdir(root, 0o755) == 0 { atexit { removeTree(TemporaryDirectory.root) } }
        var template = Array((root + "/XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp under \(root) failed")
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    static var root: String { "/tmp/vigil-tests-\(getpid())" }
}

/// `rm -rf` for test cleanup; never follows a symbolic link.
public func removeTree(_ path: String) {
    var st = stat()
    guard lstat(path, &st) == 0 else { return }
    if st.st_mode & S_IFMT == S_IFDIR, let dir = opendir(path) {
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { removeTree(path + "/" + name) }
        }
        closedir(dir)
        rmdir(path)
    } else {
        unlink(path)
    }
}
