/// What `vigil forward` saves in its state directory (docs/forward.md, "State"): the spool length
/// every read line was committed at, and for each followed path where to resume.
///
/// Text, one record per line: `vigil-forward-state 1`, `spool LENGTH`, then per path
/// `file DEVICE INODE OFFSET PATH` or `new PATH` (not seen yet: read it from its start when it
/// appears). The path is last, so it may hold spaces.
public struct ForwardState: Sendable, Equatable {
    /// Where reading of one path resumes.
    public enum Position: Sendable, Equatable {
        /// At `offset` of the file with this device and inode.
        case file(device: UInt64, inode: UInt64, offset: Int64)
        /// The path did not exist yet: from its start when it appears.
        case new
    }

    /// Bytes of the spool that hold committed lines.
    public var spoolLength: Int
    /// Resume positions by path, as given on the command line.
    public var files: [String: Position]

    public init(spoolLength: Int = 0, files: [String: Position] = [:]) {
        self.spoolLength = spoolLength
        self.files = files
    }

    private static let magic = "vigil-forward-state 1"

    /// The file's bytes (paths sorted, so equal states give equal bytes).
    public func encoded() -> [UInt8] {
        var text = ForwardState.magic + "\nspool \(spoolLength)\n"
        for path in files.keys.sorted() {
            switch files[path]! {
            case .file(let device, let inode, let offset): text += "file \(device) \(inode) \(offset) \(path)\n"
            case .new: text += "new \(path)\n"
            }
        }
        return Array(text.utf8)
    }

    /// Reads a state file; the error names the line at fault.
    public static func decode(_ bytes: [UInt8]) -> Result<ForwardState, ConfigValueError> {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.first == Substring(magic) else { return .failure(ConfigValueError("line 1: not a vigil forward state file")) }
        var state = ForwardState()
        for (index, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            let bad = ConfigValueError("line \(index + 1): cannot read `\(line.prefix(80))`")
            let parts = line.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: false)
            switch parts.first {
            case "spool":
                guard parts.count == 2, let n = Int(parts[1]), n >= 0 else { return .failure(bad) }
                state.spoolLength = n
            case "new":
                guard let space = line.firstIndex(of: " ") else { return .failure(bad) }
                state.files[String(line[line.index(after: space)...])] = .new
            case "file":
                guard parts.count == 5, let device = UInt64(parts[1]), let inode = UInt64(parts[2]),
                      let offset = Int64(parts[3]), offset >= 0, !parts[4].isEmpty else { return .failure(bad) }
                state.files[String(parts[4])] = .file(device: device, inode: inode, offset: offset)
            default:
                return .failure(bad)
            }
        }
        return .success(state)
    }
}
