import CrowdKitCore
import Logging
import ServiceLifecycle

/// Runs the event store's own loop until graceful shutdown: the SQLite store's retention
/// (prunes events older than `store.retentionDays`), or the PostgreSQL store's pool, connection
/// retries, migrations and retention. A PostgreSQL store that cannot start (a schema newer than
/// this build) ends the service group with its error.
struct StoreRetentionService: Service {
    let store: OpenedStore

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await store.run() }
        } catch is CancellationError {
            return
        }
    }
}
