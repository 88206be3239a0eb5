import CrowdKitCore
import Foundation
import PostgresNIO

/// Zone states (``ZoneStateStore``), one row per zone: a save upserts the zones that changed
/// with one statement per 5,000 zones (their columns bound as arrays and `unnest`ed), all in one
/// transaction. Rows are written in key order, so two instances saving overlapping zones at once
/// wait for each other instead of deadlocking.
extension PostgresEventStore: ZoneStateStore {
    static let zoneStateChunk = 5_000

    public func saveZoneStates(_ batch: ZoneStateBatch) async throws {
        guard !batch.isEmpty else { return }
        let states = batch.states
        // the last state of a zone in the call wins (one statement cannot write a row twice)
        var latest: [ZoneKey: SavedZoneState] = [:]
        latest.reserveCapacity(states.count)
        for s in states { latest[s.zone] = s }
        let sorted = latest.values.sorted { ($0.zone.camera, $0.zone.zone) < ($1.zone.camera, $1.zone.zone) }
        let logger = self.logger
        try await transaction("cannot save zone states") { c in
            var start = 0
            while start < sorted.count {
                let chunk = sorted[start..<min(start + Self.zoneStateChunk, sorted.count)]
                let cameras = chunk.map(\.zone.camera)
                let zones = chunk.map(\.zone.zone)
                let policies = chunk.map(\.policy)
                let data = chunk.map { ByteBuffer(bytes: $0.data) }
                try await c.query(
                    """
                    INSERT INTO zone_states (camera, zone, policy, data)
                    SELECT * FROM unnest(\(cameras)::text[], \(zones)::text[], \(policies)::text[], \(data)::bytea[])
                    ON CONFLICT (camera, zone) DO UPDATE SET policy = excluded.policy, data = excluded.data
                    """, logger: logger)
                start += Self.zoneStateChunk
            }
        }
    }

    public func loadZoneStates() async throws -> [SavedZoneState] {
        try await query("SELECT camera, zone, policy, data FROM zone_states", "cannot load zone states").map { row in
            let (camera, zone, policy, data) = try row.decode((String, String, String, ByteBuffer).self)
            return SavedZoneState(zone: ZoneKey(camera: camera, zone: zone), policy: policy, data: Array(data.readableBytesView))
        }
    }

    /// Selects by camera in the database (a camera moving here loads only its own zones).
    public func loadZoneStates(cameras: Set<String>) async throws -> [SavedZoneState] {
        guard !cameras.isEmpty else { return [] }
        let list = Array(cameras)
        return try await query(
            "SELECT camera, zone, policy, data FROM zone_states WHERE camera = ANY(\(list)::text[])", "cannot load zone states"
        ).map { row in
            let (camera, zone, policy, data) = try row.decode((String, String, String, ByteBuffer).self)
            return SavedZoneState(zone: ZoneKey(camera: camera, zone: zone), policy: policy, data: Array(data.readableBytesView))
        }
    }
}
