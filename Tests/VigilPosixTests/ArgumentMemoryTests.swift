import Glibc
import Testing
import VigilCore
@testable import VigilPosix

/// A secret flag's value (`serve --api.token VALUE`, a sink's URL) must not show to other users
/// in `ps`: it is overwritten in the process's own argument memory, where the parser found it.
@Suite struct ArgumentMemoryTests {
    /// Runs `hide(spans, firstArgument: 2)` over `arguments` laid out as C strings, as argv is
    /// (`vigil serve` before the parser's arguments), and returns them afterwards with the count
    /// it hid.
    func hide(_ spans: [ArgumentSpan], in arguments: [String]) -> (hidden: Int, after: [String]) {
        let argv = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: arguments.count + 1)
        defer { argv.deallocate() }
        for (i, argument) in arguments.enumerated() { argv[i] = strdup(argument) }
        argv[arguments.count] = nil
        let hidden = ArgumentMemory.hide(spans, firstArgument: 2, count: arguments.count, argv: argv)
        let after = (0..<arguments.count).map { i in
            defer { free(argv[i]) }
            return String(cString: argv[i]!)
        }
        return (hidden, after)
    }

    @Test func eachValueIsOverwrittenFromItsOffsetToItsEnd() {
        let arguments = ["vigil", "serve", "--api.token", "s3cret", "--udp", "off", "--api.token=inline-s3cret",
                         "--sink", "http://h:9/hooks/T0K3N"]
        let result = hide([ArgumentSpan(argument: 1, offset: 0), ArgumentSpan(argument: 4, offset: 12),
                           ArgumentSpan(argument: 6, offset: 0)], in: arguments)
        #expect(result.hidden == 3)
        #expect(result.after == ["vigil", "serve", "--api.token", "******", "--udp", "off", "--api.token=*************",
                                 "--sink", "**********************"])
    }

    /// A span with nothing behind it hides nothing and touches nothing: an empty value, an offset
    /// at or past the end, an argument outside argv.
    @Test func aSpanWithNothingToHideChangesNothing() {
        let arguments = ["vigil", "serve", "--api.token", "", "--api.token=", "x"]
        let spans = [ArgumentSpan(argument: 1, offset: 0), ArgumentSpan(argument: 2, offset: 12),
                     ArgumentSpan(argument: 2, offset: 40), ArgumentSpan(argument: 4, offset: 0),
                     ArgumentSpan(argument: -3, offset: 0)]
        let result = hide(spans, in: arguments)
        #expect(result.hidden == 0)
        #expect(result.after == arguments)
    }
}
