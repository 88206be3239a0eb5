/// One zone's saved detection state: what the ``CrowdMonitor`` needs to resume the zone after a
/// restart (SEMANTICS.md §7 "Persisted state").
public struct SavedZoneState: Hashable, Sendable {
    public var zone: ZoneKey
    /// The ``DetectionPolicy/name`` of the policy that wrote it; a state written by another
    /// policy is not loaded.
    public var policy: String
    /// The engine's encoding: the zone's last reading, its open event and the policy's state
    /// (``DetectionPolicy/encodeState(_:into:)``). Opaque to stores.
    public var data: [UInt8]

    public init(zone: ZoneKey, policy: String, data: [UInt8]) {
        self.zone = zone
        self.policy = policy
        self.data = data
    }
}

/// Keeps each zone's detection state, so that a restart or a crash loses no dwell timer, no
/// cool-down and no open crowd.
///
/// ``InMemoryEventStore`` implements it (for tests and embedders that restart monitors in one
/// process); `CrowdKitSQLite`'s store keeps it durable, next to the events.
///
/// ## Implementation requirements
/// - Safe to call from many tasks at once (`Sendable`).
/// - ``saveZoneStates(_:)-(ZoneStateBatch)`` is atomic: all of the given states are saved, or
///   none. A state replaces the one saved for the same zone (whatever its policy); the last save
///   wins, also within one call.
/// - ``loadZoneStates()`` returns the latest saved state of every zone, each zone once, with its
///   bytes exactly as saved; a durable store returns them after a restart.
/// - It must stay cheap for many zones: the monitor saves every zone that changed, about once a
///   second (100,000 zones at once is a normal site). A batch numbers its zones
///   (``ZoneStateBatch/directory``): a store that resolves each number once and remembers it
///   (while the batches come from the same directory) does no per-zone string work; a simple
///   store may use ``ZoneStateBatch/states``.
/// - Errors thrown are the store's failures; they never contain secrets.
public protocol ZoneStateStore: Sendable {
    /// Saves these zones' states in one write.
    func saveZoneStates(_ batch: ZoneStateBatch) async throws

    /// The latest saved state of every zone.
    func loadZoneStates() async throws -> [SavedZoneState]

    /// The latest saved state of every zone of these cameras (when a camera moves to this
    /// instance from another). The default filters ``loadZoneStates()``; a store that can select
    /// by camera should.
    func loadZoneStates(cameras: Set<String>) async throws -> [SavedZoneState]
}

extension ZoneStateStore {
    public func loadZoneStates(cameras: Set<String>) async throws -> [SavedZoneState] {
        guard !cameras.isEmpty else { return [] }
        return try await loadZoneStates().filter { cameras.contains($0.zone.camera) }
    }

    /// Saves these zones' states in one write (as one ``ZoneStateBatch``).
    public func saveZoneStates(_ states: [SavedZoneState]) async throws {
        try await saveZoneStates(ZoneStateBatch(states))
    }
}
