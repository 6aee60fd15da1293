import Glibc
import Testing
import VigilTestSupport
@testable import VigilCore

/// Runs `body` over the UTF-8 bytes of `text`.
func withExtractBytes<R>(_ text: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    Array(text.utf8).withUnsafeBytes(body)
}

/// The bytes of `range` in `buffer` as a String (for comparing extracted ranges).
func extractString(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
    String(decoding: UnsafeRawBufferPointer(rebasing: buffer[range]), as: UTF8.self)
}

/// Expected fields of one extracted sshd line.
struct SSHExpect: Sendable, CustomTestStringConvertible {
    var line: String
    var message: SSHLine.Message
    var kind: SSHEvent.Kind?
    var ip: String? = nil
    var port: UInt16 = 0
    var user = ""
    var method = ""
    var invalid = false
    var preauth = false
    var count = 1
    var pid: Int32 = 4242
    var testDescription: String { line }
}

@Suite struct ExtractSSHTests {
    static let pid: Int32 = 4242

    static let rows: [SSHExpect] = [
        // Authentication results (OpenSSH 9.2 wording, from the samples and the OpenSSH sources).
        SSHExpect(line: "Failed password for vigiltest from 127.0.0.1 port 59710 ssh2", message: .failedPassword, kind: .authFailure,
                  ip: "127.0.0.1", port: 59710, user: "vigiltest", method: "password"),
        SSHExpect(line: "Failed password for invalid user oracle from 127.0.0.1 port 36436 ssh2", message: .failedPassword,
                  kind: .authFailure, ip: "127.0.0.1", port: 36436, user: "oracle", method: "password", invalid: true),
        SSHExpect(line: "Failed publickey for root from 203.0.113.7 port 50022 ssh2: RSA SHA256:AbCdEf0123456789xyz",
                  message: .failedPublickey, kind: nil, ip: "203.0.113.7", port: 50022, user: "root", method: "publickey"),
        SSHExpect(line: "Failed keyboard-interactive/pam for invalid user admin from 198.51.100.4 port 40022 ssh2",
                  message: .failedKeyboardInteractive, kind: .authFailure, ip: "198.51.100.4", port: 40022, user: "admin",
                  method: "keyboard-interactive/pam", invalid: true),
        SSHExpect(line: "Failed none for invalid user guest from 2001:db8::7 port 51234 ssh2", message: .failedNone,
                  kind: .authFailure, ip: "2001:db8::7", port: 51234, user: "guest", method: "none", invalid: true),
        SSHExpect(line: "Failed gssapi-with-mic for bob from 192.0.2.1 port 22 ssh2", message: .failedOther, kind: .authFailure,
                  ip: "192.0.2.1", port: 22, user: "bob", method: "gssapi-with-mic"),
        SSHExpect(line: "Invalid user oracle from 127.0.0.1 port 36436", message: .invalidUser, kind: .invalidUser,
                  ip: "127.0.0.1", port: 36436, user: "oracle", invalid: true),
        SSHExpect(line: "Invalid user  from 203.0.113.5 port 5", message: .invalidUser, kind: .invalidUser,
                  ip: "203.0.113.5", port: 5, user: "", invalid: true),
        SSHExpect(line: "Accepted password for vigiltest from 127.0.0.1 port 59700 ssh2", message: .accepted, kind: .authSuccess,
                  ip: "127.0.0.1", port: 59700, user: "vigiltest", method: "password"),
        SSHExpect(line: "Accepted publickey for vigiltest from 127.0.0.1 port 42060 ssh2: ED25519 SHA256:NFq1LRNj1PKtbfNrcRgTMvrza1iKMr+UuEn0TzI7TLg",
                  message: .accepted, kind: .authSuccess, ip: "127.0.0.1", port: 42060, user: "vigiltest", method: "publickey"),
        SSHExpect(line: "Accepted keyboard-interactive/pam for alice from 2001:db8::1 port 60000 ssh2", message: .accepted,
                  kind: .authSuccess, ip: "2001:db8::1", port: 60000, user: "alice", method: "keyboard-interactive/pam"),
        SSHExpect(line: "error: maximum authentication attempts exceeded for vigiltest from 127.0.0.1 port 42048 ssh2 [preauth]",
                  message: .maxAuthAttempts, kind: .authFailure, ip: "127.0.0.1", port: 42048, user: "vigiltest", preauth: true),
        SSHExpect(line: "error: maximum authentication attempts exceeded for invalid user admin from 203.0.113.9 port 1022 ssh2 [preauth]",
                  message: .maxAuthAttempts, kind: .authFailure, ip: "203.0.113.9", port: 1022, user: "admin", invalid: true, preauth: true),
        // Pre-auth noise: probes.
        SSHExpect(line: "Disconnecting authenticating user vigiltest 127.0.0.1 port 42048: Too many authentication failures [preauth]",
                  message: .tooManyAuthFailures, kind: .probe, ip: "127.0.0.1", port: 42048, user: "vigiltest", preauth: true),
        SSHExpect(line: "Disconnecting invalid user admin 203.0.113.9 port 1022: Too many authentication failures [preauth]",
                  message: .tooManyAuthFailures, kind: .probe, ip: "203.0.113.9", port: 1022, user: "admin", invalid: true, preauth: true),
        SSHExpect(line: "Connection closed by authenticating user vigiltest 127.0.0.1 port 59710 [preauth]", message: .connectionClosed,
                  kind: .probe, ip: "127.0.0.1", port: 59710, user: "vigiltest", preauth: true),
        SSHExpect(line: "Connection closed by invalid user oracle 127.0.0.1 port 36436 [preauth]", message: .connectionClosed,
                  kind: .probe, ip: "127.0.0.1", port: 36436, user: "oracle", invalid: true, preauth: true),
        SSHExpect(line: "Connection closed by 127.0.0.1 port 41470", message: .connectionClosed, kind: .probe, ip: "127.0.0.1", port: 41470),
        SSHExpect(line: "Connection closed by 2001:db8::5 port 22 [preauth]", message: .connectionClosed, kind: .probe,
                  ip: "2001:db8::5", port: 22, preauth: true),
        SSHExpect(line: "Disconnected from authenticating user root 203.0.113.5 port 4444 [preauth]", message: .disconnected,
                  kind: .probe, ip: "203.0.113.5", port: 4444, user: "root", preauth: true),
        SSHExpect(line: "Disconnected from invalid user test 203.0.113.5 port 4444 [preauth]", message: .disconnected,
                  kind: .probe, ip: "203.0.113.5", port: 4444, user: "test", invalid: true, preauth: true),
        SSHExpect(line: "Disconnected from 203.0.113.5 port 4444 [preauth]", message: .disconnected, kind: .probe,
                  ip: "203.0.113.5", port: 4444, preauth: true),
        SSHExpect(line: "Received disconnect from 203.0.113.5 port 4444:11: Bye Bye [preauth]", message: .receivedDisconnect,
                  kind: .probe, ip: "203.0.113.5", port: 4444, preauth: true),
        SSHExpect(line: "error: Received disconnect from 203.0.113.5 port 4444:3: com.jcraft.jsch.JSchException: Auth fail [preauth]",
                  message: .receivedDisconnect, kind: .probe, ip: "203.0.113.5", port: 4444, preauth: true),
        SSHExpect(line: "Connection reset by 203.0.113.5 port 4444 [preauth]", message: .connectionReset, kind: .probe,
                  ip: "203.0.113.5", port: 4444, preauth: true),
        SSHExpect(line: "Connection reset by authenticating user root 203.0.113.5 port 4444 [preauth]", message: .connectionReset,
                  kind: .probe, ip: "203.0.113.5", port: 4444, user: "root", preauth: true),
        SSHExpect(line: "Timeout before authentication for 203.0.113.5 port 4444", message: .timeout, kind: .probe,
                  ip: "203.0.113.5", port: 4444),
        SSHExpect(line: "Timeout before authentication for connection from 203.0.113.5 to 192.0.2.10, pid = 31337",
                  message: .timeout, kind: .probe, ip: "203.0.113.5", pid: 31337),
        SSHExpect(line: "Did not receive identification string from 203.0.113.5 port 4444", message: .noIdentification,
                  kind: .probe, ip: "203.0.113.5", port: 4444),
        SSHExpect(line: "error: kex_exchange_identification: Connection closed by remote host", message: .kexError, kind: .probe),
        SSHExpect(line: "error: kex_exchange_identification: client sent invalid protocol identifier \"garbage\"",
                  message: .kexError, kind: .probe),
        SSHExpect(line: "banner exchange: Connection from 127.0.0.1 port 59690: invalid format", message: .bannerError,
                  kind: .probe, ip: "127.0.0.1", port: 59690),
        SSHExpect(line: "Unable to negotiate with 203.0.113.5 port 4444: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]",
                  message: .negotiationFailed, kind: .probe, ip: "203.0.113.5", port: 4444, preauth: true),
        SSHExpect(line: "ssh_dispatch_run_fatal: Connection from 203.0.113.5 port 4444: message authentication code incorrect [preauth]",
                  message: .preauthOther, kind: .probe, preauth: true),
        // PAM: the auth failure restates `Failed password` and is not an event by default.
        SSHExpect(line: "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=127.0.0.1  user=vigiltest",
                  message: .pamAuthFailure, kind: nil, ip: "127.0.0.1", user: "vigiltest"),
        SSHExpect(line: "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=127.0.0.1 ",
                  message: .pamAuthFailure, kind: nil, ip: "127.0.0.1"),
        SSHExpect(line: "PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=2001:db8::9  user=root",
                  message: .pamAuthFailure, kind: nil, ip: "2001:db8::9", user: "root", count: 2),
        SSHExpect(line: "pam_unix(sshd:session): session opened for user vigiltest(uid=1001) by (uid=0)", message: .sessionOpened,
                  kind: .sessionOpen, user: "vigiltest"),
        SSHExpect(line: "pam_unix(sshd:session): session opened for user root by (uid=0)", message: .sessionOpened,
                  kind: .sessionOpen, user: "root"),
        SSHExpect(line: "pam_unix(sshd:session): session closed for user vigiltest", message: .sessionClosed,
                  kind: .sessionClose, user: "vigiltest"),
        SSHExpect(line: "Disconnected from user vigiltest 127.0.0.1 port 59700", message: .userDisconnected, kind: .sessionClose,
                  ip: "127.0.0.1", port: 59700, user: "vigiltest"),
        SSHExpect(line: "Received disconnect from 127.0.0.1 port 59700:11: disconnected by user", message: .receivedDisconnect,
                  kind: nil, ip: "127.0.0.1", port: 59700),
        // rsyslog's repeat compression counts N times.
        SSHExpect(line: "message repeated 3 times: [ Failed password for root from 203.0.113.5 port 4444 ssh2]",
                  message: .failedPassword, kind: .authFailure, ip: "203.0.113.5", port: 4444, user: "root", method: "password", count: 3),
        SSHExpect(line: "message repeated 12 times: [ Invalid user admin from 2001:db8::2 port 22 ]", message: .invalidUser,
                  kind: .invalidUser, ip: "2001:db8::2", port: 22, user: "admin", invalid: true, count: 12),
        // Leading space as rsyslog's RFC 5424 forwarding leaves it, and a trailing CR LF.
        SSHExpect(line: " Failed password for root from 203.0.113.5 port 4444 ssh2\r\n", message: .failedPassword,
                  kind: .authFailure, ip: "203.0.113.5", port: 4444, user: "root", method: "password"),
        // Host names where sshd could not write an address (UseDNS): recognised, no IP.
        SSHExpect(line: "Failed password for root from scanner.example.net port 4444 ssh2", message: .failedPassword,
                  kind: .authFailure, ip: nil, port: 4444, user: "root", method: "password"),
    ]

    /// User names an attacker chose so that the line seems to name another address.
    static let hostile: [SSHExpect] = [
        SSHExpect(line: "Invalid user admin from 10.9.9.9 port 22 from 203.0.113.5 port 4242", message: .invalidUser,
                  kind: .invalidUser, ip: "203.0.113.5", port: 4242, user: "admin from 10.9.9.9 port 22", invalid: true),
        SSHExpect(line: "Failed password for invalid user x port 1 ssh2 from 198.51.100.9 from 203.0.113.5 port 5 ssh2",
                  message: .failedPassword, kind: .authFailure, ip: "203.0.113.5", port: 5,
                  user: "x port 1 ssh2 from 198.51.100.9", method: "password", invalid: true),
        SSHExpect(line: "Failed password for invalid user from 1.2.3.4 port 22 ssh2 from 203.0.113.5 port 5 ssh2",
                  message: .failedPassword, kind: .authFailure, ip: "203.0.113.5", port: 5, user: "from 1.2.3.4 port 22 ssh2",
                  method: "password", invalid: true),
        SSHExpect(line: "Invalid user a b  c from 203.0.113.5 port 5", message: .invalidUser, kind: .invalidUser,
                  ip: "203.0.113.5", port: 5, user: "a b  c", invalid: true),
        SSHExpect(line: "Failed publickey for invalid user a from 9.9.9.9 port 1 ssh2: RSA SHA256:x from 203.0.113.5 port 5 ssh2: ED25519 SHA256:abc",
                  message: .failedPublickey, kind: nil, ip: "203.0.113.5", port: 5, user: "a from 9.9.9.9 port 1 ssh2: RSA SHA256:x",
                  method: "publickey", invalid: true),
        SSHExpect(line: "Connection closed by invalid user x 9.9.9.9 port 1 203.0.113.5 port 5 [preauth]", message: .connectionClosed,
                  kind: .probe, ip: "203.0.113.5", port: 5, user: "x 9.9.9.9 port 1", invalid: true, preauth: true),
        SSHExpect(line: "Disconnected from invalid user x 9.9.9.9 port 1 [preauth] 203.0.113.5 port 5 [preauth]", message: .disconnected,
                  kind: .probe, ip: "203.0.113.5", port: 5, user: "x 9.9.9.9 port 1 [preauth]", invalid: true, preauth: true),
        SSHExpect(line: "Disconnecting invalid user y 9.9.9.9 port 1: Too many authentication failures 203.0.113.5 port 5: Too many authentication failures [preauth]",
                  message: .tooManyAuthFailures, kind: .probe, ip: "203.0.113.5", port: 5,
                  user: "y 9.9.9.9 port 1: Too many authentication failures", invalid: true, preauth: true),
        SSHExpect(line: "error: maximum authentication attempts exceeded for invalid user z from 9.9.9.9 port 1 ssh2 from 203.0.113.5 port 5 ssh2 [preauth]",
                  message: .maxAuthAttempts, kind: .authFailure, ip: "203.0.113.5", port: 5, user: "z from 9.9.9.9 port 1 ssh2",
                  invalid: true, preauth: true),
        // The client chooses the disconnect reason: the address is read from the left there.
        SSHExpect(line: "Received disconnect from 203.0.113.5 port 5:11: bye 9.9.9.9 port 22: x [preauth]", message: .receivedDisconnect,
                  kind: .probe, ip: "203.0.113.5", port: 5, preauth: true),
        SSHExpect(line: "Unable to negotiate with 203.0.113.5 port 5: no matching host key type found. Their offer: 9.9.9.9 port 22: x [preauth]",
                  message: .negotiationFailed, kind: .probe, ip: "203.0.113.5", port: 5, preauth: true),
    ]

    static func check(_ row: SSHExpect, extractor: SSHExtractor = SSHExtractor()) {
        withExtractBytes(row.line) { b in
            guard let got = extractor.extract(b, pid: Self.pid) else {
                Issue.record("not recognised: \(row.line)")
                return
            }
            #expect(got.message == row.message)
            #expect(got.kind == row.kind)
            #expect(got.ip == row.ip.flatMap { IPAddress.parse($0) })
            #expect(got.port == row.port)
            #expect(got.pid == row.pid)
            #expect(extractString(b, got.user) == row.user)
            #expect(extractString(b, got.method) == row.method)
            #expect(got.invalidUser == row.invalid)
            #expect(got.preauth == row.preauth)
            #expect(got.count == row.count)
            #expect(got.event?.kind == row.kind)
        }
    }

    @Test(arguments: rows) func recognisesVariant(_ row: SSHExpect) { Self.check(row) }

    @Test(arguments: hostile) func blamesOnlyWhereSSHDWritesTheAddress(_ row: SSHExpect) { Self.check(row) }

    @Test(arguments: [
        "Server listening on 127.0.0.1 port 2222.",
        "Received signal 15; terminating.",
        "pam_systemd(sshd:session): Failed to connect to system bus: No such file or directory",
        "pam_unix(sshd:auth): check pass; user unknown",
        "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
        "", "   ", "F", "Failed", "Failed password", "Failed password for root",
        "Failed password for root from 1.2.3.4 port",            // truncated
        "Failed password for root from 1.2.3.4 port 99999 ssh2",  // port out of range
        "Failed password for root from 1.2.3.4 port 22 ssh2 from 203.0.113.5",  // no port after the last address
        "Invalid user x from 1.2.3.4",
        "Invalid user x from 1.2.3.4 port ",
        "Connection closed by",
        "Connection closed by user x 1.2.3.4 port 22",
        "Received disconnect from 1.2.3.4 port 22",
        "message repeated 2 times: [ Failed password for root from 1.2.3.4 port 22 ssh2",  // no closing bracket
        "message repeated 0 times: [ Failed password for root from 1.2.3.4 port 22 ssh2]",
        "message repeated times: [ Failed password for root from 1.2.3.4 port 22 ssh2]",
        "Disconnecting authenticating user x 1.2.3.4 port 5: Change of username or service not allowed",
    ])
    func rejects(_ line: String) {
        withExtractBytes(line) { b in #expect(SSHExtractor().extract(b, pid: 1) == nil) }
    }

    @Test func nulAndInvalidUTF8InUserNames() {
        let cases: [[UInt8]] = [
            Array("Invalid user a".utf8) + [0, 0x62] + Array(" from 203.0.113.5 port 5".utf8),
            Array("Failed password for invalid user ".utf8) + [0xFF, 0xFE, 0x20, 0xC3] + Array(" from 203.0.113.5 port 5 ssh2".utf8),
        ]
        let users: [[UInt8]] = [[0x61, 0, 0x62], [0xFF, 0xFE, 0x20, 0xC3]]
        for (bytes, user) in zip(cases, users) {
            bytes.withUnsafeBytes { b in
                let got = SSHExtractor().extract(b, pid: 9)
                #expect(got?.ip == IPAddress(203, 0, 113, 5))
                #expect(got?.port == 5)
                #expect(got.map { Array(b[$0.user]) } == user)
            }
        }
    }

    @Test func everyTruncationStaysInBounds() {
        // Every prefix of every row (a frame cut at the size limit) is read without
        // touching bytes past the cut; a cut inside the address yields no full-line match.
        for row in Self.rows + Self.hostile {
            let bytes = Array(row.line.utf8)
            for n in 0..<bytes.count {
                bytes.withUnsafeBytes { whole in
                    let b = UnsafeRawBufferPointer(rebasing: whole[0..<n])
                    if let got = SSHExtractor().extract(b, pid: 1) {
                        #expect(got.user.upperBound <= n && got.method.upperBound <= n)
                        #expect(got.user.lowerBound >= 0 && got.method.lowerBound >= 0)
                    }
                }
            }
        }
    }

    @Test func policySwitchesCountPublickeyAndPAM() {
        let counting = SSHExtractor(countFailedPublickey: true, countPAMFailures: true)
        withExtractBytes("Failed publickey for root from 203.0.113.7 port 50022 ssh2: RSA SHA256:x") { b in
            #expect(SSHExtractor().extract(b, pid: 1)?.event == nil)
            #expect(counting.extract(b, pid: 1)?.event?.kind == .authFailure)
        }
        withExtractBytes("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=127.0.0.1  user=x") { b in
            #expect(SSHExtractor().extract(b, pid: 1)?.event == nil)
            #expect(counting.extract(b, pid: 1)?.event?.kind == .authFailure)
        }
    }

    @Test func extractsFromARangeOfALargerBuffer() {
        let frame = "<38>Nov 22 23:06:48 vm sshd[18440]: Failed password for vigiltest from 127.0.0.1 port 59710 ssh2"
        withExtractBytes(frame) { b in
            let start = Array(frame.utf8).firstIndex(of: UInt8(ascii: "F"))!
            let got = SSHExtractor().extract(b, range: start..<b.count, pid: 18440)
            #expect(got?.user.lowerBound ?? 0 > start)
            #expect(got.map { extractString(b, $0.user) } == "vigiltest")
        }
    }

    @Test(arguments: [("sshd", true), ("sshd-session", true), ("sshd-auth", true), ("ssh", false), ("sshd-", false),
                      ("sshdx", false), ("sshd-sessions", false), ("", false), ("nginx", false), ("SSHD", false)])
    func recognisesSSHDAppNames(_ app: String, _ expected: Bool) {
        withExtractBytes(app) { #expect(SSHExtractor.isSSHD(app: $0) == expected) }
    }

    /// `ByteScan.has` compares words at a time: it must agree with a byte-by-byte comparison for
    /// literals of every length class, at every offset, up to the end of the range and past it.
    @Test func literalMatchingAgreesWithBytewiseComparison() {
        let text = "Connection closed by authenticating user root 192.0.2.1 port 22 [preauth]"
        let literals: [StaticString] = ["C", "Conn", "Connect", "Connecti", "Connection closed by ", "closed by ",
                                        " [preauth]", "authenticating user ", "port 22 [preauth]", "x", "Connection closed bx"]
        withExtractBytes(text) { b in
            var checked = 0
            for literal in literals {
                let bytes = Array(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
                for at in -1...b.count {
                    for hi in [b.count, b.count - 1, at + bytes.count, at + bytes.count - 1] where hi <= b.count {
                        let expected = at >= 0 && at + bytes.count <= hi && Array(b[at..<(at + bytes.count)]) == bytes
                        #expect(ByteScan.has(b, at, hi, literal) == expected)
                        checked += 1
                    }
                }
            }
            #expect(checked > 1000)
        }
    }
}
