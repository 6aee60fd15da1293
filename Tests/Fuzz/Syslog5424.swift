// Fuzz target: the syslog parser on RFC 5424 frames (input prefixed `<34>1 ` unless it starts with
// `<`). Every field must be a range inside the frame, and reading with a timestamp memo (as serve
// does) must give exactly what reading afresh gives.
import VigilCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let frame = size > 0 && data[0] == UInt8(ascii: "<") ? Array(input) : Array("<34>1 ".utf8) + Array(input)
    frame.withUnsafeBytes { checkParse($0) }
    return 0
}
