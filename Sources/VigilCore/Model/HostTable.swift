/// A small integer naming a host, so per-message code passes an ID, not a `String`.
public struct HostID: Hashable, Comparable, Sendable {
    public var rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public static func < (a: HostID, b: HostID) -> Bool { a.rawValue < b.rawValue }
}

/// Interns host names: the first time a name's bytes are seen it gets a `HostID`
/// and one `String`; every later lookup of the same bytes allocates nothing.
public struct HostTable: Sendable {
    private var ids: [BytesKey: HostID] = [:]
    public private(set) var names: [String] = []

    public init() {}

    public var count: Int { names.count }

    /// The ID of the host spelled by `bytes`, adding it when new.
    public mutating func intern(_ bytes: UnsafeRawBufferPointer) -> HostID {
        let probe = BytesKey(borrowing: bytes)
        if let id = ids[probe] { return id }
        let id = HostID(UInt32(names.count))
        let name = String(decoding: bytes, as: UTF8.self)
        names.append(name)
        ids[BytesKey(owning: Array(bytes))] = id
        return id
    }

    /// The ID of a host given as a `String`.
    public mutating func intern(_ name: String) -> HostID {
        var copy = name
        return copy.withUTF8 { intern(UnsafeRawBufferPointer($0)) }
    }

    public func name(of id: HostID) -> String { names[Int(id.rawValue)] }

    public func id(of name: String) -> HostID? {
        var copy = name
        return copy.withUTF8 { ids[BytesKey(borrowing: UnsafeRawBufferPointer($0))] }
    }
}

/// A dictionary key over bytes that can borrow (for lookups) or own (for storage).
///
/// Borrowing keys must not outlive the buffer they point into; they are only
/// ever used as a transient probe.
struct BytesKey: Hashable, @unchecked Sendable {
    private let owned: [UInt8]?
    private let borrowed: UnsafeRawBufferPointer

    init(borrowing bytes: UnsafeRawBufferPointer) { owned = nil; borrowed = bytes }
    init(owning bytes: [UInt8]) { owned = bytes; borrowed = UnsafeRawBufferPointer(start: nil, count: 0) }

    private func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        if let owned { return owned.withUnsafeBytes(body) }
        return body(borrowed)
    }

    static func == (a: BytesKey, b: BytesKey) -> Bool {
        a.withBytes { x in b.withBytes { y in x.count == y.count && (x.count == 0 || memcmpEqual(x, y)) } }
    }

    func hash(into hasher: inout Hasher) {
        withBytes { hasher.combine(bytes: $0) }
    }
}

@inline(__always)
func memcmpEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    for i in 0..<a.count where a[i] != b[i] { return false }
    return true
}
