public import VigilCore

/// Receives every message the listeners read, with where and when it arrived.
///
/// `frame` is only valid during the call: it points into a reused receive buffer.
public protocol FrameConsumer: AnyObject {
    func consume(frame: UnsafeRawBufferPointer, truncated: Bool, sender: SocketAddress, now: Timestamp)
    /// A TCP connection's stream could not be framed any more and was closed.
    func framingError(_ error: FramingError, sender: SocketAddress)
    /// Connection bookkeeping changed (accepted, closed, rejected, timed out).
    func connectionEvent(_ event: ConnectionEvent)
}

/// What happened to a TCP connection, for counters.
public enum ConnectionEvent: Sendable {
    case accepted, closed, rejected, timedOut
}
