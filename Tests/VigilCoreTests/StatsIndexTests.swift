import Testing
@testable import VigilCore

/// The flat structures behind the traffic stats: the section index and the 32-bit client counts.
@Suite struct StatsIndexTests {
    static func find(_ index: ByteStringIndex, _ key: String) -> Int? {
        Array(key.utf8).withUnsafeBytes { index.index(of: $0) }
    }

    static func add(_ index: inout ByteStringIndex, _ key: String) -> Int {
        Array(key.utf8).withUnsafeBytes { index.add($0) }
    }

    /// Real sections of the nginx sample and their neighbours: numbered in order, found again
    /// byte for byte (lengths around the eight-byte hash step), under any seed.
    @Test func sectionsAreNumberedInOrderAndFoundAgain() {
        let keys = ["/", "/api", "/static", "/images", "/wp-login.php", "/.env", "/a", "/ab", "/abcdefg", "/abcdefgh",
                    "/abcdefghi", ""] + (0..<300).map { "/s\($0)" }
        for seed: UInt64 in [0, 7, .max] {
            var index = ByteStringIndex(seed: seed)
            for (i, key) in keys.enumerated() {
                #expect(Self.find(index, key) == nil)
                let added = Self.add(&index, key)
                #expect(added == i)
            }
            #expect(index.count == keys.count)
            for (i, key) in keys.enumerated() {
                #expect(Self.find(index, key) == i)
                let again = Self.add(&index, key)  // adding again changes nothing
                #expect(again == i)
            }
            #expect(Self.find(index, "/abcdefgj") == nil)
            #expect(Self.find(index, "/ap") == nil)
            index.removeAll()
            #expect(index.count == 0)
            #expect(Self.find(index, "/api") == nil)
            let first = Self.add(&index, "/images")
            #expect(first == 0)
        }
    }

    /// A count past 32 bits moves out of the flat table and stays exact; the address is counted once.
    @Test func countsPastThirtyTwoBitsStayExact() {
        var counts = AddressCounts()
        let big = IPAddress(198, 51, 100, 9), small = IPAddress(198, 51, 100, 10)
        var accepted: [Bool] = []
        accepted.append(counts.add(big, Int(UInt32.max) - 2))
        accepted.append(counts.add(big, 5))
        accepted.append(counts.add(big, 1))
        accepted.append(counts.add(small, 2))
        accepted.append(counts.add(IPAddress(198, 51, 100, 11), Int(UInt32.max) + 1))  // too big from the start
        accepted.append(counts.add(IPAddress(198, 51, 100, 12), 1, limit: 3))
        #expect(accepted == [true, true, true, true, true, false])
        #expect(counts.count == 3)
        #expect(counts.top(3).map(\.count) == [Int(UInt32.max) + 4, Int(UInt32.max) + 1, 2])
        #expect(counts.top(1).map(\.ip) == [big])
        counts.removeAll()
        #expect(counts.count == 0)
        let again = counts.add(big, 1, limit: 1)
        #expect(again && counts.all.map(\.count) == [1])
    }

    /// Sections from the same bytes under different seeds count the same.
    @Test func statsDoNotDependOnTheSeed() {
        func render(_ seed: UInt64) -> String {
            var stats = TrafficStats(hashSeed: seed)
            for (i, path) in ["/a/1", "/b", "/a/2", "/c", "/b/x"].enumerated() {
                let line = Array("10.0.0.\(i) - - [22/Nov/2026:23:06:35 +0000] \"GET \(path) HTTP/1.1\" 200 1 \"-\" \"-\"".utf8)
                line.withUnsafeBytes { stats.recordHTTP(host: HostID(0), request: StatsRenderTests.request(line), text: $0) }
            }
            return stats.render(at: Timestamp(seconds: 0), intervalSeconds: 1, hostName: { _ in "h" })
        }
        #expect(render(0).contains("  top sections: /a 2, /b 2, /c 1\n"))
        #expect(render(0x5EED) == render(0))
    }
}
