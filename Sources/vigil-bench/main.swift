import CVigilShim
import Glibc

// vigil-bench: a load generator for loopback syslog listeners, used by scripts/bench.sh.
//
//   vigil-bench load --tcp HOST:PORT --connections N --count N [--framing octet|lf] [--size BYTES]
//   vigil-bench load --udp HOST:PORT --count N [--rate MSGS_PER_S] [--size BYTES]
//
// It only ever sends to 127.0.0.0/8 or ::1 and never more than `BenchOptions.maxCount` messages.

let arguments = Array(CommandLine.arguments.dropFirst())
switch BenchOptions.parse(arguments) {
case .failure(let error):
    printError("vigil-bench: \(error.message)")
    printError(BenchOptions.usage)
    exit(2)
case .success(let options):
    vigil_ignore_sigpipe()
    let outcome: Result<LoadReport, LoadError>
    switch options.transport {
    case .tcp:
        outcome = runTCPLoad(options)
    case .udp:
        outcome = runUDPLoad(options)
    }
    switch outcome {
    case .success(let report):
        print(report.line(options))
        exit(0)
    case .failure(let error):
        printError("vigil-bench: \(error.description)")
        exit(1)
    }
}
