import CrowdKitCore
import CrowdKitSQLite
import CrowdKitTestServers
import CrowdKitTesting
import Foundation
import Logging
import Testing

/// A store that breaks the contract on purpose: the first state of a zone in one call wins.
actor FirstWinsZoneStateStore: ZoneStateStore {
    private var states: [ZoneKey: SavedZoneState] = [:]
    func saveZoneStates(_ batch: ZoneStateBatch) async throws {
        var seen = Set<ZoneKey>()
        for s in batch.states where seen.insert(s.zone).inserted { states[s.zone] = s }
    }
    func loadZoneStates() async throws -> [SavedZoneState] { Array(states.values) }
}

@Suite("Zone state stores")
struct ZoneStateStoreTests {
    @Test("SQLiteEventStore passes the ZoneStateStore conformance suite, reopening included")
    func sqliteConforms() async throws {
        let dir = try TemporaryDirectory()
        var n = 0
        try await ZoneStateStoreConformance.run(
            makeStore: {
                n += 1
                return try SQLiteEventStore(path: dir.file("zones-\(n).sqlite"), logger: quietLogger)
            },
            reopen: { store in
                let path = (store as! SQLiteEventStore).configuration.path
                return try SQLiteEventStore(path: path, logger: quietLogger)
            })
    }

    @Test("InMemoryEventStore passes the ZoneStateStore conformance suite")
    func inMemoryConforms() async throws {
        try await ZoneStateStoreConformance.run(makeStore: { InMemoryEventStore() })
    }

    @Test("the conformance suite catches a store where the first state of a call wins")
    func suiteCatchesBrokenStore() async throws {
        await #expect(throws: ZoneStateStoreConformance.Failure.self) {
            try await ZoneStateStoreConformance.run(makeStore: { FirstWinsZoneStateStore() })
        }
        do {
            try await ZoneStateStoreConformance.run(.lastOfOneCallWins, FirstWinsZoneStateStore(), reopen: nil)
            Issue.record("the broken store passed lastOfOneCallWins")
        } catch let failure as ZoneStateStoreConformance.Failure {
            #expect(failure.check == .lastOfOneCallWins)
        }
    }

    @Test("saves rewrite blocks of zones: many saves of the same zones keep one row per block")
    func blocks() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.file()
        do {
            let store = try SQLiteEventStore(path: path, logger: quietLogger)
            for round in 0..<10 {
                try await store.saveZoneStates(
                    (0..<5000).map { ZoneStateStoreConformance.state("C\($0 % 100)", "\($0 / 100)", seed: UInt8(round)) })
            }
            // a few zones change: only their blocks are written, the others keep their rows
            try await store.saveZoneStates([ZoneStateStoreConformance.state("C1", "0", seed: 77)])
            let perBlock = SQLiteEventStore.zoneStatesPerBlock
            #expect(try await store.zoneStateBlocks() == (5000 + perBlock - 1) / perBlock)
        }
        let reopened = try SQLiteEventStore(path: path, logger: quietLogger)
        let loaded = try await reopened.loadZoneStates()
        #expect(loaded.count == 5000)
        #expect(loaded.filter { $0.data[1] == 9 }.count == 4999)
        #expect(loaded.first { $0.zone == ZoneKey(camera: "C1", zone: "0") }?.data[1] == 77)
    }

    @Test("a damaged block is logged and skipped; the other zones load")
    func damagedChunk() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.file()
        do {
            let store = try SQLiteEventStore(path: path, logger: quietLogger)
            try await store.saveZoneStates((0..<SQLiteEventStore.zoneStatesPerBlock).map { ZoneStateStoreConformance.state("GOOD", "\($0)", seed: 1) })
            try await store.saveZoneStates([ZoneStateStoreConformance.state("BAD", "0", seed: 2)])
        }
        // hand-edit the second block: cut it short
        // as an operator would, with the sqlite3 shell (scripts/bootstrap.sh --test installs it)
        let status = try await runProgram(
            "/usr/bin/sqlite3", [path, "UPDATE zone_state_data SET data = substr(data, 1, 3) WHERE block = 1"])
        try #require(status == 0)
        let store = try SQLiteEventStore(path: path, logger: quietLogger)
        let loaded = try await store.loadZoneStates()
        #expect(loaded.count == SQLiteEventStore.zoneStatesPerBlock)
        #expect(loaded.allSatisfy { $0.zone.camera == "GOOD" })
    }

    /// A record as the store wrote it before v11 (`zone_state_blocks`): camera, zone, policy and
    /// data, each a little-endian 32-bit length and the bytes.
    static func recordHex(_ camera: String, _ zone: String, _ data: [UInt8]) -> String {
        func field(_ bytes: [UInt8]) -> [UInt8] {
            withUnsafeBytes(of: UInt32(bytes.count).littleEndian, Array.init) + bytes
        }
        let record = field(Array(camera.utf8)) + field(Array(zone.utf8)) + field(Array("dwell".utf8)) + field(data)
        return record.map { String(format: "%02X", $0) }.joined()
    }

    @Test("blocks of the layout before v11 (keys in every block, any size) load, and the next save converts them")
    func legacyLayout() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.file()
        do {
            let store = try SQLiteEventStore(path: path, logger: quietLogger)
            #expect(try await store.loadZoneStates().isEmpty)
        }
        // three small blocks of two zones each, as an older layout (or another size) leaves them
        let rows = (0..<3).map { b in
            "(\(b), X'\(Self.recordHex("OLD", "\(2 * b)", [UInt8(b), 1]))\(Self.recordHex("OLD", "\(2 * b + 1)", [UInt8(b), 2]))')"
        }
        let status = try await runProgram("/usr/bin/sqlite3", [path, "INSERT INTO zone_state_blocks (block, data) VALUES \(rows.joined(separator: ", "))"])
        try #require(status == 0)
        do {
            let store = try SQLiteEventStore(path: path, logger: quietLogger)
            #expect(try await store.loadZoneStates().count == 6)
            try await store.saveZoneStates([SavedZoneState(zone: ZoneKey(camera: "OLD", zone: "3"), policy: "dwell", data: [7])])
            #expect(try await store.zoneStateBlocks() == 1)
        }
        // the old rows are gone, the keys are written once
        let counts = try await runProgramOutput(
            "/usr/bin/sqlite3", [path, "SELECT (SELECT COUNT(*) FROM zone_state_blocks) || ' ' || (SELECT COUNT(*) FROM zone_state_keys)"])
        #expect(counts.trimmingCharacters(in: .whitespacesAndNewlines) == "0 6")
        let store = try SQLiteEventStore(path: path, logger: quietLogger)
        let loaded = Dictionary(uniqueKeysWithValues: try await store.loadZoneStates().map { ($0.zone.zone, $0.data) })
        #expect(loaded == ["0": [0, 1], "1": [0, 2], "2": [1, 1], "3": [7], "4": [2, 1], "5": [2, 2]])
    }
}
