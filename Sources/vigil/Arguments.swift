/// Walks one command's arguments — `--flag`, `--flag VALUE` and operands — printing each
/// mistake as one line that names the command and the flag.
struct Arguments {
    let command: String
    private let args: [String]
    private var index = 0

    init(_ args: [String], command: String, skipping first: Int = 0) {
        self.args = args
        self.command = command
        index = first
    }

    /// The next argument, or nil at the end.
    mutating func next() -> String? {
        guard index < args.count else { return nil }
        defer { index += 1 }
        return args[index]
    }

    /// The value after `flag`; nil, with the error printed, when there is none.
    mutating func value(for flag: String) -> String? {
        guard let value = next() else {
            logLine("vigil \(command): \(flag) needs a value")
            return nil
        }
        return value
    }

    /// An integer value after `flag` within `range`; nil, with the error printed, otherwise.
    mutating func integer(for flag: String, in range: ClosedRange<Int>) -> Int? {
        guard let text = value(for: flag) else { return nil }
        guard let n = Int(text), range.contains(n) else {
            logLine("vigil \(command): \(flag) must be \(range.lowerBound)...\(range.upperBound), got `\(text)`")
            return nil
        }
        return n
    }

    /// Reports a flag the command does not know.
    func unknown(_ flag: String) -> ExitCode {
        logLine("vigil \(command): unknown flag \(flag); see `vigil \(command) --help`")
        return .usage
    }
}
