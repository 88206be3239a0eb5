#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutex-protected box for state shared between threads and tasks (status counters, subscriber
/// lists, write queues).
///
/// Backed by a `pthread_mutex_t` rather than `Synchronization.Mutex`: on Linux the latter is a bare
/// futex that ThreadSanitizer cannot see, so every access it guards was reported as a race under
/// `scripts/test.sh --sanitize=thread`. pthread mutexes are what sanitizers understand, and cost
/// the same uncontended (one atomic exchange each way).
public final class LockedBox<Value>: @unchecked Sendable {
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline var value: Value

    public init(_ value: sending Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed: \(status)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value (inlined into the caller: it is on the
    /// MQTT client's per-message path).
    @inlinable
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
