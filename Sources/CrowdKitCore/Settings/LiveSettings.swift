/// The run-time settings and mutes in effect (SEMANTICS.md §7), shared by whoever changes them (the
/// HTTP API, a settings import, a Webex button) and the ``CrowdMonitor`` that obeys them: each
/// zone takes new settings at its next observation, and every notification that becomes due is
/// checked against the mutes and quiet hours of its zone at its time.
///
/// Holds them in memory; saving them (``SettingsStore``) is the changer's part, so that what is
/// in effect is what was saved. Safe to share between tasks.
public final class LiveSettings: Sendable {
    /// What is in effect, with a number that grows with every change.
    public struct Snapshot: Hashable, Sendable {
        public var settings: RuntimeSettings
        public var mutes: [Mute]
        public var generation: Int
    }

    private let box: LockedBox<Snapshot>

    public init(settings: RuntimeSettings = RuntimeSettings(), mutes: [Mute] = []) {
        box = LockedBox(Snapshot(settings: settings, mutes: mutes, generation: 1))
    }

    /// What is in effect now.
    public var snapshot: Snapshot { box.withLock { $0 } }

    /// The number of the last change (cheap: for noticing a change).
    public var generation: Int { box.withLock { $0.generation } }

    /// Puts `settings` in effect.
    public func update(settings: RuntimeSettings) {
        box.withLock {
            $0.settings = settings
            $0.generation += 1
        }
    }

    /// Puts these mutes in effect (all of them: the active ones and those still to come).
    public func update(mutes: [Mute]) {
        box.withLock {
            $0.mutes = mutes
            $0.generation += 1
        }
    }

    /// Why a notification of `key` due at `ts` is not sent (`mute <id>`, `quiet hours <name>`),
    /// or `nil` when it goes out.
    public func suppression(for key: ZoneKey, at ts: Int64) -> String? {
        let s = snapshot
        return s.settings.suppression(for: key, at: ts, mutes: s.mutes)
    }
}
