import CVigilShim
import Glibc

// vigil-bench: a load generator for loopback syslog listeners, micro-benchmarks of the parser and
// of extraction + detection, and an alert-latency probe; used by scripts/bench.sh.
//
//   vigil-bench load --tcp HOST:PORT --connections N --count N [--framing octet|lf] [--size BYTES]
//   vigil-bench load --tcp HOST:PORT --count N --mix ssh|http|mixed [--ips N] [--hosts N] [--connections N]
//   vigil-bench load --udp HOST:PORT --count N [--rate MSGS_PER_S] [--size BYTES]
//   vigil-bench load --udp HOST:PORT --count N --mix ssh|http|mixed [--ips N] [--hosts N] [--rate MSGS_PER_S]
//   vigil-bench parse --count N [--size BYTES]
//   vigil-bench detect --count N [--ips N] [--mix ssh|http|mixed] [--event-rate MSGS_PER_S] [--rules on|off]
//   vigil-bench latency --tcp HOST:PORT --alerts FILE [--rate MSGS_PER_S] [--duration S] [--probes-per-s N] …
//   vigil-bench api --http HOST:PORT --token T --path PATH [--connections N] [--duration S]
//
// It only ever sends to 127.0.0.0/8 or ::1 and never more than `BenchOptions.maxCount` messages.

/// Prints the usage error and exits 2.
func usageFailure(_ error: UsageError) -> Never {
    printError("vigil-bench: \(error.message)")
    printError(BenchOptions.usage)
    exit(2)
}

/// Runs a subcommand that reports one line: prints it and exits 0, or prints the error and
/// exits 1 (2 for a usage error).
func runReporting<Options>(_ parsed: Result<Options, UsageError>, _ run: (Options) -> Result<String, LoadError>) -> Never {
    switch parsed {
    case .failure(let error): usageFailure(error)
    case .success(let options):
        vigil_ignore_sigpipe()
        switch run(options) {
        case .success(let line):
            print(line)
            exit(0)
        case .failure(let error):
            printError("vigil-bench: \(error.description)")
            exit(1)
        }
    }
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
    let cpuBefore = processCPUNanoseconds()
    let outcome: Result<LoadReport, LoadError>
    switch (options.transport, options.mix) {
    case (_, let mix?): outcome = runRealisticLoad(options, mix: mix)
    case (.tcp, nil): outcome = runTCPLoad(options)
    case (.udp, nil): outcome = runUDPLoad(options)
    }
    switch outcome {
    case .success(var report):
        report.cpuNanoseconds = processCPUNanoseconds() - cpuBefore
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
case "latency":
    runReporting(LatencyOptions.parse(Array(arguments.dropFirst())), runLatencyBenchmark)
case "api":
    runReporting(APILoadOptions.parse(Array(arguments.dropFirst())), runAPILoad)
case nil:
    usageFailure(UsageError(message: "missing subcommand"))
case let other?:
    usageFailure(UsageError(message: "unknown subcommand '\(other)'"))
}
