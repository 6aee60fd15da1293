import Testing
@testable import VigilCore

@Suite struct ExtractSessionSummaryTests {
    @Test(arguments: [
        ("80.112.125.122 : 18/07/22 01:06 - 18/07/22 01:18", "80.112.125.122", "2022-07-18T01:06:00Z", 720),
        ("10.0.0.1 : 31/12/25 23:50 - 01/01/26 00:20\n", "10.0.0.1", "2025-12-31T23:50:00Z", 1800),
        ("  2001:db8::42 : 29/02/24 10:00 - 29/02/24 10:00 ", "2001:db8::42", "2024-02-29T10:00:00Z", 0),
    ])
    func readsSummary(_ line: String, _ ip: String, _ start: String, _ seconds: Int64) {
        withExtractBytes(line) { b in
            let s = SessionSummaryExtractor.extract(b)
            #expect(s?.ip == IPAddress.parse(ip))
            #expect(s?.start.rfc3339() == start)
            #expect(s?.durationSeconds == seconds)
        }
    }

    @Test func readsFromARangeOfAFrame() {
        let frame = "<13>Nov 22 23:06:35 vm sessions: 80.112.125.122 : 18/07/22 01:06 - 18/07/22 01:18"
        withExtractBytes(frame) { b in
            let start = frame.utf8.count - "80.112.125.122 : 18/07/22 01:06 - 18/07/22 01:18".utf8.count
            #expect(SessionSummaryExtractor.extract(b, range: start..<b.count)?.durationSeconds == 720)
            #expect(SessionSummaryExtractor.extract(b) == nil)
        }
    }

    @Test(arguments: [
        "", "80.112.125.122", "80.112.125.122 : 18/07/22 01:06 -",            // truncated
        "80.112.125.122 : 18/07/22 01:18 - 18/07/22 01:06",                    // ends before it starts
        "80.112.125.122 : 32/07/22 01:06 - 18/07/22 01:18",                    // no such day
        "80.112.125.122 : 18/13/22 01:06 - 18/07/22 01:18",                    // no such month
        "80.112.125.122 : 18/07/22 24:06 - 18/07/22 01:18",
        "80.112.125.122 : 18/07/22 01:06 - 18/07/22 01:18 extra",
        "host.example : 18/07/22 01:06 - 18/07/22 01:18",                      // not an address
        "80.112.125.122: 18/07/22 01:06 - 18/07/22 01:18",
        "80.112.125.122 : 18/7/22 01:06 - 18/07/22 01:18",
    ])
    func rejects(_ line: String) {
        withExtractBytes(line) { #expect(SessionSummaryExtractor.extract($0) == nil) }
    }
}
