import CrowdKitCore
import Foundation
import GRDB
import Logging

/// Retention (pruning old events), health and statistics.
extension SQLiteEventStore {
    public func prune(startedBefore cameraTime: Int64) async throws -> Int {
        // Deletes in batches so that writers (the monitor) never wait long behind retention.
        var total = 0
        while true {
            let deleted = try await write { db in
                try db.execute(
                    sql: """
                        DELETE FROM events WHERE id IN
                        (SELECT id FROM events WHERE startedAt < ? ORDER BY startedAt LIMIT 500)
                        """, arguments: [cameraTime])
                return db.changesCount
            }
            total += deleted
            if deleted < 500 { break }
            await Task.yield()
        }
        if total > 0 {
            logger.info("pruned old events", metadata: ["store.pruned": "\(total)"])
        }
        return total
    }

    // MARK: - Retention

    /// Prunes events older than the retention period now; returns how many were deleted.
    @discardableResult
    public func pruneExpired() async throws -> Int {
        guard let days = configuration.retentionDays else { return 0 }
        return try await prune(startedBefore: now() - Int64(days) * 86_400_000)
    }

    /// Runs the retention loop until the task is cancelled: prunes at once, then every
    /// `interval`. Failures are logged and retried at the next tick, never thrown.
    public func runRetention(interval: Duration? = nil) async {
        guard configuration.retentionDays != nil else { return }
        let interval = interval ?? configuration.retentionInterval
        while !Task.isCancelled {
            do {
                try await pruneExpired()
            } catch {
                logger.error("retention failed", metadata: ["error": "\(error)"])
            }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }

    /// `Service`-shaped entry point: runs the retention loop until cancelled. An app conforms the
    /// store to swift-service-lifecycle's `Service` with `extension SQLiteEventStore: Service {}`
    /// and wraps it in `cancelWhenGracefulShutdown`.
    public func run() async throws {
        await runRetention()
    }

    // MARK: - Health and statistics

    /// Throws when the database cannot be read (for readiness checks).
    public func check() async throws {
        _ = try await read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    /// Number of stored events.
    public func eventCount() async throws -> Int {
        try await read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") ?? 0 }
    }
}
