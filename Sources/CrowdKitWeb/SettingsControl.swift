import CrowdKitCore
import Foundation
import Logging

/// Live control (SEMANTICS.md §7): the run-time settings, mutes and pause, kept in a
/// ``SettingsStore`` and put in effect through ``LiveSettings`` (which the monitor obeys).
///
/// Every change goes to the store first (with its audit entry) and is in effect once stored.
/// ``run()`` also takes what other instances on the same store changed, every
/// ``refreshInterval``.
public struct SettingsControl: Sendable {
    public var store: any SettingsStore
    public var live: LiveSettings
    public var logger: Logger
    public var refreshInterval: Duration
    /// Host time, epoch milliseconds.
    public var now: @Sendable () -> Int64

    public init(
        store: any SettingsStore, live: LiveSettings, logger: Logger, refreshInterval: Duration = .seconds(2),
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.store = store
        self.live = live
        self.logger = logger
        self.refreshInterval = refreshInterval
        self.now = now
    }

    /// Loads what is stored into ``live``; at the very first start (nothing stored) saves `seed`
    /// (the configuration's settings) as version 1, audited as made by `configuration`.
    public func start(seed: RuntimeSettings) async throws {
        if try await store.loadSettings() == nil {
            do {
                _ = try await store.saveSettings(
                    seed, expectedVersion: 0,
                    audit: AuditEntry(at: now(), by: "configuration", action: "settings", summary: "seeded from the configuration"))
                logger.info("run-time settings seeded from the configuration")
            } catch SettingsStoreError.versionConflict {
                // another instance seeded them first
            }
        }
        try await refresh()
    }

    /// Takes the stored settings and the active mutes into ``live`` when they differ.
    public func refresh() async throws {
        let snapshot = live.snapshot
        if let stored = try await store.loadSettings(), stored != snapshot.settings {
            live.update(settings: stored)
        }
        let mutes = try await store.mutes(activeAt: now())
        if mutes != snapshot.mutes { live.update(mutes: mutes) }
    }

    /// Refreshes every ``refreshInterval`` until cancelled; a failing store is logged once a
    /// minute and tried again.
    public func run() async {
        var loggedAt: ContinuousClock.Instant?
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: refreshInterval)
            } catch {
                return
            }
            do {
                try await refresh()
                loggedAt = nil
            } catch {
                if loggedAt.map({ ContinuousClock.now - $0 >= .seconds(60) }) ?? true {
                    loggedAt = .now
                    logger.warning("cannot read the run-time settings; keeping those in effect", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// The stored settings (those in effect when none are stored yet).
    public func current() async throws -> RuntimeSettings {
        try await store.loadSettings() ?? live.snapshot.settings
    }

    /// Replaces the settings when `expectedVersion` is the stored one; in effect at once.
    public func replace(_ settings: RuntimeSettings, expectedVersion: Int, by: String) async throws -> RuntimeSettings {
        let saved = try await store.saveSettings(
            settings, expectedVersion: expectedVersion,
            audit: AuditEntry(at: now(), by: by, action: "settings", summary: "settings version \(expectedVersion + 1)"))
        live.update(settings: saved)
        logger.notice("run-time settings changed", metadata: ["settings.version": "\(saved.version)", "by": "\(by)"])
        return saved
    }

    /// Pauses or resumes detection (a settings change of its own, audited `pause`/`resume`).
    public func setPaused(_ paused: Bool, by: String) async throws -> RuntimeSettings {
        for _ in 0..<5 {
            var s = try await current()
            if s.paused == paused { return s }
            let expected = s.version
            s.paused = paused
            do {
                let saved = try await store.saveSettings(
                    s, expectedVersion: expected,
                    audit: AuditEntry(
                        at: now(), by: by, action: paused ? "pause" : "resume", summary: paused ? "detection paused" : "detection resumed"))
                live.update(settings: saved)
                return saved
            } catch SettingsStoreError.versionConflict {
                continue  // changed meanwhile: apply the pause to the newer version
            }
        }
        throw SettingsStoreError.versionConflict(current: try await current().version)
    }

    /// Adds a mute; in effect at once.
    public func mute(_ selector: ZoneSelector, until: Int64, reason: String, by: String) async throws -> Mute {
        let from = now()
        let mute = Mute(
            id: String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12)).lowercased(), selector: selector,
            from: from, until: until, reason: reason, by: by)
        try await store.addMute(
            mute, audit: AuditEntry(at: from, by: by, action: "mute", summary: "muted \(selector) until \(Format.iso(until)): \(reason)"))
        live.update(mutes: try await store.mutes(activeAt: now()))
        return mute
    }

    /// Ends a mute; false when there is none with this id.
    public func unmute(id: String, by: String) async throws -> Bool {
        let removed = try await store.removeMute(id: id, audit: AuditEntry(at: now(), by: by, action: "unmute", summary: "mute \(id) ended"))
        if removed { live.update(mutes: try await store.mutes(activeAt: now())) }
        return removed
    }
}
