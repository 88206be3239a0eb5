import CrowdKitCore
import Foundation
import PostgresNIO

/// Occupancy history (``OccupancyHistoryStore``): one row per zone and minute in `occupancy`,
/// clustered by its primary key (camera, zone, minute) so that a zone's day is one index range.
/// Every instance writes the minutes of the cameras it owns; any instance draws any zone's chart.
extension PostgresEventStore: OccupancyHistoryStore {
    /// Rows per statement of ``appendOccupancy(_:)`` (arrays bound as parameters, unnested).
    static let occupancyRowsPerStatement = 5_000

    public func appendOccupancy(_ minutes: [OccupancyMinute]) async throws {
        guard !minutes.isEmpty else { return }
        try await transaction("cannot write occupancy history") { connection in
            var start = 0
            while start < minutes.count {
                let chunk = minutes[start..<min(start + Self.occupancyRowsPerStatement, minutes.count)]
                start += chunk.count
                let cameras = chunk.map(\.zone.camera)
                let zones = chunk.map(\.zone.zone)
                let times = chunk.map(\.minute)
                let maxima = chunk.map { Int64($0.max) }
                let sums = chunk.map { Int64($0.sum) }
                let observations = chunk.map { Int64($0.observations) }
                let lasts = chunk.map { Int64($0.last) }
                _ = try await connection.query(
                    """
                    INSERT INTO occupancy (camera, zone, minute, max, sum, observations, last)
                    SELECT * FROM UNNEST(\(cameras)::text[], \(zones)::text[], \(times)::bigint[], \(maxima)::bigint[],
                                         \(sums)::bigint[], \(observations)::bigint[], \(lasts)::bigint[])
                    ON CONFLICT (camera, zone, minute) DO UPDATE SET
                        max = EXCLUDED.max, sum = EXCLUDED.sum, observations = EXCLUDED.observations, last = EXCLUDED.last
                    """, logger: self.logger)
            }
        }
    }

    public func occupancy(of zone: ZoneKey, from: Int64, to: Int64) async throws -> [OccupancyMinute] {
        let rows = try await query(
            """
            SELECT minute, max, sum, observations, last FROM occupancy
            WHERE camera = \(zone.camera) AND zone = \(zone.zone) AND minute >= \(from) AND minute < \(to) ORDER BY minute
            """, "cannot read occupancy history")
        return try rows.map { row in
            let (minute, max, sum, observations, last) = try row.decode((Int64, Int64, Int64, Int64, Int64).self)
            return OccupancyMinute(zone: zone, minute: minute, max: Int(max), sum: Int(sum), observations: Int(observations), last: Int(last))
        }
    }

    public func pruneOccupancy(before: Int64) async throws -> Int {
        let rows = try await query(
            "WITH gone AS (DELETE FROM occupancy WHERE minute < \(before) RETURNING 1) SELECT count(*) FROM gone",
            "cannot prune occupancy history")
        return try rows.first.map { Int(try $0.decode(Int64.self)) } ?? 0
    }
}
