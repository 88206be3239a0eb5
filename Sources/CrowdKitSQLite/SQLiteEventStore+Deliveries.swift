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

    /// One write transaction (SQLite has one writer at a time, so two claims never overlap): reads
    /// the pending deliveries in outbox order, selects as ``DeliveryClaim/select(from:)`` says, and
    /// writes the lease of each selected one.
    public func claimDeliveries(_ claim: DeliveryClaim) async throws -> [Delivery] {
        guard claim.limit > 0 else { return [] }
        return try await write { db in
            // what the selection needs, without the texts (status, errors) of every pending row
            let pending = try Row.fetchCursor(
                db.cachedStatement(
                    sql: """
                        SELECT id, eventID, notifier, kind, sequence, createdAt, leaseOwner, leaseUntil, retryAt
                        FROM deliveries WHERE status = 'pending'
                        ORDER BY createdAt, CASE kind WHEN 'fired' THEN 0 WHEN 'reminder' THEN sequence ELSE 2147483647 END, id
                        """)
            )
            var selection = DeliveryClaim.Selection(claim)
            while !selection.isFull, let row = try pending.next() { selection.offer(try Self.pendingDelivery(from: row)) }
            // the lease written and the whole row read back in one statement
            let lease = try db.cachedStatement(
                sql: "UPDATE deliveries SET leaseOwner = ?, leaseUntil = ? WHERE id = ? RETURNING \(Self.deliveryColumns)")
            return try selection.taken.compactMap { d in
                try Row.fetchOne(lease, arguments: [claim.owner, claim.leaseUntil, d.id]).map(Self.delivery(from:))
            }
        }
    }

    /// The selection's view of a pending row (status pending; texts left out).
    static func pendingDelivery(from row: Row) throws -> Delivery {
        var d = Delivery(
            eventID: CrowdEventID(rawValue: row["eventID"]), notifier: row["notifier"], kind: try kind(from: row),
            sequence: row["sequence"], createdAt: row["createdAt"], lease: lease(from: row), retryAt: row["retryAt"])
        d.id = row["id"]
        return d
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
                """
                UPDATE deliveries SET status = ?, remoteID = ?, failureReason = ?, attempts = ?, updatedAt = ?, lastError = ?,
                retryAt = ?, leaseOwner = NULL, leaseUntil = NULL WHERE id = ?
                """
        )
        try stmt.execute(arguments: [
            status, remoteID, reason, delivery.attempts, delivery.updatedAt, delivery.lastError, delivery.retryAt, delivery.id,
        ])
        if db.changesCount == 0 {
            throw EventStoreError(.notFound, "no delivery \(delivery.id)")
        }
    }
}
