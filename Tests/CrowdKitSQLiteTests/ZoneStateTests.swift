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
    func saveZoneStates(_ batch: [SavedZoneState]) async throws {
        var seen = Set<ZoneKey>()
        for s in batch where seen.insert(s.zone).inserted { states[s.zone] = s }
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

    @Test("saves rewrite blocks of 32 zones: many saves of the same zones keep one row per block")
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
            #expect(try await store.zoneStateBlocks() == (5000 + 31) / 32)
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
            try await store.saveZoneStates((0..<32).map { ZoneStateStoreConformance.state("GOOD", "\($0)", seed: 1) })
            try await store.saveZoneStates([ZoneStateStoreConformance.state("BAD", "0", seed: 2)])
        }
        // hand-edit the second block: cut it short
        // as an operator would, with the sqlite3 shell (scripts/bootstrap.sh --test installs it)
        let status = try await runProgram(
            "/usr/bin/sqlite3", [path, "UPDATE zone_state_blocks SET data = substr(data, 1, 9) WHERE block = 1"])
        try #require(status == 0)
        let store = try SQLiteEventStore(path: path, logger: quietLogger)
        let loaded = try await store.loadZoneStates()
        #expect(loaded.count == 32)
        #expect(loaded.allSatisfy { $0.zone.camera == "GOOD" })
    }
}
