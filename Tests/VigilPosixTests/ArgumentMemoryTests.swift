import Glibc
import Testing
@testable import VigilPosix

/// `serve --api.token VALUE` must not show VALUE to other users in `ps`: the value is hidden in
/// the process's own argument memory, in both of the forms the flag parser takes.
@Suite struct ArgumentMemoryTests {
    /// Runs `hideValues(of: ["--api.token"])` over `arguments` laid out as C strings, as argv is,
    /// and returns them afterwards with the count it hid.
    func hide(_ arguments: [String]) -> (hidden: Int, after: [String]) {
        let argv = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: arguments.count + 1)
        defer { argv.deallocate() }
        for (i, argument) in arguments.enumerated() { argv[i] = strdup(argument) }
        argv[arguments.count] = nil
        let hidden = ArgumentMemory.hideValues(of: ["--api.token"], count: arguments.count, argv: argv)
        let after = (0..<arguments.count).map { i in
            defer { free(argv[i]) }
            return String(cString: argv[i]!)
        }
        return (hidden, after)
    }

    @Test func theTokensValueIsHiddenInBothForms() {
        let result = hide(["vigil", "serve", "--api.token", "s3cret", "--udp", "off", "--api.token=inline-s3cret",
                           "--api.token_file", "/etc/vigil/token", "--tcp", "127.0.0.1:0"])
        #expect(result.hidden == 2)
        #expect(result.after == ["vigil", "serve", "--api.token", "******", "--udp", "off", "--api.token=*************",
                                 "--api.token_file", "/etc/vigil/token", "--tcp", "127.0.0.1:0"])
    }

    /// What the parser does not take as the flag's value is left as it is: a following flag, a
    /// flag the name only starts with, the program's own name.
    @Test func whatIsNotTheValueStays() {
        let arguments = ["--api.token", "serve", "--api.token", "--udp", "off", "--api.tokens", "x", "--api.token"]
        #expect(hide(["vigil", "--api.token", ""]) == (0, ["vigil", "--api.token", ""]), "an empty value has nothing to hide")
        #expect(hide(["vigil", "--api.token=", "x"]) == (0, ["vigil", "--api.token=", "x"]))
        #expect(hide(["vigil", "--api.token", "-x"]) == (1, ["vigil", "--api.token", "**"]), "the parser takes -x as the value")
        let result = hide(arguments)
        #expect(result.hidden == 0)
        #expect(result.after == arguments)
    }
}
