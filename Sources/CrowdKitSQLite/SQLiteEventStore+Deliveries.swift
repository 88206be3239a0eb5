import CrowdKitCore
import Foundation
import GRDB
import Logging

/// The outbox: pending deliveries and status updates.
extension SQLiteEventStore {
    public func pendingDeliveries(limit: Int) async throws -> [Delivery] {
        guard limit > 0 else { return [] }
        return try await read { db in
            let stmt = try db.cachedStatement(
                sql:
                    "SELECT \(Self.deliveryColumns) FROM deliveries WHERE status = 'pending' ORDER BY createdAt, id LIMIT ?"
            )
            return try Row.fetchAll(stmt, arguments: [limit]).map(Self.delivery(from:))
        }
    }

    /// Group-committed with other concurrent writes (a burst of notifications finishing at once
    /// is one transaction).
    public func updateDelivery(_ delivery: Delivery) async throws {
        try await groupCommit.apply(.delivery(delivery)) { writes in self.writeBatch(writes) }
    }

    static func update(_ delivery: Delivery, in db: Database) throws {
        let (status, remoteID, reason) = columns(of: delivery.status)
        let stmt = try db.cachedStatement(
            sql:
                "UPDATE deliveries SET status = ?, remoteID = ?, failureReason = ?, attempts = ?, updatedAt = ?, lastError = ? WHERE id = ?"
        )
        try stmt.execute(arguments: [status, remoteID, reason, delivery.attempts, delivery.updatedAt, delivery.lastError, delivery.id])
        if db.changesCount == 0 {
            throw EventStoreError(.notFound, "no delivery \(delivery.id)")
        }
    }
}
