import Glibc
public import VigilCore

/// The process's own argument memory: what every local user reads in `ps` and
/// `/proc/PID/cmdline`. `serve` hides the values of secret flags there (`--api.token`, a sink's
/// URL) once it has parsed them (docs/api.md, "Authentication"), so that a credential given as a flag
/// is not every user's to read.
public enum ArgumentMemory {
    /// Overwrites with `*` each of `values` (found by the flag parser, so hidden exactly where it
    /// took a value) in the `count` C strings of `argv`, whose argument `firstArgument` is the
    /// parser's argument 0. The lengths stay, so the other arguments do not move. Returns how
    /// many values were hidden (an empty one has nothing to hide; a span outside `argv`, none).
    @discardableResult
    public static func hide(_ values: [ArgumentSpan], firstArgument: Int, count: Int,
                            argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int {
        var hidden = 0
        for value in values {
            let index = firstArgument + value.argument
            guard index >= 0, index < count, value.offset >= 0, let argument = argv[index] else { continue }
            let length = strlen(argument)
            guard value.offset < length else { continue }
            memset(argument + value.offset, 0x2A, length - value.offset)
            hidden += 1
        }
        return hidden
    }
}
