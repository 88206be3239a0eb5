import CrowdKitCore
import Foundation
import PostgresNIO

/// The live zone rows of every instance (``ZoneSnapshotStore``) in the `zone_snapshots` table:
/// one row per instance, its zones as one JSON document and the time it was written by the
/// database's clock (epoch milliseconds). One upsert per publication (about 100 bytes per zone),
/// one read of the other instances' rows per refresh.
extension PostgresEventStore: ZoneSnapshotStore {
    public func publishZoneSnapshots(instance: String, _ zones: [ZoneSnapshot]) async throws {
        let document: String
        do {
            document = String(decoding: try JSONEncoder().encode(zones), as: UTF8.self)
        } catch {
            throw EventStoreError(.invalid, "cannot encode the zone snapshots: \(error)")
        }
        try await query(
            """
            INSERT INTO zone_snapshots (instance, taken_at, zones)
            VALUES (\(instance), (extract(epoch FROM now()) * 1000)::bigint, \(document))
            ON CONFLICT (instance) DO UPDATE SET taken_at = excluded.taken_at, zones = excluded.zones
            """, "cannot publish the zone snapshots of \(instance)")
    }

    public func liveZoneSnapshots(maxAge: Duration, except: String?) async throws -> [String: [ZoneSnapshot]] {
        let age = maxAge.components
        let ageMilliseconds = age.seconds * 1000 + age.attoseconds / 1_000_000_000_000_000
        let rows = try await query(
            """
            SELECT instance, zones FROM zone_snapshots
            WHERE taken_at >= (extract(epoch FROM now()) * 1000)::bigint - \(ageMilliseconds)::bigint
                AND instance <> \(except ?? "")
            """, "cannot read the zone snapshots")
        var result: [String: [ZoneSnapshot]] = [:]
        let decoder = JSONDecoder()
        for row in rows {
            let (instance, document) = try row.decode((String, String).self)
            do {
                result[instance] = try decoder.decode([ZoneSnapshot].self, from: Data(document.utf8))
            } catch {
                // a newer build's rows: skipped, not fatal to the page
                continue
            }
        }
        return result
    }
}
