import CVigilShim
import Glibc
import Testing
import VigilTestSupport
import VigilCore
import VigilDaemon
@testable import VigilPosix

/// Finding (a review): vigil run as root trusted directories and secret files another user
/// controlled. In a `forward` state directory or a `serve` data directory that user owned, links
/// planted where vigil writes made it overwrite or append to any file (`state.tmp`,
/// `spool/journal`, `alerts.jsonl`), and an `api-token` or key file of theirs, or a link to a
/// file whose first line is known, chose the secret. Each is refused now. The cases with another
/// user's files need root to make them (as CI runs); the mode and link cases run as anyone.
@Suite struct OwnFilesTests {
    static let other: uid_t = 65534
    static var isRoot: Bool { geteuid() == 0 }

    func write(_ path: String, _ text: String, mode: mode_t = 0o600) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        Glibc.close(fd)
        chmod(path, mode)
    }

    func contents(_ path: String) -> String { (try? TextFile.read(path)) ?? "" }

    @Test func aSecretFileMustBeThisUsersOrRootsAndNoLink() throws {
        let dir = TemporaryDirectory().path
        write(dir + "/key", "0123456789abcdef0123456789abcdef\n")
        #expect((try? SecretFile.read(dir + "/key")) != nil)
        symlink(dir + "/key", dir + "/link")
        #expect(throws: SecretFile.Problem.self) { try SecretFile.read(dir + "/link") }
        write(dir + "/open", "0123456789abcdef0123456789abcdef\n", mode: 0o644)
        #expect(throws: SecretFile.Problem.self) { try SecretFile.read(dir + "/open") }
        if Self.isRoot {
            write(dir + "/theirs", "attacker-chosen\n")
            chown(dir + "/theirs", Self.other, Self.other)
            #expect(throws: SecretFile.Problem.self) { try SecretFile.read(dir + "/theirs") }
        }
    }

    /// An `api-token` planted as a link to a file whose first line is known is not taken.
    @Test func anAPITokenThatIsALinkIsRefused() throws {
        let dir = TemporaryDirectory().path
        write(dir + "/host-key", "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n")
        symlink(dir + "/host-key", dir + "/api-token")
        guard case .failure = SecretFile.loadOrCreateToken(dir + "/api-token") else {
            Issue.record("a token read through a link")
            return
        }
    }

    @Test func aStateDirectoryMustBeThisUsersOwn() throws {
        let dir = TemporaryDirectory().path
        mkdir(dir + "/open", 0o775)
        chmod(dir + "/open", 0o775)
        #expect(throws: SystemError.self) { try OwnDirectory.check(dir + "/open", deniedModeBits: 0o022) }
        mkdir(dir + "/mine", 0o755)
        chmod(dir + "/mine", 0o755)
        try OwnDirectory.check(dir + "/mine", deniedModeBits: 0o022)
        symlink(dir + "/mine", dir + "/link")
        #expect(throws: SystemError.self) { try OwnDirectory.check(dir + "/link", deniedModeBits: 0o022) }
        if Self.isRoot {
            mkdir(dir + "/theirs", 0o700)
            chown(dir + "/theirs", Self.other, Self.other)
            #expect(throws: SystemError.self) { try OwnDirectory.check(dir + "/theirs", deniedModeBits: 0o022) }
        }
    }

    /// `vigil forward --state DIR` with DIR another user's, a link planted at `state.tmp`: refused,
    /// and the link's target is untouched.
    @Test(.enabled(if: OwnFilesTests.isRoot)) func forwardRefusesAnotherUsersStateDirectory() throws {
        let dir = TemporaryDirectory().path
        write(dir + "/victim", "precious\n")
        mkdir(dir + "/state", 0o700)
        symlink(dir + "/victim", dir + "/state/state.tmp")
        lchown(dir + "/state/state.tmp", Self.other, Self.other)
        chown(dir + "/state", Self.other, Self.other)
        write(dir + "/app.log", "a line\n", mode: 0o644)
        let options = Forwarder.Options(target: ForwardTarget(host: "127.0.0.1", port: 9), stateDirectory: dir + "/state",
                                        hostname: "web1", fromStart: true)
        #expect(throws: SystemError.self) { _ = try Forwarder(paths: [dir + "/app.log"], options: options, log: { _ in }) }
        #expect(contents(dir + "/victim") == "precious\n")
    }

    /// `vigil serve --data-dir DIR` with DIR another user's, a link planted at `alerts.jsonl`:
    /// refused before anything is written, the link's target untouched.
    @Test(.enabled(if: OwnFilesTests.isRoot)) func serveRefusesAnotherUsersDataDirectory() throws {
        let dir = TemporaryDirectory().path
        write(dir + "/victim", "precious\n")
        mkdir(dir + "/data", 0o750)
        symlink(dir + "/victim", dir + "/data/alerts.jsonl")
        chown(dir + "/data", Self.other, Self.other)
        var config = VigilConfig.defaults
        config.server.threads = 2
        config.server.udp = []
        config.server.tcp = [ListenAddress(ip: IPAddress(127, 0, 0, 1), port: 0)]
        config.server.http = []
        config.server.dataDirectory = dir + "/data"
        config.sinks = []
        #expect(throws: SystemError.self) { _ = try Server(config: config, log: { _ in }) }
        #expect(contents(dir + "/victim") == "precious\n")
        chown(dir + "/data", 0, 0)
        chmod(dir + "/data", 0o777)
        #expect(throws: SystemError.self) { _ = try Server(config: config, log: { _ in }) }
    }
}
