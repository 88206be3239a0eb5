import CrowdKitCore
import Foundation
import GRDB

/// What people said about events (``EventFeedbackStore``): acknowledgements and labels in
/// `event_feedback` (one row per event and kind, the first kept), and the inbound action ids
/// already handled in `processed_actions` (the primary key makes a second claim of an id fail,
/// also from another process on the same file and after a restart).
///
/// Feedback is not pruned with its event: labels outlive the events they judge (backtests run
/// on captures), and both tables stay small (one row per button press).
extension SQLiteEventStore: EventFeedbackStore {
    /// A row of `event_feedback`.
    struct FeedbackRecord: Codable, FetchableRecord, PersistableRecord {
        static let databaseTableName = "event_feedback"

        var eventID: String
        var camera: String
        var zone: String
        var startedAt: Int64
        var endedAt: Int64?
        var kind: String
        var byWhom: String
        var at: Int64

        enum Columns {
            static let eventID = Column(CodingKeys.eventID)
            /// The order entries were added in (`INTEGER PRIMARY KEY AUTOINCREMENT`, not a field).
            static let seq = Column("seq")
        }

        init(_ f: EventFeedback) {
            eventID = f.eventID.rawValue
            camera = f.camera
            zone = f.zone
            startedAt = f.startedAt
            endedAt = f.endedAt
            kind = f.kind.rawValue
            byWhom = f.by
            at = f.at
        }

        var feedback: EventFeedback {
            EventFeedback(
                eventID: CrowdEventID(rawValue: eventID), camera: camera, zone: zone, startedAt: startedAt, endedAt: endedAt,
                kind: EventFeedback.Kind(rawValue: kind), by: byWhom, at: at)
        }
    }

    /// A row of `processed_actions`.
    struct ProcessedActionRecord: Codable, FetchableRecord, PersistableRecord {
        static let databaseTableName = "processed_actions"
        var id: String
        var at: Int64
    }

    @discardableResult
    public func add(_ feedback: EventFeedback) async throws -> Bool {
        let record = FeedbackRecord(feedback)
        return try await write { db in
            try record.insert(db, onConflict: .ignore)
            return db.changesCount > 0
        }
    }

    public func feedback(for id: CrowdEventID) async throws -> [EventFeedback] {
        try await feedback(for: [id])[id] ?? []
    }

    public func feedback(for ids: [CrowdEventID]) async throws -> [CrowdEventID: [EventFeedback]] {
        guard !ids.isEmpty else { return [:] }
        let keys = Set(ids.map(\.rawValue))
        let records = try await read { db in
            try FeedbackRecord.filter(keys.contains(FeedbackRecord.Columns.eventID)).order(FeedbackRecord.Columns.seq).fetchAll(db)
        }
        return Dictionary(grouping: records.map(\.feedback), by: \.eventID)
    }

    public func all() async throws -> [EventFeedback] {
        try await read { db in try FeedbackRecord.order(FeedbackRecord.Columns.seq).fetchAll(db) }.map(\.feedback)
    }

    public func claimAction(id: String, at: Int64) async throws -> Bool {
        let record = ProcessedActionRecord(id: id, at: at)
        return try await write { db in
            try record.insert(db, onConflict: .ignore)
            return db.changesCount > 0
        }
    }
}
