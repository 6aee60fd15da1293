public import VigilCore

/// Receives every message the listeners read, with where and when it arrived.
///
/// `frame` points into a receive buffer that the listener reuses: it stays valid until the
/// listener next calls `releaseFrames()`, which it does before that memory is reused or freed
/// (after each read, and right after a frame that was pieced together from several reads).
/// A consumer may so hold the frames of one read and process them together.
public protocol FrameConsumer: AnyObject {
    /// One message; `transport` says whether it can be asked for again (a TCP stream can be
    /// pushed back on, a datagram cannot).
    func consume(frame: UnsafeRawBufferPointer, truncated: Bool, sender: SocketAddress, transport: Transport, now: Timestamp)
    /// The frames consumed so far are about to become invalid: finish with any still held.
    func releaseFrames()
    /// A TCP connection's stream could not be framed any more and was closed.
    func framingError(_ error: FramingError, sender: SocketAddress)
    /// Connection bookkeeping changed (accepted, closed, rejected, timed out).
    func connectionEvent(_ event: ConnectionEvent)
}

/// How a message arrived.
public enum Transport: Sendable, Equatable {
    /// On a TCP stream (or a file): the sender waits while vigil does not read.
    case stream
    /// In a UDP datagram: what is not taken now is gone.
    case datagram
}

/// What happened to a TCP connection, for counters.
public enum ConnectionEvent: Sendable, Equatable {
    case accepted, closed, timedOut
    /// Refused at once: its source is not in the listener's allow list (the relay listener).
    case notAllowed
    /// Refused at once: its source already holds the most connections one source may.
    case perSourceLimit
    /// Refused at once: the process is out of file descriptors (accepted with the spare one and closed).
    case noDescriptors
    /// Closed to make room: the listener was at its cap, and this was the connection idle the
    /// longest of the source holding the most.
    case evicted
    /// A frame being pieced together was cut short (delivered truncated, its rest skipped): the
    /// partial frames of all connections together held more than the listener's bound.
    case frameCut
}
