/// Where a configuration value or error came from, so every message can name
/// the file line or the flag at fault.
public enum ConfigOrigin: Hashable, Sendable {
    /// A line of a config file (1-based).
    case file(path: String, line: Int)
    /// A command-line flag, spelled as the user wrote it (`--udp`).
    case flag(String)
    /// The built-in default.
    case builtIn
}

/// One configuration error, printed as `file:line: message` or `--flag: message`.
public struct ConfigDiagnostic: Hashable, Sendable, CustomStringConvertible {
    public var origin: ConfigOrigin
    public var message: String

    /// A diagnostic for `origin`.
    public init(_ origin: ConfigOrigin, _ message: String) {
        self.origin = origin
        self.message = message
    }

    /// The one-line form for stderr.
    public var description: String {
        switch origin {
        case .file(let path, let line): return "\(path):\(line): \(message)"
        case .flag(let flag): return "\(flag): \(message)"
        case .builtIn: return "default: \(message)"
        }
    }
}

/// Every error found while reading arguments or a config file; `check-config`
/// and `serve` print one line per diagnostic and exit with status 2.
public struct ConfigErrors: Error, Hashable, Sendable, CustomStringConvertible {
    public var diagnostics: [ConfigDiagnostic]

    /// Wraps the diagnostics found.
    public init(_ diagnostics: [ConfigDiagnostic]) { self.diagnostics = diagnostics }

    /// One diagnostic per line.
    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to
/// be a plausible typo (at most 2 edits, and at most a third of the word's length).
func closestMatch<S: Sequence>(to word: String, among candidates: S) -> String? where S.Element == String {
    let w = Array(word.utf8)
    var best: String?
    var bestDistance = Int.max
    for candidate in candidates {
        let d = editDistance(w, Array(candidate.utf8))
        if d < bestDistance { best = candidate; bestDistance = d }
    }
    guard let found = best, bestDistance > 0, bestDistance <= 2, bestDistance * 3 <= w.count else {
        return nil
    }
    return found
}

/// Levenshtein distance between two byte strings.
func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

/// Appends ` (did you mean X?)` when a close candidate exists.
func suggestion<S: Sequence>(for word: String, among candidates: S) -> String where S.Element == String {
    closestMatch(to: word, among: candidates).map { " (did you mean \($0)?)" } ?? ""
}
