import CrowdKitCore
import Logging
import Synchronization
import Testing

@testable import crowd_notifier

/// Zone rows kept in memory: what `liveZoneSnapshots` returns is set by the test.
private final class FixedSnapshots: ZoneSnapshotStore {
    let rows = Mutex<[String: [ZoneSnapshot]]>([:])
    func publishZoneSnapshots(instance: String, _ zones: [ZoneSnapshot]) async throws {}
    func liveZoneSnapshots(maxAge: Duration, except: String?) async throws -> [String: [ZoneSnapshot]] {
        rows.withLock { $0.filter { $0.key != except } }
    }
}

@Suite("ZoneSnapshotService")
struct ZoneSnapshotServiceTests {
    static func zone(_ camera: String, _ people: Int, ts: Int64) -> ZoneSnapshot {
        ZoneSnapshot(camera: camera, zone: "0", people: people, vehicles: 0, lastTs: ts, phase: .idle)
    }

    @Test("the merge follows both this instance's rows and every refresh of the others', and is reused while neither changed")
    func mergeFollowsItsInputs() async throws {
        let store = FixedSnapshots()
        let logger = Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }
        let coordinator = ClusterCoordinator(name: "me", membership: InMemoryClusterMembership(), logger: logger)
        let own = Mutex<[ZoneSnapshot]>([Self.zone("A", 1, ts: 10)])
        let service = ZoneSnapshotService(store: store, coordinator: coordinator, zones: { own.withLock { $0 } }, logger: logger)
        #expect(service.merged(own: own.withLock { $0 }) == [Self.zone("A", 1, ts: 10)], "nobody else yet")
        store.rows.withLock { $0 = ["other": [Self.zone("B", 2, ts: 10)]] }
        try await service.refresh()
        let first = own.withLock { $0 }
        #expect(service.merged(own: first) == [Self.zone("A", 1, ts: 10), Self.zone("B", 2, ts: 10)])
        #expect(service.merged(own: first) == [Self.zone("A", 1, ts: 10), Self.zone("B", 2, ts: 10)], "reused, the same")
        // this instance's rows change (a new array of the same size)
        own.withLock { $0 = [Self.zone("A", 5, ts: 11)] }
        #expect(service.merged(own: own.withLock { $0 }) == [Self.zone("A", 5, ts: 11), Self.zone("B", 2, ts: 10)])
        // the others' rows change
        store.rows.withLock { $0 = ["other": [Self.zone("B", 7, ts: 12)]] }
        try await service.refresh()
        #expect(service.merged(own: own.withLock { $0 }) == [Self.zone("A", 5, ts: 11), Self.zone("B", 7, ts: 12)])
    }
}
