/// Whether the TCP listeners may read. The collector closes it while what they read cannot be
/// kept (the store cannot write: a full disk), so the senders' TCP windows push back — rsyslog's
/// queue holds their messages — instead of vigil losing them; it opens it again once the store
/// wrote everything. While it is closed the listeners leave their connections unpolled; opening
/// it has them poll every connection again. One thread (the event loop's) owns it.
public final class ReadGate {
    public private(set) var isOpen = true
    /// The listeners to wake when the gate opens (they add themselves).
    private var listeners: [() -> Void] = []

    /// An open gate.
    public init() {}

    /// Calls `resume` whenever the gate opens again.
    func onOpen(_ resume: @escaping () -> Void) { listeners.append(resume) }

    /// Stops the listeners from reading (each parks a connection the next time it is ready).
    public func close() { isOpen = false }

    /// Lets the listeners read again.
    public func open() {
        guard !isOpen else { return }
        isOpen = true
        for resume in listeners { resume() }
    }
}
