// Fuzz target: the syslog parser on RFC 3164 frames (input prefixed `<13>Nov 22 10:00:00 ` unless it
// starts with `<`), and on file lines without PRI (the input as it is). Every field must be a
// range inside the frame, and a memo must change nothing.
import VigilCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let frame = size > 0 && data[0] == UInt8(ascii: "<") ? Array(input) : Array("<13>Nov 22 10:00:00 ".utf8) + Array(input)
    frame.withUnsafeBytes { checkParse($0) }
    checkParse(input)
    return 0
}
