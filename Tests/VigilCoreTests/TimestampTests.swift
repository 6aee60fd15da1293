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

    /// Fractions of one to nine digits, before each kind of zone (so both the word-at-a-time
    /// reading of six or more digits and the digit loop run): the first six digits count.
    @Test func fractionsKeepTheirFirstSixDigits() {
        let base = CivilDateTime(year: 2026, month: 11, day: 25, hour: 10, minute: 15, second: 30).timestamp()
        for count in 1...9 {
            let digits = String("987654321".prefix(count))
            let micro = Int64(String((digits + "00000").prefix(6)))!
            for (zone, shift) in [("Z", Int64(0)), ("+01:00", -3_600_000_000), ("-00:30", 1_800_000_000), ("", 0)] {
                let text = "2026-11-25T10:15:30.\(digits)\(zone)"
                let read = Array(text.utf8).withUnsafeBytes { SyslogTimestamps.rfc3339($0, 0, $0.count, defaultOffset: 0) }
                #expect(read == base.adding(microseconds: micro + shift), "\(text)")
            }
        }
        // Eleven NUL bytes where the date goes: no date, however empty the memo is.
        let nulDate = String(repeating: "\u{0}", count: 11) + "10:15:30Z"
        for bad in ["2026-11-25T10:15:30.Z", "2026-11-25T10:15:30.12345x78Z", "2026-11-25T10:15:30.1234567 Z", nulDate] {
            #expect(Array(bad.utf8).withUnsafeBytes { SyslogTimestamps.rfc3339($0, 0, $0.count, defaultOffset: 0) } == nil, "\(bad)")
        }
    }

    /// A stream of timestamps read with one memo gives exactly what reading each afresh gives:
    /// same date with other times, fractions and zones, a date change, a bad hour, minute,
    /// second or zone after a memoized date, an impossible date (never memoized), lower-case `t`.
    @Test func memoizedReadingMatchesFreshReading() {
        var texts = [
            "2026-11-25T10:15:30.5Z", "2026-11-25T10:15:31+01:00", "2026-11-25T10:15:59.123456789-05:30",
            "2026-11-25T10:15:60Z", "2026-11-25T10:15:61Z", "2026-11-25T10:15:3xZ", "2026-11-25T10:15:30+25:00",
            "2026-11-25T10:16:00Z", "2026-11-25t10:16:01Z", "2026-02-30T10:16:01Z", "2026-02-30T10:16:02Z",
            "2026-11-25T10:16:0", "2026-11-25T10:16:02", "2026-11-25T10:16:02.Z", "2026-11-25T10:16.02Z",
            "2026-11-25T24:00:00Z", "2026-11-25T23:60:00Z", "2026-11-25T0x:00:00Z", "2026-11-25T23:59:59Z",
            "2026-11-26T00:00:00Z", "2026-11-25T23:59:59Z",
        ]
        var rng: UInt64 = 7
        for _ in 0..<2_000 {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let day = 30 + Int(rng >> 62) % 3, hour = 22 + Int(rng >> 58) % 3, minute = Int(rng >> 54) % 61
            let second = Int(rng >> 46) % 62, zone = Int(rng >> 40) % 3
            func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
            let text = "2026-12-\(two(day))T\(two(hour)):\(two(minute)):\(two(second))" + ["Z", "+02:00", ".25-01:00"][zone]
            texts.append(text)
        }
        var memo = TimestampMemo()
        for text in texts {
            let bytes = Array(text.utf8)
            bytes.withUnsafeBytes { f in
                let fresh = SyslogTimestamps.rfc3339(f, 0, f.count, defaultOffset: 3600)
                let memoized = SyslogTimestamps.rfc3339(f, 0, f.count, defaultOffset: 3600, memo: &memo)
                #expect(memoized == fresh, "\(text)")
            }
        }
        // Spot checks that the fresh reading is itself right.
        let read = { (text: String) in Array(text.utf8).withUnsafeBytes { SyslogTimestamps.rfc3339($0, 0, $0.count, defaultOffset: 3600) } }
        #expect(read("2026-11-25T10:15:31+01:00") == CivilDateTime(year: 2026, month: 11, day: 25, hour: 9, minute: 15, second: 31).timestamp())
        #expect(read("2026-11-25T10:16:02") == CivilDateTime(year: 2026, month: 11, day: 25, hour: 9, minute: 16, second: 2).timestamp())
        #expect(read("2026-02-30T10:16:01Z") == nil && read("2026-11-25T10:15:61Z") == nil)
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

    /// Dotted quads built from every octet spelling 0…999 (with and without leading zeros) and
    /// random separators, checked against a plain reading of the rules: four decimal octets,
    /// one to three digits, no leading zero, at most 255, dots between.
    @Test func ipv4AgreesWithAPlainReadingOfTheRules() {
        func reference(_ text: String) -> UInt32? {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var value: UInt32 = 0
            for p in parts {
                guard (1...3).contains(p.count), p.allSatisfy({ $0.isASCII && $0.isNumber }),
                      p.count == 1 || p.first != "0", let n = UInt32(p), n <= 255 else { return nil }
                value = value << 8 | n
            }
            return value
        }
        var spellings = (0...999).map(String.init) + ["00", "000", "007", "", "1a", "+1", "-1", "1 "]
        spellings += (0...9).map { "0\($0)" }
        var rng: UInt64 = 3
        for _ in 0..<20_000 {
            var text = ""
            for k in 0..<4 {
                rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text += spellings[Int(rng >> 33) % spellings.count]
                if k < 3 { text += rng >> 20 & 31 == 0 ? ":" : "." }
            }
            if rng >> 10 & 63 == 0 { text += "." }
            let parsed = Array(text.utf8).withUnsafeBytes { IPAddress.parseIPv4($0, from: 0, to: $0.count) }
            #expect(parsed.map(\.ipv4Value) == reference(text), "\(text)")
        }
    }
}
