import CrowdKitCore
import Foundation
import GRDB

/// Occupancy per zone and minute (``OccupancyHistoryStore``): one row per zone and minute,
/// written in one transaction per batch; a zone's range is one index range.
extension SQLiteEventStore: OccupancyHistoryStore {
    public func appendOccupancy(_ minutes: [OccupancyMinute]) async throws {
        guard !minutes.isEmpty else { return }
        do {
            try await pool.write { db in
                let statement = try db.cachedStatement(
                    sql: """
                        INSERT INTO occupancy (camera, zone, minute, max, sum, observations, last) VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (camera, zone, minute) DO UPDATE SET
                            max = excluded.max, sum = excluded.sum, observations = excluded.observations, last = excluded.last
                        """)
                for m in minutes {
                    try statement.execute(arguments: [m.zone.camera, m.zone.zone, m.minute, m.max, m.sum, m.observations, m.last])
                }
            }
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw Self.wrap(error, "cannot write occupancy history")
        }
    }

    public func occupancy(of zone: ZoneKey, from: Int64, to: Int64) async throws -> [OccupancyMinute] {
        do {
            return try await pool.read { db in
                // a cursor over a cached statement: no row is copied (a day is 1,440 rows)
                let statement = try db.cachedStatement(
                    sql: """
                        SELECT minute, max, sum, observations, last FROM occupancy
                        WHERE camera = ? AND zone = ? AND minute >= ? AND minute < ? ORDER BY minute
                        """)
                var out: [OccupancyMinute] = []
                out.reserveCapacity(Int(min(max((to - from) / 60_000, 0), 50_000)))
                let rows = try Row.fetchCursor(statement, arguments: [zone.camera, zone.zone, from, to])
                while let row = try rows.next() {
                    out.append(
                        OccupancyMinute(
                            zone: zone, minute: row["minute"], max: row["max"], sum: row["sum"], observations: row["observations"],
                            last: row["last"]))
                }
                return out
            }
        } catch {
            throw Self.wrap(error, "cannot read occupancy history")
        }
    }

    /// Merged by SQLite (one row per step). The step's last count comes with its newest minute:
    /// `max(minute index * 1,000,000 + last)` (counts stay below a million).
    public func occupancyPoints(of zone: ZoneKey, from: Int64, to: Int64, step: Int64) async throws -> [OccupancyPoint] {
        guard step > 60_000, step % 60_000 == 0 else {
            return OccupancyPoint.points(try await occupancy(of: zone, from: from, to: to), step: step)
        }
        do {
            return try await pool.read { db in
                let statement = try db.cachedStatement(
                    sql: """
                        SELECT (minute / :step) * :step AS t, max(max) AS max, sum(sum) AS sum, sum(observations) AS observations,
                               max((minute / 60000) * 1000000 + min(max(last, 0), 999999)) AS newest
                        FROM occupancy WHERE camera = :camera AND zone = :zone AND minute >= :from AND minute < :to
                        GROUP BY t ORDER BY t
                        """)
                var out: [OccupancyPoint] = []
                let rows = try Row.fetchCursor(
                    statement, arguments: ["step": step, "camera": zone.camera, "zone": zone.zone, "from": from, "to": to])
                while let row = try rows.next() {
                    let observations: Int64 = row["observations"]
                    let sum: Int64 = row["sum"]
                    let newest: Int64 = row["newest"]
                    out.append(
                        OccupancyPoint(
                            t: row["t"], max: row["max"], mean: observations == 0 ? 0 : Double(sum) / Double(observations),
                            last: Int(newest % 1_000_000)))
                }
                return out
            }
        } catch {
            throw Self.wrap(error, "cannot read occupancy history")
        }
    }

    public func pruneOccupancy(before: Int64) async throws -> Int {
        do {
            return try await pool.write { db in
                try db.execute(sql: "DELETE FROM occupancy WHERE minute < ?", arguments: [before])
                return db.changesCount
            }
        } catch {
            throw Self.wrap(error, "cannot prune occupancy history")
        }
    }
}
