import CVigilShim
import Glibc

/// Starts `body` on a new thread named `name` (at most 15 bytes show in `top -H` and /proc);
/// throws naming `pthread_create` when no thread can be made. The caller joins it.
func startThread(named name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) -> pthread_t {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    var thread = pthread_t()
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    let rc = pthread_create(&thread, nil, { raw in
        Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, context)
    if rc != 0 {
        Unmanaged<Box>.fromOpaque(context).release()
        throw SystemError("pthread_create", errno: rc)
    }
    _ = vigil_set_thread_name(thread, name)
    return thread
}

/// A thread started for a driver outside VigilPosix (`vigil analyze`'s extraction workers, `vigil-bench`'s senders),
/// which it must `join()` once the thread's body can return.
public struct JoinableThread: Sendable {
    private let handle: pthread_t

    /// Starts `body` on a new thread named `name` (see `startThread(named:_:)`).
    public init(named name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        handle = try startThread(named: name, body)
    }

    /// Waits until the thread's body returned.
    public func join() { pthread_join(handle, nil) }
}
