import CrowdKitCore
import Foundation
import PostgresNIO

/// The outbox: pending deliveries, claims with leases, status updates.
extension PostgresEventStore {
    public func pendingDeliveries(limit: Int) async throws -> [Delivery] {
        guard limit > 0 else { return [] }
        return try await query(
            """
            SELECT \(unescaped: Self.deliveryColumns) FROM deliveries WHERE status = 'pending'
            ORDER BY created_at, id LIMIT \(limit)
            """, "cannot read pending deliveries"
        ).map(Self.delivery(from:))
    }

    /// Two statements, so that claims never wait for each other and never break the order of a
    /// series (fired, reminders, ended of one event and notifier):
    ///
    /// 1. A plain read (no lock) of the pending deliveries of the notifiers the claim takes, in
    ///    outbox order along the `deliveries_pending` index, a page at a time, each offered to
    ///    ``DeliveryClaim/Selection`` (which passes over a series after its first pending
    ///    delivery, and over what is leased, backing off or excluded, exactly as
    ///    ``DeliveryClaim/select(from:)`` says) until the claim is full or nothing is left. Its
    ///    cost follows what the claim takes and what waits before it (what others are sending),
    ///    not the length of the outbox: a burst of thousands of notifications is claimed in many
    ///    small claims, each reading a page or two.
    /// 2. One `UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED)` that leases those of the
    ///    selected rows that are still pending and due when locked. A row another claim (or a
    ///    status update) is writing at that moment is skipped, not waited for; one that another
    ///    claim leased since the read no longer matches. So two claims at once, in one process or
    ///    in two, never both lease a delivery while its lease holds.
    ///
    /// A series is never claimed past its first pending delivery: when step 2 skips that one, the
    /// series offers nothing this time.
    public func claimDeliveries(_ claim: DeliveryClaim) async throws -> [Delivery] {
        guard claim.limit > 0, claim.capacity > 0 else { return [] }
        // a series is one notifier's: leaving out the notifiers the claim takes nothing of
        // leaves every other series whole
        let named = claim.perNotifier.filter { $0.value > 0 }.keys.sorted()
        let others = claim.otherNotifiers > 0
        var selection = DeliveryClaim.Selection(claim)
        let pageSize = Self.claimPageSize(capacity: claim.capacity)
        let position = Self.deliveryPosition(of: "deliveries")
        // the outbox position of the last row read: the next page starts after it
        var after: (createdAt: Int64, position: Int, id: String)?
        while !selection.isFull {
            var b = PostgresBindings()
            b.append(named)
            b.append(others)
            b.append(claim.perNotifier.keys.sorted())
            b.append(pageSize)
            var keyset = ""
            if let after {
                b.append(after.createdAt)
                b.append(after.position)
                b.append(after.id)
                keyset = "AND (created_at, \(position), id) > ($5, $6, $7)"
            }
            // the lease of an instance whose heartbeat ended (it died) holds nothing
            let readSQL = """
                SELECT id, event_id, notifier, kind, sequence, created_at, lease_owner, lease_until, retry_at,
                    COALESCE(lease_owner IN (\(Self.deadInstancesSQL)), false)
                FROM deliveries
                WHERE status = 'pending' \(keyset)
                  AND (notifier = ANY($1) OR ($2 AND NOT (notifier = ANY($3))))
                ORDER BY created_at, \(position), id
                LIMIT $4
                """
            let rows = try await query(PostgresQuery(unsafeSQL: readSQL, binds: b), "cannot read the outbox")
            for row in rows {
                let c = try row.decode((String, String, String, String, Int, Int64, String?, Int64?, Int64?, Bool).self)
                var d = Delivery(
                    eventID: CrowdEventID(rawValue: c.1), notifier: c.2, kind: try Self.kind(c.3), sequence: c.4, createdAt: c.5,
                    lease: c.9 ? nil : Self.lease(owner: c.6, until: c.7), retryAt: c.8)
                d.id = c.0
                after = (d.createdAt, d.position, d.id)
                selection.offer(d)
            }
            if rows.count < pageSize { break }
        }
        let chosen = selection.taken.map(\.id)
        guard !chosen.isEmpty else { return [] }
        let leased = try await query(
            """
            UPDATE deliveries AS d SET lease_owner = \(claim.owner), lease_until = \(claim.leaseUntil)
            FROM (
                SELECT id FROM deliveries
                WHERE id = ANY(\(chosen)) AND status = 'pending'
                  AND (lease_owner IS NULL OR lease_until IS NULL OR lease_until <= \(claim.now) OR lease_owner = \(claim.owner)
                       OR lease_owner IN (\(unescaped: Self.deadInstancesSQL)))
                  AND (retry_at IS NULL OR retry_at <= \(claim.now) OR notifier = ANY(\(claim.ignoringBackOff.sorted())))
                FOR UPDATE SKIP LOCKED
            ) AS locked
            WHERE d.id = locked.id
            RETURNING \(unescaped: Self.deliveryColumns.split(separator: ",").map { "d.\($0.trimmingCharacters(in: .whitespaces))" }.joined(separator: ", "))
            """, "cannot lease deliveries"
        ).map(Self.delivery(from:))
        let byID = Dictionary(leased.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return chosen.compactMap { byID[$0] }
    }

    /// The instances whose heartbeat lease ended (by the database's clock), for `lease_owner IN
    /// (...)` (a hashed subplan, evaluated once per statement; a join here made the outbox read
    /// leave its index order): a delivery one of them leased is free again. An instance that died
    /// holding leases (SIGKILL, a lost machine) would otherwise keep its claimed notifications for
    /// the whole delivery lease (`delivery.leaseSeconds`, 5 minutes); its requests in flight at the
    /// moment it died are then sent again, as they would be after the lease.
    static let deadInstancesSQL = "SELECT name FROM instances WHERE lease_until <= (extract(epoch FROM now()) * 1000)::bigint"

    /// Rows read per page of a claim's outbox read: a few times what the claim can take (the
    /// selection passes over what is being sent, and a series' later deliveries), at least 32.
    static func claimPageSize(capacity: Int) -> Int { min(max(capacity * 4, 32), 1_000) }

    /// Stores the delivery's new status and back-off, and ends its lease.
    public func updateDelivery(_ delivery: Delivery) async throws {
        let (status, remoteID, reason) = Self.columns(of: delivery.status)
        let rows = try await query(
            """
            UPDATE deliveries SET status = \(status), remote_id = \(remoteID), failure_reason = \(reason),
            attempts = \(delivery.attempts), updated_at = \(delivery.updatedAt), last_error = \(delivery.lastError),
            retry_at = \(delivery.retryAt), lease_owner = NULL, lease_until = NULL
            WHERE id = \(delivery.id) RETURNING id
            """, "cannot update delivery \(delivery.id)")
        if rows.isEmpty { throw EventStoreError(.notFound, "no delivery \(delivery.id)") }
    }
}
