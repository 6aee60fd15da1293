import CVigilShim
import Glibc

// vigil-bench: a load generator for loopback syslog listeners and a parser micro-benchmark,
// used by scripts/bench.sh.
//
//   vigil-bench load --tcp HOST:PORT --connections N --count N [--framing octet|lf] [--size BYTES]
//   vigil-bench load --udp HOST:PORT --count N [--rate MSGS_PER_S] [--size BYTES]
//   vigil-bench parse --count N [--size BYTES]
//   vigil-bench detect --count N [--ips N] [--mix ssh|http|mixed] [--event-rate MSGS_PER_S]
//
// It only ever sends to 127.0.0.0/8 or ::1 and never more than `BenchOptions.maxCount` messages.

/// Prints the usage error and exits 2.
func usageFailure(_ error: UsageError) -> Never {
    printError("vigil-bench: \(error.message)")
    printError(BenchOptions.usage)
    exit(2)
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "load":
    let options: BenchOptions
    switch BenchOptions.parse(Array(arguments.dropFirst())) {
    case .success(let parsed): options = parsed
    case .failure(let error): usageFailure(error)
    }
    vigil_ignore_sigpipe()
    let outcome = options.transport == .tcp ? runTCPLoad(options) : runUDPLoad(options)
    switch outcome {
    case .success(let report):
        print(report.line(options))
        exit(0)
    case .failure(let error):
        printError("vigil-bench: \(error.description)")
        exit(1)
    }
case "parse":
    switch ParseOptions.parse(Array(arguments.dropFirst())) {
    case .success(let options):
        print(runParseBenchmark(options))
        exit(0)
    case .failure(let error):
        usageFailure(error)
    }
case "detect":
    switch DetectOptions.parse(Array(arguments.dropFirst())) {
    case .success(let options):
        print(runDetectBenchmark(options))
        exit(0)
    case .failure(let error):
        usageFailure(error)
    }
case nil:
    usageFailure(UsageError(message: "missing subcommand"))
case let other?:
    usageFailure(UsageError(message: "unknown subcommand '\(other)'"))
}
