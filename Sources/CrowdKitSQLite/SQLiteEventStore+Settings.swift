import CrowdKitCore
import Foundation
import GRDB

/// Run-time settings, mutes and the audit log (``SettingsStore``): the settings are one row
/// holding the document of `GET /api/settings` and its version; a save is a compare-and-set in
/// one write transaction with its audit entry.
extension SQLiteEventStore: SettingsStore {
    public func loadSettings() async throws -> RuntimeSettings? {
        let found: (version: Int, text: String)? = try await read { db in
            try Row.fetchOne(db, sql: "SELECT version, document FROM settings WHERE id = 1").map { ($0["version"], $0["document"]) }
        }
        guard let (version, text) = found else { return nil }
        return try SettingsDocument.stored(text, version: version)
    }

    public func saveSettings(_ settings: RuntimeSettings, expectedVersion: Int, audit: AuditEntry) async throws -> RuntimeSettings {
        var next = settings
        next.version = expectedVersion + 1
        let stored = next
        let document = String(decoding: SettingsDocument.encode(stored), as: UTF8.self)
        let outcome: Int? = try await write { db in
            let current = try Int.fetchOne(db, sql: "SELECT version FROM settings WHERE id = 1") ?? 0
            guard current == expectedVersion else { return current }
            try db.execute(
                sql: "INSERT OR REPLACE INTO settings (id, version, document) VALUES (1, ?, ?)", arguments: [stored.version, document])
            try Self.insert(audit, db)
            return nil
        }
        if let current = outcome { throw SettingsStoreError.versionConflict(current: current) }
        return stored
    }

    public func addMute(_ mute: Mute, audit: AuditEntry) async throws {
        try await write { db in
            do {
                try db.execute(
                    sql: "INSERT INTO mutes (id, selector, fromTime, untilTime, reason, byWhom) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [mute.id, mute.selector.description, mute.from, mute.until, mute.reason, mute.by])
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw EventStoreError(.invalid, "mute \(mute.id) exists")
            }
            try Self.insert(audit, db)
        }
    }

    public func removeMute(id: String, audit: AuditEntry) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM mutes WHERE id = ?", arguments: [id])
            guard db.changesCount > 0 else { return false }
            try Self.insert(audit, db)
            return true
        }
    }

    public func mutes(activeAt ms: Int64) async throws -> [Mute] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM mutes WHERE fromTime <= ? AND untilTime > ? ORDER BY fromTime, id", arguments: [ms, ms]
            ).compactMap { row -> Mute? in
                guard let selector = ZoneSelector(parsing: row["selector"]) else { return nil }
                return Mute(
                    id: row["id"], selector: selector, from: row["fromTime"], until: row["untilTime"], reason: row["reason"],
                    by: row["byWhom"])
            }
        }
    }

    public func appendAudit(_ entry: AuditEntry) async throws {
        try await write { db in try Self.insert(entry, db) }
    }

    public func audit(limit: Int) async throws -> [AuditEntry] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT at, byWhom, action, summary FROM audit ORDER BY seq DESC LIMIT ?", arguments: [max(limit, 0)])
                .map { AuditEntry(at: $0["at"], by: $0["byWhom"], action: $0["action"], summary: $0["summary"]) }
        }
    }

    static func insert(_ entry: AuditEntry, _ db: Database) throws {
        try db.execute(
            sql: "INSERT INTO audit (at, byWhom, action, summary) VALUES (?, ?, ?, ?)",
            arguments: [entry.at, entry.by, entry.action, entry.summary])
    }
}
