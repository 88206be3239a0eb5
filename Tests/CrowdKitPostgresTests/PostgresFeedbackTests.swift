import CrowdKitCore
@testable import CrowdKitPostgres
import CrowdKitTestServers
import CrowdKitTesting
import Foundation
import Testing

@Suite("PostgresEventStore feedback (acks, labels, handled actions)")
struct PostgresFeedbackTests {
    @Test("passes the EventFeedbackStore conformance suite; another instance on the database sees the same feedback and claims")
    func conformance() async throws {
        let stores = try await RunningStores()
        try await EventFeedbackStoreConformance.run(
            makeStore: { try await stores.store() },
            reopen: { store in try await stores.store(database: (store as? PostgresEventStore)?.configuration.database) })
    }

    @Test("two instances claiming the same action ids at once: each id is claimed exactly once")
    func claimsAcrossInstances() async throws {
        let stores = try await RunningStores()
        let a = try await stores.store()
        let b = try await stores.store(database: a.configuration.database)
        let wins = try await withThrowingTaskGroup(of: Int.self) { group in
            for store in [a, b] {
                group.addTask {
                    var won = 0
                    for i in 0..<50 where try await store.claimAction(id: "action-\(i)", at: Int64(i)) { won += 1 }
                    return won
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(wins == 50)
    }
}
