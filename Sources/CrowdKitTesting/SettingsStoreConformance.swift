import CrowdKitCore
import Foundation

/// Checks a ``SettingsStore``: versioned compare-and-set (one of two concurrent saves wins), the
/// document read back as saved, active mutes, audit newest first, and (with `reopen`) that all of
/// it survives a restart.
///
/// ```swift
/// try await SettingsStoreConformance.run { try MyStore(path: temporaryFile()) }
/// ```
public enum SettingsStoreConformance {
    public enum Check: String, CaseIterable, Sendable {
        case emptyStoreHasNoSettings
        case saveIsCompareAndSet
        case concurrentSavesOneWins
        case documentReadsBackAsSaved
        case mutesActiveAndRemoved
        case auditNewestFirst
        case survivesReopening
    }

    static let suite = "SettingsStore"

    /// A document using every part of the settings.
    public static func sampleSettings() -> RuntimeSettings {
        var s = RuntimeSettings()
        s.paused = true
        s.defaults = ParameterSet([.minPeople: 4, .dwellSeconds: 45.5])
        s.overrides[.zone(ZoneKey(camera: "Q2MV-AAAA-0001", zone: "5843"))] = ParameterSet([.minPeople: 8])
        s.overrides[.camera("Q2MV-AAAA-0001")] = ParameterSet([.cooldownSeconds: 600])
        let paris = TimeZone(identifier: "Europe/Paris")!
        s.schedules = [
            SettingsSchedule(
                name: "lunch", selector: .camera("Q2MV-AAAA-0001"),
                schedule: WeeklySchedule(timeZone: paris, windows: [WeeklyWindow(days: [.mon, .fri], from: 690, to: 840)]),
                parameters: ParameterSet([.minPeople: 12]))
        ]
        s.quietHours = [
            QuietHours(name: "night", selector: .all, schedule: WeeklySchedule(timeZone: paris, windows: [WeeklyWindow(days: [.sun], from: 1320, to: 360)]))
        ]
        s.recipients = SettingsRecipients(webex: .roomId("ROOM-1"), webhooks: ["https://hooks.example/crowd"])
        return s
    }

    static func entry(_ action: String, _ n: Int) -> AuditEntry {
        AuditEntry(at: 1_000 + Int64(n), by: "tester", action: action, summary: "\(action) \(n)")
    }

    public static func run(
        makeStore: () async throws -> any SettingsStore,
        reopen: ((any SettingsStore) async throws -> any SettingsStore)? = nil
    ) async throws {
        try await ConformanceRunner.run(suite, Check.self) { check in try await run(check, try await makeStore(), reopen: reopen) }
    }

    static func run(_ check: Check, _ store: any SettingsStore, reopen: ((any SettingsStore) async throws -> any SettingsStore)?) async throws {
        func fail(_ m: String) -> ConformanceFailure { ConformanceFailure(suite: suite, check: check.rawValue, message: m) }
        switch check {
        case .emptyStoreHasNoSettings:
            if try await store.loadSettings() != nil { throw fail("a new store must have no settings") }
            if try await !store.mutes(activeAt: 0).isEmpty { throw fail("a new store must have no mutes") }
            if try await !store.audit(limit: 10).isEmpty { throw fail("a new store must have no audit entries") }
        case .saveIsCompareAndSet:
            let first = try await store.saveSettings(sampleSettings(), expectedVersion: 0, audit: entry("settings", 1))
            guard first.version == 1 else { throw fail("the first save must be version 1, got \(first.version)") }
            do {
                _ = try await store.saveSettings(RuntimeSettings(), expectedVersion: 0, audit: entry("settings", 2))
                throw fail("a save expecting version 0 over version 1 must be refused")
            } catch SettingsStoreError.versionConflict(let current) {
                guard current == 1 else { throw fail("the conflict must name version 1, got \(current)") }
            }
            guard try await store.loadSettings()?.version == 1 else { throw fail("a refused save must change nothing") }
            let second = try await store.saveSettings(RuntimeSettings(), expectedVersion: 1, audit: entry("settings", 3))
            guard second.version == 2 else { throw fail("the next save must be version 2, got \(second.version)") }
            guard try await store.audit(limit: 10).count == 2 else { throw fail("only successful saves are audited") }
        case .concurrentSavesOneWins:
            let wins = await withTaskGroup(of: Bool.self) { group in
                for i in 0..<8 {
                    group.addTask {
                        (try? await store.saveSettings(sampleSettings(), expectedVersion: 0, audit: entry("settings", i))) != nil
                    }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            guard wins == 1 else { throw fail("of 8 saves expecting version 0, exactly one must succeed; \(wins) did") }
        case .documentReadsBackAsSaved:
            let saved = try await store.saveSettings(sampleSettings(), expectedVersion: 0, audit: entry("settings", 1))
            guard let loaded = try await store.loadSettings() else { throw fail("saved settings must load") }
            guard loaded == saved else { throw fail("loaded settings differ from the saved ones: \(loaded) vs \(saved)") }
        case .mutesActiveAndRemoved:
            let a = Mute(id: "a", selector: .zone(ZoneKey(camera: "C", zone: "1")), from: 1_000, until: 2_000, reason: "cleaning", by: "ops")
            let b = Mute(id: "b", selector: .camera("C"), from: 1_500, until: 3_000, reason: "", by: "local")
            try await store.addMute(a, audit: entry("mute", 1))
            try await store.addMute(b, audit: entry("mute", 2))
            guard try await store.mutes(activeAt: 999).isEmpty else { throw fail("no mute is active before its from") }
            guard try await store.mutes(activeAt: 1_600) == [a, b] else { throw fail("both mutes are active at 1600, by from") }
            guard try await store.mutes(activeAt: 2_000) == [b] else { throw fail("until is exclusive") }
            guard try await store.removeMute(id: "b", audit: entry("unmute", 3)) else { throw fail("removing a mute that exists must say so") }
            guard try await !store.removeMute(id: "b", audit: entry("unmute", 4)) else { throw fail("removing it again must say there is none") }
            guard try await store.mutes(activeAt: 2_500).isEmpty else { throw fail("a removed mute is not active") }
            guard try await store.audit(limit: 10).count == 3 else { throw fail("two mutes and one removal are audited, nothing else") }
        case .auditNewestFirst:
            for i in 0..<5 { try await store.appendAudit(entry(i % 2 == 0 ? "pause" : "resume", i)) }
            let two = try await store.audit(limit: 2)
            guard two.map(\.summary) == ["pause 4", "resume 3"] else { throw fail("audit(limit: 2) must be the two newest, newest first: \(two)") }
            guard try await store.audit(limit: 0).isEmpty else { throw fail("limit 0 gives nothing") }
        case .survivesReopening:
            guard let reopen else { return }
            let saved = try await store.saveSettings(sampleSettings(), expectedVersion: 0, audit: entry("settings", 1))
            let mute = Mute(id: "m", selector: .all, from: 0, until: 10_000, reason: "r", by: "b")
            try await store.addMute(mute, audit: entry("mute", 2))
            let again = try await reopen(store)
            guard try await again.loadSettings() == saved else { throw fail("settings must survive a reopen") }
            guard try await again.mutes(activeAt: 5) == [mute] else { throw fail("mutes must survive a reopen") }
            guard try await again.audit(limit: 10).count == 2 else { throw fail("the audit must survive a reopen") }
        }
    }
}
