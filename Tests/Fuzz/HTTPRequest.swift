// Fuzz target: the API's request head parser, on whatever a client sends. The input's first byte
// sets tight limits (so they are reached often); what is incomplete stays within the limits, a
// head within the bytes given, every refusal carries a 4xx or 5xx status, the log query read from
// a head is bounded, and no segment accepted as a store name could leave the store directory.
import VigilCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    var limits = HTTPRequestLimits()
    if data[0] & 1 != 0 {
        limits.maxRequestLine = Int(data[0] >> 1) + 1
        limits.maxHead = Int(data[0]) * 4 + 8
        limits.maxHeaders = Int(data[0] % 8)
        limits.maxQuery = Int(data[0] % 32)
    }
    switch HTTPRequestParser.parse(bytes, limits: limits) {
    case .incomplete:
        // The server keeps what is incomplete: it must never be more than a head may be.
        precondition(bytes.count <= max(limits.maxHead, limits.maxRequestLine + 2), "incomplete past the limits")
    case .refused(let error):
        precondition(error.status >= 400 && error.status < 600, "refusal without an error status")
    case .head(let head, let length):
        precondition(length <= bytes.count && length <= limits.maxHead, "head longer than the bytes or the limit")
        if case .success(let query) = LogQuery.from(head) {
            precondition(query.count >= 1 && query.count <= LogQuery.maxCount, "count out of bounds")
            precondition((query.filter?.count ?? 0) <= LogQuery.maxTextBytes, "filter over the bound")
        }
        for segment in head.segments where HostName.sanitize(segment) == segment {
            precondition(segment != ".." && segment != "." && !segment.utf8.contains(0x2F) && !segment.utf8.contains(0),
                         "a name that would leave the store directory passed as a store name")
        }
    }
    return 0
}
