import CrowdKitCore
import Foundation
import PostgresNIO

/// What people said about events (``EventFeedbackStore``): acknowledgements and labels in
/// `event_feedback` (one row per event and kind; `ON CONFLICT DO NOTHING` keeps the first), and
/// the inbound action ids already handled in `processed_actions`, whose primary key makes every
/// claim of an id after the first fail, whichever instance makes it.
///
/// Feedback is not pruned with its event: labels outlive the events they judge (backtests run
/// on captures), and both tables stay small (one row per button press).
extension PostgresEventStore: EventFeedbackStore {
    static let feedbackColumns = "event_id, camera, zone, started_at, ended_at, kind, by_whom, at"

    @discardableResult
    public func add(_ feedback: EventFeedback) async throws -> Bool {
        let f = feedback
        let rows = try await query(
            """
            INSERT INTO event_feedback (\(unescaped: Self.feedbackColumns))
            VALUES (\(f.eventID.rawValue), \(f.camera), \(f.zone), \(f.startedAt), \(f.endedAt), \(f.kind.rawValue), \(f.by), \(f.at))
            ON CONFLICT (event_id, kind) DO NOTHING RETURNING seq
            """, "cannot record feedback on event \(f.eventID)")
        return !rows.isEmpty
    }

    public func feedback(for id: CrowdEventID) async throws -> [EventFeedback] {
        try await feedback(for: [id])[id] ?? []
    }

    public func feedback(for ids: [CrowdEventID]) async throws -> [CrowdEventID: [EventFeedback]] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await query(
            """
            SELECT \(unescaped: Self.feedbackColumns) FROM event_feedback WHERE event_id = ANY(\(ids.map(\.rawValue)))
            ORDER BY seq
            """, "cannot read feedback")
        return Dictionary(grouping: try rows.map(Self.feedback(from:)), by: \.eventID)
    }

    public func all() async throws -> [EventFeedback] {
        try await query("SELECT \(unescaped: Self.feedbackColumns) FROM event_feedback ORDER BY seq", "cannot read feedback")
            .map(Self.feedback(from:))
    }

    public func claimAction(id: String, at: Int64) async throws -> Bool {
        let rows = try await query(
            "INSERT INTO processed_actions (id, at) VALUES (\(id), \(at)) ON CONFLICT (id) DO NOTHING RETURNING id",
            "cannot record a handled action")
        return !rows.isEmpty
    }

    static func feedback(from row: PostgresRow) throws -> EventFeedback {
        let (event, camera, zone, started, ended, kind, by, at) = try row.decode(
            (String, String, String, Int64, Int64?, String, String, Int64).self)
        return EventFeedback(
            eventID: CrowdEventID(rawValue: event), camera: camera, zone: zone, startedAt: started, endedAt: ended,
            kind: EventFeedback.Kind(rawValue: kind), by: by, at: at)
    }
}
