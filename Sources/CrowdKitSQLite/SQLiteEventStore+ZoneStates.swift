import CrowdKitCore
import Foundation
import GRDB
import Logging

/// How many records the zone-state journal holds, and how many zones it had after its last
/// compaction: a save compacts the journal once it holds more than
/// `compactionFactor × zones + compactionSlack` records.
final class ZoneStateJournalCounters: Sendable {
    struct Counts: Sendable {
        var records = 0
        var zones = 0
        var loaded = false
    }
    let counts = LockedBox(Counts())
}

/// Zone states (``ZoneStateStore``) in the SQLite file: each save is one row holding every
/// state of the call (a compact binary chunk), so that saving 100,000 zones a second is one
/// insert, not 100,000 upserts. Loading reads the chunks in order (the last state of a zone
/// wins); now and then a save merges the journal into one chunk. Writes and reads use GRDB's
/// asynchronous access: a large chunk never holds a thread of the cooperative pool.
extension SQLiteEventStore: ZoneStateStore {
    /// The journal is merged into one chunk once it holds more than `compactionFactor × zones +
    /// compactionSlack` records.
    public static let compactionFactor = 4
    public static let compactionSlack = 50_000

    public func saveZoneStates(_ states: [SavedZoneState]) async throws {
        guard !states.isEmpty else { return }
        let chunk = Self.encodeChunk(states)
        let counters = zoneStateJournal
        do {
            try await pool.write { db in
                var counts = counters.counts.withLock { $0 }
                if !counts.loaded {
                    counts.records = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(records), 0) FROM zone_state_chunks") ?? 0
                    counts.zones = try Int.fetchOne(db, sql: "SELECT records FROM zone_state_chunks ORDER BY seq LIMIT 1") ?? 0
                    counts.loaded = true
                }
                try db.execute(
                    sql: "INSERT INTO zone_state_chunks (records, data) VALUES (?, ?)", arguments: [states.count, chunk])
                counts.records += states.count
                if counts.records > Self.compactionFactor * counts.zones + Self.compactionSlack {
                    let merged = try Self.readAll(db, logger: logger)
                    try db.execute(sql: "DELETE FROM zone_state_chunks")
                    try db.execute(
                        sql: "INSERT INTO zone_state_chunks (records, data) VALUES (?, ?)",
                        arguments: [merged.count, Self.encodeChunk(merged)])
                    counts.records = merged.count
                    counts.zones = merged.count
                }
                let final = counts
                counters.counts.withLock { $0 = final }
            }
        } catch let error as EventStoreError {
            counters.counts.withLock { $0.loaded = false }
            throw error
        } catch {
            counters.counts.withLock { $0.loaded = false }
            throw Self.wrap(error, "cannot save zone states")
        }
    }

    public func loadZoneStates() async throws -> [SavedZoneState] {
        do {
            let logger = self.logger
            return try await pool.read { db in try Self.readAll(db, logger: logger) }
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw Self.wrap(error, "cannot load zone states")
        }
    }

    /// Every zone's latest state, from the journal's chunks in order. A damaged chunk (a
    /// hand-edited file) is logged; the states read before the damage are kept, the zones of the
    /// rest start fresh.
    static func readAll(_ db: Database, logger: Logger) throws -> [SavedZoneState] {
        var latest: [ZoneKey: SavedZoneState] = [:]
        let rows = try Row.fetchCursor(db, sql: "SELECT seq, data FROM zone_state_chunks ORDER BY seq")
        while let row = try rows.next() {
            let seq: Int64 = row[0]
            let data: [UInt8] = Array((row[1] as Data?) ?? Data())
            do {
                try decodeChunk(data) { latest[$0.zone] = $0 }
            } catch {
                logger.error(
                    "saved zone states: chunk \(seq) cannot be read to its end; the zones it held after the damage start fresh",
                    metadata: ["error": "\(error)"])
            }
        }
        return latest.values.sorted { ($0.zone.camera, $0.zone.zone) < ($1.zone.camera, $1.zone.zone) }
    }

    static func encodeChunk(_ states: [SavedZoneState]) -> Data {
        var w = StateBytesWriter(capacity: states.count * 120 + 8)
        w.write(UInt8(1))
        w.write(UInt32(states.count))
        for s in states {
            w.write(s.zone.camera)
            w.write(s.zone.zone)
            w.write(s.policy)
            w.write(bytes: s.data)
        }
        return Data(w.bytes)
    }

    static func decodeChunk(_ bytes: [UInt8], _ each: (SavedZoneState) -> Void) throws {
        var r = StateBytesReader(bytes)
        let version = try r.readUInt8()
        guard version == 1 else { throw StateBytesError("chunk version \(version) is unknown") }
        let count = Int(try r.readUInt32())
        for _ in 0..<count {
            let camera = try r.readString()
            let zone = try r.readString()
            let policy = try r.readString()
            let data = Array(try r.readBytes())
            each(SavedZoneState(zone: ZoneKey(camera: camera, zone: zone), policy: policy, data: data))
        }
    }
}

extension SQLiteEventStore {
    /// Records in the zone-state journal (for tests and operations: stays near the number of
    /// zones).
    public func zoneStateJournalRecords() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(records), 0) FROM zone_state_chunks") ?? 0 }
    }
}
