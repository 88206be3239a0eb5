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

    @Test("SQLite and InMemoryEventStore pass the OccupancyHistoryStore conformance suite")
    func occupancyHistory() async throws {
        let dir = try TemporaryDirectory()
        var n = 0
        try await OccupancyHistoryStoreConformance.run {
            n += 1
            return try SQLiteEventStore(path: dir.file("o\(n).sqlite"), logger: quietLogger)
        }
        try await OccupancyHistoryStoreConformance.run { InMemoryEventStore() }
    }

    @Test("the occupancy suite catches a store that keeps the first of two writes of a minute")
    func catchesKeepFirst() async throws {
        do {
            try await OccupancyHistoryStoreConformance.run { KeepFirstHistory() }
            Issue.record("a store that keeps the first write passed")
        } catch let failure as ConformanceFailure {
            #expect(failure.description.contains("rewrittenMinuteReplaces"))
            #expect(!failure.description.contains("pruneRemovesOlderMinutes"))
        }
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

/// Keeps the first write of a minute (the suite must catch it).
actor KeepFirstHistory: OccupancyHistoryStore {
    var minutes: [ZoneKey: [Int64: OccupancyMinute]] = [:]
    func appendOccupancy(_ list: [OccupancyMinute]) async throws {
        for m in list where minutes[m.zone]?[m.minute] == nil { minutes[m.zone, default: [:]][m.minute] = m }
    }
    func occupancy(of zone: ZoneKey, from: Int64, to: Int64) async throws -> [OccupancyMinute] {
        (minutes[zone] ?? [:]).values.filter { $0.minute >= from && $0.minute < to }.sorted { $0.minute < $1.minute }
    }
    func pruneOccupancy(before: Int64) async throws -> Int {
        var n = 0
        for (z, list) in minutes {
            let old = list.keys.filter { $0 < before }
            n += old.count
            for k in old { minutes[z]?[k] = nil }
        }
        return n
    }
}
