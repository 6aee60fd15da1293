// swift-tools-version:6.0
import PackageDescription

/// Settings for every target: Swift 6 language mode plus upcoming features. Release builds drop
/// the runtime exclusivity checks (debug builds and tests keep them): with them `serve`'s TCP
/// ingest runs at least 15 % more instructions per message (callgrind, README "Performance"). They also start every
/// function on a 64-byte boundary: otherwise where the linker happens to place the hot functions
/// moved `vigil analyze` by 5 % after unrelated code changes (same machine code, other addresses).
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .unsafeFlags(["-enforce-exclusivity=unchecked", "-Xllvm", "-align-all-functions=6"], .when(configuration: .release)),
]

let package = Package(
    name: "vigil",
    products: [
        .executable(name: "vigil", targets: ["vigil"]),
    ],
    targets: [
        // Tiny C target: declarations Glibc does not export (epoll, eventfd, timerfd, signalfd, inotify, mmsg).
        .target(name: "CVigilShim"),
        // Header-only C target: CPU hints (prefetch) for VigilCore's tables; no syscalls.
        .target(name: "CVigilHints"),
        // Pure logic: framing, parsing, extraction, detection, config. No syscalls, no clock of its own.
        .target(name: "VigilCore", dependencies: ["CVigilHints"], swiftSettings: strict),
        // The only layer that makes syscalls: event loop, listeners, storage, file tailing.
        .target(name: "VigilPosix", dependencies: ["CVigilShim", "VigilCore"], swiftSettings: strict),
        // The drivers: wires a configuration into a running server, and files into follow and analyze.
        .target(name: "VigilDaemon", dependencies: ["VigilCore", "VigilPosix"], swiftSettings: strict),
        // The command-line tool, kept thin.
        .executableTarget(name: "vigil", dependencies: ["VigilCore", "VigilPosix", "VigilDaemon"], swiftSettings: strict),
        // Load generator and micro-benchmarks used by scripts/bench.sh.
        .executableTarget(name: "vigil-bench", dependencies: ["VigilCore", "VigilPosix", "CVigilShim"], swiftSettings: strict),
        // Fixture reading shared by the test targets.
        .target(name: "VigilTestSupport", path: "Tests/VigilTestSupport", swiftSettings: strict),
        .testTarget(name: "VigilCoreTests", dependencies: ["VigilCore", "VigilTestSupport"], swiftSettings: strict),
        .testTarget(name: "VigilBenchTests", dependencies: ["vigil-bench", "VigilCore"], swiftSettings: strict),
        .testTarget(name: "VigilPosixTests", dependencies: ["VigilCore", "VigilPosix", "VigilDaemon", "CVigilShim", "VigilTestSupport"],
                    swiftSettings: strict),
    ]
)
