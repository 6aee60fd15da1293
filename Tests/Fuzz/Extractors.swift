// Fuzz target: every payload extractor on the input as a message text — sshd (then joined by the
// connection tracker), access logs (CLF, Combined, the CSV form), session summaries. Every range
// they return must lie inside the text.
import VigilCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = UnsafeRawBufferPointer(start: data, count: size)
    func inside(_ r: Range<Int>) { precondition(r.lowerBound >= 0 && r.upperBound <= size, "a range outside the text") }
    for countPublickey in [false, true] {
        if let line = SSHExtractor(countFailedPublickey: countPublickey).extract(text, pid: 42) {
            inside(line.user)
            var tracker = SSHConnectionTracker(hashSeed: 7)
            let result = tracker.track(line, host: HostID(0), at: Timestamp(seconds: 1_795_000_000))
            if let e = result.event { inside(e.user) }
        }
    }
    if let r = AccessLogExtractor.extract(text) {
        for range in [r.client, r.user, r.request, r.method, r.path, r.proto, r.section, r.referer, r.userAgent] { inside(range) }
    }
    var csv = CSVAccessLogReader()
    let header = Array(#""remotehost","rfc931","authuser","date","request","status","bytes""#.utf8)
    header.withUnsafeBytes { _ = csv.read($0) }
    if case .request(let r) = csv.read(text) { inside(r.section) }
    _ = SessionSummaryExtractor.extract(text)
    return 0
}
