import Testing
@testable import VigilCore

@Suite struct TimestampTests {
    @Test func civilRoundTrip() {
        let c = CivilDateTime(year: 2026, month: 11, day: 22, hour: 23, minute: 5, second: 45, microsecond: 902_970)
        let t = c.timestamp()
        #expect(t.rfc3339(fractionalDigits: 6) == "2026-11-22T23:05:45.902970Z")
        #expect(CivilDateTime(t) == c)
        #expect(t.dayString == "2026-11-22")
    }

    @Test func offsetsAndEpochBoundaries() {
        #expect(Timestamp(seconds: 0).rfc3339() == "1970-01-01T00:00:00Z")
        #expect(Timestamp(seconds: -1).rfc3339() == "1969-12-31T23:59:59Z")
        let c = CivilDateTime(year: 2024, month: 2, day: 29, hour: 1)
        #expect(c.timestamp(utcOffsetSeconds: 3600).rfc3339() == "2024-02-29T00:00:00Z")
        #expect(!CivilDateTime(year: 2023, month: 2, day: 29).isValid)
    }
}

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("1.2.3.4", "1.2.3.4"), ("::1", "::1"), ("::", "::"), ("2001:db8::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"), ("fe80::1:0:0:1", "fe80::1:0:0:1"),
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3"), ("::ffff:10.0.0.1", "10.0.0.1"), ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
    ])
    func parsesAndFormats(input: String, expected: String) {
        #expect(IPAddress.parse(input)?.description == expected)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4.", ":::", "1::2::3", "12345::", "abc", "1:2:3:4:5:6:7:8:9", "1.2.3.4 "])
    func rejects(input: String) {
        #expect(IPAddress.parse(input) == nil)
    }
}
