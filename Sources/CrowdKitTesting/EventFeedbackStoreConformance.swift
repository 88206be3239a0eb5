import CrowdKitCore
import Foundation

/// Checks an ``EventFeedbackStore``: one entry per event and kind (the first), entries read back
/// field for field and in the order added, the page read (``EventFeedbackStore/feedback(for:)-([CrowdEventID])``)
/// agreeing with the single reads, action ids claimed once (also when claimed at the same time),
/// and (with `reopen`) that feedback and claimed action ids survive a restart.
///
/// ```swift
/// try await EventFeedbackStoreConformance.run(
///     makeStore: { try MyStore(path: temporaryFile()) },
///     reopen: { try MyStore(path: ($0 as! MyStore).path) })
/// ```
public enum EventFeedbackStoreConformance {
    public enum Check: String, CaseIterable, Sendable {
        case emptyStoreHasNothing
        case firstOfEachKindKept
        case fieldsReadBack
        case orderAsAdded
        case pageReadMatchesSingleReads
        case actionClaimedOnce
        case concurrentClaimsOneWins
        case survivesReopening
    }

    static let suite = "EventFeedbackStore"

    /// An event of camera `camera`, zone `zone`, started at `startedAt` (ended 90 s later when `ended`).
    public static func event(camera: String = "Q2MV-FEED-0001", zone: String = "0", startedAt: Int64 = 1_764_666_000_000, ended: Bool = false)
        -> CrowdEvent
    {
        CrowdEvent(
            camera: camera, zone: zone, startedAt: startedAt, firedAt: startedAt + 30_000, endedAt: ended ? startedAt + 90_000 : nil, peak: 6,
            policy: PolicyDescription(name: "dwell", parameters: [:]))
    }

    public static func run(
        makeStore: () async throws -> any EventFeedbackStore,
        reopen: ((any EventFeedbackStore) async throws -> any EventFeedbackStore)? = nil,
        skipping: Set<Check> = []
    ) async throws {
        try await ConformanceRunner.run(suite, Check.self, skipping: Set(skipping.map(\.rawValue))) { check in
            try await run(check, try await makeStore(), reopen: reopen)
        }
    }

    static func run(
        _ check: Check, _ store: any EventFeedbackStore, reopen: ((any EventFeedbackStore) async throws -> any EventFeedbackStore)?
    ) async throws {
        func fail(_ m: String) -> ConformanceFailure { ConformanceFailure(suite: suite, check: check.rawValue, message: m) }
        let a = event()
        let b = event(zone: "5843", startedAt: 1_764_666_500_000, ended: true)
        switch check {
        case .emptyStoreHasNothing:
            guard try await store.all().isEmpty else { throw fail("a new store must have no feedback") }
            guard try await store.feedback(for: a.id).isEmpty else { throw fail("a new store has no feedback on any event") }
            guard try await store.feedback(for: [a.id, b.id]).isEmpty else { throw fail("a page read of a new store must be empty") }
            guard try await store.labelLines().isEmpty else { throw fail("a new store exports no labels") }
        case .firstOfEachKindKept:
            guard try await store.add(EventFeedback(event: a, kind: .acknowledged, by: "first@example.com", at: 1_000)) else {
                throw fail("the first acknowledgement must be recorded (add returns true)")
            }
            guard try await !store.add(EventFeedback(event: a, kind: .acknowledged, by: "second@example.com", at: 2_000)) else {
                throw fail("a second acknowledgement of the same event must return false")
            }
            guard try await store.add(EventFeedback(event: a, kind: .notCrowd, by: "second@example.com", at: 3_000)) else {
                throw fail("another kind on the same event must be recorded")
            }
            guard try await store.add(EventFeedback(event: b, kind: .acknowledged, by: "second@example.com", at: 4_000)) else {
                throw fail("the same kind on another event must be recorded")
            }
            let onA = try await store.feedback(for: a.id)
            guard onA.map(\.kind) == [.acknowledged, .notCrowd] else { throw fail("event a must have one ack and one label: \(onA)") }
            guard onA.acknowledgement?.by == "first@example.com", onA.acknowledgement?.at == 1_000 else {
                throw fail("the first acknowledgement must be kept, not the later one: \(onA)")
            }
        case .fieldsReadBack:
            let entries = [
                EventFeedback(event: a, kind: .notCrowd, by: "Zoë Ångström <zoe@example.com>", at: 1_764_666_123_456),
                EventFeedback(event: b, kind: .crowd, by: "token:ops", at: 1_764_666_654_321),
            ]
            for e in entries { try await store.add(e) }
            guard try await store.all() == entries else { throw fail("entries must read back as added, every field: \(try await store.all())") }
            guard try await store.feedback(for: b.id) == [entries[1]] else { throw fail("an ended event's entry keeps its endedAt") }
            let lines = try await store.labelLines()
            guard lines == entries.map({ $0.labelLine + "\n" }).joined() else { throw fail("labelLines must list both labels: \(lines)") }
        case .orderAsAdded:
            let entries = [
                EventFeedback(event: b, kind: .notCrowd, by: "x", at: 5_000),
                EventFeedback(event: a, kind: .acknowledged, by: "y", at: 1_000),
                EventFeedback(event: b, kind: .acknowledged, by: "z", at: 3_000),
                EventFeedback(event: a, kind: .crowd, by: "w", at: 2_000),
            ]
            for e in entries { try await store.add(e) }
            guard try await store.all() == entries else { throw fail("all() must be in the order added (not by time or event)") }
            guard try await store.feedback(for: b.id) == [entries[0], entries[2]] else { throw fail("feedback(for:) must be in the order added") }
        case .pageReadMatchesSingleReads:
            let c = event(camera: "Q2MV-FEED-0002", startedAt: 1_764_667_000_000)
            try await store.add(EventFeedback(event: a, kind: .acknowledged, by: "x", at: 1))
            try await store.add(EventFeedback(event: b, kind: .notCrowd, by: "y", at: 2))
            try await store.add(EventFeedback(event: a, kind: .notCrowd, by: "z", at: 3))
            let page = try await store.feedback(for: [a.id, b.id, c.id])
            guard page.count == 2, page[c.id] == nil else { throw fail("events without feedback are absent from a page read: \(page)") }
            for id in [a.id, b.id] {
                guard try await page[id] == store.feedback(for: id) else { throw fail("the page read of \(id) differs from its single read") }
            }
            guard try await store.feedback(for: [b.id]).keys.sorted(by: { $0.rawValue < $1.rawValue }) == [b.id] else {
                throw fail("a page read returns only the events asked for")
            }
            guard try await store.feedback(for: []).isEmpty else { throw fail("a page read of no events is empty") }
        case .actionClaimedOnce:
            guard try await store.claimAction(id: "action-1", at: 1_000) else { throw fail("the first claim of an action id must succeed") }
            guard try await !store.claimAction(id: "action-1", at: 2_000) else {
                throw fail("a second claim of the same action id must fail (the store forgets action ids)")
            }
            guard try await store.claimAction(id: "action-2", at: 2_000) else { throw fail("another action id must be claimable") }
        case .concurrentClaimsOneWins:
            let wins = await withTaskGroup(of: Bool.self) { group in
                for i in 0..<8 {
                    group.addTask { (try? await store.claimAction(id: "action-race", at: Int64(i))) == true }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            guard wins == 1 else { throw fail("of 8 claims of one action id at once, exactly one must succeed; \(wins) did") }
        case .survivesReopening:
            guard let reopen else { return }
            let entry = EventFeedback(event: a, kind: .acknowledged, by: "first@example.com", at: 1_000)
            try await store.add(entry)
            guard try await store.claimAction(id: "action-before-restart", at: 1_000) else { throw fail("the first claim must succeed") }
            let again = try await reopen(store)
            guard try await again.all() == [entry] else { throw fail("feedback must survive a reopen") }
            guard try await !again.claimAction(id: "action-before-restart", at: 2_000) else {
                throw fail("an action id claimed before a restart must stay claimed after it")
            }
            guard try await !again.add(EventFeedback(event: a, kind: .acknowledged, by: "later@example.com", at: 2_000)) else {
                throw fail("an acknowledgement made before a restart must still count as the first")
            }
        }
    }
}
