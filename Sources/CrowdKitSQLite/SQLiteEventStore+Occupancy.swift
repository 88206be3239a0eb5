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
                var quarters = Set<QuarterKey>()
                for m in minutes {
                    try statement.execute(arguments: [m.zone.camera, m.zone.zone, m.minute, m.max, m.sum, m.observations, m.last])
                    quarters.insert(QuarterKey(zone: m.zone, quarter: Self.quarter(m.minute)))
                }
                // the quarter-hours these minutes are in, merged again from their minutes
                let merge = try db.cachedStatement(
                    sql: """
                        INSERT OR REPLACE INTO occupancy_quarter (camera, zone, quarter, max, sum, observations, newest)
                        SELECT camera, zone, :quarter, \(Self.quarterAggregates)
                        FROM occupancy WHERE camera = :camera AND zone = :zone AND minute >= :quarter AND minute < :quarter + 900000
                        GROUP BY camera, zone
                        """)
                for q in quarters {
                    try merge.execute(arguments: ["camera": q.zone.camera, "zone": q.zone.zone, "quarter": q.quarter])
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

    static let quarterMilliseconds: Int64 = 900_000

    /// A quarter-hour's row merged from its minutes (`camera, zone` grouped by the caller): the
    /// largest count, the sums, and `newest` (its newest minute index * 1,000,000 + that
    /// minute's last count). Migration v10 fills the table with the same expression.
    static let quarterAggregates =
        "max(max), sum(sum), sum(observations), max((minute / 60000) * 1000000 + min(max(last, 0), 999999))"

    struct QuarterKey: Hashable {
        var zone: ZoneKey
        var quarter: Int64
    }

    static func quarter(_ minute: Int64) -> Int64 { minute - ((minute % quarterMilliseconds) + quarterMilliseconds) % quarterMilliseconds }

    /// Steps of whole quarter-hours over a range of whole quarter-hours (the charts of a day or
    /// more) are read from the quarter-hours kept beside the minutes (96 rows a day); other steps
    /// are merged from the minutes. The step's last count comes with its newest minute:
    /// `max(minute index * 1,000,000 + last)` (counts stay below a million).
    public func occupancyPoints(of zone: ZoneKey, from: Int64, to: Int64, step: Int64) async throws -> [OccupancyPoint] {
        let q = Self.quarterMilliseconds
        guard step >= q, step % q == 0, from % q == 0, to % q == 0 else {
            return OccupancyPoint.points(try await occupancy(of: zone, from: from, to: to), step: step)
        }
        do {
            return try await pool.read { db in
                let statement = try db.cachedStatement(
                    sql: """
                        SELECT (quarter / :step) * :step AS t, max(max) AS max, sum(sum) AS sum, sum(observations) AS observations,
                               max(newest) AS newest
                        FROM occupancy_quarter WHERE camera = :camera AND zone = :zone AND quarter >= :from AND quarter < :to
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
                let count = db.changesCount
                // quarter-hours wholly before the instant; one cut across is merged again
                try db.execute(sql: "DELETE FROM occupancy_quarter WHERE quarter + 900000 <= ?", arguments: [before])
                let cut = Self.quarter(before)
                if cut < before {
                    try db.execute(sql: "DELETE FROM occupancy_quarter WHERE quarter = ?", arguments: [cut])
                    try db.execute(
                        sql: """
                            INSERT INTO occupancy_quarter (camera, zone, quarter, max, sum, observations, newest)
                            SELECT camera, zone, ?, \(Self.quarterAggregates)
                            FROM occupancy WHERE minute >= ? AND minute < ? GROUP BY camera, zone
                            """, arguments: [cut, before, cut + 900_000])
                }
                return count
            }
        } catch {
            throw Self.wrap(error, "cannot prune occupancy history")
        }
    }
}
