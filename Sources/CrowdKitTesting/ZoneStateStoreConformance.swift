import CrowdKitCore

/// Checks that a ``ZoneStateStore`` keeps the contract written on the protocol. Run it from a
/// test of your own store:
///
/// ```swift
/// @Test func conforms() async throws {
///     try await ZoneStateStoreConformance.run { try MyStore(path: temporaryFile()) }
/// }
/// ```
///
/// `reopen`, when given, opens the same durable store again (a restart) and the suite checks
/// that the states survive it.
public enum ZoneStateStoreConformance {
    public enum Check: String, CaseIterable, Sendable, CustomStringConvertible {
        case emptyStoreLoadsNothing
        case saveThenLoadGivesBytesExactly
        case laterSaveReplacesTheZone
        case lastOfOneCallWins
        case manyZonesInManySaves
        case numberedBatchesFromSeveralDirectories
        case survivesReopening

        public var description: String { rawValue }
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var check: Check
        public var message: String
        public var description: String { "ZoneStateStore conformance \(check): \(message)" }
    }

    /// Runs every check, each on a fresh store; throws one failure listing all that failed.
    public static func run(
        makeStore: () async throws -> any ZoneStateStore,
        reopen: ((any ZoneStateStore) async throws -> any ZoneStateStore)? = nil
    ) async throws {
        var failures: [Failure] = []
        for check in Check.allCases {
            do {
                let store = try await makeStore()
                try await run(check, store, reopen: reopen)
            } catch let f as Failure {
                failures.append(f)
            } catch {
                failures.append(Failure(check: check, message: "threw \(error)"))
            }
        }
        if failures.count == 1 { throw failures[0] }
        if !failures.isEmpty {
            throw Failure(
                check: failures[0].check,
                message: "\(failures.count) checks failed:\n" + failures.map { "- \($0)" }.joined(separator: "\n"))
        }
    }

    /// A state with recognisable bytes (zero bytes and 0xFF included).
    public static func state(_ camera: String, _ zone: String, policy: String = "dwell", seed: UInt8) -> SavedZoneState {
        SavedZoneState(
            zone: ZoneKey(camera: camera, zone: zone), policy: policy,
            data: [0, seed, 0xFF, seed &+ 1, 0] + Array(repeating: seed, count: Int(seed % 7)))
    }

    static func loaded(_ store: any ZoneStateStore) async throws -> [ZoneKey: SavedZoneState] {
        var out: [ZoneKey: SavedZoneState] = [:]
        for s in try await store.loadZoneStates() {
            if out[s.zone] != nil { throw Failure(check: .saveThenLoadGivesBytesExactly, message: "zone \(s.zone) loaded twice") }
            out[s.zone] = s
        }
        return out
    }

    public static func run(
        _ check: Check, _ store: any ZoneStateStore, reopen: ((any ZoneStateStore) async throws -> any ZoneStateStore)?
    ) async throws {
        func expect(_ ok: Bool, _ message: String) throws {
            if !ok { throw Failure(check: check, message: message) }
        }
        switch check {
        case .emptyStoreLoadsNothing:
            try expect(try await store.loadZoneStates().isEmpty, "a new store loads no zone state")
            try await store.saveZoneStates([])
            try expect(try await store.loadZoneStates().isEmpty, "saving nothing saves nothing")
        case .saveThenLoadGivesBytesExactly:
            let states = [state("Q2GV-A", "0", seed: 1), state("Q2GV-A", "5843", seed: 2), state("Q2GV-B", "0", policy: "messageCount", seed: 3)]
            try await store.saveZoneStates(states)
            let got = try await loaded(store)
            try expect(got.count == 3, "3 zones saved, \(got.count) loaded")
            for s in states { try expect(got[s.zone] == s, "zone \(s.zone) reads back exactly (policy and bytes)") }
        case .laterSaveReplacesTheZone:
            try await store.saveZoneStates([state("Q2GV-A", "0", seed: 1), state("Q2GV-B", "0", seed: 2)])
            let newer = state("Q2GV-A", "0", policy: "messageCount", seed: 9)
            try await store.saveZoneStates([newer])
            let got = try await loaded(store)
            try expect(got[newer.zone] == newer, "a later save replaces the zone's state, whatever its policy")
            try expect(got[ZoneKey(camera: "Q2GV-B", zone: "0")] == state("Q2GV-B", "0", seed: 2), "other zones are kept")
        case .lastOfOneCallWins:
            try await store.saveZoneStates([state("Q2GV-A", "0", seed: 1), state("Q2GV-A", "0", seed: 4)])
            let got = try await loaded(store)
            try expect(got.count == 1 && got.values.first == state("Q2GV-A", "0", seed: 4), "the last state of a zone in one call wins")
        case .manyZonesInManySaves:
            // more saves than a compacting store keeps apart, so compaction (if any) runs
            for round in 0..<30 {
                let batch = (0..<2000).map { state("Q2GV-\($0 % 50)", "\($0 / 50)", seed: UInt8((round + $0) % 251)) }
                try await store.saveZoneStates(batch)
            }
            let got = try await loaded(store)
            try expect(got.count == 2000, "2000 zones saved 30 times, \(got.count) loaded")
            for i in [0, 777, 1999] {
                let expected = state("Q2GV-\(i % 50)", "\(i / 50)", seed: UInt8((29 + i) % 251))
                try expect(got[expected.zone] == expected, "zone \(expected.zone) has its last state")
            }
        case .numberedBatchesFromSeveralDirectories:
            // the form the engine saves in: zone numbers of one directory, batch after batch; a
            // store that remembers numbers must notice a new directory and a zone's new policy
            let first = ZoneDirectory()
            let a = first.id(for: ZoneKey(camera: "Q2GV-A", zone: "0"), policy: "dwell")
            let b = first.id(for: ZoneKey(camera: "Q2GV-B", zone: "0"), policy: "dwell")
            var one = ZoneStateBatch(directory: first)
            one.append(a, [1, 1])
            one.append(b, [2, 2])
            try await store.saveZoneStates(one)
            var two = ZoneStateBatch(directory: first)
            let c = first.id(for: ZoneKey(camera: "Q2GV-C", zone: "7"), policy: "dwell")
            two.append(b, [3])
            two.append(c, [4, 0, 4])
            try await store.saveZoneStates(two)
            var got = try await loaded(store)
            try expect(got.count == 3, "3 zones saved in two numbered batches, \(got.count) loaded")
            try expect(got[ZoneKey(camera: "Q2GV-B", zone: "0")]?.data == [3], "the second batch's state of a zone replaces the first's")
            try expect(got[ZoneKey(camera: "Q2GV-C", zone: "7")]?.data == [4, 0, 4], "a zone numbered after the first save is saved")
            // another directory numbers the zones otherwise (zone 0 is now C), with another policy for A
            let second = ZoneDirectory()
            var three = ZoneStateBatch(directory: second)
            three.append(second.id(for: ZoneKey(camera: "Q2GV-C", zone: "7"), policy: "dwell"), [5])
            three.append(second.id(for: ZoneKey(camera: "Q2GV-A", zone: "0"), policy: "messageCount"), [6])
            try await store.saveZoneStates(three)
            var four = ZoneStateBatch(directory: first)
            four.append(b, [7])
            try await store.saveZoneStates(four)
            got = try await loaded(store)
            let expected: [ZoneKey: SavedZoneState] = [
                ZoneKey(camera: "Q2GV-A", zone: "0"): SavedZoneState(zone: ZoneKey(camera: "Q2GV-A", zone: "0"), policy: "messageCount", data: [6]),
                ZoneKey(camera: "Q2GV-B", zone: "0"): SavedZoneState(zone: ZoneKey(camera: "Q2GV-B", zone: "0"), policy: "dwell", data: [7]),
                ZoneKey(camera: "Q2GV-C", zone: "7"): SavedZoneState(zone: ZoneKey(camera: "Q2GV-C", zone: "7"), policy: "dwell", data: [5]),
            ]
            try expect(got == expected, "batches of two directories in turn: each zone has its latest state and policy, got \(got.values.sorted { $0.zone < $1.zone })")
        case .survivesReopening:
            guard let reopen else { return }
            let states = (0..<100).map { state("Q2GV-R", "\($0)", seed: UInt8($0)) }
            try await store.saveZoneStates(states)
            let again = try await reopen(store)
            let got = try await loaded(again)
            try expect(got.count == 100 && states.allSatisfy { got[$0.zone] == $0 }, "saved states survive reopening the store")
        }
    }
}
