import CVigilShim
import Glibc
public import VigilCore

extension SocketAddress {
    /// Reads an address the kernel wrote into a `sockaddr_storage`.
    init?(storage: UnsafeRawPointer) {
        let family = storage.load(as: sa_family_t.self)
        switch Int32(family) {
        case AF_INET:
            let sin = storage.load(as: sockaddr_in.self)
            self.init(ip: IPAddress(ipv4: UInt32(bigEndian: sin.sin_addr.s_addr)), port: UInt16(bigEndian: sin.sin_port))
        case AF_INET6:
            var sin6 = storage.load(as: sockaddr_in6.self)
            let ip = withUnsafeBytes(of: &sin6.sin6_addr) { IPAddress(ipv6Bytes: $0) }
            self.init(ip: ip, port: UInt16(bigEndian: sin6.sin6_port))
        default:
            return nil
        }
    }

    /// Calls `body` with this address as a `sockaddr` of the right family and length.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        if ip.isIPv4 {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr.s_addr = ip.ipv4Value.bigEndian
            return withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        sin6.sin6_port = port.bigEndian
        withUnsafeMutableBytes(of: &sin6.sin6_addr) { raw in
            for i in 0..<16 { raw[i] = ip.byte(i) }
        }
        return withUnsafePointer(to: &sin6) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
    }

    var family: Int32 { ip.isIPv4 ? AF_INET : AF_INET6 }
}

/// Whether a bound UDP socket shares its port with other loops' sockets (SO_REUSEPORT, which only
/// sockets of the same user can join).
public enum PortSharing: Sendable {
    case none
    /// The first socket: bound as any other (a port held by anyone fails with EADDRINUSE), then
    /// opened to the sockets `joining` it.
    case opening
    /// Another loop's socket on the port of one that was `opening`.
    case joining
}

/// Socket creation and option helpers shared by listeners and clients.
public enum Sockets {
    /// Creates a non-blocking socket bound to `address` (IPv6-only for v6 addresses). For TCP
    /// also listens, with SO_REUSEADDR (a restart binds while old connections are in TIME_WAIT).
    /// Never SO_REUSEADDR for UDP: there it lets any process of any user bind the same port too,
    /// and the socket bound last receives every datagram, so vigil would go silent.
    /// Returns the descriptor and the address actually bound (real port for port 0).
    /// `sharing` opens the port to sockets of the same process's other loops (`PortSharing`).
    public static func bind(_ address: SocketAddress, type: Int32, backlog: Int32 = 4096,
                            sharing: PortSharing = .none) throws(SystemError) -> (Int32, SocketAddress) {
        let fd = socket(address.family, type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw SystemError("socket", errno: errno) }
        var one: Int32 = 1
        if type == Int32(SOCK_STREAM.rawValue) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        if sharing == .joining {
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        if !address.ip.isIPv4 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let rc = address.withSockAddr { Glibc.bind(fd, $0, $1) }
        if rc != 0 {
            let e = errno
            Posix.close(fd)
            throw SystemError("bind \(address)", errno: e)
        }
        if sharing == .opening {
            // Only now: bound without it, the socket got a port nobody holds (for port 0) or
            // failed like any other, so a second vigil (whose first socket binds so too) fails
            // on this port instead of joining it.
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        if type == Int32(SOCK_STREAM.rawValue) && Glibc.listen(fd, backlog) != 0 {
            let e = errno
            Posix.close(fd)
            throw SystemError("listen \(address)", errno: e)
        }
        return (fd, try localAddress(fd))
    }

    /// Accepts one connection (non-blocking, close-on-exec) and its peer's address; on failure
    /// the errno (`EAGAIN`: none waiting; `EMFILE`: out of descriptors).
    public static func accept(_ fd: Int32) -> Result<(Int32, SocketAddress), SystemError> {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let client = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { vigil_accept_nonblocking(fd, $0, &len) }
        }
        if client < 0 { return .failure(SystemError("accept", errno: errno)) }
        let peer = withUnsafeBytes(of: &storage) { SocketAddress(storage: $0.baseAddress!) }
            ?? SocketAddress(ip: IPAddress(high: 0, low: 0), port: 0)
        return .success((client, peer))
    }

    /// Whether an `accept` failure means the process or the system is out of descriptors (or of
    /// the memory a socket needs): polling the listening socket again at once would spin.
    public static func isOutOfDescriptors(_ error: Int32) -> Bool {
        error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM
    }

    /// The address a socket is bound to.
    public static func localAddress(_ fd: Int32) throws(SystemError) -> SocketAddress {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        if rc != 0 { throw SystemError("getsockname", errno: errno) }
        guard let address = withUnsafeBytes(of: &storage, { SocketAddress(storage: $0.baseAddress!) }) else {
            throw SystemError("getsockname", errno: EAFNOSUPPORT)
        }
        return address
    }

    /// Makes the sockets sharing `fd`'s port (`PortSharing`, `sockets` of them counting `fd`;
    /// call once they are all bound) take datagrams by sender: each source address's go to one of them, whatever its
    /// source port, so one sender's datagrams are read by one thread, in the order they came.
    public static func spreadBySource(_ fd: Int32, sockets: Int) throws(SystemError) {
        if vigil_spread_by_source(fd, UInt32(sockets)) != 0 { throw SystemError("SO_ATTACH_REUSEPORT_CBPF", errno: errno) }
    }

    /// Asks for a large receive buffer; as root the `rmem_max` cap is bypassed. Returns the size granted.
    @discardableResult
    public static func setReceiveBuffer(_ fd: Int32, bytes: Int) -> Int {
        var size = Int32(clamping: bytes)
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var granted: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &len)
        return Int(granted)
    }
}
