// Fuzz target: the TCP framer (RFC 6587 octet counting and LF framing). The input's first byte
// chooses how the rest is cut into reads; every frame must lie within the bytes fed, fit the
// message bound, and the decoder must never hold more than it.
import VigilCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    let chunk = Int(data[0] % 64) + 1
    var decoder = FrameDecoder(maxMessageBytes: 512)
    var delivered = 0
    var offset = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + chunk)
        let error = decoder.feed(UnsafeRawBufferPointer(rebasing: bytes[offset..<end])) { frame, _ in
            precondition(frame.count <= 512, "frame longer than the bound")
            delivered += frame.count
        }
        precondition(decoder.bufferedByteCount <= 512, "decoder holds more than the bound")
        if error != nil { return 0 }
        if data[0] & 0x80 != 0 && offset % 3 == 0 { decoder.cut { frame, _ in delivered += frame.count } }
        offset = end
    }
    _ = decoder.finish { frame, _ in delivered += frame.count }
    precondition(delivered <= bytes.count, "more bytes delivered than fed")
    return 0
}
