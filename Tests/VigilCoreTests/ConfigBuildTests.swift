import Glibc
import Testing
import VigilTestSupport
@testable import VigilCore

/// A whole text file, nil when it cannot be opened.
private func readTextFile(_ path: String) -> String? {
    Fixtures.readFile(path).map { String(decoding: $0, as: UTF8.self) }
}

/// The schema applied to files: defaults, every semantic error, and conf/vigil.conf.
@Suite struct ConfigBuildTests {
    static let confPath = Fixtures.repositoryRoot + "/conf/vigil.conf"

    static func readConf() -> String {
        readTextFile(confPath) ?? ""
    }

    func build(_ text: String, _ args: [String] = []) -> Result<VigilConfig, ConfigErrors> {
        let file = ConfigFile.parse(text, path: "t.conf")
        switch parseServeArguments(args) {
        case .failure(let e): return .failure(e)
        case .success(let arguments): return VigilConfig.build(file: file, arguments: arguments)
        }
    }

    func errors(_ text: String, _ args: [String] = []) -> [String] {
        guard case .failure(let e) = build(text, args) else { return [] }
        return e.diagnostics.map(\.description)
    }

    @Test func defaultsMatchTheSpec() throws {
        let d = VigilConfig.defaults
        #expect(d.server.udp == [try ListenAddress.parse("0.0.0.0:5514").get()])
        #expect(d.server.tcp == [try ListenAddress.parse("0.0.0.0:5514").get()])
        #expect(d.server.http == [try ListenAddress.parse("127.0.0.1:8514").get()])
        #expect(d.server.dataDirectory == "./vigil-data")
        #expect(d.server.maxMessageBytes == 65536)
        #expect(d.server.statsInterval == .seconds(10))
        #expect(d.server.timezoneOffsetSeconds == 0)
        #expect(d.server.udpReceiveBufferBytes == 8 << 20)
        #expect(d.server.maxConnections == 20000)
        #expect(d.server.idleTimeout == .seconds(300))
        #expect(d.server.flushInterval == .seconds(1))
        #expect(d.server.relay == nil)
        #expect(d.storage == .init(maxAgeDays: 30, maxTotalBytes: 0))
        #expect(d.api == .init(token: "", tokenFile: ""))
        #expect(d.detection == .init(lateness: .seconds(5), clockTolerance: .seconds(120), maxKeys: 1_000_000, maxMemory: 1 << 30, allowlist: [], countPublickeyFailures: false))
        #expect(d.fileInput == .init(paths: [], host: "", fromBeginning: false))
        #expect(d.rules.sshBruteforce == .init(enabled: true, threshold: 5, window: .seconds(600)))
        #expect(d.rules.sshDistributed == .init(enabled: true, threshold: 3, window: .seconds(600)))
        #expect(d.rules.sshRepeatAccess == .init(enabled: true, threshold: 3, window: .seconds(3600)))
        #expect(d.rules.sshLongSession == .init(enabled: true, threshold: .seconds(4 * 3600)))
        #expect(d.rules.httpHighTraffic == .init(enabled: true, threshold: 10, window: .seconds(120), resolveAfter: .seconds(900)))
        #expect(d.rules.httpErrorBurst == .init(enabled: true, threshold: 0.5, minRequests: 20, window: .seconds(60),
                                                resolveAfter: .seconds(600)))
        #expect(d.rules.httpScan == .init(enabled: true, threshold: 20, window: .seconds(60), resolveAfter: .seconds(60)))
        #expect(d.sinks == [.init(name: "stdout", spec: .stdout, queueCapacity: 10000, maxBackoff: .seconds(60), maxSpoolBytes: 64 << 20)])
    }

    @Test func fileValuesAreApplied() throws {
        let config = try build("""
            [server]
            udp = ["0.0.0.0:514", "[::]:514"]
            tcp = "off"
            http = "[::1]:9000"
            max_message_bytes = "8KiB"
            timezone = "+02:00"
            relay = "syslog+tcp://central.example:5514"
            [relay]
            key_file = "/etc/vigil/relay.key"
            edge_name = "edge-1.example"
            [storage]
            max_total_bytes = "10GiB"
            [detection]
            allowlist = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"]
            count_publickey_failures = true
            [input.file]
            paths = ["/var/log/nginx/access.log"]
            [rule.http_high_traffic]
            threshold = 2.5
            resolve_after = "90s"
            [rule.ssh_long_session]
            enabled = false
            threshold = "90m"
            [sink.archive]
            url = "file:/var/log/vigil/alerts.jsonl"
            [sink.am]
            url = "alertmanager://am.example"
            queue_capacity = 50
            max_backoff = "5m"
            max_spool_bytes = "1MiB"
            """).get()
        #expect(config.server.udp.map(\.description) == ["0.0.0.0:514", "[::]:514"])
        #expect(config.server.tcp.isEmpty)
        #expect(config.server.http.map(\.description) == ["[::1]:9000"])
        #expect(config.server.maxMessageBytes == 8192)
        #expect(config.server.timezoneOffsetSeconds == 7200)
        #expect(config.server.relay == .syslogTCP(host: "central.example", port: 5514))
        #expect(config.relay == .init(listen: [], allow: [], keyFile: "/etc/vigil/relay.key", edgeName: "edge-1.example"))
        #expect(config.storage.maxTotalBytes == 10 << 30)
        #expect(config.detection.allowlist.map(\.description) == ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1/32"])
        #expect(config.detection.isAllowed(IPAddress(10, 9, 8, 7)))
        #expect(!config.detection.isAllowed(IPAddress(192, 0, 2, 2)))
        #expect(config.detection.countPublickeyFailures)
        #expect(config.fileInput.paths == ["/var/log/nginx/access.log"])
        #expect(config.rules.httpHighTraffic.threshold == 2.5 && config.rules.httpHighTraffic.resolveAfter == .seconds(90))
        #expect(DetectionSettings(config: config)[.httpHighTraffic].resolveAfterMicroseconds == 90_000_000)
        #expect(config.rules.sshLongSession == .init(enabled: false, threshold: .seconds(5400)))
        #expect(config.sinks == [
            .init(name: "archive", spec: .file(path: "/var/log/vigil/alerts.jsonl"), queueCapacity: 10000, maxBackoff: .seconds(60), maxSpoolBytes: 64 << 20),
            .init(name: "am", spec: .alertmanager(host: "am.example", port: 9093), queueCapacity: 50, maxBackoff: .seconds(300), maxSpoolBytes: 1 << 20),
        ])
    }

    /// Every kind of error, each with its line, all reported in one run and in line order.
    @Test func everyErrorWithItsLine() {
        let text = """
            [server]
            udp = ["0.0.0.0:5514", "::1:5514"]
            max_mesage_bytes = 1000
            stats_interval = 10
            idle_timeout = "5 min"
            timezone = "CET"
            [rule.ssh_brutforce]
            threshold = 3
            [rule.http_scan]
            threshold = 0
            window = "1m"
            window = "2m"
            [sink.ops]
            queue_capacity = 5
            [sink.bad]
            url = "smtp://x"
            [detection]
            allowlist = ["10.0.0.0/8", "10.0.0.1/8"]
            lateness = "5s
            [bogus]
            x = 1
            [server.extra]
            [rule]
            [sink]
            [storage]
            max_age_days = "30"
            colour = "blue"
            """
        #expect(errors(text) == [
            "t.conf:2: `udp`: bad address \"::1:5514\": write IPv6 addresses in brackets, e.g. [::1]:5514",
            "t.conf:3: unknown key `max_mesage_bytes` in [server] (did you mean max_message_bytes?)",
            "t.conf:4: `stats_interval`: expected a duration string such as \"10s\", found an integer 10",
            "t.conf:5: `idle_timeout`: bad duration \"5 min\": unknown unit ` min` (use ms, s, m, h or d)",
            "t.conf:6: `timezone`: bad timezone \"CET\": expected \"UTC\" or an offset such as \"+02:00\" or \"-05:30\"",
            "t.conf:7: unknown section [rule.ssh_brutforce] (did you mean rule.ssh_bruteforce?)",
            "t.conf:10: `threshold`: 0 is out of range 1...1000000000",
            "t.conf:12: duplicate key `window` (first set at line 11)",
            "t.conf:13: [sink.ops] has no `url`",
            "t.conf:16: `url`: bad sink \"smtp://x\": unknown scheme `smtp`",
            "t.conf:18: `allowlist`: bad CIDR \"10.0.0.1/8\": host bits are set (did you mean 10.0.0.0/8?)",
            "t.conf:19: unterminated string (missing closing \")",
            "t.conf:20: unknown section [bogus]; known: server, storage, api, detection, input.file, relay, rule.ssh_bruteforce, "
                + "rule.ssh_distributed, rule.ssh_repeat_access, rule.ssh_long_session, rule.http_high_traffic, "
                + "rule.http_error_burst, rule.http_scan, sink.NAME",
            "t.conf:22: unknown section [server.extra]; known: server, storage, api, detection, input.file, relay, rule.ssh_bruteforce, "
                + "rule.ssh_distributed, rule.ssh_repeat_access, rule.ssh_long_session, rule.http_high_traffic, "
                + "rule.http_error_burst, rule.http_scan, sink.NAME",
            "t.conf:23: [rule] needs a name, one of: ssh_bruteforce, ssh_distributed, ssh_repeat_access, ssh_long_session, "
                + "http_high_traffic, http_error_burst, http_scan",
            "t.conf:24: [sink] needs a name: [sink.NAME]",
            "t.conf:26: `max_age_days`: expected an integer, found a string \"30\"",
            "t.conf:27: unknown key `colour` in [storage]",
        ])
    }

    @Test(arguments: [
        ("[server]\nudp = [\"off\", \"0.0.0.0:1\"]", "t.conf:2: `udp`: \"off\" cannot be combined with addresses"),
        ("[server]\nudp = [1]", "t.conf:2: `udp`: expected a list of \"ADDR:PORT\" strings, found an array [1]"),
        ("[server]\nmax_message_bytes = 100", "t.conf:2: `max_message_bytes`: size 100 is out of range 480...16777216 bytes"),
        ("[server]\nmax_message_bytes = \"32MiB\"", "t.conf:2: `max_message_bytes`: size \"32MiB\" is out of range 480...16777216 bytes"),
        ("[server]\nudp_receive_buffer_bytes = \"8Mb\"",
         "t.conf:2: `udp_receive_buffer_bytes`: bad size \"8Mb\": unknown unit `Mb` (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)"),
        ("[server]\nrelay = \"syslog+udp://central:5514\"\n[relay]\nkey_file = \"k\"",
         "t.conf:2: `relay`: relay must be syslog+tcp://HOST:PORT (the central's relay listener), found \"syslog+udp://central:5514\""),
        ("[server]\nrelay = \"syslog+tcp://central:5514\"",
         "t.conf:2: relay needs `key_file` in [relay] (--relay-key FILE): the shared key edges seal their messages with"),
        ("[relay]\nlisten = \"0.0.0.0:6514\"\nkey_file = \"k\"",
         "t.conf:2: `listen`: a relay listener needs `allow`, the networks the edges connect from (e.g. [\"10.0.0.0/8\"])"),
        ("[relay]\nlisten = \"0.0.0.0:6514\"\nallow = [\"10.0.0.0/8\"]",
         "t.conf:2: relay needs `key_file` in [relay] (--relay-key FILE): the shared key edges seal their messages with"),
        ("[server]\ntcp = \"0.0.0.0:6514\"\n[relay]\nlisten = \"0.0.0.0:6514\"\nallow = \"10.0.0.0/8\"\nkey_file = \"k\"",
         "t.conf:4: `listen`: 0.0.0.0:6514 is also a syslog TCP listener (server.tcp); the relay listener needs its own port"),
        // Finding: check-config took this window, and serve died allocating 691 GB for it.
        ("[rule.http_high_traffic]\nwindow = \"1000000d\"",
         "t.conf:2: `window`: duration \"1000000d\" is above the maximum 7d"),
        ("[relay]\nedge_name = \"a b\"",
         "t.conf:2: `edge_name`: \"a b\" must be 1-64 letters, digits, '.', '-', '_' or ':'"),
        ("[server]\nrelay = \"http://x/y\"",
         "t.conf:2: `relay`: relay must be syslog+tcp://HOST:PORT (the central's relay listener), found \"http://x/y\""),
        ("[server]\nidle_timeout = \"0s\"", "t.conf:2: `idle_timeout`: duration \"0s\" is below the minimum 1s"),
        ("[rule.http_error_burst]\nthreshold = 1.5", "t.conf:2: `threshold`: 1.5 is out of range 0.0...1.0"),
        ("[rule.http_high_traffic]\n\nresolve_after = \"8d\"", "t.conf:3: `resolve_after`: duration \"8d\" is above the maximum 7d"),
        ("[rule.http_error_burst]\nresolve_after = 60", "t.conf:2: `resolve_after`: expected a duration string such as \"10s\", found an integer 60"),
        ("[rule.http_scan]\nresolve_after = \"1m\"\nresolve_after = \"2m\"", "t.conf:3: duplicate key `resolve_after` (first set at line 2)"),
        ("[rule.ssh_distributed]\nresolve_after = \"1m\"", "t.conf:2: unknown key `resolve_after` in [rule.ssh_distributed]"),
        ("[rule.ssh_bruteforce]\nenabled = \"yes\"", "t.conf:2: `enabled`: expected true or false, found a string \"yes\""),
        ("[rule.ssh_bruteforce]\ntreshold = 4", "t.conf:2: unknown key `treshold` in [rule.ssh_bruteforce] (did you mean threshold?)"),
        ("[rule.ssh_long_session]\nwindow = \"1h\"", "t.conf:2: unknown key `window` in [rule.ssh_long_session]"),
        ("[input.file]\npaths = [\"\"]", "t.conf:2: `paths`: empty path"),
        ("[server]\nudp = [\"0.0.0.0:1\", \"0.0.0.0:1\"]", "t.conf:2: `udp`: 0.0.0.0:1 is listed twice"),
        ("[server]\n\nhttp = [\"0.0.0.0:5514\"]", "t.conf:3: `http`: 0.0.0.0:5514 is also a syslog TCP listener (server.tcp)"),
        ("[server]\ntcp = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"", ""),
        ("[api]\ntoken = 123", "t.conf:2: `token`: expected a string in double quotes, found an integer 123"),
    ])
    func singleErrors(text: String, expected: String) {
        #expect(errors(text) == (expected.isEmpty ? [] : [expected]))
    }

    @Test func checkReportsAllErrors() {
        let diagnostics = VigilConfig.check(text: "[server]\nudp = 5\n[nope]\n", path: "/etc/vigil.conf")
        #expect(diagnostics.map(\.description) == [
            "/etc/vigil.conf:2: `udp`: expected a list of \"ADDR:PORT\" strings, found an integer 5",
            "/etc/vigil.conf:3: unknown section [nope]; known: server, storage, api, detection, input.file, relay, "
                + "rule.ssh_bruteforce, rule.ssh_distributed, rule.ssh_repeat_access, rule.ssh_long_session, "
                + "rule.http_high_traffic, rule.http_error_burst, rule.http_scan, sink.NAME",
        ])
        #expect(VigilConfig.check(text: "# nothing\n", path: "x").isEmpty)
    }

    @Test func apiTokenPrecedence() {
        let configured = VigilConfig.API(token: "from-config", tokenFile: "/run/secret")
        #expect(configured.effectiveToken(environmentToken: "env", tokenFileContents: "file") == "from-config")
        let empty = VigilConfig.API(token: "", tokenFile: "/run/secret")
        #expect(empty.effectiveToken(environmentToken: "env", tokenFileContents: "file\n") == "env")
        #expect(empty.effectiveToken(environmentToken: "", tokenFileContents: "  s3cret \r\nignored\n") == "s3cret")
        #expect(empty.effectiveToken(environmentToken: nil, tokenFileContents: "\n") == nil)
        #expect(empty.effectiveToken(environmentToken: nil, tokenFileContents: nil) == nil)
    }

    /// conf/vigil.conf parses cleanly, lists every schema key, and equals the built-in defaults.
    @Test func referenceConfigMatchesSchema() throws {
        let text = Self.readConf()
        #expect(!text.isEmpty, "cannot read \(Self.confPath)")
        let file = ConfigFile.parse(text, path: "vigil.conf")
        #expect(file.diagnostics.isEmpty)
        let config = try VigilConfig.build(file: file, arguments: ServeArguments()).get()
        #expect(config == VigilConfig.defaults)
        for section in ConfigSchema.sections {
            let instances = file.sections.filter {
                section.isTemplate ? $0.name.hasPrefix(section.name + ".") : $0.name == section.name
            }
            #expect(!instances.isEmpty, "[\(section.name)] missing from conf/vigil.conf")
            for key in section.keys {
                #expect(instances.contains { $0.entries.contains { $0.key == key.name } },
                        "\(section.name).\(key.name) missing from conf/vigil.conf")
                if let value = key.defaultValue, !section.isTemplate {
                    let written = instances.first?.entries.first { $0.key == key.name }?.value
                    #expect(written == value, "\(section.name).\(key.name) is not set to its default in conf/vigil.conf")
                }
            }
        }
    }
}
