import CrowdKitCore
import Dispatch
import GRDB

/// One write waiting for a group commit.
enum PendingWrite: Sendable {
    case change(EventChange)
    case delivery(Delivery)
    case enrichment(CrowdEvent)
}

/// Group commit for the SQLite store's small writes (``SQLiteEventStore/apply(_:)``, delivery
/// status updates, enrichment): writes that arrive while a transaction is being written are
/// written together in the next one, each inside its own savepoint, so every write stays
/// all-or-nothing and its caller gets its own result. A lone caller pays one thread hop (its
/// write is started at once); concurrent writers (delivery finishing a burst, several monitors,
/// a replay) share the commit cost, which dominates a small transaction.
final class GroupCommit: Sendable {
    private struct State {
        var queue: [(PendingWrite, CheckedContinuation<Void, any Error>)] = []
        var flushing = false
    }

    private let state = LockedBox(State())
    /// Largest number of changes in one transaction.
    private let maximumBatch = 512

    /// Where transactions are written: a thread of its own, so that a writer waiting for the
    /// database (a checkpoint, another transaction) never holds one of the few threads of Swift's
    /// cooperative pool, on which detection and delivery run.
    private let queue = DispatchQueue(label: "crowdkit.sqlite.group-commit", qos: .userInitiated)

    /// Writes waiting for the next transaction (tests).
    var queuedForTesting: Int { state.withLock { $0.queue.count } }

    /// Enqueues `change` and returns once it is committed (or failed). When no write is under
    /// way, this caller starts one on `queue`, which writes the queue until it is empty.
    func apply(_ change: PendingWrite, write: @escaping @Sendable ([PendingWrite]) -> [Result<Void, any Error>]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let leader = state.withLock { s in
                s.queue.append((change, continuation))
                if s.flushing { return false }
                s.flushing = true
                return true
            }
            guard leader else { return }
            queue.async { self.flush(write) }
        }
    }

    /// Writes what is queued, batch after batch, until nothing is.
    private func flush(_ write: ([PendingWrite]) -> [Result<Void, any Error>]) {
        while true {
            let batch = state.withLock { s -> [(PendingWrite, CheckedContinuation<Void, any Error>)] in
                if s.queue.isEmpty {
                    s.flushing = false
                    return []
                }
                let n = min(s.queue.count, maximumBatch)
                defer { s.queue.removeFirst(n) }
                return Array(s.queue.prefix(n))
            }
            if batch.isEmpty { return }
            let results = write(batch.map(\.0))
            for (i, (_, c)) in batch.enumerated() {
                switch results[i] {
                case .success: c.resume()
                case .failure(let error): c.resume(throwing: error)
                }
            }
        }
    }
}
