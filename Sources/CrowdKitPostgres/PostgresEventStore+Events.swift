import CrowdKitCore
import Foundation
import PostgresNIO

/// Events: writes (one transaction per change or per batch), reads and pages.
extension PostgresEventStore {
    public func apply(_ change: EventChange) async throws {
        let logger = self.logger
        try await transaction("cannot store event \(change.event.id)") { c in
            try await Self.apply(change, on: c, logger: logger)
        }
    }

    /// Applies several changes in one transaction (all or nothing), in order.
    public func apply(contentsOf changes: [EventChange]) async throws {
        guard !changes.isEmpty else { return }
        let logger = self.logger
        try await transaction("cannot store \(changes.count) event changes") { c in
            for change in changes { try await Self.apply(change, on: c, logger: logger) }
        }
    }

    static let upsertEventSQL = """
        INSERT INTO events (\(eventColumns))
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
        ON CONFLICT (id) DO UPDATE SET camera = excluded.camera, zone = excluded.zone,
        started_at = excluded.started_at, fired_at = excluded.fired_at, ended_at = excluded.ended_at,
        peak = excluded.peak, last_count = excluded.last_count, last_notified_at = excluded.last_notified_at,
        reminders = excluded.reminders, policy_name = excluded.policy_name,
        policy_parameters = excluded.policy_parameters,
        fired_count = COALESCE(excluded.fired_count, events.fired_count),
        \(keepingEnrichment(of: { "excluded.\($0)" }, filledFrom: { "events.\($0)" }))
        """

    static let insertDeliverySQL = """
        INSERT INTO deliveries (\(deliveryColumns))
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
        ON CONFLICT (id) DO NOTHING
        """

    /// The event upsert and the change's new deliveries, inside the caller's transaction.
    static func apply(_ change: EventChange, on c: PostgresConnection, logger: Logger) async throws {
        var binds = PostgresBindings(capacity: 19)
        bindEvent(change.event, into: &binds)
        try await c.query(PostgresQuery(unsafeSQL: upsertEventSQL, binds: binds), logger: logger)
        for d in change.deliveries {
            let (status, remoteID, reason) = columns(of: d.status)
            var b = PostgresBindings(capacity: 15)
            b.append(d.id)
            b.append(d.eventID.rawValue)
            b.append(d.notifier)
            b.append(d.kind.rawValue)
            b.append(d.sequence)
            b.append(status)
            b.append(remoteID)
            b.append(reason)
            b.append(d.attempts)
            b.append(d.createdAt)
            b.append(d.updatedAt)
            b.append(d.lastError)
            b.append(d.lease?.owner)
            b.append(d.lease?.until)
            b.append(d.retryAt)
            do {
                try await c.query(PostgresQuery(unsafeSQL: insertDeliverySQL, binds: b), logger: logger)
            } catch where sqlState(error) == "23503" {
                throw EventStoreError(.invalid, "delivery \(d.id) refers to an event that is not stored")
            }
        }
    }

    /// One update of the enrichment columns (no read of the event).
    public func enrich(_ e: CrowdEvent) async throws {
        var b = PostgresBindings()
        var placeholders: [String: String] = [:]
        func bind(_ column: String, _ value: String?) {
            b.append(value)
            placeholders[column] = "$\(b.count)"
        }
        bind("camera_name", e.cameraName)
        bind("zone_name", e.zoneName)
        bind("video_url", e.videoURL)
        bind("vision_url", e.visionURL)
        bind("snapshot_url", e.snapshotURL)
        bind("enrichment_notes", JSONText.encode(e.enrichmentNotes))
        b.append(e.id.rawValue)
        let assignments = Self.keepingEnrichment(of: { $0 }, filledFrom: { placeholders[$0] ?? "NULL" })
        let sql = "UPDATE events SET \(assignments) WHERE id = $\(b.count) RETURNING id"
        let rows = try await query(PostgresQuery(unsafeSQL: sql, binds: b), "cannot enrich event \(e.id)")
        if rows.isEmpty { throw EventStoreError(.notFound, "no event \(e.id)") }
    }

    public func record(id: CrowdEventID) async throws -> EventRecord? {
        let rows = try await query(
            "SELECT \(unescaped: Self.eventColumns) FROM events WHERE id = \(id.rawValue)", "cannot read event \(id)")
        guard let row = rows.first else { return nil }
        let event = try Self.event(from: row)
        return EventRecord(event: event, deliveries: try await deliveries(of: [event.id])[event.id] ?? [])
    }

    public func events(_ query: EventQuery) async throws -> EventPage {
        let limit = query.effectiveLimit
        var clauses: [String] = []
        var b = PostgresBindings()
        if !query.cameras.isEmpty {
            b.append(query.cameras.sorted())
            clauses.append("camera = ANY($\(b.count))")
        }
        if !query.zones.isEmpty {
            b.append(query.zones.sorted())
            clauses.append("zone = ANY($\(b.count))")
        }
        if let from = query.startedFrom {
            b.append(from)
            clauses.append("started_at >= $\(b.count)")
        }
        if let before = query.startedBefore {
            b.append(before)
            clauses.append("started_at < $\(b.count)")
        }
        if let cursor = query.cursor {
            b.append(cursor.startedAt)
            b.append(cursor.id.rawValue)
            clauses.append("(started_at, id) < ($\(b.count - 1), $\(b.count))")
        }
        b.append(limit + 1)
        let whereSQL = clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND ")
        let sql = "SELECT \(Self.eventColumns) FROM events\(whereSQL) ORDER BY started_at DESC, id DESC LIMIT $\(b.count)"
        var texts = DecodedTexts()
        var events = try await self.query(PostgresQuery(unsafeSQL: sql, binds: b), "cannot list events").map {
            try Self.event(from: $0, texts: &texts)
        }
        var next: EventCursor?
        if events.count > limit {
            events.removeLast(events.count - limit)
            let last = events[events.count - 1]
            next = EventCursor(startedAt: last.startedAt, id: last.id)
        }
        // Deliveries are written in the same transaction as their event, and never removed while
        // it exists: every event listed above has its deliveries (and perhaps newer ones).
        let deliveries = try await deliveries(of: events.map(\.id))
        return EventPage(records: events.map { EventRecord(event: $0, deliveries: deliveries[$0.id] ?? []) }, nextCursor: next)
    }

    /// The deliveries of these events, each event's oldest first.
    func deliveries(of ids: [CrowdEventID]) async throws -> [CrowdEventID: [Delivery]] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await query(
            """
            SELECT \(unescaped: Self.deliveryColumns) FROM deliveries WHERE event_id = ANY(\(ids.map(\.rawValue)))
            ORDER BY created_at, id
            """, "cannot read deliveries")
        var result: [CrowdEventID: [Delivery]] = [:]
        for row in rows {
            let d = try Self.delivery(from: row)
            result[d.eventID, default: []].append(d)
        }
        return result
    }
}
