// Fuzz target: the relay decoder. The input is taken twice: as a whole message (it has no valid
// MAC, so it must be refused), and as a message whose element the target seals with the key, so
// the fuzzer reaches every field check behind the MAC. Nothing may crash; what decodes must have
// its text fields inside the decoder's buffer.
import VigilCore

let key = try! RelayKey(fileContents: Array("fuzz-relay-key-0123456789abcdef0123456789".utf8))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = Array(UnsafeRawBufferPointer(start: data, count: size))
    var decoder = RelayDecoder(key: key)
    input.withUnsafeBytes { buf in
        if case .success = decoder.decode(buf, SyslogParser().parse(buf, receivedAt: Timestamp(seconds: 1_795_000_000))) {
            preconditionFailure("an unsealed message was taken")
        }
    }
    // Sealed: `<30>1 - h vigil-relay 1 - [event@32473` + input + edge/boot/seq + mac.
    var message = Array("<30>1 - h vigil-relay 1 - ".utf8)
    let element = message.count
    message += Array("[event@32473".utf8) + input
    var signer = RelaySigner(key: key, edge: "fuzz", boot: 1)
    signer.seal(&message, elementStart: element)
    message.withUnsafeBytes { buf in
        if case .success(let decoded) = decoder.decode(buf, SyslogParser().parse(buf, receivedAt: Timestamp(seconds: 1_795_000_000))) {
            precondition(decoded.host.upperBound <= decoder.text.count && decoded.edge.upperBound <= decoder.text.count,
                         "decoded text outside the buffer")
        }
    }
    return 0
}
