import CrowdKitCore
import CrowdKitSQLite
import CrowdKitTesting
import Foundation
import Testing

/// A settings store without the compare-and-set: every save wins.
actor LastWriteWinsStore: SettingsStore {
    let base = InMemoryEventStore()
    func loadSettings() async throws -> RuntimeSettings? { try await base.loadSettings() }
    func saveSettings(_ settings: RuntimeSettings, expectedVersion: Int, audit: AuditEntry) async throws -> RuntimeSettings {
        let current = try await base.loadSettings()?.version ?? 0
        return try await base.saveSettings(settings, expectedVersion: current, audit: audit)
    }
    func addMute(_ mute: Mute, audit: AuditEntry) async throws { try await base.addMute(mute, audit: audit) }
    func removeMute(id: String, audit: AuditEntry) async throws -> Bool { try await base.removeMute(id: id, audit: audit) }
    func mutes(activeAt ms: Int64) async throws -> [Mute] { try await base.mutes(activeAt: ms) }
    func appendAudit(_ entry: AuditEntry) async throws { try await base.appendAudit(entry) }
    func audit(limit: Int) async throws -> [AuditEntry] { try await base.audit(limit: limit) }
}

@Suite("Settings stores (SEMANTICS §7)")
struct SettingsStoreTests {
    @Test("SQLiteEventStore passes the SettingsStore conformance suite, reopening included")
    func sqlite() async throws {
        let dir = try TemporaryDirectory()
        var n = 0
        try await SettingsStoreConformance.run(
            makeStore: {
                n += 1
                return try SQLiteEventStore(path: dir.file("s\(n).sqlite"), logger: quietLogger)
            },
            reopen: { store in
                let path = (store as! SQLiteEventStore).configuration.path
                return try SQLiteEventStore(path: path, logger: quietLogger)
            })
    }

    @Test("InMemoryEventStore passes the SettingsStore conformance suite")
    func inMemory() async throws {
        try await SettingsStoreConformance.run { InMemoryEventStore() }
    }

    @Test("the suite catches a store without compare-and-set")
    func catchesLastWriteWins() async throws {
        do {
            try await SettingsStoreConformance.run { LastWriteWinsStore() }
            Issue.record("a store without compare-and-set passed")
        } catch let failure as ConformanceFailure {
            #expect(failure.description.contains("saveIsCompareAndSet"))
            #expect(failure.description.contains("concurrentSavesOneWins"))
            #expect(!failure.description.contains("auditNewestFirst"))
        }
    }
}
