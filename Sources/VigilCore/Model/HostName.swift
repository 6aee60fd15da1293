/// Turns host names taken from the network into names that are safe on the file system, and
/// the one name a host has everywhere: `HostTable` interns every spelling under it, so `serve`
/// (alerts, the store's directories, the API), `analyze` and `follow` name `WEB1` and `web1`
/// alike, `web1`.
public enum HostName {
    /// The longest directory component a host may get, in bytes (NAME_MAX on Linux).
    public static let maxComponentBytes = 255

    /// A name safe as one directory component: ASCII letters (lowercased), digits, `.`, `-`, `_` and `:`
    /// are kept, every other byte becomes `_`; at most 255 bytes; never empty, `.` or `..` (those become `_`).
    /// Distinct hostile names may map to the same result (`a/b` and `a_b`); that is accepted.
    public static func sanitize(_ bytes: UnsafeRawBufferPointer) -> String {
        let count = min(bytes.count, maxComponentBytes)
        if count == 0 { return "_" }
        let dot = UInt8(ascii: ".")
        if (count == 1 && bytes[0] == dot) || (count == 2 && bytes[0] == dot && bytes[1] == dot) { return "_" }
        return String(unsafeUninitializedCapacity: count) { out in
            for i in 0..<count { out[i] = safeByte(bytes[i]) }
            return count
        }
    }

    /// Whether `bytes` are already what `sanitize(_:)` makes of them (a name is then taken as it is).
    public static func isSanitized(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let n = bytes.count
        guard n > 0, n <= maxComponentBytes else { return false }
        let dot = UInt8(ascii: ".")
        if bytes[0] == dot && (n == 1 || (n == 2 && bytes[1] == dot)) { return false }
        for b in bytes where safeByte(b) != b { return false }
        return true
    }

    /// A `String` convenience over `sanitize(_:)` for names that are already strings.
    public static func sanitize(_ name: String) -> String {
        var copy = name
        return copy.withUTF8 { sanitize(UnsafeRawBufferPointer($0)) }
    }

    /// The byte kept (lowercased) or `_` in its place.
    @inline(__always)
    private static func safeByte(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return byte + 32
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: ":"):
            return byte
        default: return UInt8(ascii: "_")
        }
    }
}
