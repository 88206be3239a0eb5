import CrowdKitCore
import CrowdKitTestServers
import Foundation
import Logging
import Synchronization
import Testing

/// An ``EventStore`` whose writes fail while `failing` is set (as SQLite does on a full disk:
/// reads work, writes throw). Everything else is the real ``InMemoryEventStore``.
final class WriteFailingStore: EventStore {
    let inner = InMemoryEventStore()
    let failing = Atomic<Bool>(false)
    let failedWrites = Atomic<Int>(0)

    private func check() throws {
        if failing.load(ordering: .relaxed) {
            failedWrites.add(1, ordering: .relaxed)
            throw EventStoreError(.unavailable, "database or disk is full (SQLITE_FULL)")
        }
    }

    func apply(_ change: EventChange) async throws {
        try check()
        try await inner.apply(change)
    }
    func apply(contentsOf changes: [EventChange]) async throws {
        try check()
        try await inner.apply(contentsOf: changes)
    }
    func enrich(_ enriched: CrowdEvent) async throws {
        try check()
        try await inner.enrich(enriched)
    }
    func record(id: CrowdEventID) async throws -> EventRecord? { try await inner.record(id: id) }
    func events(_ query: EventQuery) async throws -> EventPage { try await inner.events(query) }
    func pendingDeliveries(limit: Int) async throws -> [Delivery] { try await inner.pendingDeliveries(limit: limit) }
    func claimDeliveries(_ claim: DeliveryClaim) async throws -> [Delivery] {
        try check()  // a claim writes its lease
        return try await inner.claimDeliveries(claim)
    }
    func updateDelivery(_ delivery: Delivery) async throws {
        try check()
        try await inner.updateDelivery(delivery)
    }
    func prune(startedBefore cameraTime: Int64) async throws -> Int {
        try check()
        return try await inner.prune(startedBefore: cameraTime)
    }
}

/// A live feed the test pushes messages into.
struct PushSource: MessageSource {
    let stream: AsyncStream<SourceMessage>
    let continuation: AsyncStream<SourceMessage>.Continuation

    init() { (stream, continuation) = AsyncStream.makeStream() }

    func messages() async throws -> AsyncStream<SourceMessage> { stream }

    /// A crowd of 5 at `camera` zone 0 from `start` for 3 s (fires after the 1 s dwell), then empty.
    func crowd(_ camera: String, start: Int64) {
        for i in 0...3 { reading(camera, start + Int64(i) * 1000, 5) }
        reading(camera, start + 4000, 0)
    }

    func reading(_ camera: String, _ ts: Int64, _ people: Int) {
        continuation.yield(.raw(RawMessage(topic: "/merakimv/\(camera)/0", payload: #"{"ts":\#(ts),"counts":{"person":\#(people)}}"#)))
    }
}

@Suite("A failing store: detection and notifications go on, nothing is sent twice, everything is stored later")
struct FailingStoreTests {
    static let policy = DwellPolicy(DwellParameters(minPeople: 3, dwell: .seconds(1), gap: .zero, cooldown: .zero))

    @Test("crowds raised while writes fail are notified exactly once and stored once the store accepts writes")
    func failingWrites() async throws {
        let store = WriteFailingStore()
        let source = PushSource()
        let monitor = CrowdMonitor(
            source: source, policy: Self.policy, store: store, notifiers: NotificationPlan(notifiers: ["webex"]),
            storeWrites: StoreWriteConfiguration(retryInterval: .milliseconds(20), maxRetryInterval: .milliseconds(100)),
            logger: quietLogger())
        let notifier = ScriptedNotifier(name: "webex")
        let delivery = DeliveryService(
            store: store, notifiers: [notifier],
            configuration: DeliveryConfiguration(pollInterval: .milliseconds(30), initialBackoff: .milliseconds(20)),
            logger: quietLogger())
        let changes = monitor.changes(buffer: 1000)
        let monitorTask = Task { try await monitor.run() }
        let deliveryTask = Task { await delivery.run(changes: changes) }
        defer {
            monitorTask.cancel()
            deliveryTask.cancel()
        }

        // healthy: one crowd, stored and sent
        source.crowd("Q2GV-FAIL-0000", start: 1_714_632_600_000)
        #expect(await eventually { notifier.received.count == 1 })
        #expect(await eventually { (try? await store.inner.pendingDeliveries(limit: 10).isEmpty) == true })

        // the disk is full: five more crowds
        store.failing.store(true, ordering: .relaxed)
        let cameras = (1...5).map { "Q2GV-FAIL-000\($0)" }
        for (i, camera) in cameras.enumerated() { source.crowd(camera, start: 1_714_632_700_000 + Int64(i) * 10_000) }
        #expect(await eventually { notifier.received.count == 6 }, "every crowd is notified while the store fails")
        #expect(await eventually { monitor.storeHealth.backlog > 0 && !monitor.storeHealth.isHealthy })
        #expect(await eventually { await delivery.unrecordedStatuses == 5 })
        // many polls later: still one notification per crowd (the outbox rows, when written, say pending)
        try await Task.sleep(for: .milliseconds(500))
        #expect(notifier.received.count == 6)
        #expect(store.failedWrites.load(ordering: .relaxed) > 5)
        #expect(await store.inner.count == 1)

        // the store accepts writes again
        store.failing.store(false, ordering: .relaxed)
        #expect(await eventually { monitor.storeHealth.isHealthy && monitor.storeHealth.backlog == 0 })
        #expect(await eventually { await delivery.unrecordedStatuses == 0 })
        #expect(await eventually { (try? await store.inner.pendingDeliveries(limit: 10).isEmpty) == true })
        try await Task.sleep(for: .milliseconds(300))
        #expect(notifier.received.count == 6, "nothing was sent twice")
        #expect(Set(notifier.received.map(\.event.camera)) == Set(["Q2GV-FAIL-0000"] + cameras))
        let page = try await store.inner.events(EventQuery(limit: 100))
        #expect(page.records.count == 6)
        for record in page.records {
            #expect(record.event.endedAt != nil, "the ended change was written too")
            #expect(record.deliveries.count == 1)
            #expect(record.deliveries.first?.status == .sent(remoteID: "m-1"))
        }
        source.continuation.finish()
        try await monitorTask.value
    }

    @Test("stopping while the store fails ends within the writer's limit and broadcasts what waits")
    func stopWhileFailing() async throws {
        let store = WriteFailingStore()
        store.failing.store(true, ordering: .relaxed)
        let source = PushSource()
        let monitor = CrowdMonitor(
            source: source, policy: Self.policy, store: store, notifiers: NotificationPlan(notifiers: ["webex"]),
            storeWrites: StoreWriteConfiguration(retryInterval: .milliseconds(20), shutdownTimeout: .milliseconds(300)),
            logger: quietLogger())
        let changes = monitor.changes(buffer: 100)
        let task = Task { try await monitor.run() }
        source.crowd("Q2GV-STOP-0001", start: 1_714_632_600_000)
        #expect(await eventually { monitor.storeHealth.backlog == 2 })
        let start = ContinuousClock.now
        source.continuation.finish()
        try await task.value
        // bounded (the store never recovers: without the writer's limit this would never end);
        // generous, as the suite runs in parallel on a loaded machine
        let took = ContinuousClock.now - start
        #expect(took < .seconds(30), "took \(took)")
        var kinds: [NotificationKind] = []
        for await c in changes { kinds.append(c.kind) }
        #expect(kinds == [.fired, .ended])
        #expect(await store.inner.count == 0)
    }

    @Test("the memory queue is bounded: the oldest changes are dropped and counted, their notifications still go out")
    func boundedQueue() async throws {
        let store = WriteFailingStore()
        store.failing.store(true, ordering: .relaxed)
        let source = PushSource()
        let monitor = CrowdMonitor(
            source: source, policy: Self.policy, store: store, notifiers: NotificationPlan(notifiers: ["webex"]),
            storeWrites: StoreWriteConfiguration(capacity: 4, retryInterval: .milliseconds(20), shutdownTimeout: .milliseconds(100)),
            logger: quietLogger())
        let changes = monitor.changes(buffer: 100)
        let task = Task { try await monitor.run() }
        for i in 0..<5 { source.crowd("Q2GV-BOUND-000\(i)", start: 1_714_632_600_000 + Int64(i) * 10_000) }
        #expect(await eventually { monitor.storeHealth.dropped == 6 })
        #expect(monitor.storeHealth.backlog == 4)
        store.failing.store(false, ordering: .relaxed)
        #expect(await eventually { monitor.storeHealth.isHealthy && monitor.storeHealth.backlog == 0 })
        source.continuation.finish()
        try await task.value
        var fired = 0
        for await c in changes where c.kind == .fired { fired += 1 }
        #expect(fired == 5)
        #expect(await store.inner.count == 2)
    }
}
