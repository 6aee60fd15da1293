import VigilCore

/// Which payloads the realistic frames carry.
enum TrafficMix: String {
    /// sshd lines as rsyslog forwards them (RFC 5424): failures, invalid users, logins, sessions, noise.
    case ssh
    /// nginx combined access lines as `access_log syslog:` sends them (RFC 3164).
    case http
    /// Three http lines for every two sshd lines.
    case mixed
}

/// Realistic syslog frames in one buffer whose source address and time of day are rewritten in
/// place before each use, so a few thousand frames stand for any number of distinct source IPs
/// and for a clock that moves on.
///
/// Every address is written `10.ddd.ddd.ddd` with three-digit octets (100...255), so rewriting
/// never changes a frame's length (and its octet count stays right). The date is fixed when the
/// block is built; only `HH:MM:SS` moves, so a clock that passes midnight wraps to the same date.
final class TrafficBlock {
    /// The frames back to back, framing included.
    let bytes: UnsafeMutableRawBufferPointer
    /// Range of each frame's syslog message (framing excluded) in `bytes`.
    private(set) var messages: [Range<Int>] = []
    /// End offset (exclusive) of each frame, framing included.
    private(set) var ends: [Int] = []
    /// Offset of the first digit of each frame's `ddd.ddd.ddd` address tail, or -1.
    private var addressOffsets: [Int] = []
    /// Offsets of the `HH:MM:SS` fields of each frame (one or two).
    private var clockOffsets: [[Int]] = []

    /// Number of frames.
    var count: Int { ends.count }

    /// Builds `frames` frames of `mix` for the day of `start`, framed as `kind`, spread over
    /// `hosts` hosts named `web-01…` (frame t from host t % hosts; a count sharing no factor with
    /// 20 gives every host every shape of the mix); their clocks read `start`'s time of day.
    init(frames: Int, mix: TrafficMix, hosts: Int, kind: FrameKind, start: Timestamp) {
        let civil = CivilDateTime(start)
        var out: [UInt8] = []
        var message: [UInt8] = []
        var addressAt = -1
        var clocksAt: [Int] = []
        for t in 0..<frames {
            message.removeAll(keepingCapacity: true)
            addressAt = -1
            clocksAt.removeAll(keepingCapacity: true)
            let host = t % hosts + 1
            let useHTTP: Bool
            switch mix {
            case .ssh: useHTTP = false
            case .http: useHTTP = true
            case .mixed: useHTTP = t % 5 < 3
            }
            if useHTTP {
                Self.appendHTTP(t, host: host, day: civil, to: &message, address: &addressAt, clocks: &clocksAt)
            } else {
                Self.appendSSH(t, host: host, day: civil, to: &message, address: &addressAt, clocks: &clocksAt)
            }
            if kind == .octetCounted {
                appendDigits(message.count, width: 0, to: &out)
                out.append(UInt8(ascii: " "))
            }
            let start = out.count
            out.append(contentsOf: message)
            messages.append(start..<out.count)
            if kind == .lineFeed { out.append(UInt8(ascii: "\n")) }
            ends.append(out.count)
            addressOffsets.append(addressAt < 0 ? -1 : start + addressAt)
            clockOffsets.append(clocksAt.map { start + $0 })
        }
        bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: out.count, alignment: 16)
        bytes.copyBytes(from: out)
        rewriteClock(ClockText(start))
    }

    deinit { bytes.deallocate() }

    /// Writes `address` into frame `t` (a no-op for frames without one).
    @inline(__always)
    func rewriteAddress(_ t: Int, _ address: AddressCycle) {
        let at = addressOffsets[t]
        guard at >= 0 else { return }
        let base = bytes.baseAddress! + at
        AddressCycle.store(address.b, at: base)
        AddressCycle.store(address.c, at: base + 4)
        AddressCycle.store(address.d, at: base + 8)
    }

    /// Writes `clock` into frame `t`.
    @inline(__always)
    func rewriteClock(_ t: Int, _ clock: ClockText) {
        for at in clockOffsets[t] { bytes.storeBytes(of: clock.word, toByteOffset: at, as: UInt64.self) }
    }

    /// Writes `clock` into every frame.
    func rewriteClock(_ clock: ClockText) {
        for t in 0..<count { rewriteClock(t, clock) }
    }

    /// Frame `t`'s syslog message, framing excluded.
    @inline(__always)
    func message(_ t: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[messages[t]])
    }

    /// Frames `range` with their framing, back to back as sent on a connection.
    @inline(__always)
    func frames(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        guard !range.isEmpty else { return UnsafeRawBufferPointer(rebasing: bytes[0..<0]) }
        let from = range.lowerBound == 0 ? 0 : ends[range.lowerBound - 1]
        return UnsafeRawBufferPointer(rebasing: bytes[from..<ends[range.upperBound - 1]])
    }

    // MARK: - Shapes

    /// sshd lines, weighted roughly like a server on the internet: mostly failures and noise.
    private static let sshShapes: [(text: String, weight: Int)] = [
        ("Failed password for root from @ port # ssh2", 5),
        ("Failed password for invalid user admin from @ port # ssh2", 2),
        ("Invalid user admin from @ port #", 2),
        ("Connection closed by @ port # [preauth]", 2),
        ("Disconnected from authenticating user root @ port # [preauth]", 1),
        ("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=@  user=root", 1),
        ("error: kex_exchange_identification: Connection closed by remote host", 1),
        ("Accepted publickey for deploy from @ port # ssh2: ED25519 SHA256:Vx5nq0kqfW1bqR2m1Zb3Yt0uJmG7cXbJmVqk9sXo2cA", 2),
        ("pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)", 1),
        ("Received disconnect from @ port #:11: disconnected by user", 1),
        ("Disconnected from user deploy @ port #", 1),
        ("pam_unix(sshd:session): session closed for user deploy", 1),
    ]
    private static let sshPattern: [Int] = sshShapes.indices.flatMap { Array(repeating: $0, count: sshShapes[$0].weight) }

    /// Request lines and statuses of the http frames: mostly 200s, some redirects, 404s and 5xx.
    private static let httpShapes: [(request: String, status: Int)] = [
        ("GET / HTTP/1.1", 200), ("GET /pages/# HTTP/1.1", 200), ("GET /api/v1/items/# HTTP/1.1", 200),
        ("GET /static/app.js HTTP/1.1", 304), ("POST /api/v1/orders HTTP/1.1", 201), ("GET /pages/# HTTP/1.1", 200),
        ("GET /login HTTP/1.1", 302), ("GET /api/v1/items/# HTTP/1.1", 200), ("GET /wp-login.php HTTP/1.1", 404),
        ("GET /pages/# HTTP/1.1", 200), ("GET /api/v1/search?q=# HTTP/1.1", 200), ("GET /static/site.css HTTP/1.1", 200),
        ("GET /api/v1/items/# HTTP/1.1", 200), ("GET /pages/# HTTP/1.1", 200), ("GET /api/v1/report HTTP/1.1", 500),
        ("GET /favicon.ico HTTP/1.1", 200), ("GET /pages/# HTTP/1.1", 200), ("GET /.env HTTP/1.1", 404),
        ("GET /api/v1/items/# HTTP/1.1", 200), ("GET / HTTP/1.1", 200),
    ]

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Appends `text`, replacing `@` with an address placeholder and `#` with a number from `seed`.
    private static func appendFilled(_ text: String, seed: Int, to out: inout [UInt8], address: inout Int) {
        for c in text.utf8 {
            switch c {
            case UInt8(ascii: "@"):
                out.append(contentsOf: "10.".utf8)
                address = out.count
                out.append(contentsOf: "100.100.100".utf8)
            case UInt8(ascii: "#"):
                appendDigits(1024 + seed * 7919 % 60000, width: 0, to: &out)
            default:
                out.append(c)
            }
        }
    }

    /// `<38>1 2026-11-25T01:00:00.000000+00:00 web-03 sshd 10007 - - Failed password …`
    private static func appendSSH(_ t: Int, host: Int, day: CivilDateTime, to out: inout [UInt8],
                                  address: inout Int, clocks: inout [Int]) {
        let shape = sshShapes[sshPattern[t % sshPattern.count]].text
        out.append(contentsOf: "<38>1 ".utf8)
        appendDigits(day.year, width: 4, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(day.month, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(day.day, width: 2, to: &out)
        out.append(UInt8(ascii: "T"))
        clocks.append(out.count)
        out.append(contentsOf: "00:00:00.000000+00:00 web-".utf8)
        appendDigits(host, width: 2, to: &out)
        out.append(contentsOf: " sshd ".utf8)
        appendDigits(10_000 + t, width: 0, to: &out)
        out.append(contentsOf: " - - ".utf8)
        appendFilled(shape, seed: t, to: &out, address: &address)
    }

    /// `<190>Nov 25 01:00:00 web-03 nginx: 10.1.2.3 - - [25/Nov/2026:01:00:00 +0000] "GET …" 200 …`
    private static func appendHTTP(_ t: Int, host: Int, day: CivilDateTime, to out: inout [UInt8],
                                   address: inout Int, clocks: inout [Int]) {
        let shape = httpShapes[t % httpShapes.count]
        let month = months[day.month - 1]
        out.append(contentsOf: "<190>".utf8)
        out.append(contentsOf: month.utf8)
        out.append(UInt8(ascii: " "))
        if day.day < 10 { out.append(UInt8(ascii: " ")) }
        appendDigits(day.day, width: 0, to: &out)
        out.append(UInt8(ascii: " "))
        clocks.append(out.count)
        out.append(contentsOf: "00:00:00 web-".utf8)
        appendDigits(host, width: 2, to: &out)
        out.append(contentsOf: " nginx: ".utf8)
        appendFilled("@ - - [", seed: t, to: &out, address: &address)
        appendDigits(day.day, width: 2, to: &out)
        out.append(UInt8(ascii: "/"))
        out.append(contentsOf: month.utf8)
        out.append(UInt8(ascii: "/"))
        appendDigits(day.year, width: 4, to: &out)
        out.append(UInt8(ascii: ":"))
        clocks.append(out.count)
        out.append(contentsOf: "00:00:00 +0000] \"".utf8)
        var unused = -1
        appendFilled(shape.request, seed: t, to: &out, address: &unused)
        out.append(contentsOf: "\" ".utf8)
        appendDigits(shape.status, width: 3, to: &out)
        out.append(UInt8(ascii: " "))
        appendDigits(shape.status == 304 ? 0 : 200 + t * 37 % 9000, width: 0, to: &out)
        out.append(contentsOf: " \"-\" \"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\"".utf8)
    }
}

/// `HH:MM:SS` of a time of day as eight ASCII bytes in one word, ready to store.
struct ClockText: Equatable {
    /// The eight bytes, first byte lowest (little-endian store order).
    var word: UInt64

    /// The time of day of `time` (UTC).
    init(_ time: Timestamp) {
        let second = Int((time.seconds % 86_400 + 86_400) % 86_400)
        var text: [UInt8] = []
        appendDigits(second / 3600, width: 2, to: &text)
        text.append(UInt8(ascii: ":"))
        appendDigits(second / 60 % 60, width: 2, to: &text)
        text.append(UInt8(ascii: ":"))
        appendDigits(second % 60, width: 2, to: &text)
        word = 0
        for (i, c) in text.enumerated() { word |= UInt64(c) << (8 * UInt64(i)) }
    }
}

/// Walks through `count` distinct addresses `10.b.c.d` (b, c, d in 100...255) and starts over.
struct AddressCycle {
    /// Most addresses the three-digit form can spell.
    static let capacity = 156 * 156 * 156
    private static let digits: [UInt32] = (0...255).map { (v: Int) -> UInt32 in
        let hundreds = UInt32(48 + v / 100)
        let tens = UInt32(48 + v / 10 % 10)
        let ones = UInt32(48 + v % 10)
        return hundreds | tens << 8 | ones << 16
    }

    let count: Int
    private(set) var index = 0
    private(set) var b = 100
    private(set) var c = 100
    private(set) var d = 100

    /// A cycle over the first `count` addresses (1...capacity), starting at the `first`-th
    /// (counted from 0, modulo `count`).
    init(count: Int, first: Int = 0) {
        self.count = count
        index = first % count
        d = 100 + index % 156
        c = 100 + index / 156 % 156
        b = 100 + index / (156 * 156)
    }

    /// Moves to the next address, back to the first after `count`.
    @inline(__always)
    mutating func advance() {
        index += 1
        if index == count {
            index = 0; b = 100; c = 100; d = 100
            return
        }
        d += 1
        if d == 256 {
            d = 100; c += 1
            if c == 256 { c = 100; b += 1 }
        }
    }

    /// Stores the three ASCII digits of `octet` at `at`.
    @inline(__always)
    static func store(_ octet: Int, at: UnsafeMutableRawPointer) {
        let v = digits[octet]
        at.storeBytes(of: UInt16(truncatingIfNeeded: v), as: UInt16.self)
        at.storeBytes(of: UInt8(truncatingIfNeeded: v >> 16), toByteOffset: 2, as: UInt8.self)
    }
}
