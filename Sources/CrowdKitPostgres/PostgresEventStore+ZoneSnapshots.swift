import CrowdKitCore
import Foundation
import PostgresNIO

/// The live zone rows of every instance (``ZoneSnapshotStore``) in the `zone_snapshots` table:
/// one row per instance, its zones as one JSON document (``ZoneSnapshotText``, about 80 bytes per
/// zone) and the time it was written by the database's clock (epoch milliseconds). One upsert per
/// publication, one read of the other instances' rows per refresh. Rows an older build wrote
/// (a JSON array of objects) are still read.
extension PostgresEventStore: ZoneSnapshotStore {
    public func publishZoneSnapshots(instance: String, _ zones: [ZoneSnapshot]) async throws {
        let document = ZoneSnapshotText.encode(zones)
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
        for row in rows {
            let (instance, document) = try row.decode((String, String).self)
            do {
                if ZoneSnapshotText.isCompact(document) {
                    result[instance] = try ZoneSnapshotText.decode(document)
                } else {
                    // an older build's rows (during an upgrade)
                    result[instance] = try JSONDecoder().decode([ZoneSnapshot].self, from: Data(document.utf8))
                }
            } catch {
                // a newer build's rows: skipped, not fatal to the page
                continue
            }
        }
        return result
    }
}
