/// An IPv4 or IPv6 address held in 16 bytes, with no allocation.
///
/// IPv4 addresses are stored as IPv4-mapped IPv6 (`::ffff:a.b.c.d`) so the two
/// families share one representation; `isIPv4` tells them apart, and an IPv4
/// peer arriving on a dual-stack socket compares equal to the same IPv4 address.
public struct IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Network-order bytes, high and low halves.
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) { self.high = high; self.low = low }

    /// An IPv4 address from its four octets in order.
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        high = 0
        low = 0x0000_FFFF_0000_0000 | UInt64(a) << 24 | UInt64(b) << 16 | UInt64(c) << 8 | UInt64(d)
    }

    /// An IPv4 address from a host-order 32-bit value.
    public init(ipv4 value: UInt32) {
        high = 0
        low = 0x0000_FFFF_0000_0000 | UInt64(value)
    }

    /// An IPv6 address from its 16 network-order bytes.
    public init<C: Collection>(ipv6Bytes bytes: C) where C.Element == UInt8 {
        var h: UInt64 = 0, l: UInt64 = 0
        var i = 0
        for b in bytes.prefix(16) {
            if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
            i += 1
        }
        high = h; low = l
    }

    public var isIPv4: Bool { high == 0 && low >> 32 == 0xFFFF }

    /// 127.0.0.0/8 or ::1: only this machine can reach it.
    public var isLoopback: Bool { isIPv4 ? ipv4Value >> 24 == 127 : (high == 0 && low == 1) }

    /// The IPv4 value in host order (meaningful only when `isIPv4`).
    public var ipv4Value: UInt32 { UInt32(truncatingIfNeeded: low) }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        a.high != b.high ? a.high < b.high : a.low < b.low
    }

    /// The 16 groups-of-8-bits, network order.
    public func byte(_ i: Int) -> UInt8 {
        i < 8 ? UInt8(truncatingIfNeeded: high >> UInt64(8 * (7 - i)))
              : UInt8(truncatingIfNeeded: low >> UInt64(8 * (15 - i)))
    }

    /// Dotted quad for IPv4, RFC 5952 form for IPv6.
    public var description: String {
        var out: [UInt8] = []
        out.reserveCapacity(40)
        append(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the textual form to a byte buffer.
    public func append(to out: inout [UInt8]) {
        if isIPv4 {
            for i in 12..<16 {
                if i > 12 { out.append(UInt8(ascii: ".")) }
                appendDigits(Int(byte(i)), width: 1, to: &out)
            }
            return
        }
        let group = { (g: Int) -> Int in Int(self.byte(2 * g)) << 8 | Int(self.byte(2 * g + 1)) }
        // Longest run of zero groups (length >= 2) is written as "::".
        var bestStart = -1, bestLen = 0, runStart = -1
        for g in 0...8 {
            if g < 8 && group(g) == 0 {
                if runStart < 0 { runStart = g }
            } else if runStart >= 0 {
                if g - runStart > bestLen { bestStart = runStart; bestLen = g - runStart }
                runStart = -1
            }
        }
        if bestLen < 2 { bestStart = -1 }
        var g = 0
        while g < 8 {
            if g == bestStart {
                out.append(UInt8(ascii: ":")); out.append(UInt8(ascii: ":"))
                g += bestLen
                continue
            }
            if g > 0 && g != bestStart + bestLen || (g > 0 && bestStart < 0) {
                out.append(UInt8(ascii: ":"))
            }
            appendHex(group(g), to: &out)
            g += 1
        }
    }

    private func appendHex(_ v: Int, to out: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        var started = false
        for shift in stride(from: 12, through: 0, by: -4) {
            let nibble = (v >> shift) & 0xF
            if nibble != 0 || started || shift == 0 {
                started = true
                out.append(hex.utf8Start[nibble])
            }
        }
    }
}

extension IPAddress {
    /// Parses a textual IPv4 or IPv6 address from bytes (no brackets, no port, no zone).
    /// Returns nil for anything else.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> IPAddress? {
        if bytes.isEmpty || bytes.count > 45 { return nil }
        // IPv4 first, in one pass: it stops at the first byte that is neither a digit nor a dot,
        // so an IPv6 address falls through at once.
        if let v4 = parseIPv4(bytes, from: 0, to: bytes.count) { return v4 }
        return parseIPv6(bytes)
    }

    /// Parses a textual address from a `String` (convenience for config and tests).
    public static func parse(_ text: String) -> IPAddress? {
        var copy = text
        return copy.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    static func parseIPv4(_ b: UnsafeRawBufferPointer, from start: Int, to end: Int) -> IPAddress? {
        var octets: UInt32 = 0
        var i = start
        // Four octets of one to three digits (no leading zero, at most 255), dot-separated,
        // read digit by digit without a loop per octet.
        for part in 0..<4 {
            guard i < end else { return nil }
            var value = UInt32(b[i] &- 48)
            guard value < 10 else { return nil }
            i &+= 1
            if i < end, case let d = UInt32(b[i] &- 48), d < 10 {
                guard value != 0 else { return nil }
                value = value &* 10 &+ d
                i &+= 1
                if i < end, case let d = UInt32(b[i] &- 48), d < 10 {
                    value = value &* 10 &+ d
                    i &+= 1
                    guard value <= 255 else { return nil }
                }
            }
            octets = octets << 8 | value
            if part < 3 {
                guard i < end, b[i] == 0x2E else { return nil }
                i &+= 1
            }
        }
        return i == end ? IPAddress(ipv4: octets) : nil
    }

    static func parseIPv6(_ b: UnsafeRawBufferPointer) -> IPAddress? {
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 8) { groups in
            groups.initialize(repeating: 0)
            return parseIPv6(b, into: groups)
        }
    }

    /// Parses into eight caller-provided groups (stack memory: no allocation per address).
    private static func parseIPv6(_ b: UnsafeRawBufferPointer, into groups: UnsafeMutableBufferPointer<UInt16>) -> IPAddress? {
        var count = 0
        var gap = -1
        var i = 0
        let n = b.count
        if n >= 2 && b[0] == UInt8(ascii: ":") {
            if b[1] != UInt8(ascii: ":") { return nil }
            gap = 0
            i = 2
            if i == n { return IPAddress(high: 0, low: 0) }
        }
        while i < n {
            if count >= 8 { return nil }
            // Find end of this piece.
            var j = i, value = 0, hexDigits = 0, sawDot = false
            while j < n && b[j] != UInt8(ascii: ":") {
                let c = b[j]
                if c == UInt8(ascii: ".") { sawDot = true }
                else if let h = hexValue(c) { value = value << 4 | h; hexDigits += 1 }
                else { return nil }
                j += 1
            }
            if sawDot {
                // Embedded IPv4 must be last and fit in two groups.
                guard j == n, count <= 6, let v4 = parseIPv4(b, from: i, to: j) else { return nil }
                groups[count] = UInt16(truncatingIfNeeded: v4.ipv4Value >> 16)
                groups[count + 1] = UInt16(truncatingIfNeeded: v4.ipv4Value)
                count += 2
                i = j
                break
            }
            if hexDigits == 0 || hexDigits > 4 { return nil }
            groups[count] = UInt16(value)
            count += 1
            i = j
            if i < n {
                i += 1  // skip ':'
                if i < n && b[i] == UInt8(ascii: ":") {
                    if gap >= 0 { return nil }
                    gap = count
                    i += 1
                } else if i == n {
                    return nil  // trailing single colon
                }
            }
        }
        if gap >= 0 {
            if count == 8 { return nil }
            // Move the groups after the gap to the end, zero-filling the gap.
            let tail = count - gap
            for k in stride(from: tail - 1, through: 0, by: -1) { groups[8 - tail + k] = groups[gap + k] }
            for k in gap..<(8 - tail) { groups[k] = 0 }
        } else if count != 8 {
            return nil
        }
        var h: UInt64 = 0, l: UInt64 = 0
        for k in 0..<4 { h = h << 16 | UInt64(groups[k]) }
        for k in 4..<8 { l = l << 16 | UInt64(groups[k]) }
        return IPAddress(high: h, low: l)
    }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(c - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}

/// A network address with a port: where a frame came from.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    public var ip: IPAddress
    public var port: UInt16
    public init(ip: IPAddress, port: UInt16) { self.ip = ip; self.port = port }

    /// `1.2.3.4:514` or `[::1]:514`.
    public var description: String {
        ip.isIPv4 ? "\(ip):\(port)" : "[\(ip)]:\(port)"
    }
}
