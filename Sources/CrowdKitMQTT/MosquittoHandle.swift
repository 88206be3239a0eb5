import CMosquitto
import Foundation

/// Calls `mosquitto_lib_init` once per process, the first time a client is made.
let mosquittoLibraryInitialized: Bool = {
    mosquitto_lib_init() == MOSQ_ERR_SUCCESS.rawValue
}()

/// The libmosquitto handle, shared by the client (publish, subscribe, disconnect from any task)
/// and the network thread (which destroys it when it ends).
///
/// `@unchecked Sendable`: `OpaquePointer` is not `Sendable`, but the pointer is only read and
/// cleared under `lock`, and libmosquitto's calls used while it is held (publish, subscribe,
/// disconnect) are thread-safe in threaded mode. The network thread reads the pointer once at
/// start and owns its destruction (`take()`), so no caller can use it after `mosquitto_destroy`.
final class MosquittoHandle: @unchecked Sendable {
    private let lock = NSLock()
    private var pointer: OpaquePointer?

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    /// Runs `body` with the handle, or returns `nil` once it has been taken for destruction.
    func with<R>(_ body: (OpaquePointer) -> R) -> R? {
        lock.lock()
        defer { lock.unlock() }
        return pointer.map(body)
    }

    /// Removes the handle for destruction; later `with` calls get `nil`.
    func take() -> OpaquePointer? {
        lock.lock()
        defer { lock.unlock() }
        let p = pointer
        pointer = nil
        return p
    }

    /// The raw handle, for the network thread only (it outlives every use there).
    var unsafeRaw: OpaquePointer? {
        lock.lock()
        defer { lock.unlock() }
        return pointer
    }
}
