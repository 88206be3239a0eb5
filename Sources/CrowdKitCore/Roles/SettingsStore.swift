/// One line of the audit log: who changed what, when.
public struct AuditEntry: Hashable, Sendable {
    /// Host time, epoch milliseconds.
    public var at: Int64
    /// A token's name, a Webex user, `local`.
    public var by: String
    /// `settings`, `mute`, `unmute`, `pause`, `resume`, ...
    public var action: String
    public var summary: String

    public init(at: Int64, by: String, action: String, summary: String) {
        self.at = at
        self.by = by
        self.action = action
        self.summary = summary
    }
}

/// Why a settings write was refused.
public enum SettingsStoreError: Error, Hashable, Sendable {
    /// The stored version is not the one the write expected (`current`, 0 when none is stored).
    case versionConflict(current: Int)
}

/// Keeps the run-time settings (SEMANTICS.md §7), the mutes and the audit log, so that they
/// survive restarts and are shared by every instance on one store.
///
/// ## Implementation requirements
/// - ``saveSettings(_:expectedVersion:audit:)`` is a compare-and-set: it stores the settings as
///   version `expectedVersion + 1` only when the stored version is `expectedVersion` (0: none
///   stored yet), and writes the audit entry in the same transaction; otherwise it throws
///   ``SettingsStoreError/versionConflict(current:)`` and changes nothing. Of two saves with the
///   same expected version, exactly one succeeds.
/// - ``mutes(activeAt:)`` lists the mutes whose `[from, until)` contains the instant, by `from`.
/// - ``audit(limit:)`` lists the newest first.
/// - `CrowdKitTesting.SettingsStoreConformance` checks these.
public protocol SettingsStore: Sendable {
    /// The stored settings, or `nil` before the first save (then the configuration seeds them).
    func loadSettings() async throws -> RuntimeSettings?

    /// Stores `settings` as the next version (compare-and-set) with its audit entry; returns what
    /// was stored (with its new version).
    func saveSettings(_ settings: RuntimeSettings, expectedVersion: Int, audit: AuditEntry) async throws -> RuntimeSettings

    /// Adds a mute (its id must be new) and its audit entry.
    func addMute(_ mute: Mute, audit: AuditEntry) async throws

    /// Removes a mute; false when there is none with that id (nothing audited then).
    func removeMute(id: String, audit: AuditEntry) async throws -> Bool

    /// The mutes active at `ms`.
    func mutes(activeAt ms: Int64) async throws -> [Mute]

    /// Writes an audit entry on its own (pause, resume).
    func appendAudit(_ entry: AuditEntry) async throws

    /// The newest `limit` audit entries, newest first.
    func audit(limit: Int) async throws -> [AuditEntry]
}
