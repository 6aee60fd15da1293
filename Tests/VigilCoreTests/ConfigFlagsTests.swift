import Testing
@testable import VigilCore

/// `vigil serve` and `vigil check-config` command lines, and flags over file values.
@Suite struct ConfigFlagsTests {
    let file = ConfigFile.parse("""
        [server]
        udp = ["0.0.0.0:514", "[::]:514"]
        data_dir = "/var/lib/vigil"
        stats_interval = "30s"
        [detection]
        allowlist = ["10.0.0.0/8"]
        [rule.ssh_bruteforce]
        threshold = 3
        window = "5m"
        [sink.archive]
        url = "file:/var/log/vigil/alerts.jsonl"
        [sink.ops]
        url = "alertmanager://am:9093"
        """, path: "vigil.conf")

    func config(_ args: [String]) throws -> VigilConfig {
        let arguments = try parseServeArguments(args).get()
        return try VigilConfig.build(file: file, arguments: arguments).get()
    }

    func flagErrors(_ args: [String]) -> [String] {
        guard case .failure(let e) = parseServeArguments(args) else { return [] }
        return e.diagnostics.map(\.description)
    }

    /// The values `serve` hides from `ps`: those of secret keys (the API token, a sink's URL,
    /// which may carry a credential) and of `--sink SPEC`, in both forms, exactly where the
    /// parser took them; nothing else, not even a secret flag's missing value.
    @Test func secretValuesAreFoundWhereTheParserTookThem() throws {
        let args = ["--api.token", "s3cret", "--udp", "off", "--api.token=inline", "--api.token_file", "/etc/t",
                    "--sink.hook.url", "http://127.0.0.1:9/k3y", "--sink.hook.max_backoff=5s",
                    "--sink=http://127.0.0.1:9/hooks/T0K3N", "--sink", "stdout", "--sink.ops.url=alertmanager://am:9093"]
        let parsed = try parseServeArguments(args).get()
        #expect(parsed.secretValues == [
            ArgumentSpan(argument: 1, offset: 0), ArgumentSpan(argument: 4, offset: 12),
            ArgumentSpan(argument: 8, offset: 0), ArgumentSpan(argument: 10, offset: 7),
            ArgumentSpan(argument: 12, offset: 0), ArgumentSpan(argument: 13, offset: 15),
        ])
        for span in parsed.secretValues {
            #expect(["s3cret", "inline", "http://127.0.0.1:9/k3y", "http://127.0.0.1:9/hooks/T0K3N", "stdout", "alertmanager://am:9093"]
                .contains(String(args[span.argument].utf8.dropFirst(span.offset))!))
        }
        #expect(try parseServeArguments(["--udp", "off", "--api.token_file", "/etc/t"]).get().secretValues.isEmpty)
        // "=" and a combining mark make one Character; the flag still ends at the "=" byte.
        let combining = try parseServeArguments(["--api.token=\u{301}x"]).get()
        #expect(combining.secretValues == [ArgumentSpan(argument: 0, offset: 12)])
        #expect(flagErrors(["--api.token", "--udp", "off"]) == ["--api.token: missing value"])
    }

    @Test func noFlagsKeepsTheFile() throws {
        let c = try config([])
        #expect(c.server.udp.map(\.description) == ["0.0.0.0:514", "[::]:514"])
        #expect(c.server.dataDirectory == "/var/lib/vigil")
        #expect(c.rules.sshBruteforce == .init(enabled: true, threshold: 3, window: .seconds(300)))
        #expect(c.sinks.map(\.name) == ["archive", "ops"])
    }

    @Test func shortFlagsWinOverTheFile() throws {
        let c = try config([
            "--udp", "[::1]:0", "--udp=127.0.0.1:0", "--tcp", "off", "--http=[::1]:8514",
            "--data-dir", "/tmp/v", "--max-message-size=8KiB", "--stats-interval", "0s",
            "--relay", "syslog+tcp://central:5514", "--relay-key", "/etc/vigil/relay.key",
            "--relay-listen", "127.0.0.1:6514", "--relay-allow", "10.0.0.0/8", "--relay-allow", "192.168.0.0/16",
        ])
        #expect(c.server.udp.map(\.description) == ["[::1]:0", "127.0.0.1:0"])
        #expect(c.server.tcp.isEmpty)
        #expect(c.server.http.map(\.description) == ["[::1]:8514"])
        #expect(c.server.dataDirectory == "/tmp/v")
        #expect(c.server.maxMessageBytes == 8192)
        #expect(c.server.statsInterval == .seconds(0))
        #expect(c.server.relay == .syslogTCP(host: "central", port: 5514))
        #expect(c.relay.keyFile == "/etc/vigil/relay.key" && c.relay.listen.map(\.description) == ["127.0.0.1:6514"])
        #expect(c.relay.allow.map(\.description) == ["10.0.0.0/8", "192.168.0.0/16"])
    }

    @Test func genericFlagsSetAnyKey() throws {
        let c = try config([
            "--rule.ssh_bruteforce.threshold=7", "--rule.http_error_burst.threshold", "0.25",
            "--rule.http_scan.enabled", "false", "--detection.count_publickey_failures",
            "--server.timezone", "-05:00", "--storage.max_total_bytes", "1GiB", "--api.token=abc",
            "--input.file.paths", "/var/log/a.log", "--input.file.paths", "/var/log/b.log",
        ])
        #expect(c.rules.sshBruteforce == .init(enabled: true, threshold: 7, window: .seconds(300)))
        #expect(c.rules.httpErrorBurst.threshold == 0.25)
        #expect(!c.rules.httpScan.enabled)
        #expect(c.detection.countPublickeyFailures)
        #expect(c.server.timezoneOffsetSeconds == -18000)
        #expect(c.storage.maxTotalBytes == 1 << 30)
        #expect(c.api.token == "abc")
        #expect(c.fileInput.paths == ["/var/log/a.log", "/var/log/b.log"])
    }

    /// A bare boolean flag means true and does not swallow the next flag.
    @Test func bareBooleanFlag() throws {
        let c = try config(["--detection.count_publickey_failures", "--data-dir", "/d"])
        #expect(c.detection.countPublickeyFailures)
        #expect(c.server.dataDirectory == "/d")
    }

    /// Repeatable flags build a list that replaces the file's; scalar flags: last one wins.
    @Test func repeatableFlagsReplaceTheFileList() throws {
        let c = try config(["--detection.allowlist", "192.168.0.0/16", "--detection.allowlist=::1",
                            "--data-dir", "/a", "--data-dir", "/b"])
        #expect(c.detection.allowlist.map(\.description) == ["192.168.0.0/16", "::1/128"])
        #expect(c.server.dataDirectory == "/b")
    }

    @Test func sinkFlagsReplaceFileSinks() throws {
        let c = try config(["--sink", "stdout", "--sink=syslog+udp://[2001:db8::9]:514"])
        #expect(c.sinks == [
            .init(name: "sink1", spec: .stdout, queueCapacity: 10000, maxBackoff: .seconds(60), maxSpoolBytes: 64 << 20),
            .init(name: "sink2", spec: .syslogUDP(host: "2001:db8::9", port: 514), queueCapacity: 10000, maxBackoff: .seconds(60), maxSpoolBytes: 64 << 20),
        ])
    }

    @Test func namedSinkFlagsAddOrAdjustSinks() throws {
        let c = try config(["--sink.ops.queue_capacity", "5", "--sink.hook.url", "http://hooks:8080/in"])
        #expect(c.sinks == [
            .init(name: "archive", spec: .file(path: "/var/log/vigil/alerts.jsonl"), queueCapacity: 10000, maxBackoff: .seconds(60), maxSpoolBytes: 64 << 20),
            .init(name: "ops", spec: .alertmanager(host: "am", port: 9093), queueCapacity: 5, maxBackoff: .seconds(60), maxSpoolBytes: 64 << 20),
            .init(name: "hook", spec: .http(host: "hooks", port: 8080, path: "/in"), queueCapacity: 10000, maxBackoff: .seconds(60), maxSpoolBytes: 64 << 20),
        ])
        let missing = try parseServeArguments(["--sink.new.max_backoff", "2m"]).get()
        guard case .failure(let e) = VigilConfig.build(file: nil, arguments: missing) else {
            Issue.record("a sink without url was accepted")
            return
        }
        #expect(e.diagnostics.map(\.description) == ["--sink.new.max_backoff: [sink.new] has no `url`"])
    }

    /// An error involving two keys names the one a flag set.
    @Test func listenerClashNamesTheFlag() throws {
        let arguments = try parseServeArguments(["--http", "0.0.0.0:5514"]).get()
        guard case .failure(let e) = VigilConfig.build(file: nil, arguments: arguments) else {
            Issue.record("HTTP API on the syslog TCP port was accepted")
            return
        }
        #expect(e.diagnostics.map(\.description) == ["--http: `http`: 0.0.0.0:5514 is also a syslog TCP listener (server.tcp)"])
    }

    @Test func configAndHelp() throws {
        let a = try parseServeArguments(["--config", "/etc/vigil/vigil.conf", "--help"]).get()
        #expect(a.configPath == "/etc/vigil/vigil.conf")
        #expect(a.showHelp)
        #expect(try parseServeArguments(["-h"]).get().showHelp)
        #expect(try parseServeArguments(["--config=/x.conf"]).get().configPath == "/x.conf")
        #expect(try parseServeArguments([]).get().configPath == nil)
    }

    /// Every bad flag is reported, each naming the flag.
    @Test func flagErrorsNameTheFlag() {
        #expect(flagErrors([
            "--ud", "0.0.0.0:1", "--udp", "1.2.3.4", "--rule.http_scan.threshold", "abc",
            "--stats-interval=10", "--sink", "smtp://x", "--rule.nope.threshold", "3", "extra",
            "--detection.count_publickey_failures=yes", "--tcp", "off", "--tcp", "[::1]:1",
            "--max-message-size", "1", "--help=yes", "--data-dir",
        ]) == [
            "--ud: unknown flag (did you mean --udp?)",
            "--rule.nope.threshold: unknown flag",
            "extra: unexpected argument (serve takes only flags; see --help)",
            "--help: takes no value",
            "--data-dir: missing value",
            "--sink: bad sink \"smtp://x\": unknown scheme `smtp`",
            "--udp: bad address \"1.2.3.4\": missing `:PORT`",
            "--rule.http_scan.threshold: expected an integer, found `abc`",
            "--stats-interval: bad duration \"10\": missing unit (ms, s, m, h or d), e.g. \"10s\"",
            "--detection.count_publickey_failures: expected true or false, found `yes`",
            "--tcp: \"off\" cannot be combined with addresses",
            "--max-message-size: size 1 is out of range 480...16777216 bytes",
        ])
    }

    @Test(arguments: [
        (["--rule.ssh_bruteforce.treshold", "4"], "--rule.ssh_bruteforce.treshold: unknown flag (did you mean --rule.ssh_bruteforce.threshold?)"),
        (["--data-dri=/x"], "--data-dri: unknown flag (did you mean --data-dir?)"),
        (["--sink.ops.uri", "stdout"], "--sink.ops.uri: unknown flag"),
        (["--sink..url", "stdout"], "--sink..url: unknown flag"),
        (["--server", "x"], "--server: unknown flag"),
        (["--config"], "--config: missing value"),
        (["--udp", "--tcp", "off"], "--udp: missing value"),
    ])
    func singleFlagErrors(args: [String], expected: String) {
        #expect(flagErrors(args) == [expected])
    }

    @Test func checkConfigArguments() {
        #expect(parseCheckConfigArguments(["/etc/vigil.conf"]).map(\.path) == .success("/etc/vigil.conf"))
        #expect((try? parseCheckConfigArguments(["--help"]).get())?.showHelp == true)
        let errors: (Result<CheckConfigArguments, ConfigErrors>) -> [String] = { result in
            guard case .failure(let e) = result else { return [] }
            return e.diagnostics.map(\.description)
        }
        #expect(errors(parseCheckConfigArguments([])) == ["check-config: missing FILE"])
        #expect(errors(parseCheckConfigArguments(["a", "b"])) == ["check-config: expects exactly one FILE"])
        #expect(errors(parseCheckConfigArguments(["--strict", "a"])) == ["--strict: unknown flag (check-config takes FILE and --help)"])
    }

    /// `--help` lists every flag, short and generic, with its default.
    @Test func helpListsEveryFlagWithItsDefault() {
        #expect(serveHelp.hasPrefix("usage: vigil serve [--config FILE] [flags]\n"))
        for flag in ["--config FILE", "--sink SPEC *", "--udp ADDR:PORT *", "--tcp ADDR:PORT *", "--http ADDR:PORT *",
                     "--data-dir TEXT", "--relay SPEC", "--max-message-size BYTES", "--stats-interval DURATION"] {
            #expect(serveHelp.contains("  " + flag + " "), "\(flag)")
        }
        for section in ConfigSchema.sections {
            for key in section.keys {
                let flag = "--" + section.name + (section.isTemplate ? ".NAME." : ".") + key.name + " "
                let line = serveHelp.split(separator: "\n").first { $0.hasPrefix("  " + flag) }
                let shown = key.defaultValue == nil ? "(required)" : "(default: "
                #expect(line?.contains(shown) == true, "\(flag) missing from --help")
            }
        }
        #expect(serveHelp.contains("(default: 0.0.0.0:5514)"))
        #expect(!serveHelp.contains("true|falseset"))
        #expect(serveHelp.contains("(default: 10s; 0s to 1d)"))
        // Every duration and size says its range, so its maximum is documented where it is set.
        for section in ConfigSchema.sections {
            for key in section.keys {
                guard case .duration(let range) = key.kind else { continue }
                let line = serveHelp.split(separator: "\n").first { $0.contains("." + key.name + " DURATION") && $0.contains(key.doc) }
                #expect(line?.contains("to \(range.upperBound))") == true, "\(section.name).\(key.name)")
            }
        }
        #expect(serveHelp.contains("--rule.ssh_long_session.threshold DURATION"))
        #expect(checkConfigHelp.hasPrefix("usage: vigil check-config FILE\n"))
    }
}
