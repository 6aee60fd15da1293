/// A SHA-256 digest: 32 bytes held inline (no heap allocation), as four 64-bit words whose most
/// significant byte comes first in the digest.
public struct SHA256Digest: Hashable, Sendable, CustomStringConvertible {
    /// Digest bytes 0–7, 8–15, 16–23 and 24–31, each read big-endian.
    var w0, w1, w2, w3: UInt64

    /// The digest of the final hash value H0…H7 (§6.2.2 step 4: H0 ‖ H1 ‖ … ‖ H7).
    init(_ h: SHA256.Words) {
        w0 = UInt64(h.0) << 32 | UInt64(h.1)
        w1 = UInt64(h.2) << 32 | UInt64(h.3)
        w2 = UInt64(h.4) << 32 | UInt64(h.5)
        w3 = UInt64(h.6) << 32 | UInt64(h.7)
    }

    /// The 32 bytes in order (allocates; for tests and printing).
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Lower-case hex, 64 characters.
    public var description: String {
        var out: [UInt8] = []
        appendHex(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Calls `body` with the 32 bytes in order, without allocating.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let bigEndian = (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian)
        return try Swift.withUnsafeBytes(of: bigEndian, body)
    }

    /// Lower-case hex, 64 characters, appended to `out`.
    public func appendHex(to out: inout [UInt8]) {
        out.reserveCapacity(out.count + 64)
        withUnsafeBytes { digest in
            for byte in digest {
                out.append(Self.hexDigit(byte >> 4))
                out.append(Self.hexDigit(byte & 0x0F))
            }
        }
    }

    /// Parses exactly 64 hex digits (either case) from `text`; nil otherwise.
    public init?(hex text: UnsafeRawBufferPointer) {
        guard text.count == 64,
              let w0 = Self.hexWord(text, from: 0), let w1 = Self.hexWord(text, from: 16),
              let w2 = Self.hexWord(text, from: 32), let w3 = Self.hexWord(text, from: 48)
        else { return nil }
        (self.w0, self.w1, self.w2, self.w3) = (w0, w1, w2, w3)
    }

    /// Compares in constant time (no early exit: every byte is looked at whatever differs). The
    /// words' differences are ORed together and only the total is tested.
    public func constantTimeEquals(_ other: SHA256Digest) -> Bool {
        let difference = (w0 ^ other.w0) | (w1 ^ other.w1) | (w2 ^ other.w2) | (w3 ^ other.w3)
        return difference == 0
    }

    /// The ASCII lower-case hex digit of `value` (0–15).
    @inline(__always)
    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? 0x30 + value : 0x57 + value
    }

    /// The 16 hex digits at `start...start + 15` of `text` as one word; nil if any is not a hex digit.
    private static func hexWord(_ text: UnsafeRawBufferPointer, from start: Int) -> UInt64? {
        var word: UInt64 = 0
        for index in start..<start + 16 {
            let byte = text[index]
            let value: UInt8
            switch byte {
            case 0x30...0x39: value = byte - 0x30  // 0-9
            case 0x41...0x46: value = byte - 0x37  // A-F
            case 0x61...0x66: value = byte - 0x57  // a-f
            default: return nil
            }
            word = word << 4 | UInt64(value)
        }
        return word
    }
}

/// Streaming SHA-256 (FIPS 180-4). A value type: copying it forks the state (HMAC relies on that).
/// Feed bytes with `update` in pieces of any size, then take the digest with `finalize`.
public struct SHA256: Sendable {
    /// Eight 32-bit words: a hash value H0…H7 or the working variables a…h (§6.2).
    typealias Words = (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)

    /// The hash value so far; starts as H(0) (§5.3.3).
    private var h: Words = (0x6A09_E667, 0xBB67_AE85, 0x3C6E_F372, 0xA54F_F53A,
                            0x510E_527F, 0x9B05_688C, 0x1F83_D9AB, 0x5BE0_CD19)
    /// Bytes waiting for a full 64-byte block: the first `pendingCount` of these 64.
    private var pending: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    /// How many bytes of `pending` are used (0–63).
    private var pendingCount = 0
    /// Bytes absorbed so far; the message length ℓ in bits is 8 times this (§5.1.1).
    private var byteCount: UInt64 = 0

    /// An empty hash: H(0) and no bytes absorbed.
    public init() {}

    /// Absorbs `bytes`, compressing every block that fills up.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var next = bytes.baseAddress, !bytes.isEmpty else { return }
        var remaining = bytes.count
        byteCount &+= UInt64(remaining)
        var state = h
        if pendingCount > 0 {
            // Top up the pending block first.
            let offset = pendingCount
            let taken = min(64 - offset, remaining)
            Swift.withUnsafeMutableBytes(of: &pending) { block in
                (block.baseAddress! + offset).copyMemory(from: next, byteCount: taken)
                if offset + taken == 64 { Self.compress(&state, block.baseAddress!) }
            }
            pendingCount = (offset + taken) & 63
            next += taken
            remaining -= taken
        }
        // Whole blocks straight from the input, then keep the tail.
        while remaining >= 64 {
            Self.compress(&state, next)
            next += 64
            remaining -= 64
        }
        if remaining > 0 {
            Swift.withUnsafeMutableBytes(of: &pending) { $0.baseAddress!.copyMemory(from: next, byteCount: remaining) }
            pendingCount = remaining
        }
        h = state
    }

    /// Absorbs `bytes` (convenience for `update(_: UnsafeRawBufferPointer)`).
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Pads the message (§5.1.1: a 1 bit, zeros, the 64-bit length ℓ) and returns the digest.
    public consuming func finalize() -> SHA256Digest {
        let bitLength = byteCount &* 8
        let count = pendingCount
        var state = h
        Swift.withUnsafeMutableBytes(of: &pending) { block in
            block[count] = 0x80
            if count >= 56 {
                // No room left for the length: pad this block out and add one more.
                for index in count + 1..<64 { block[index] = 0 }
                Self.compress(&state, block.baseAddress!)
                for index in 0..<56 { block[index] = 0 }
            } else {
                for index in count + 1..<56 { block[index] = 0 }
            }
            block.storeBytes(of: bitLength.bigEndian, toByteOffset: 56, as: UInt64.self)
            Self.compress(&state, block.baseAddress!)
        }
        return SHA256Digest(state)
    }

    /// The digest of `bytes` in one call.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> SHA256Digest {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// The digest of `bytes` in one call.
    public static func hash(_ bytes: [UInt8]) -> SHA256Digest {
        bytes.withUnsafeBytes { hash($0) }
    }

    /// The constants K0…K63 (§4.2.2).
    private static let k: [UInt32] = [
        0x428A_2F98, 0x7137_4491, 0xB5C0_FBCF, 0xE9B5_DBA5, 0x3956_C25B, 0x59F1_11F1, 0x923F_82A4, 0xAB1C_5ED5,
        0xD807_AA98, 0x1283_5B01, 0x2431_85BE, 0x550C_7DC3, 0x72BE_5D74, 0x80DE_B1FE, 0x9BDC_06A7, 0xC19B_F174,
        0xE49B_69C1, 0xEFBE_4786, 0x0FC1_9DC6, 0x240C_A1CC, 0x2DE9_2C6F, 0x4A74_84AA, 0x5CB0_A9DC, 0x76F9_88DA,
        0x983E_5152, 0xA831_C66D, 0xB003_27C8, 0xBF59_7FC7, 0xC6E0_0BF3, 0xD5A7_9147, 0x06CA_6351, 0x1429_2967,
        0x27B7_0A85, 0x2E1B_2138, 0x4D2C_6DFC, 0x5338_0D13, 0x650A_7354, 0x766A_0ABB, 0x81C2_C92E, 0x9272_2C85,
        0xA2BF_E8A1, 0xA81A_664B, 0xC24B_8B70, 0xC76C_51A3, 0xD192_E819, 0xD699_0624, 0xF40E_3585, 0x106A_A070,
        0x19A4_C116, 0x1E37_6C08, 0x2748_774C, 0x34B0_BCB5, 0x391C_0CB3, 0x4ED8_AA4A, 0x5B9C_CA4F, 0x682E_6FF3,
        0x748F_82EE, 0x78A5_636F, 0x84C8_7814, 0x8CC7_0208, 0x90BE_FFFA, 0xA450_6CEB, 0xBEF9_A3F7, 0xC671_78F2,
    ]

    /// The SHA-256 computation for one 64-byte block at `block` (§6.2.2), on a 64-word schedule
    /// in stack storage.
    private static func compress(_ h: inout Words, _ block: UnsafeRawPointer) {
        k.withUnsafeBufferPointer { k in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
                // Step 1: the message schedule W0…W63 (the block's words are big-endian, §3.1).
                for t in 0..<16 {
                    w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: 4 * t, as: UInt32.self))
                }
                for t in 16..<64 {
                    w[t] = smallSigma1(w[t - 2]) &+ w[t - 7] &+ smallSigma0(w[t - 15]) &+ w[t - 16]
                }
                // Step 2: the working variables start as H(i-1).
                var (a, b, c, d, e, f, g, hh) = h
                // Step 3: 64 rounds.
                for t in 0..<64 {
                    let t1 = hh &+ bigSigma1(e) &+ choose(e, f, g) &+ k[t] &+ w[t]
                    let t2 = bigSigma0(a) &+ majority(a, b, c)
                    hh = g
                    g = f
                    f = e
                    e = d &+ t1
                    d = c
                    c = b
                    b = a
                    a = t1 &+ t2
                }
                // Step 4: H(i) = working variables + H(i-1).
                h.0 &+= a
                h.1 &+= b
                h.2 &+= c
                h.3 &+= d
                h.4 &+= e
                h.5 &+= f
                h.6 &+= g
                h.7 &+= hh
            }
        }
    }

    // The functions of §4.1.2 (ROTR is §3.2).

    /// ROTR^n(x): `x` rotated right by `n` bits (0 < n < 32).
    @inline(__always) private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { x &>> n | x &<< (32 - n) }
    /// Ch(x, y, z): `y` where `x` has a 1 bit, `z` elsewhere.
    @inline(__always) private static func choose(_ x: UInt32, _ y: UInt32, _ z: UInt32) -> UInt32 { (x & y) ^ (~x & z) }
    /// Maj(x, y, z): the majority of each bit position.
    @inline(__always) private static func majority(_ x: UInt32, _ y: UInt32, _ z: UInt32) -> UInt32 { (x & y) ^ (x & z) ^ (y & z) }
    /// Σ0(x).
    @inline(__always) private static func bigSigma0(_ x: UInt32) -> UInt32 { rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22) }
    /// Σ1(x).
    @inline(__always) private static func bigSigma1(_ x: UInt32) -> UInt32 { rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25) }
    /// σ0(x).
    @inline(__always) private static func smallSigma0(_ x: UInt32) -> UInt32 { rotr(x, 7) ^ rotr(x, 18) ^ (x >> 3) }
    /// σ1(x).
    @inline(__always) private static func smallSigma1(_ x: UInt32) -> UInt32 { rotr(x, 17) ^ rotr(x, 19) ^ (x >> 10) }
}
