import Testing
@testable import VigilCore

@Suite struct CryptoSHA256Tests {
    /// The digest's lower-case hex as a string.
    private func hex(_ digest: SHA256Digest) -> String {
        var out: [UInt8] = []
        digest.appendHex(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses `text` with `SHA256Digest(hex:)`.
    private func parse(_ text: String) -> SHA256Digest? {
        Array(text.utf8).withUnsafeBytes { SHA256Digest(hex: $0) }
    }

    /// The bytes of a hex string (test vectors).
    private func bytes(hex text: String) -> [UInt8] {
        let digits = Array(text.utf8).map { $0 <= 0x39 ? $0 - 0x30 : ($0 | 0x20) - 0x57 }
        return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }

    /// Lower-case hex of `bytes`, written independently of `appendHex`.
    private func hexString(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// `count` pseudo-random bytes.
    private func randomBytes(_ count: Int, _ random: inout SeededRandom) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    /// Feeds `message` to a fresh hasher in pieces of the sizes `nextSize` gives, then finalizes.
    private func streamed(_ message: [UInt8], _ nextSize: () -> Int) -> SHA256Digest {
        var hasher = SHA256()
        message.withUnsafeBytes { all in
            var start = 0
            while start < all.count {
                let end = min(start + nextSize(), all.count)
                hasher.update(UnsafeRawBufferPointer(rebasing: all[start..<end]))
                start = end
            }
        }
        hasher.update([])
        return hasher.finalize()
    }

    /// FIPS 180-4 / NIST example messages.
    @Test func nistExamples() {
        let cases: [(String, String)] = [
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
            ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
             "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
        ]
        for (message, expected) in cases {
            #expect(hex(SHA256.hash(Array(message.utf8))) == expected, "\(message)")
        }
        let million = [UInt8](repeating: 0x61, count: 1_000_000)
        #expect(hex(SHA256.hash(million)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Messages of "a" whose lengths sit on each side of the padding boundaries (55 bytes still
    /// take the length in the same block, 56–63 need another one); checked against Python's hashlib.
    @Test func paddingBoundaries() {
        let cases: [(Int, String)] = [
            (55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
            (56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
            (57, "f13b2d724659eb3bf47f2dd6af1accc87b81f09f59f2b75e5c0bed6589dfe8c6"),
            (63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"),
            (64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
            (65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"),
            (119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"),
            (120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"),
            (128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"),
        ]
        for (count, expected) in cases {
            #expect(hex(SHA256.hash([UInt8](repeating: 0x61, count: count))) == expected, "\(count)")
        }
    }

    /// However a message is cut into `update` calls, the digest is the one-shot digest: the
    /// million "a" and random messages, in pieces of sizes around the block and padding
    /// boundaries (and empty pieces), byte by byte, and in random sizes.
    @Test func streamingMatchesOneShot() {
        var random = SeededRandom(seed: 0x5EED_C0DE)
        let boundarySizes = [0, 1, 55, 56, 63, 64, 65, 119, 120]

        let million = [UInt8](repeating: 0x61, count: 1_000_000)
        let millionDigest = parse("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        #expect(streamed(million) { boundarySizes[random.below(boundarySizes.count)] } == millionDigest)
        #expect(streamed(million) { random.within(0...4096) } == millionDigest)

        var messages: [[UInt8]] = (0...130).map { randomBytes($0, &random) }
        for _ in 0..<20 { messages.append(randomBytes(random.within(131...2000), &random)) }
        for message in messages {
            let oneShot = SHA256.hash(message)
            let viaPointer = message.withUnsafeBytes { SHA256.hash($0) }
            #expect(viaPointer == oneShot)
            var sizeIndex = 0
            let cycled = streamed(message) {
                defer { sizeIndex += 1 }
                return boundarySizes[sizeIndex % boundarySizes.count]
            }
            #expect(cycled == oneShot, "\(message.count) bytes, cycled sizes")
            #expect(streamed(message) { 1 } == oneShot, "\(message.count) bytes, one by one")
            #expect(streamed(message) { boundarySizes[random.below(boundarySizes.count)] } == oneShot,
                    "\(message.count) bytes, random boundary sizes")
            #expect(streamed(message) { random.within(0...200) } == oneShot, "\(message.count) bytes, random sizes")
        }
    }

    /// Copying a hasher forks it: each copy goes on independently of the other.
    @Test func copyForksTheState() {
        var first = SHA256()
        first.update(Array("ab".utf8))
        var second = first
        first.update(Array("c".utf8))
        second.update(Array("d".utf8))
        #expect(hex(first.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(second.finalize() == SHA256.hash(Array("abd".utf8)))
    }

    /// RFC 4231 §4.2–4.8, test cases 1–7 (case 5 compares the 128-bit truncation).
    @Test func rfc4231() {
        let aa131 = [UInt8](repeating: 0xAA, count: 131)
        let cases: [(key: [UInt8], data: [UInt8], mac: String)] = [
            ([UInt8](repeating: 0x0B, count: 20), Array("Hi There".utf8),
             "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
             "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            ([UInt8](repeating: 0xAA, count: 20), [UInt8](repeating: 0xDD, count: 50),
             "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
            (Array(1...25), [UInt8](repeating: 0xCD, count: 50),
             "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
            ([UInt8](repeating: 0x0C, count: 20), Array("Test With Truncation".utf8),
             "a3b6167473100ee06e0c796c2955552b"),
            (aa131, Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
             "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
            (aa131, Array(("This is a test using a larger than block-size key and a larger than block-size data. "
                           + "The key needs to be hashed before being used by the HMAC algorithm.").utf8),
             "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
        ]
        for (number, testCase) in zip(1..., cases) {
            let mac = HMACSHA256(key: testCase.key).authenticationCode(for: testCase.data)
            let expected = bytes(hex: testCase.mac)
            #expect(Array(mac.bytes.prefix(expected.count)) == expected, "test case \(number)")
        }
    }

    /// Keys of 0, 64 (used as they are) and 65 bytes (hashed first), checked against Python's hmac.
    @Test func keyLengthBoundary() {
        let message = [UInt8](repeating: 0x78, count: 300)
        let cases: [(Int, String)] = [
            (0, "494080064c2aabd6e9ad7924e2df5572989b87bcb5e4a95c5acdd84275363a64"),
            (64, "5514dd2568ba336bb51eb5fde0faae14fcadce23da3d39c125f75e5a14c0b239"),
            (65, "76073cb6e7032cdbc91d35cc497af8081a8da9ac1ca7ee8764ef7d2cd247daf9"),
        ]
        for (count, expected) in cases {
            let key = [UInt8](repeating: 0x6B, count: count)
            #expect(hex(HMACSHA256(key: key).authenticationCode(for: message)) == expected, "\(count)-byte key")
        }
    }

    /// `begin`, `update` over disjoint pieces, `finish` gives `authenticationCode(for:)` of the
    /// pieces joined; the MAC value can be reused for many messages.
    @Test func streamingHMACMatchesOneShot() {
        var random = SeededRandom(seed: 4231)
        let hmac = HMACSHA256(key: randomBytes(32, &random))
        for length in [0, 1, 55, 56, 63, 64, 65, 119, 120, 300, 1000] {
            let message = randomBytes(length, &random)
            let expected = hmac.authenticationCode(for: message)
            #expect(message.withUnsafeBytes { hmac.authenticationCode(for: $0) } == expected)
            for _ in 0..<4 {
                let cut1 = random.within(0...length)
                let cut2 = random.within(cut1...length)
                var inner = hmac.begin()
                inner.update(Array(message[..<cut1]))
                inner.update(Array(message[cut1..<cut2]))
                inner.update(Array(message[cut2...]))
                #expect(hmac.finish(inner) == expected, "\(length) bytes cut at \(cut1), \(cut2)")
            }
        }
        // A different key gives a different code.
        #expect(HMACSHA256(key: [1]).authenticationCode(for: [0]) != HMACSHA256(key: [2]).authenticationCode(for: [0]))
    }

    /// Hex out and back; upper case parses too; `bytes` and `description` agree with the hex.
    @Test func hexRoundTrip() {
        let text = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        let digest = SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        #expect(parse(text) == digest)
        #expect(parse(text.uppercased()) == digest)
        #expect(hex(digest) == text)
        #expect(digest.description == text)
        #expect(digest.bytes == bytes(hex: text))
        var out = Array("mac=".utf8)
        digest.appendHex(to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "mac=" + text)
        var random = SeededRandom(seed: 7)
        for _ in 0..<50 {
            let some = SHA256.hash(randomBytes(random.within(0...100), &random))
            #expect(parse(hex(some)) == some)
        }
    }

    /// 63 or 65 digits, or a non-hex character anywhere (the neighbours of each digit range), fail.
    @Test func hexRejectsBadInput() {
        let text = "0123456789abcdefABCDEF0123456789abcdef0123456789abcdef0123456789"
        #expect(parse(text) != nil)
        #expect(parse(String(text.dropLast())) == nil)
        #expect(parse(text + "0") == nil)
        #expect(parse("") == nil)
        var digits = Array(text.utf8)
        for position in 0..<64 {
            for bad in Array("/:@G`g x\u{0}".utf8) + [0xFF] {
                let saved = digits[position]
                digits[position] = bad
                #expect(digits.withUnsafeBytes { SHA256Digest(hex: $0) } == nil, "\(bad) at \(position)")
                digits[position] = saved
            }
        }
    }

    /// Equal digests compare equal; changing any one byte (low bit or high bit) makes them differ.
    @Test func constantTimeEquality() {
        let digest = SHA256.hash(Array("abc".utf8))
        #expect(digest.constantTimeEquals(digest))
        #expect(digest.constantTimeEquals(SHA256.hash(Array("abc".utf8))))
        let original = digest.bytes
        for position in 0..<32 {
            for flip: UInt8 in [0x01, 0x80, 0xFF] {
                var changed = original
                changed[position] ^= flip
                let other = parse(hexString(changed))!
                #expect(other.bytes == changed)
                #expect(!digest.constantTimeEquals(other), "byte \(position) ^ \(flip)")
                #expect(!other.constantTimeEquals(digest), "byte \(position) ^ \(flip)")
                #expect(digest != other)
            }
        }
    }
}
