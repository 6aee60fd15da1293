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
        let names = ["a", "a_", "abcdefgh", "abcdefghi", "abcdefgh_", "abcdefgi", "web1", "web1.", "web1-1"]
        let ids = names.map { table.intern($0) }
        #expect(Set(ids).count == names.count)
        #expect(names.map { table.intern($0) } == ids)
    }

    /// One host, one name: every spelling is the host of its sanitized name (`HostName`), which
    /// is the name alerts, the store and the reports show; a new odd spelling costs one lookup.
    @Test func everySpellingOfANameIsOneHost() {
        var table = HostTable(seed: 9)
        let web1 = table.intern("WEB1")
        #expect(["web1", "Web1", "WEB1", "wEb1"].map { table.intern($0) } == [web1, web1, web1, web1])
        #expect(table.name(of: web1) == "web1" && table.count == 1)
        #expect(table.id(of: "Web1") == web1 && table.id(of: "web1") == web1 && table.id(of: "WeB1") == nil)
        let odd = ["a/b", "a b", "", "..", "Caf\u{E9}", "x\u{1b}[2J"].map { table.intern($0) }
        #expect(odd.map { table.name(of: $0) } == ["a_b", "a_b", "_", "_", "caf__", "x__2j"])
        #expect(table.intern("a_b") == odd[0] && table.intern("_") == odd[2])
        #expect(table.count == 5)
    }

    /// Aliases are bounded like names: a flood of spellings of one host adds at most `maxHosts`
    /// aliases and still resolves each to the host.
    @Test func aliasesAreBounded() {
        var table = HostTable(seed: 3, maxHosts: 4)
        let host = table.intern("abcdefghijkl")
        var spelled: [HostID] = []
        for mask in 0..<4096 {
            let name = String(decoding: "abcdefghijkl".utf8.enumerated().map { mask & (1 << $0.offset) != 0 ? $0.element - 32 : $0.element },
                              as: UTF8.self)
            spelled.append(table.intern(name))
        }
        #expect(Set(spelled) == [host] && table.count == 1)
        #expect(table.intern("ABCDEFGHIJKL") == host)
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

    /// A lock that counts how often it is taken (one thread only: it excludes nothing).
    final class CountingLock: MutualExclusion, @unchecked Sendable {
        var taken = 0
        func withLock<R>(_ body: () -> R) -> R { taken += 1; return body() }
    }

    /// Interning through a `HostCache` gives the shared directory's ids, whichever thread's
    /// cache met a host first, and takes the directory's lock once per host (or spelling) a
    /// cache meets, not per message.
    @Test func cachesGiveTheSharedIDsAndLockOncePerNewHost() {
        let lock = CountingLock()
        let shared = HostDirectory(table: HostTable(seed: 1), lock: lock)
        var first = HostCache(seed: 2, maxHosts: 100), second = HostCache(seed: 3, maxHosts: 100)
        func intern(_ cache: inout HostCache, _ name: String) -> HostID {
            Array(name.utf8).withUnsafeBytes { cache.intern($0, in: shared) }
        }
        let b = intern(&second, "beta")
        let a = intern(&first, "alpha")
        #expect(intern(&second, "alpha") == a && intern(&first, "beta") == b && a != b)
        #expect(shared.name(of: a) == "alpha" && shared.name(of: b) == "beta")
        let taken = lock.taken
        for _ in 0..<100 { _ = intern(&first, "alpha"); _ = intern(&second, "beta") }
        #expect(lock.taken == taken, "a host a cache knows costs no lock")
        #expect(intern(&first, "ALPHA") == a, "another spelling is the same host")
        #expect(shared.count == 2)
    }

    /// A full cache (one thread flooded with names) still gives every host the directory knows
    /// its own id, and stops growing; names past the directory's own cap go to its overflow host.
    @Test func aFullCacheStillNamesKnownHostsRight() {
        let shared = HostDirectory(table: HostTable(seed: 1, maxHosts: 5), lock: CountingLock())
        var quiet = HostCache(seed: 2, maxHosts: 5), flooded = HostCache(seed: 3, maxHosts: 5)
        func intern(_ cache: inout HostCache, _ name: String) -> HostID {
            Array(name.utf8).withUnsafeBytes { cache.intern($0, in: shared) }
        }
        let web1 = intern(&quiet, "web1")
        // Five names fill the flooded cache; the fifth is already past the directory's cap.
        let forged = (0..<5).map { intern(&flooded, "forged-\($0)") }
        #expect(Set(forged.prefix(4) + [web1]).count == 5 && shared.name(of: forged[4]) == HostTable.overflowName)
        #expect(intern(&flooded, "web1") == web1, "a known host keeps its id on the flooded thread")
        #expect(intern(&flooded, "WEB1") == web1, "and any spelling of it")
        #expect(intern(&flooded, "forged-9") == forged[4] && intern(&quiet, "another") == forged[4])
        #expect(intern(&flooded, "forged-0") == forged[0])
    }

    /// Activity from two threads combines: messages summed, the later last message, both
    /// threads' programs once each; a host only one thread saw is that thread's entry.
    @Test func activityFromTwoThreadsCombines() {
        var one = HostActivity(), two = HostActivity()
        let frame = Array("sshdnginx-long-program-name".utf8)
        frame.withUnsafeBytes { f in
            one.recordMessage(host: HostID(1), frame: f, program: 0..<4, at: Timestamp(seconds: 10))
            two.recordMessage(host: HostID(1), frame: f, program: 4..<27, at: Timestamp(seconds: 20))
            two.recordMessage(host: HostID(1), frame: f, program: 0..<4, at: Timestamp(seconds: 15))
            two.recordMessage(host: HostID(3), frame: f, program: 0..<4, at: Timestamp(seconds: 5))
        }
        let host1 = HostActivity.combined([one, two].compactMap { $0.entry(HostID(1)) })
        #expect(host1?.messages == 3 && host1?.lastSeen == Timestamp(seconds: 15))
        #expect(host1?.programs.map { String(decoding: $0, as: UTF8.self) } == ["sshd", "nginx-long-program-name"])
        #expect(HostActivity.combined([one, two].compactMap { $0.entry(HostID(3)) }) == two.entry(HostID(3)))
        #expect(HostActivity.combined([]) == nil)
    }
}
