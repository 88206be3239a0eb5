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
}
