import CrowdKitCore
import Foundation
import GRDB
import Logging

/// The zone states of the file, as written: every zone's encoded record in its slot, and the
/// blocks (``ZoneStateMirror/zonesPerBlock`` slots each) that must be written again. Only touched
/// inside the store's write (or read-at-load) transactions, which GRDB serialises.
final class ZoneStateMirror: Sendable {
    static let zonesPerBlock = 32

    struct State {
        var loaded = false
        var slots: [ZoneKey: Int] = [:]
        /// Encoded record per slot (key, policy and data).
        var records: [[UInt8]] = []
        /// Blocks changed in memory and not committed yet.
        var dirty = Set<Int>()
        /// After a load renumbered the slots: rows from this block on are stale.
        var staleFrom: Int?
    }

    let state = LockedBox(State())
}

/// Zone states (``ZoneStateStore``) in the SQLite file, in blocks of 32 zones: a save replaces
/// the blocks of the zones that changed (a block is rewritten whole from the store's memory copy
/// of every zone's record, about 100 bytes a zone), so that saving 100,000 zones a second is about
/// 3,000 row writes, and nothing ever needs compacting. The copy is filled by the first load or
/// save. Writes and reads use GRDB's asynchronous access: a large save never holds a thread of
/// the cooperative pool.
extension SQLiteEventStore: ZoneStateStore {
    public func saveZoneStates(_ states: [SavedZoneState]) async throws {
        guard !states.isEmpty else { return }
        let mirror = zoneStateMirror
        let logger = self.logger
        do {
            try await pool.write { db in
                try mirror.state.withLock { m in
                    if !m.loaded { try Self.loadMirror(&m, db, logger: logger) }
                    for s in states {
                        let slot: Int
                        if let known = m.slots[s.zone] {
                            slot = known
                        } else {
                            slot = m.records.count
                            m.slots[s.zone] = slot
                            m.records.append([])
                        }
                        // the record in place: its key rarely changes, its data every time
                        Self.encodeRecord(s, into: &m.records[slot])
                        m.dirty.insert(slot / ZoneStateMirror.zonesPerBlock)
                    }
                    if let stale = m.staleFrom {
                        try db.execute(sql: "DELETE FROM zone_state_blocks WHERE block >= ?", arguments: [stale])
                    }
                    let statement = try db.cachedStatement(sql: "INSERT OR REPLACE INTO zone_state_blocks (block, data) VALUES (?, ?)")
                    var blob = [UInt8]()
                    let written = m.dirty
                    let stale = m.staleFrom
                    // only once committed are those blocks as in memory
                    db.afterNextTransaction { _ in
                        mirror.state.withLock {
                            $0.dirty.subtract(written)
                            if $0.staleFrom == stale { $0.staleFrom = nil }
                        }
                    }
                    for block in written {
                        blob.removeAll(keepingCapacity: true)
                        let end = min((block + 1) * ZoneStateMirror.zonesPerBlock, m.records.count)
                        for slot in (block * ZoneStateMirror.zonesPerBlock)..<end { blob += m.records[slot] }
                        try statement.execute(arguments: [block, Data(blob)])
                    }
                }
            }
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw Self.wrap(error, "cannot save zone states")
        }
    }

    public func loadZoneStates() async throws -> [SavedZoneState] {
        let mirror = zoneStateMirror
        let logger = self.logger
        do {
            return try await pool.read { db in
                try mirror.state.withLock { m in
                    // what is not saved yet (a failed save) stays as the newest
                    if !m.loaded { try Self.loadMirror(&m, db, logger: logger) }
                    var out: [SavedZoneState] = []
                    out.reserveCapacity(m.records.count)
                    for record in m.records where !record.isEmpty {
                        if let s = try? Self.decodeRecord(record) { out.append(s) }
                    }
                    return out
                }
            }
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw Self.wrap(error, "cannot load zone states")
        }
    }

    /// Reads every block into the memory copy. A damaged block (a hand-edited file) is logged;
    /// the records read before the damage are kept, the zones of the rest start fresh.
    static func loadMirror(_ m: inout ZoneStateMirror.State, _ db: Database, logger: Logger) throws {
        let rows = try Row.fetchCursor(db, sql: "SELECT block, data FROM zone_state_blocks ORDER BY block")
        while let row = try rows.next() {
            let block: Int = row[0]
            let data: [UInt8] = Array((row[1] as Data?) ?? Data())
            var r = StateBytesReader(data)
            do {
                while !r.isAtEnd {
                    let start = r.offset
                    let state = try decodeRecord(from: &r)
                    let record = Array(data[start..<r.offset])
                    if let slot = m.slots[state.zone] {
                        m.records[slot] = record
                    } else {
                        m.slots[state.zone] = m.records.count
                        m.records.append(record)
                    }
                }
            } catch {
                logger.error(
                    "saved zone states: block \(block) cannot be read to its end; the zones it held after the damage start fresh",
                    metadata: ["error": "\(error)"])
            }
        }
        // slots are renumbered densely: every block is written again with the next save
        let blocks = (m.records.count + ZoneStateMirror.zonesPerBlock - 1) / ZoneStateMirror.zonesPerBlock
        m.dirty.formUnion(0..<blocks)
        if m.records.isEmpty { m.dirty.removeAll() }
        m.loaded = true
        // rows past the dense blocks are stale after renumbering: deleted with the next save
        m.staleFrom = blocks
    }

    /// Writes `s` as a record into `record`, reusing its storage.
    static func encodeRecord(_ s: SavedZoneState, into record: inout [UInt8]) {
        var w = StateBytesWriter(reusing: record)
        record = []  // the writer's storage is now the only reference: no copy
        w.write(s.zone.camera)
        w.write(s.zone.zone)
        w.write(s.policy)
        w.write(bytes: s.data)
        record = w.bytes
    }

    static func decodeRecord(from r: inout StateBytesReader) throws -> SavedZoneState {
        let camera = try r.readString()
        let zone = try r.readString()
        let policy = try r.readString()
        let data = Array(try r.readBytes())
        return SavedZoneState(zone: ZoneKey(camera: camera, zone: zone), policy: policy, data: data)
    }

    static func decodeRecord(_ bytes: [UInt8]) throws -> SavedZoneState {
        var r = StateBytesReader(bytes)
        return try decodeRecord(from: &r)
    }

    /// Rows of zone-state blocks in the file (for tests and operations: about zones / 32).
    public func zoneStateBlocks() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM zone_state_blocks") ?? 0 }
    }
}
