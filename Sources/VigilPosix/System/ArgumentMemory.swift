import Glibc

/// The process's own argument memory: what every local user reads in `ps` and
/// `/proc/PID/cmdline`. `serve` hides the value of `--api.token` there once it has parsed its
/// flags (docs/api.md, "The token"), so that the API's bearer token given as a flag is not
/// every user's to read.
public enum ArgumentMemory {
    /// Overwrites with `*` the value of each flag of `flags` in the `count` C strings of `argv`:
    /// `--flag=VALUE`, or `--flag VALUE` when VALUE does not start with `--` (as the flag
    /// parser takes it). The lengths stay, so the other arguments do not move. Returns how many
    /// values were hidden (an empty one has nothing to hide).
    @discardableResult
    public static func hideValues(of flags: [String], count: Int,
                                  argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int {
        var hidden = 0
        var index = 1
        while index < count {
            defer { index += 1 }
            guard let argument = argv[index] else { continue }
            let length = strlen(argument)
            for flag in flags {
                let flagLength = flag.utf8.count
                guard length >= flagLength, flag.withCString({ memcmp(argument, $0, flagLength) }) == 0 else { continue }
                if length > flagLength && argument[flagLength] == 0x3D {  // "--flag=VALUE"
                    hidden += overwrite(argument + flagLength + 1, length - flagLength - 1)
                    break
                }
                if length == flagLength, index + 1 < count, let value = argv[index + 1],
                   !(value[0] == 0x2D && value[1] == 0x2D) {  // "--flag" "VALUE"
                    hidden += overwrite(value, strlen(value))
                    index += 1
                    break
                }
            }
        }
        return hidden
    }

    /// Overwrites `length` bytes at `value` with `*`; 1 when there were any.
    private static func overwrite(_ value: UnsafeMutablePointer<CChar>, _ length: Int) -> Int {
        guard length > 0 else { return 0 }
        memset(value, 0x2A, length)
        return 1
    }
}
