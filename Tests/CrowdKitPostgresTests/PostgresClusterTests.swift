import CrowdKitCore
@testable import CrowdKitPostgres
import CrowdKitTesting
import Foundation
import Testing

@Suite("PostgresEventStore: cluster membership")
struct PostgresClusterTests {
    @Test("passes the ClusterMembership conformance suite")
    func conformance() async throws {
        let stores = try await RunningStores()
        let store = try await stores.store()
        try await ClusterMembershipConformance.run { store }
    }

    @Test("instances on one database see each other; a lease ends by the database's clock; leaving is seen at once")
    func twoHandlesOneDatabase() async throws {
        let stores = try await RunningStores()
        let database = try await stores.server.createDatabase()
        let one = try await stores.store(database: database)
        let two = try await stores.store(database: database)
        _ = try await one.heartbeat(MemberHeartbeat(name: "one", lease: .seconds(3)))
        let seen = try await two.heartbeat(MemberHeartbeat(name: "two", lease: .seconds(30)))
        #expect(seen.map(\.name) == ["one", "two"])
        try await Task.sleep(for: .milliseconds(3500))
        #expect(try await two.members().map(\.name) == ["two"], "one's lease ended")
        _ = try await one.heartbeat(MemberHeartbeat(name: "one", lease: .seconds(30)))
        #expect(try await two.members().map(\.name) == ["one", "two"], "one is back")
        try await one.leave("one")
        #expect(try await two.members().map(\.name) == ["two"])
    }

    @Test("loads the saved zone states of some cameras only")
    func zoneStatesByCamera() async throws {
        let stores = try await RunningStores()
        let store = try await stores.store()
        try await store.saveZoneStates([
            ZoneStateStoreConformance.state("A", "0", seed: 1), ZoneStateStoreConformance.state("A", "1", seed: 2),
            ZoneStateStoreConformance.state("B", "0", seed: 3), ZoneStateStoreConformance.state("C", "0", seed: 4),
        ])
        let loaded = try await store.loadZoneStates(cameras: ["A", "C", "nope"])
        #expect(Set(loaded.map(\.zone)) == [ZoneKey(camera: "A", zone: "0"), ZoneKey(camera: "A", zone: "1"), ZoneKey(camera: "C", zone: "0")])
        #expect(loaded.first { $0.zone == ZoneKey(camera: "C", zone: "0") } == ZoneStateStoreConformance.state("C", "0", seed: 4))
        #expect(try await store.loadZoneStates(cameras: []).isEmpty)
    }

    @Test("zone snapshots: each instance replaces its own; the others' are read by any instance; old ones are left out")
    func zoneSnapshots() async throws {
        let stores = try await RunningStores()
        let database = try await stores.server.createDatabase()
        let one = try await stores.store(database: database)
        let two = try await stores.store(database: database)
        func zone(_ camera: String, _ people: Int, ts: Int64) -> ZoneSnapshot {
            ZoneSnapshot(camera: camera, zone: "0", people: people, vehicles: 0, lastTs: ts, phase: .idle)
        }
        try await one.publishZoneSnapshots(instance: "one", [zone("A", 1, ts: 10), zone("B", 2, ts: 10)])
        try await one.publishZoneSnapshots(instance: "one", [zone("A", 3, ts: 20)])
        try await two.publishZoneSnapshots(instance: "two", [zone("C", 4, ts: 20)])
        let seenByTwo = try await two.liveZoneSnapshots(maxAge: .seconds(30), except: "two")
        #expect(seenByTwo == ["one": [zone("A", 3, ts: 20)]], "the last publication replaces the earlier one")
        let all = try await one.liveZoneSnapshots(maxAge: .seconds(30), except: nil)
        #expect(Set(all.keys) == ["one", "two"])
        // ages are the database's clock: one's rows at least 3 s old, two's just written (a
        // margin of 2 s for a loaded machine between the write and the read)
        try await Task.sleep(for: .seconds(3))
        try await two.publishZoneSnapshots(instance: "two", [zone("C", 5, ts: 21)])
        let fresh = try await one.liveZoneSnapshots(maxAge: .seconds(2), except: nil)
        #expect(fresh == ["two": [zone("C", 5, ts: 21)]], "one's rows are 3 s old: left out")
        // rows an older build wrote (Foundation's JSON array of objects) are still read; a row that
        // is neither is skipped, not fatal
        let crowd = ZoneSnapshot(
            camera: "D", zone: "1", people: 7, vehicles: 0, lastTs: 30, phase: .crowd(since: 1, firedAt: 2), eventID: CrowdEventID(rawValue: "e"))
        let older = String(decoding: try JSONEncoder().encode([crowd]), as: UTF8.self)
        for (instance, document) in [("old", older), ("damaged", #"{"v":2,"zones":[["D""#)] {
            _ = try await one.query(
                """
                INSERT INTO zone_snapshots (instance, taken_at, zones)
                VALUES (\(instance), (extract(epoch FROM now()) * 1000)::bigint, \(document))
                """, "test row")
        }
        let mixed = try await one.liveZoneSnapshots(maxAge: .seconds(30), except: "one")
        #expect(mixed["old"] == [crowd])
        #expect(mixed["damaged"] == nil)
        #expect(mixed["two"] == [zone("C", 5, ts: 21)])
    }
}
