import Testing
@testable import VigilCore

@Suite struct HostNameTests {
    @Test(arguments: [
        ("vm", "vm"),
        ("edge-tcp-proto23-octet", "edge-tcp-proto23-octet"),
        ("Web01.Example.COM", "web01.example.com"),
        ("2001:db8::1", "2001:db8::1"),
        ("host_name", "host_name"),
        ("../../etc", ".._.._etc"),
        ("a/b", "a_b"),
        ("/", "_"),
        ("..", "_"),
        (".", "_"),
        ("", "_"),
        ("...", "..."),
        (".hidden", ".hidden"),
        ("a\u{0}b", "a_b"),
        ("tab\there", "tab_here"),
        ("new\nline", "new_line"),
        ("caf\u{E9}", "caf__"),
        ("\u{65E5}\u{672C}", "______"),
        ("a b;rm -rf $HOME", "a_b_rm_-rf__home"),
        ("C:\\x", "c:_x"),
    ])
    func sanitizes(input: String, expected: String) {
        #expect(HostName.sanitize(input) == expected)
    }

    @Test func capsAt255Bytes() {
        let long = String(repeating: "a", count: 300)
        let result = HostName.sanitize(long)
        #expect(result.utf8.count == 255)
        #expect(result == String(repeating: "a", count: 255))
        // A name cut to length must still not turn into a special component or contain a slash.
        let slashes = String(repeating: "/", count: 300)
        #expect(HostName.sanitize(slashes) == String(repeating: "_", count: 255))
    }

    @Test func rawBytesOutsideUTF8AreReplaced() {
        let bytes: [UInt8] = [0xFF, 0x2E, 0x2E, 0x2F, 0xC0, 0x41]
        #expect(bytes.withUnsafeBytes { HostName.sanitize($0) } == "_..__a")
    }
}
