import CrowdKitCore
import Foundation
import PostgresNIO

/// Run-time settings, mutes and the audit log (``SettingsStore``): the settings are one row
/// holding the document of `GET /api/settings` and its version; a save is a compare-and-set (an
/// insert that does nothing when a row exists, or an update of the expected version only) in one
/// transaction with its audit entry. Of two saves at once, the second waits for the first's row
/// lock and then matches nothing.
extension PostgresEventStore: SettingsStore {
    public func loadSettings() async throws -> RuntimeSettings? {
        let rows = try await query("SELECT version, document FROM settings WHERE id = 1", "cannot read the settings")
        guard let row = rows.first else { return nil }
        let (version, text) = try row.decode((Int, String).self)
        return try SettingsDocument.stored(text, version: version)
    }

    public func saveSettings(_ settings: RuntimeSettings, expectedVersion: Int, audit: AuditEntry) async throws -> RuntimeSettings {
        var next = settings
        next.version = expectedVersion + 1
        let stored = next
        let document = String(decoding: SettingsDocument.encode(stored), as: UTF8.self)
        let logger = self.logger
        let conflict: Int? = try await transaction("cannot save the settings") { c in
            let written: PostgresRowSequence
            if expectedVersion == 0 {
                written = try await c.query(
                    """
                    INSERT INTO settings (id, version, document) VALUES (1, \(stored.version), \(document))
                    ON CONFLICT (id) DO NOTHING RETURNING version
                    """, logger: logger)
            } else {
                written = try await c.query(
                    """
                    UPDATE settings SET version = \(stored.version), document = \(document)
                    WHERE id = 1 AND version = \(expectedVersion) RETURNING version
                    """, logger: logger)
            }
            if try await written.collect().isEmpty {
                let current = try await c.query("SELECT version FROM settings WHERE id = 1", logger: logger).collect()
                return try current.first?.decode(Int.self) ?? 0
            }
            try await Self.insert(audit, on: c, logger: logger)
            return nil
        }
        if let current = conflict { throw SettingsStoreError.versionConflict(current: current) }
        return stored
    }

    public func addMute(_ mute: Mute, audit: AuditEntry) async throws {
        let logger = self.logger
        try await transaction("cannot add mute \(mute.id)") { c in
            do {
                try await c.query(
                    """
                    INSERT INTO mutes (id, selector, from_time, until_time, reason, by_whom)
                    VALUES (\(mute.id), \(mute.selector.description), \(mute.from), \(mute.until), \(mute.reason), \(mute.by))
                    """, logger: logger)
            } catch where Self.sqlState(error) == "23505" {
                throw EventStoreError(.invalid, "mute \(mute.id) exists")
            }
            try await Self.insert(audit, on: c, logger: logger)
        }
    }

    public func removeMute(id: String, audit: AuditEntry) async throws -> Bool {
        let logger = self.logger
        return try await transaction("cannot remove mute \(id)") { c in
            let deleted = try await c.query("DELETE FROM mutes WHERE id = \(id) RETURNING id", logger: logger).collect()
            guard !deleted.isEmpty else { return false }
            try await Self.insert(audit, on: c, logger: logger)
            return true
        }
    }

    public func mutes(activeAt ms: Int64) async throws -> [Mute] {
        try await query(
            """
            SELECT id, selector, from_time, until_time, reason, by_whom FROM mutes
            WHERE from_time <= \(ms) AND until_time > \(ms) ORDER BY from_time, id
            """, "cannot read mutes"
        ).compactMap { row -> Mute? in
            let (id, selectorText, from, until, reason, by) = try row.decode((String, String, Int64, Int64, String, String).self)
            guard let selector = ZoneSelector(parsing: selectorText) else { return nil }
            return Mute(id: id, selector: selector, from: from, until: until, reason: reason, by: by)
        }
    }

    public func appendAudit(_ entry: AuditEntry) async throws {
        try await query(
            "INSERT INTO audit (at, by_whom, action, summary) VALUES (\(entry.at), \(entry.by), \(entry.action), \(entry.summary))",
            "cannot write the audit log")
    }

    public func audit(limit: Int) async throws -> [AuditEntry] {
        try await query(
            "SELECT at, by_whom, action, summary FROM audit ORDER BY seq DESC LIMIT \(max(limit, 0))", "cannot read the audit log"
        ).map { row in
            let (at, by, action, summary) = try row.decode((Int64, String, String, String).self)
            return AuditEntry(at: at, by: by, action: action, summary: summary)
        }
    }

    static func insert(_ entry: AuditEntry, on c: PostgresConnection, logger: Logger) async throws {
        try await c.query(
            "INSERT INTO audit (at, by_whom, action, summary) VALUES (\(entry.at), \(entry.by), \(entry.action), \(entry.summary))",
            logger: logger)
    }
}
