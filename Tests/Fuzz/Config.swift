// Fuzz target: the config file parser and the schema behind `check-config` and `serve`. Any text
// must give a configuration or diagnostics with line numbers inside the file, never a crash.
import VigilCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
    let lines = text.utf8.filter { $0 == UInt8(ascii: "\n") }.count + 1
    for diagnostic in VigilConfig.check(text: text, path: "fuzz.conf") {
        if case .file(_, let line) = diagnostic.origin { precondition(line >= 1 && line <= lines, "a diagnostic outside the file") }
    }
    return 0
}
