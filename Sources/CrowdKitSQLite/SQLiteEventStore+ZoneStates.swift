import CrowdKitCore
import Foundation
import GRDB
import Logging

/// The zone states of the file, as written: every zone's record in its slot, and the blocks
/// (``ZoneStateMirror/zonesPerBlock`` slots each) that must be written again. Only touched
/// inside the store's write (or read-at-load) transactions, which GRDB serialises.
final class ZoneStateMirror: Sendable {
    static let zonesPerBlock = 128

    /// One zone's record: `prefix` (camera, zone and policy, encoded) and the state's bytes.
    struct Record {
        var prefix: [UInt8] = []
        var data: [UInt8] = []
        /// The number of `prefix` in ``State/directory`` (-1: unknown).
        var prefixID: Int32 = -1
    }

    struct State {
        var loaded = false
        var slots: [ZoneKey: Int] = [:]
        var records: [Record] = []
        /// The directory of the last batch saved, and the slot of each of its zone numbers (-1:
        /// not looked up yet): batches of one directory need no key lookup after the first.
        var directory: ZoneDirectory?
        var slotOfID: [Int32] = []
        /// Blocks changed in memory and not committed yet (flags by block, and their list).
        var dirty: [Bool] = []
        var dirtyBlocks: [Int] = []
        /// After a load renumbered the slots: rows from this block on are stale.
        var staleFrom: Int?

        mutating func markDirty(slot: Int) {
            let block = slot / ZoneStateMirror.zonesPerBlock
            if block >= dirty.count { dirty += [Bool](repeating: false, count: block + 1 - dirty.count) }
            if !dirty[block] {
                dirty[block] = true
                dirtyBlocks.append(block)
            }
        }

        /// The slot of `zone`, a new one at the end when it has none.
        mutating func slot(of zone: ZoneKey) -> Int {
            if let known = slots[zone] { return known }
            let slot = records.count
            slots[zone] = slot
            records.append(Record())
            return slot
        }

        /// Sets slot `slot` to `state` (read back from the file, or saved by key).
        mutating func set(slot: Int, to state: SavedZoneState) {
            SQLiteEventStore.encodePrefix(zone: state.zone, policy: state.policy, into: &records[slot].prefix)
            records[slot].prefixID = -1
            records[slot].data = state.data
        }

        /// Takes `batch` into the records (resolving zone numbers once per directory).
        mutating func take(_ batch: ZoneStateBatch) {
            if directory !== batch.directory {
                directory = batch.directory
                slotOfID.removeAll(keepingCapacity: true)
                for i in records.indices { records[i].prefixID = -1 }
            }
            for i in 0..<batch.count {
                let id = batch.zoneID(at: i)
                if Int(id) >= slotOfID.count { slotOfID += [Int32](repeating: -1, count: Int(id) + 1 - slotOfID.count) }
                var slot = Int(slotOfID[Int(id)])
                if slot < 0 || records[slot].prefixID != id {
                    let entry = batch.directory[id]
                    slot = self.slot(of: entry.zone)
                    slotOfID[Int(id)] = Int32(slot)
                    SQLiteEventStore.encodePrefix(zone: entry.zone, policy: entry.policy, into: &records[slot].prefix)
                    records[slot].prefixID = id
                }
                // the bytes in place: the record's storage is reused
                records[slot].data.removeAll(keepingCapacity: true)
                batch.withData(at: i) { records[slot].data.append(contentsOf: $0) }
                markDirty(slot: slot)
            }
        }
    }

    let state = LockedBox(State())
}

/// Zone states (``ZoneStateStore``) in the SQLite file, in blocks of 128 zones: a save replaces
/// the blocks of the zones that changed (a block is rewritten whole from the store's memory copy
/// of every zone's record, about 130 bytes a zone), so that saving 100,000 zones a second is about
/// 800 row writes, and nothing ever needs compacting. The copy is filled by the first load or
/// save; a batch's zone numbers are resolved to slots once (per ``ZoneDirectory``), so a save
/// does no per-zone key lookup or allocation. Writes and reads use GRDB's asynchronous access: a
/// large save never holds a thread of the cooperative pool.
extension SQLiteEventStore: ZoneStateStore {
    public func saveZoneStates(_ batch: ZoneStateBatch) async throws {
        guard !batch.isEmpty else { return }
        let mirror = zoneStateMirror
        let logger = self.logger
        do {
            try await pool.write { db in
                try mirror.state.withLock { m in
                    if !m.loaded { try Self.loadMirror(&m, db, logger: logger) }
                    m.take(batch)
                    if let stale = m.staleFrom {
                        try db.execute(sql: "DELETE FROM zone_state_blocks WHERE block >= ?", arguments: [stale])
                    }
                    let statement = try db.cachedStatement(sql: "INSERT INTO zone_state_blocks (block, data) VALUES (?, ?) ON CONFLICT (block) DO UPDATE SET data = excluded.data")
                    let written = m.dirtyBlocks
                    let stale = m.staleFrom
                    // only once committed are those blocks as in memory
                    db.afterNextTransaction { _ in
                        mirror.state.withLock {
                            for block in written { $0.dirty[block] = false }
                            $0.dirtyBlocks.removeAll(keepingCapacity: true)
                            if $0.staleFrom == stale { $0.staleFrom = nil }
                        }
                    }
                    var w = StateBytesWriter(capacity: ZoneStateMirror.zonesPerBlock * 128)
                    for block in written {
                        w.removeAll()
                        let end = min((block + 1) * ZoneStateMirror.zonesPerBlock, m.records.count)
                        for slot in (block * ZoneStateMirror.zonesPerBlock)..<end where !m.records[slot].prefix.isEmpty {
                            w.write(raw: m.records[slot].prefix)
                            w.write(bytes: m.records[slot].data)
                        }
                        try statement.execute(arguments: [block, Data(w.bytes)])
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
                    for record in m.records where !record.prefix.isEmpty {
                        var r = StateBytesReader(record.prefix)
                        if let prefix = try? Self.decodePrefix(from: &r) {
                            out.append(SavedZoneState(zone: prefix.zone, policy: prefix.policy, data: record.data))
                        }
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
                    let state = try decodeRecord(from: &r)
                    m.set(slot: m.slot(of: state.zone), to: state)
                }
            } catch {
                logger.error(
                    "saved zone states: block \(block) cannot be read to its end; the zones it held after the damage start fresh",
                    metadata: ["error": "\(error)"])
            }
        }
        // slots are renumbered densely: every block is written again with the next save
        let blocks = (m.records.count + ZoneStateMirror.zonesPerBlock - 1) / ZoneStateMirror.zonesPerBlock
        m.dirty = [Bool](repeating: true, count: blocks)
        m.dirtyBlocks = Array(0..<blocks)
        m.loaded = true
        // rows past the dense blocks are stale after renumbering: deleted with the next save
        m.staleFrom = blocks
    }

    /// Writes a record's prefix (camera, zone, policy) into `prefix`, reusing its storage. A
    /// record is the prefix and the length-prefixed state bytes.
    static func encodePrefix(zone: ZoneKey, policy: String, into prefix: inout [UInt8]) {
        var w = StateBytesWriter(reusing: prefix)
        prefix = []  // the writer's storage is now the only reference: no copy
        w.write(zone.camera)
        w.write(zone.zone)
        w.write(policy)
        prefix = w.bytes
    }

    static func decodePrefix(from r: inout StateBytesReader) throws -> (zone: ZoneKey, policy: String) {
        let camera = try r.readString()
        let zone = try r.readString()
        let policy = try r.readString()
        return (ZoneKey(camera: camera, zone: zone), policy)
    }

    static func decodeRecord(from r: inout StateBytesReader) throws -> SavedZoneState {
        let prefix = try decodePrefix(from: &r)
        let data = Array(try r.readBytes())
        return SavedZoneState(zone: prefix.zone, policy: prefix.policy, data: data)
    }

    static func decodeRecord(_ bytes: [UInt8]) throws -> SavedZoneState {
        var r = StateBytesReader(bytes)
        return try decodeRecord(from: &r)
    }

    /// How many zones a block (row) of saved zone states holds. Files written with another size
    /// (32 before) load as they are; the first save rewrites them in this size.
    public static var zoneStatesPerBlock: Int { ZoneStateMirror.zonesPerBlock }

    /// Rows of zone-state blocks in the file (for tests and operations: about zones / 128).
    public func zoneStateBlocks() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM zone_state_blocks") ?? 0 }
    }
}
