import CrowdKitCore
import Foundation
import GRDB
import Logging

/// Events: writes (group-committed or in one transaction), reads and pages.
extension SQLiteEventStore {
    // MARK: - EventStore

    public func apply(_ change: EventChange) async throws {
        try await groupCommit.apply(.change(change)) { writes in self.writeBatch(writes) }
    }

    static func perform(_ write: PendingWrite, in db: Database) throws {
        switch write {
        case .change(let change): try apply(change, in: db)
        case .delivery(let delivery): try update(delivery, in: db)
        case .enrichment(let event): try enrich(event, in: db)
        }
    }

    /// One update of the enrichment columns, group-committed (no read of the event).
    public func enrich(_ enriched: CrowdEvent) async throws {
        try await groupCommit.apply(.enrichment(enriched)) { writes in self.writeBatch(writes) }
    }

    static func enrich(_ e: CrowdEvent, in db: Database) throws {
        let stmt = try db.cachedStatement(
            sql: "UPDATE events SET \(keepingEnrichment(of: { $0 }, filledFrom: { ":\($0)" })) WHERE id = :id")
        try stmt.execute(arguments: [
            "cameraName": e.cameraName, "zoneName": e.zoneName, "videoURL": e.videoURL, "visionURL": e.visionURL,
            "snapshotURL": e.snapshotURL, "enrichmentNotes": CompactJSON.encode(e.enrichmentNotes), "id": e.id.rawValue,
        ])
        if db.changesCount == 0 {
            throw EventStoreError(.notFound, "no event \(e.id)")
        }
    }

    /// Writes `changes` in one transaction, each in its own savepoint; a failing change is rolled
    /// back alone and reported in its slot.
    func writeBatch(_ changes: [PendingWrite]) -> [Result<Void, any Error>] {
        if changes.count == 1 {
            do {
                try writeNow { db in try Self.perform(changes[0], in: db) }
                return [.success(())]
            } catch let error as EventStoreError {
                return [.failure(error)]
            } catch {
                return [.failure(Self.wrap(error, "write failed"))]
            }
        }
        do {
            return try writeNow { db in
                var results: [Result<Void, any Error>] = []
                results.reserveCapacity(changes.count)
                for change in changes {
                    do {
                        try db.inSavepoint {
                            try Self.perform(change, in: db)
                            return .commit
                        }
                        results.append(.success(()))
                    } catch let error as EventStoreError {
                        results.append(.failure(error))
                    } catch {
                        results.append(.failure(Self.wrap(error, "write failed")))
                    }
                }
                return results
            }
        } catch {
            let wrapped = Self.wrap(error, "write failed")
            return changes.map { _ in .failure(wrapped) }
        }
    }

    /// Applies several changes in one transaction (all or nothing), in order. Much faster than
    /// one ``apply(_:)`` each when a burst of changes is ready at once.
    public func apply(contentsOf changes: [EventChange]) async throws {
        guard !changes.isEmpty else { return }
        try await write { db in
            for change in changes { try Self.apply(change, in: db) }
        }
    }

    public func record(id: CrowdEventID) async throws -> EventRecord? {
        try await read { db in
            let stmt = try db.cachedStatement(sql: "SELECT \(Self.eventColumns) FROM events WHERE id = ?")
            guard let row = try Row.fetchOne(stmt, arguments: [id.rawValue]) else { return nil }
            let event = try Self.event(from: row)
            return EventRecord(event: event, deliveries: try Self.deliveries(of: [event.id], in: db)[event.id] ?? [])
        }
    }

    public func events(_ query: EventQuery) async throws -> EventPage {
        let limit = query.effectiveLimit
        var clauses: [String] = []
        var arguments = StatementArguments()
        if !query.cameras.isEmpty {
            let cams = query.cameras.sorted()
            clauses.append("camera IN (\(databaseQuestionMarks(count: cams.count)))")
            arguments += StatementArguments(cams)
        }
        if !query.zones.isEmpty {
            let zones = query.zones.sorted()
            clauses.append("zone IN (\(databaseQuestionMarks(count: zones.count)))")
            arguments += StatementArguments(zones)
        }
        if let from = query.startedFrom {
            clauses.append("startedAt >= ?")
            arguments += [from]
        }
        if let before = query.startedBefore {
            clauses.append("startedAt < ?")
            arguments += [before]
        }
        if let cursor = query.cursor {
            clauses.append("startedAt <= ? AND (startedAt < ? OR id < ?)")
            arguments += [cursor.startedAt, cursor.startedAt, cursor.id.rawValue]
        }
        let whereSQL = clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND ")
        let sql =
            "SELECT \(Self.eventColumns) FROM events\(whereSQL) ORDER BY startedAt DESC, id DESC LIMIT \(limit + 1)"
        let boundArguments = arguments
        return try await read { db in
            var events: [CrowdEvent] = []
            events.reserveCapacity(limit + 1)
            // A cursor reads columns straight from the statement, without copying rows.
            let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: boundArguments)
            while let row = try rows.next() { events.append(try Self.event(from: row)) }
            var next: EventCursor?
            if events.count > limit {
                events.removeLast(events.count - limit)
                let last = events[events.count - 1]
                next = EventCursor(startedAt: last.startedAt, id: last.id)
            }
            let deliveries = try Self.deliveries(of: events.map(\.id), in: db)
            return EventPage(
                records: events.map { EventRecord(event: $0, deliveries: deliveries[$0.id] ?? []) },
                nextCursor: next)
        }
    }
}
