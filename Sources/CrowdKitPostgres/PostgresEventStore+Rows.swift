import CrowdKitCore
import Foundation
import PostgresNIO

/// Row mapping: events and deliveries to and from SQL rows.
extension PostgresEventStore {
    static let eventColumns =
        "id, camera, zone, camera_name, zone_name, started_at, fired_at, ended_at, peak, last_count, last_notified_at, reminders, policy_name, policy_parameters, video_url, vision_url, snapshot_url, enrichment_notes, fired_count"
    static let deliveryColumns =
        "id, event_id, notifier, kind, sequence, status, remote_id, failure_reason, attempts, created_at, updated_at, last_error, lease_owner, lease_until, retry_at"
    /// ``Delivery/position`` in SQL of the deliveries row named `table` in a query, for
    /// ``Delivery/outboxOrder`` (the expression of the `deliveries_pending` index).
    static func deliveryPosition(of table: String) -> String {
        "CASE \(table).kind WHEN 'fired' THEN 0 WHEN 'reminder' THEN \(table).sequence ELSE 2147483647 END"
    }

    /// A ``CrowdEvent`` property name as its column: `videoURL` → `video_url`.
    static func column(_ property: String) -> String {
        var out = ""
        var previousLower = false
        for ch in property {
            if ch.isUppercase && previousLower { out.append("_") }
            previousLower = ch.isLowercase
            out += ch.lowercased()
        }
        return out
    }

    /// ``EventEnrichment``'s rule as SQL assignments, generated from ``EventEnrichment/columns``
    /// (as in the SQLite store): the event `kept` keeps each enrichment column it has and takes
    /// the rest from `other`; it takes `other`'s notes only when it has no enrichment at all.
    /// `kept` and `other` map a column name to an SQL expression (a column or a placeholder).
    static func keepingEnrichment(of kept: (String) -> String, filledFrom other: (String) -> String) -> String {
        let columns = EventEnrichment.columns.map(column)
        let notes = column("enrichmentNotes")
        let bare = (columns.map { "\(kept($0)) IS NULL" } + ["\(kept(notes)) = '[]'"]).joined(separator: " AND ")
        return (columns.map { "\($0) = COALESCE(\(kept($0)), \(other($0)))" }
            + ["\(notes) = CASE WHEN \(bare) THEN \(other(notes)) ELSE \(kept(notes)) END"])
            .joined(separator: ",\n")
    }

    static func bindEvent(_ e: CrowdEvent, into b: inout PostgresBindings) {
        b.append(e.id.rawValue)
        b.append(e.camera)
        b.append(e.zone)
        b.append(e.cameraName)
        b.append(e.zoneName)
        b.append(e.startedAt)
        b.append(e.firedAt)
        b.append(e.endedAt)
        b.append(e.peak)
        b.append(e.lastCount)
        b.append(e.lastNotifiedAt)
        b.append(e.reminders)
        b.append(e.policy.name)
        b.append(JSONText.encode(e.policy.parameters))
        b.append(e.videoURL)
        b.append(e.visionURL)
        b.append(e.snapshotURL)
        b.append(JSONText.encode(e.enrichmentNotes))
        b.append(e.firedCount)
    }

    static func event(from row: PostgresRow) throws -> CrowdEvent {
        var texts = DecodedTexts()
        return try event(from: row, texts: &texts)
    }

    /// ``event(from:)`` for many rows: `texts` decodes each distinct JSON text once (the events
    /// of one policy share their parameters text, and most have no notes).
    static func event(from row: PostgresRow, texts: inout DecodedTexts) throws -> CrowdEvent {
        let c = try row.decode(
            (String, String, String, String?, String?, Int64, Int64, Int64?, Int, Int, Int64, Int, String, String, String?, String?,
                String?, String, Int?).self)
        var e = CrowdEvent(
            camera: c.1, zone: c.2, startedAt: c.5, firedAt: c.6, endedAt: c.7, peak: c.8, lastCount: c.9,
            policy: PolicyDescription(name: c.12, parameters: try texts.parameters(c.13)),
            cameraName: c.3, zoneName: c.4)
        e.id = CrowdEventID(rawValue: c.0)
        e.lastNotifiedAt = c.10
        e.reminders = c.11
        e.videoURL = c.14
        e.visionURL = c.15
        e.snapshotURL = c.16
        e.enrichmentNotes = try texts.strings(c.17)
        e.firedCount = c.18
        return e
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

    static func kind(_ text: String) throws -> NotificationKind {
        guard let kind = NotificationKind(rawValue: text) else {
            throw EventStoreError(.unavailable, "unknown notification kind \(text) in delivery store")
        }
        return kind
    }

    static func lease(owner: String?, until: Int64?) -> DeliveryLease? {
        guard let owner, let until else { return nil }
        return DeliveryLease(owner: owner, until: until)
    }

    /// A row of ``deliveryColumns``.
    static func delivery(from row: PostgresRow) throws -> Delivery {
        let c = try row.decode(
            (String, String, String, String, Int, String, String?, String?, Int, Int64, Int64, String?, String?, Int64?, Int64?).self)
        let status: DeliveryStatus
        switch c.5 {
        case "sent": status = .sent(remoteID: c.6)
        case "failed": status = .failed(reason: c.7 ?? "")
        case "expired": status = .expired(reason: c.7 ?? "")
        case "suppressed": status = .suppressed(reason: c.7 ?? "")
        default: status = .pending
        }
        var d = Delivery(
            eventID: CrowdEventID(rawValue: c.1), notifier: c.2, kind: try kind(c.3), sequence: c.4, status: status, attempts: c.8,
            createdAt: c.9, updatedAt: c.10, lastError: c.11, lease: lease(owner: c.12, until: c.13), retryAt: c.14)
        d.id = c.0
        return d
    }
}

/// The JSON texts of the rows read by one query, each decoded once.
struct DecodedTexts {
    private var parameters: [String: [String: Double]] = [:]
    private var strings: [String: [String]] = [:]

    mutating func parameters(_ text: String) throws -> [String: Double] {
        if let known = parameters[text] { return known }
        let value = try JSONText.decodeParameters(text)
        parameters[text] = value
        return value
    }

    mutating func strings(_ text: String) throws -> [String] {
        if let known = strings[text] { return known }
        let value = try JSONText.decodeStrings(text)
        strings[text] = value
        return value
    }
}

/// The two small JSON shapes kept in text columns (policy parameters, enrichment notes), in the
/// same form as the SQLite store writes them: keys sorted, non-finite numbers left out.
enum JSONText {
    static func encode(_ parameters: [String: Double]) -> String {
        let finite = parameters.filter { $0.value.isFinite }
        return encode(finite, fallback: "{}")
    }

    static func encode(_ strings: [String]) -> String { encode(strings, fallback: "[]") }

    private static func encode<T: Encodable>(_ value: T, fallback: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return fallback }
        return String(decoding: data, as: UTF8.self)
    }

    static func decodeParameters(_ text: String) throws -> [String: Double] {
        if text == "{}" { return [:] }
        return try JSONDecoder().decode([String: Double].self, from: Data(text.utf8))
    }

    static func decodeStrings(_ text: String) throws -> [String] {
        if text == "[]" { return [] }
        return try JSONDecoder().decode([String].self, from: Data(text.utf8))
    }
}
