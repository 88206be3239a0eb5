import CrowdKitCore
import CrowdKitSQLite
import CrowdKitTesting
import Foundation
import Testing

/// A feedback store that forgets action ids: every claim succeeds.
final class ForgetfulClaimsStore: EventFeedbackStore {
    let base = InMemoryEventFeedbackStore()
    func add(_ feedback: EventFeedback) async throws -> Bool { try await base.add(feedback) }
    func feedback(for id: CrowdEventID) async throws -> [EventFeedback] { try await base.feedback(for: id) }
    func feedback(for ids: [CrowdEventID]) async throws -> [CrowdEventID: [EventFeedback]] { try await base.feedback(for: ids) }
    func all() async throws -> [EventFeedback] { try await base.all() }
    func claimAction(id: String, at: Int64) async throws -> Bool { true }
}

@Suite("Event feedback stores (acks, labels, handled actions)")
struct FeedbackStoreTests {
    @Test("SQLiteEventStore passes the EventFeedbackStore conformance suite, reopening included")
    func sqlite() async throws {
        let dir = try TemporaryDirectory()
        var n = 0
        try await EventFeedbackStoreConformance.run(
            makeStore: {
                n += 1
                return try SQLiteEventStore(path: dir.file("f\(n).sqlite"), logger: quietLogger)
            },
            reopen: { store in
                let path = (store as! SQLiteEventStore).configuration.path
                return try SQLiteEventStore(path: path, logger: quietLogger)
            })
    }

    @Test("InMemoryEventFeedbackStore passes the EventFeedbackStore conformance suite")
    func inMemory() async throws {
        try await EventFeedbackStoreConformance.run { InMemoryEventFeedbackStore() }
    }

    @Test("the suite catches a store that forgets action ids")
    func catchesForgetfulClaims() async throws {
        do {
            try await EventFeedbackStoreConformance.run { ForgetfulClaimsStore() }
            Issue.record("a store that forgets action ids passed")
        } catch let failure as ConformanceFailure {
            #expect(failure.includes("actionClaimedOnce"))
            #expect(failure.includes("concurrentClaimsOneWins"))
            #expect(!failure.includes("firstOfEachKindKept"))
        }
    }

    @Test("the suite catches a store that forgets everything at a restart")
    func catchesForgetfulRestart() async throws {
        do {
            try await EventFeedbackStoreConformance.run(
                makeStore: { InMemoryEventFeedbackStore() }, reopen: { _ in InMemoryEventFeedbackStore() })
            Issue.record("a store that forgets at a restart passed")
        } catch let failure as ConformanceFailure {
            #expect(failure.includes("survivesReopening"))
            #expect(!failure.includes("actionClaimedOnce"))
        }
    }

    @Test("feedback is kept when retention prunes its event (labels outlive events)")
    func outlivesRetention() async throws {
        let dir = try TemporaryDirectory()
        let store = try SQLiteEventStore(path: dir.file("r.sqlite"), logger: quietLogger)
        let event = EventFeedbackStoreConformance.event()
        try await store.apply(EventChange(kind: .fired, event: event))
        try await store.add(EventFeedback(event: event, kind: .notCrowd, by: "ops", at: 1))
        #expect(try await store.prune(startedBefore: event.startedAt + 1) == 1)
        #expect(try await store.record(id: event.id) == nil)
        #expect(try await store.labelLines() == EventFeedback(event: event, kind: .notCrowd, by: "ops", at: 1).labelLine + "\n")
    }
}
