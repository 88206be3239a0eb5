import CrowdKitCore
import Foundation
import GRDB
import Logging

/// Row mapping: events and deliveries to and from SQL rows.
extension SQLiteEventStore {
    // MARK: - Row mapping

    static let eventColumns =
        "id, camera, zone, cameraName, zoneName, startedAt, firedAt, endedAt, peak, lastCount, lastNotifiedAt, reminders, policyName, policyParameters, videoURL, visionURL, snapshotURL, enrichmentNotes, firedCount"
    static let deliveryColumns =
        "id, eventID, notifier, kind, sequence, status, remoteID, failureReason, attempts, createdAt, updatedAt, lastError, leaseOwner, leaseUntil, retryAt"

    /// ``EventEnrichment``'s rule as SQL assignments, generated from ``EventEnrichment/columns``:
    /// the event `kept` keeps each enrichment column it has and takes the rest from `other`; it
    /// takes `other`'s notes only when it has no enrichment at all. `kept` and `other` map a
    /// column name to an SQL expression (a column of a row, or a named argument).
    static func keepingEnrichment(of kept: (String) -> String, filledFrom other: (String) -> String) -> String {
        let columns = EventEnrichment.columns
        let bare = (columns.map { "\(kept($0)) IS NULL" } + ["\(kept("enrichmentNotes")) = '[]'"]).joined(separator: " AND ")
        return (columns.map { "\($0) = COALESCE(\(kept($0)), \(other($0)))" }
            + ["enrichmentNotes = CASE WHEN \(bare) THEN \(other("enrichmentNotes")) ELSE \(kept("enrichmentNotes")) END"])
            .joined(separator: ",\n")
    }

    static func apply(_ change: EventChange, in db: Database) throws {
        let e = change.event
        let stmt = try db.cachedStatement(
            sql: """
                INSERT INTO events (\(eventColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET camera = excluded.camera, zone = excluded.zone,
                startedAt = excluded.startedAt, firedAt = excluded.firedAt, endedAt = excluded.endedAt,
                peak = excluded.peak, lastCount = excluded.lastCount, lastNotifiedAt = excluded.lastNotifiedAt,
                reminders = excluded.reminders, policyName = excluded.policyName,
                policyParameters = excluded.policyParameters,
                firedCount = COALESCE(excluded.firedCount, events.firedCount),
                \(keepingEnrichment(of: { "excluded.\($0)" }, filledFrom: { "events.\($0)" }))
                """)
        var args: [(any DatabaseValueConvertible)?] = [e.id.rawValue, e.camera, e.zone, e.cameraName, e.zoneName]
        args += [e.startedAt, e.firedAt, e.endedAt, e.peak, e.lastCount, e.lastNotifiedAt, e.reminders]
        args += [e.policy.name, CompactJSON.encode(e.policy.parameters), e.videoURL, e.visionURL, e.snapshotURL]
        args += [CompactJSON.encode(e.enrichmentNotes), e.firedCount]
        try stmt.execute(arguments: StatementArguments(args))
        guard !change.deliveries.isEmpty else { return }
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO deliveries (\(deliveryColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO NOTHING
                """)
        for d in change.deliveries {
            let (status, remoteID, reason) = columns(of: d.status)
            var dargs: [(any DatabaseValueConvertible)?] = [d.id, d.eventID.rawValue, d.notifier, d.kind.rawValue]
            dargs += [d.sequence, status, remoteID, reason, d.attempts, d.createdAt, d.updatedAt, d.lastError]
            dargs += [d.lease?.owner, d.lease?.until, d.retryAt]
            do {
                try insert.execute(arguments: StatementArguments(dargs))
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw EventStoreError(.invalid, "delivery \(d.id) refers to an event that is not stored")
            }
        }
    }

    static func columns(of status: DeliveryStatus) -> (String, String?, String?) {
        switch status {
        case .pending: ("pending", nil, nil)
        case .sent(let remoteID): ("sent", remoteID, nil)
        case .failed(let reason): ("failed", nil, reason)
        case .expired(let reason): ("expired", nil, reason)
        case .suppressed(let reason): ("suppressed", nil, reason)
        }
    }

    static func event(from row: Row) throws -> CrowdEvent {
        var e = CrowdEvent(
            camera: row["camera"], zone: row["zone"], startedAt: row["startedAt"], firedAt: row["firedAt"],
            endedAt: row["endedAt"], peak: row["peak"], lastCount: row["lastCount"],
            policy: PolicyDescription(name: row["policyName"], parameters: try CompactJSON.decodeParameters(row["policyParameters"])),
            cameraName: row["cameraName"], zoneName: row["zoneName"])
        e.id = CrowdEventID(rawValue: row["id"])
        e.lastNotifiedAt = row["lastNotifiedAt"]
        e.reminders = row["reminders"]
        e.videoURL = row["videoURL"]
        e.visionURL = row["visionURL"]
        e.snapshotURL = row["snapshotURL"]
        e.enrichmentNotes = try CompactJSON.decodeStrings(row["enrichmentNotes"])
        e.firedCount = row["firedCount"]
        return e
    }

    /// The `kind` column.
    static func kind(from row: Row) throws -> NotificationKind {
        let text: String = row["kind"]
        guard let kind = NotificationKind(rawValue: text) else {
            throw EventStoreError(.unavailable, "unknown notification kind \(text) in delivery store")
        }
        return kind
    }

    /// The `leaseOwner` and `leaseUntil` columns.
    static func lease(from row: Row) -> DeliveryLease? {
        guard let owner: String = row["leaseOwner"], let until: Int64 = row["leaseUntil"] else { return nil }
        return DeliveryLease(owner: owner, until: until)
    }

    static func delivery(from row: Row) throws -> Delivery {
        let kind = try kind(from: row)
        let statusText: String = row["status"]
        let status: DeliveryStatus
        switch statusText {
        case "sent": status = .sent(remoteID: row["remoteID"])
        case "failed": status = .failed(reason: row["failureReason"] ?? "")
        case "expired": status = .expired(reason: row["failureReason"] ?? "")
        case "suppressed": status = .suppressed(reason: row["failureReason"] ?? "")
        default: status = .pending
        }
        var d = Delivery(
            eventID: CrowdEventID(rawValue: row["eventID"]), notifier: row["notifier"], kind: kind, sequence: row["sequence"],
            status: status, attempts: row["attempts"], createdAt: row["createdAt"], updatedAt: row["updatedAt"],
            lastError: row["lastError"], lease: lease(from: row), retryAt: row["retryAt"])
        d.id = row["id"]
        return d
    }

    static func deliveries(of ids: [CrowdEventID], in db: Database) throws -> [CrowdEventID: [Delivery]] {
        guard !ids.isEmpty else { return [:] }
        var result: [CrowdEventID: [Delivery]] = [:]
        // Chunks stay far below SQLite's bound-parameter limit.
        var start = 0
        while start < ids.count {
            let chunk = ids[start..<min(start + 500, ids.count)]
            let sql =
                "SELECT \(deliveryColumns) FROM deliveries WHERE eventID IN (\(databaseQuestionMarks(count: chunk.count))) ORDER BY createdAt, id"
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: sql), arguments: StatementArguments(chunk.map(\.rawValue)))
            while let row = try rows.next() {
                let d = try delivery(from: row)
                result[d.eventID, default: []].append(d)
            }
            start += 500
        }
        return result
    }
}
