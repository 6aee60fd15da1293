/// HMAC-SHA256 (RFC 2104) with a fixed key: the inner and outer hash states after absorbing the
/// padded key are computed once in init, so each message costs only the message's own
/// compressions plus two.
///
/// The stored states stand for the key: whoever holds them can sign.
public struct HMACSHA256: Sendable {
    /// SHA-256 after absorbing K0 ⊕ ipad (one block).
    private let inner: SHA256
    /// SHA-256 after absorbing K0 ⊕ opad (one block).
    private let outer: SHA256

    /// Prepares the inner and outer states for `key`; keys longer than 64 bytes are hashed first (RFC 2104 §2).
    public init(key: [UInt8]) {
        // K0: the key, or its digest if longer than the block, zero-padded to 64 bytes.
        var k0 = [UInt8](repeating: 0, count: 64)
        if key.count > 64 {
            SHA256.hash(key).withUnsafeBytes { digest in
                for index in 0..<32 { k0[index] = digest[index] }
            }
        } else {
            for index in key.indices { k0[index] = key[index] }
        }
        var inner = SHA256()
        inner.update(k0.map { $0 ^ 0x36 })  // ipad
        var outer = SHA256()
        outer.update(k0.map { $0 ^ 0x5C })  // opad
        self.inner = inner
        self.outer = outer
    }

    /// The authentication code of `message`: H(K0 ⊕ opad ‖ H(K0 ⊕ ipad ‖ message)).
    public func authenticationCode(for message: UnsafeRawBufferPointer) -> SHA256Digest {
        var hash = begin()
        hash.update(message)
        return finish(hash)
    }

    /// The authentication code of `message`.
    public func authenticationCode(for message: [UInt8]) -> SHA256Digest {
        message.withUnsafeBytes { authenticationCode(for: $0) }
    }

    /// The inner hash ready for `update` with the message, in as many pieces as wanted; pass it to
    /// `finish` afterwards.
    public func begin() -> SHA256 { inner }

    /// The authentication code of what was fed to `inner`, a state that came from this value's `begin()`.
    public func finish(_ inner: consuming SHA256) -> SHA256Digest {
        let innerDigest = inner.finalize()
        var hash = outer
        innerDigest.withUnsafeBytes { hash.update($0) }
        return hash.finalize()
    }
}
