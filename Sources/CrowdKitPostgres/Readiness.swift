import CrowdKitCore
import Foundation


/// Whether the store has connected and migrated, and the calls waiting for it. Until ``run()``
/// of the store has done both, calls wait here (at most the store's `readyTimeout`) instead of
/// failing at once, so that services started together with the store do not fail on start.
final class Readiness: Sendable {
    private struct State {
        var ready = false
        /// Why it is not ready (the last failed attempt), for the waiters' error.
        var lastFailure: String?
        /// A permanent failure (a schema newer than this build): waiters fail with it at once.
        var failed: EventStoreError?
        var waiters: [Int: CheckedContinuation<Void, any Error>] = [:]
        var nextWaiter = 0
    }

    private let state = LockedBox(State())

    var isReady: Bool { state.withLock { $0.ready } }

    /// Marks the store ready and wakes every waiter.
    func markReady() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            s.ready = true
            s.lastFailure = nil
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume() }
    }

    /// Records why the last attempt failed (said by waiters that give up).
    func attemptFailed(_ reason: String) {
        state.withLock { $0.lastFailure = reason }
    }

    /// The store will never be ready: waiters fail with `error`, now and later.
    func fail(_ error: EventStoreError) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            s.failed = error
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume(throwing: error) }
    }

    /// Returns at once when ready; otherwise waits up to `timeout`, then throws
    /// `EventStoreError` `.unavailable` with the last failure.
    func wait(timeout: Duration) async throws {
        if let outcome = state.withLock({ s -> Result<Void, EventStoreError>? in
            if s.ready { return .success(()) }
            if let failed = s.failed { return .failure(failed) }
            return nil
        }) {
            return try outcome.get()
        }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.waitForever() }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw CancellationError()
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        } catch let error as EventStoreError {
            throw error
        } catch {
            let reason = state.withLock { $0.lastFailure } ?? "not connected yet"
            throw EventStoreError(.unavailable, "PostgreSQL is not ready: \(reason)")
        }
    }

    private func waitForever() async throws {
        let id = state.withLock { s -> Int in
            defer { s.nextWaiter += 1 }
            return s.nextWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let outcome = state.withLock { s -> Result<Void, any Error>? in
                    if s.ready { return .success(()) }
                    if let failed = s.failed { return .failure(failed) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    s.waiters[id] = c
                    return nil
                }
                if let outcome { c.resume(with: outcome) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }
}
