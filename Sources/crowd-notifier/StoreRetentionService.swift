import ArgumentParser
import CrowdKitCore
import CrowdKitSQLite
import CrowdKitWeb
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// Runs the store's retention loop (prunes events older than `store.retentionDays`) until
/// graceful shutdown.
struct StoreRetentionService: Service {
    let store: SQLiteEventStore

    func run() async throws {
        try? await cancelWhenGracefulShutdown { try await store.run() }
    }
}
