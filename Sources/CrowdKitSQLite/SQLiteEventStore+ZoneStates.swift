import CrowdKitCore
import Foundation
import GRDB
import Logging

/// The zone states of the file, as written: each zone has a slot (a number that never changes,
/// with its key row in `zone_state_keys`), and its state's bytes are kept in memory, in place
/// for short states. Blocks of ``zonesPerBlock`` slots that changed are written again. Only
/// touched inside the store's write (or read-at-load) transactions, which GRDB serialises.
final class ZoneStateMirror: Sendable {
    static let zonesPerBlock = 256
    /// Each slot's record in memory: its state's length (Int32, -1 when it has none), the zone
    /// number that last wrote it (Int32, -1 when not known), then the state's bytes when they fit
    /// in ``inlineBytes`` (a zone without an open event is about 25 bytes). One cache line: a
    /// save touches one line per zone. Longer states are kept in `long`.
    static let stride = 64
    static let inlineBytes = stride - 8

    struct State {
        var loaded = false
        /// The layout before v11 (`zone_state_blocks`) has rows: deleted by the next save, which
        /// writes every zone in the new layout.
        var legacyRows = false
        var slots: [ZoneKey: Int32] = [:]
        /// Each slot's zone and policy (a slot of a damaged key row has none).
        var keys: [ZoneDirectory.Entry?] = []
        /// Slots from this one on have no key row yet; `keysChanged`: slots whose policy changed.
        var keysWritten = 0
        var keysChanged: [Int32] = []
        /// ``ZoneStateMirror/stride`` bytes per slot (length, writer, inline bytes).
        var records: [UInt8] = []
        /// By slot: the bytes of a state longer than `inlineBytes` (a zone with an open event),
        /// their storage reused from save to save.
        var long: [[UInt8]] = []
        /// The directory of the last batch saved, and the slot of each of its zone numbers (-1: not
        /// looked up yet). A zone saved under two policies shares its slot: the record's writer
        /// says which number last wrote it.
        var directory: ZoneDirectory?
        var slotOfID: [Int32] = []
        /// Blocks changed in memory and not committed yet (flags by block, and their list).
        var dirty: [Bool] = []
        var dirtyBlocks: [Int] = []

        mutating func markDirty(slot: Int) {
            let block = slot / ZoneStateMirror.zonesPerBlock
            if block >= dirty.count { dirty += [Bool](repeating: false, count: block + 1 - dirty.count) }
            if !dirty[block] {
                dirty[block] = true
                dirtyBlocks.append(block)
            }
        }

        /// A slot's record before its first state: length -1, writer -1.
        static let emptyRecord: [UInt8] = [UInt8](repeating: 0xFF, count: 8) + [UInt8](repeating: 0, count: ZoneStateMirror.inlineBytes)

        /// Makes room for slots up to `slot` (appended one by one: amortised, no temporary arrays).
        mutating func grow(to slot: Int) {
            while slot >= keys.count {
                keys.append(nil)
                long.append([])
                records.append(contentsOf: Self.emptyRecord)
            }
        }

        func length(slot: Int) -> Int {
            Int(records.withUnsafeBytes { $0.load(fromByteOffset: slot * ZoneStateMirror.stride, as: Int32.self) })
        }

        /// The slot of `entry`'s zone (a new one at the end when it has none), its policy set.
        mutating func slot(of entry: ZoneDirectory.Entry) -> Int {
            if let known = slots[entry.zone] {
                let s = Int(known)
                if keys[s]?.policy != entry.policy {
                    keys[s] = entry
                    if s < keysWritten { keysChanged.append(known) }
                }
                return s
            }
            let s = keys.count
            grow(to: s)
            slots[entry.zone] = Int32(s)
            keys[s] = entry
            return s
        }

        /// Sets slot `slot`'s state to `bytes`; `writer` is the zone number that wrote it.
        mutating func set(slot: Int, to bytes: UnsafeBufferPointer<UInt8>, writer: Int32 = -1) {
            let n = bytes.count
            let wasLong = records.withUnsafeMutableBytes { r -> Bool in
                let record = r.baseAddress! + slot * ZoneStateMirror.stride
                let old = record.load(as: Int32.self)
                record.storeBytes(of: Int32(n), as: Int32.self)
                record.storeBytes(of: writer, toByteOffset: 4, as: Int32.self)
                if n <= ZoneStateMirror.inlineBytes, n > 0 {
                    (record + 8).copyMemory(from: bytes.baseAddress!, byteCount: n)
                }
                return old > Int32(ZoneStateMirror.inlineBytes)
            }
            if n > ZoneStateMirror.inlineBytes {
                long[slot].removeAll(keepingCapacity: true)
                long[slot].append(contentsOf: bytes)
            } else if wasLong {
                long[slot] = []
            }
            markDirty(slot: slot)
        }

        /// Slot `slot`'s state, when it has one.
        func data(slot: Int) -> [UInt8]? {
            let n = length(slot: slot)
            guard n >= 0 else { return nil }
            if n > ZoneStateMirror.inlineBytes { return long[slot] }
            let start = slot * ZoneStateMirror.stride + 8
            return Array(records[start..<(start + n)])
        }

        /// Takes `batch` into the slots (resolving zone numbers once per directory).
        mutating func take(_ batch: ZoneStateBatch) {
            if directory !== batch.directory {
                directory = batch.directory
                slotOfID.removeAll(keepingCapacity: true)
                records.withUnsafeMutableBytes { r in
                    for s in keys.indices { r.storeBytes(of: Int32(-1), toByteOffset: s * ZoneStateMirror.stride + 4, as: Int32.self) }
                }
            }
            batch.forEachState { id, bytes in
                let i = Int(id)
                while i >= slotOfID.count { slotOfID.append(-1) }
                var slot = Int(slotOfID[i])
                if slot < 0
                    || records.withUnsafeBytes({ $0.load(fromByteOffset: slot * ZoneStateMirror.stride + 4, as: Int32.self) }) != id
                {
                    slot = self.slot(of: batch.directory[id])
                    slotOfID[i] = Int32(slot)
                }
                set(slot: slot, to: bytes, writer: id)
            }
        }

        /// Block `block`'s row: for each slot, a varint of its state's length + 1 (0: none) and
        /// the bytes.
        func row(block: Int, into out: inout StateBytesWriter) {
            out.removeAll()
            let end = min((block + 1) * ZoneStateMirror.zonesPerBlock, keys.count)
            records.withUnsafeBytes { records in
                for slot in (block * ZoneStateMirror.zonesPerBlock)..<end {
                    let record = records.baseAddress! + slot * ZoneStateMirror.stride
                    let n = Int(record.load(as: Int32.self))
                    out.write(varint: UInt64(n + 1))
                    if n > ZoneStateMirror.inlineBytes {
                        out.write(raw: long[slot])
                    } else if n > 0 {
                        out.write(raw: UnsafeRawBufferPointer(start: record + 8, count: n))
                    }
                }
            }
        }
    }

    let state = LockedBox(State())
}

/// Zone states (``ZoneStateStore``) in the SQLite file: each zone's key (camera, zone, policy)
/// once in `zone_state_keys` under a slot number that never changes, and the states in blocks
/// of 128 slots in `zone_state_data`. A save writes the keys of new zones and replaces the
/// blocks of the zones that changed (rewritten whole from the store's memory copy, about 25 bytes
/// a zone without an open event), so that saving 100,000 zones a second is about 800 row writes
/// of 3 KiB, and nothing ever needs compacting. The copy is filled by the first load or save; a
/// batch's zone numbers are resolved to slots once (per ``ZoneDirectory``), so a save does no
/// per-zone key lookup or allocation. Writes and reads use GRDB's asynchronous access: a large
/// save never holds a thread of the cooperative pool.
///
/// Files of the layout before v11 (`zone_state_blocks`, each block holding its zones' keys and
/// states) load as they are; the first save writes them in the new layout and deletes the old
/// rows in the same transaction.
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
                    let legacy = m.legacyRows
                    if legacy { try db.execute(sql: "DELETE FROM zone_state_blocks") }
                    // keys of new zones, and of zones whose policy changed
                    let keysEnd = m.keys.count
                    if m.keysWritten < keysEnd || !m.keysChanged.isEmpty {
                        // 100 rows a statement: a site's first save writes every zone's key
                        let slots = (m.keysChanged.map(Int.init) + Array(m.keysWritten..<keysEnd)).filter { m.keys[$0] != nil }
                        var start = 0
                        while start < slots.count {
                            let chunk = slots[start..<min(start + 100, slots.count)]
                            let insert = try db.cachedStatement(
                                sql: """
                                    INSERT INTO zone_state_keys (slot, camera, zone, policy) VALUES
                                    \(Array(repeating: "(?, ?, ?, ?)", count: chunk.count).joined(separator: ", "))
                                    ON CONFLICT (slot) DO UPDATE SET camera = excluded.camera, zone = excluded.zone, policy = excluded.policy
                                    """)
                            var values: [(any DatabaseValueConvertible)?] = []
                            values.reserveCapacity(chunk.count * 4)
                            for slot in chunk {
                                let key = m.keys[slot]!
                                values += [slot, key.zone.camera, key.zone.zone, key.policy]
                            }
                            try insert.execute(arguments: StatementArguments(values))
                            start += 100
                        }
                    }
                    let statement = try db.cachedStatement(
                        sql: "INSERT INTO zone_state_data (block, data) VALUES (?, ?) ON CONFLICT (block) DO UPDATE SET data = excluded.data")
                    let written = m.dirtyBlocks
                    // only once committed are those blocks and keys as in memory
                    db.afterNextTransaction { _ in
                        mirror.state.withLock {
                            for block in written { $0.dirty[block] = false }
                            $0.dirtyBlocks.removeAll(keepingCapacity: true)
                            $0.keysWritten = max($0.keysWritten, keysEnd)
                            $0.keysChanged.removeAll(keepingCapacity: true)
                            if legacy { $0.legacyRows = false }
                        }
                    }
                    var row = StateBytesWriter(capacity: ZoneStateMirror.zonesPerBlock * 32)
                    for block in written {
                        m.row(block: block, into: &row)
                        try statement.execute(arguments: [block, Data(row.bytes)])
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
                    out.reserveCapacity(m.slots.count)
                    for slot in m.keys.indices {
                        guard let key = m.keys[slot], let data = m.data(slot: slot) else { continue }
                        out.append(SavedZoneState(zone: key.zone, policy: key.policy, data: data))
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

    /// Reads the keys and every block into the memory copy. A damaged block (a hand-edited file)
    /// is logged; the states read before the damage are kept, the zones of the rest start fresh.
    static func loadMirror(_ m: inout ZoneStateMirror.State, _ db: Database, logger: Logger) throws {
        let keyRows = try Row.fetchAll(db, sql: "SELECT slot, camera, zone, policy FROM zone_state_keys ORDER BY slot")
        let any = !keyRows.isEmpty
        for row in keyRows {
            let slot: Int = row[0]
            // slots are dense from 0: a hand-edited number far out is not believed
            guard slot >= 0, slot < keyRows.count * 2 + 1024 else {
                logger.error("saved zone states: a key row's slot \(slot) is out of range; that zone starts fresh")
                continue
            }
            let entry = ZoneDirectory.Entry(zone: ZoneKey(camera: row[1], zone: row[2]), policy: row[3])
            guard m.slots[entry.zone] == nil else {
                logger.error(
                    "saved zone states: zone saved under two slots; the first is kept",
                    metadata: ["crowd.camera": "\(entry.zone.camera)", "crowd.zone": "\(entry.zone.zone)"])
                continue
            }
            m.grow(to: slot)
            m.keys[slot] = entry
            m.slots[entry.zone] = Int32(slot)
        }
        m.keysWritten = m.keys.count
        let blocks = try Row.fetchCursor(db, sql: "SELECT block, data FROM zone_state_data ORDER BY block")
        while let row = try blocks.next() {
            let block: Int = row[0]
            let data: [UInt8] = Array((row[1] as Data?) ?? Data())
            var r = StateBytesReader(data)
            var slot = block * ZoneStateMirror.zonesPerBlock
            do {
                while !r.isAtEnd {
                    let n = try r.readVarint()
                    guard n <= 1 << 24 else { throw StateBytesError("state length \(n)") }
                    if n > 0 {
                        let bytes = try r.readBytes(count: Int(n - 1))
                        if slot < m.keys.count, m.keys[slot] != nil {
                            bytes.withUnsafeBufferPointer { m.set(slot: slot, to: $0) }
                        }
                    }
                    slot += 1
                }
            } catch {
                logger.error(
                    "saved zone states: block \(block) cannot be read to its end; the zones it held after the damage start fresh",
                    metadata: ["error": "\(error)"])
            }
        }
        // the layout before v11: converted by the next save (when the new layout has nothing)
        let legacy = try Row.fetchCursor(db, sql: "SELECT block, data FROM zone_state_blocks ORDER BY block")
        while let row = try legacy.next() {
            m.legacyRows = true
            guard !any else { continue }
            let block: Int = row[0]
            let data: [UInt8] = Array((row[1] as Data?) ?? Data())
            var r = StateBytesReader(data)
            do {
                while !r.isAtEnd {
                    let state = try decodeLegacyRecord(from: &r)
                    let slot = m.slot(of: ZoneDirectory.Entry(zone: state.zone, policy: state.policy))
                    state.data.withUnsafeBufferPointer { m.set(slot: slot, to: $0) }
                }
            } catch {
                logger.error(
                    "saved zone states: block \(block) cannot be read to its end; the zones it held after the damage start fresh",
                    metadata: ["error": "\(error)"])
            }
        }
        // what was read is as in the file: nothing to write again (unless it was the old layout)
        if !m.legacyRows {
            for block in m.dirtyBlocks { m.dirty[block] = false }
            m.dirtyBlocks.removeAll()
        }
        m.loaded = true
    }

    /// A record of the layout before v11: camera, zone, policy and the state's bytes, each a
    /// little-endian 32-bit length and the bytes.
    static func decodeLegacyRecord(from r: inout StateBytesReader) throws -> SavedZoneState {
        let camera = try r.readString()
        let zone = try r.readString()
        let policy = try r.readString()
        let data = Array(try r.readBytes())
        return SavedZoneState(zone: ZoneKey(camera: camera, zone: zone), policy: policy, data: data)
    }

    /// How many zones a block (row) of saved zone states holds.
    public static var zoneStatesPerBlock: Int { ZoneStateMirror.zonesPerBlock }

    /// Rows of zone-state blocks in the file (for tests and operations: about zones / 128).
    public func zoneStateBlocks() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM zone_state_data") ?? 0 }
    }
}
