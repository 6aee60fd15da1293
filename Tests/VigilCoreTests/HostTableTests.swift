import Testing
@testable import VigilCore

@Suite struct HostTableTests {
    @Test func sameBytesSameIDAcrossGrowth() {
        var table = HostTable(seed: 42)
        var ids: [HostID] = []
        for i in 0..<10_000 { ids.append(table.intern("host-\(i).example")) }
        #expect(Set(ids).count == 10_000)
        for i in stride(from: 0, to: 10_000, by: 97) {
            #expect(table.intern("host-\(i).example") == ids[i])
            #expect(table.id(of: "host-\(i).example") == ids[i])
            #expect(table.name(of: ids[i]) == "host-\(i).example")
        }
        #expect(table.count == 10_000)
        #expect(table.id(of: "never-seen") == nil)
    }

    @Test func namesDifferingOnlyPastTheFirstWordOrInLengthAreDistinct() {
        var table = HostTable(seed: 7)
        let names = ["", "a", "a\u{0}", "abcdefgh", "abcdefghi", "abcdefgh\u{0}", "ABCDEFGH", "web1", "web1 "]
        let ids = names.map { table.intern($0) }
        #expect(Set(ids).count == names.count)
        #expect(names.map { table.intern($0) } == ids)
    }

    @Test func namesBeyondTheCapShareTheOverflowHost() {
        var table = HostTable(seed: 1, maxHosts: 3)
        let kept = ["a", "b", "c"].map { table.intern($0) }
        let forged = (0..<1_000).map { table.intern("forged-\($0)") }
        #expect(Set(forged).count == 1)
        #expect(table.name(of: forged[0]) == HostTable.overflowName)
        #expect(["a", "b", "c"].map { table.intern($0) } == kept)  // known hosts still resolve
        #expect(table.count == 4)
    }

    /// The word-at-a-time comparison at every length up to 40 and every position of a difference.
    @Test func bytesCompareEqualOnlyWhenEveryByteMatches() {
        for n in 0...40 {
            let a = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            a.withUnsafeBytes { x in
                Array(a).withUnsafeBytes { y in #expect(memcmpEqual(x, y), "length \(n)") }
                for i in 0..<n {
                    var b = a
                    b[i] ^= 0x20
                    b.withUnsafeBytes { y in #expect(!memcmpEqual(x, y), "length \(n), byte \(i)") }
                }
            }
        }
    }
}
