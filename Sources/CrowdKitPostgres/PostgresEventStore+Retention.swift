import CrowdKitCore
import Foundation
import PostgresNIO

/// Retention (pruning old events), health and statistics.
extension PostgresEventStore {
    public func prune(startedBefore cameraTime: Int64) async throws -> Int {
        // in batches, so that writers never wait long behind retention
        var total = 0
        while true {
            let rows = try await query(
                """
                WITH gone AS (
                    DELETE FROM events WHERE id IN
                    (SELECT id FROM events WHERE started_at < \(cameraTime) ORDER BY started_at LIMIT 500)
                    RETURNING 1
                )
                SELECT count(*) FROM gone
                """, "cannot prune events")
            let deleted = try rows.first?.decode(Int.self) ?? 0
            total += deleted
            if deleted < 500 { break }
            await Task.yield()
        }
        if total > 0 {
            logger.info("pruned old events", metadata: ["store.pruned": "\(total)"])
        }
        return total
    }

    /// Prunes events older than the retention period now; returns how many were deleted.
    @discardableResult
    public func pruneExpired() async throws -> Int {
        guard let days = configuration.retentionDays else { return 0 }
        return try await prune(startedBefore: now() - Int64(days) * 86_400_000)
    }

    /// The retention loop until the task is cancelled: prunes at once, then every
    /// ``PostgresStoreConfiguration/retentionInterval``. Failures are logged and retried at the
    /// next tick. Without retention, waits for the cancellation.
    func runRetention() async {
        guard configuration.retentionDays != nil else {
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            return
        }
        while !Task.isCancelled {
            do {
                try await pruneExpired()
            } catch {
                logger.error("retention failed", metadata: ["error": "\(error)"])
            }
            do { try await Task.sleep(for: configuration.retentionInterval) } catch { return }
        }
    }

    // MARK: - Health and statistics

    /// Throws when the database cannot be read (for readiness checks).
    public func check() async throws {
        try await query("SELECT 1", "cannot reach PostgreSQL")
    }

    /// Number of stored events.
    public func eventCount() async throws -> Int {
        try await query("SELECT count(*) FROM events", "cannot count events").first?.decode(Int.self) ?? 0
    }
}
