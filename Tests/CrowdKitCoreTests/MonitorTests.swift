import CrowdKitCore
import CrowdKitTesting
import Logging
import Testing

@Suite("CrowdMonitor")
struct MonitorTests {
    static let logger = Logger(label: "test")

    static func feed(camera: String = "Q2", zone: String = "0") -> ScriptedSource {
        // crowd of 4 from 0 to 10 s, then empty: fires at 5 s (D=5), ends at 10 s
        ScriptedSource(
            camera: camera, zone: zone,
            readings: (0...10).map { (Int64($0) * 1000, 4) } + (11...20).map { (Int64($0) * 1000, 0) })
    }

    static let policy = DwellPolicy(DwellParameters(minPeople: 3, dwell: .seconds(5), gap: .seconds(1), cooldown: .zero))

    @Test("fired and ended changes reach the store with one delivery per notifier and kind")
    func storesChanges() async throws {
        let store = InMemoryEventStore()
        let monitor = CrowdMonitor(
            source: Self.feed(), policy: Self.policy, store: store,
            notifiers: NotificationPlan(notifiers: ["webex", "log"], kinds: [.fired]), logger: Self.logger)
        try await monitor.run()
        let page = try await store.events(EventQuery())
        #expect(page.records.count == 1)
        let record = try #require(page.records.first)
        #expect(record.event.startedAt == 0)
        #expect(record.event.firedAt == 5000)
        #expect(record.event.endedAt == 10_000)
        #expect(record.deliveries.map(\.notifier).sorted() == ["log", "webex"])
        #expect(record.deliveries.allSatisfy { $0.kind == .fired && $0.status == .pending })
        let pending = try await store.pendingDeliveries(limit: 10)
        #expect(pending.count == 2)
        #expect(monitor.statistics.fired == 1)
        #expect(monitor.statistics.ended == 1)
        #expect(monitor.zones.first?.phase == .idle)
    }

    @Test("listeners get every change in order")
    func listeners() async throws {
        let monitor = CrowdMonitor(
            source: Self.feed(), policy: Self.policy, store: InMemoryEventStore(), logger: Self.logger)
        let changes = monitor.changes()
        try await monitor.run()
        var kinds: [NotificationKind] = []
        for await c in changes { kinds.append(c.kind) }
        #expect(kinds == [.fired, .ended])
    }

    @Test("replaying the same feed twice into one store keeps one event per episode")
    func idempotentReprocessing() async throws {
        let store = InMemoryEventStore()
        for _ in 0..<2 {
            let monitor = CrowdMonitor(
                source: Self.feed(), policy: Self.policy, store: store,
                notifiers: NotificationPlan(notifiers: ["log"]), logger: Self.logger)
            try await monitor.run()
        }
        #expect(await store.count == 1)
        #expect(try await store.pendingDeliveries(limit: 10).count == 1)
    }

    @Test("a failing store is retried; the change is not lost")
    func storeRetry() async throws {
        let store = FlakyStore(failures: 3)
        // the feed ends at once: the writer keeps trying for its shutdown budget (long enough on a
        // loaded machine)
        let monitor = CrowdMonitor(
            source: Self.feed(), policy: Self.policy, store: store,
            storeWrites: StoreWriteConfiguration(retryInterval: .milliseconds(20), shutdownTimeout: .seconds(60)), logger: Self.logger)
        try await monitor.run()
        #expect(await store.inner.count == 1)
        #expect(await store.attempts >= 5)  // 3 failures + fired + ended
    }

    @Test("a live source held open stops on cancellation")
    func cancellation() async throws {
        let source = ScriptedSource(camera: "Q2", zone: "0", readings: [(0, 4), (6000, 4)], holdOpen: true)
        let monitor = CrowdMonitor(source: source, policy: Self.policy, store: InMemoryEventStore(), logger: Self.logger)
        let changes = monitor.changes()
        let task = Task { try await monitor.run() }
        var iterator = changes.makeAsyncIterator()
        let first = await iterator.next()
        #expect(first?.kind == .fired)
        task.cancel()
        try await task.value
        #expect(await iterator.next() == nil)
    }
}

/// A store that fails its first `failures` writes.
actor FlakyStore: EventStore {
    let inner = InMemoryEventStore()
    var failures: Int
    var attempts = 0
    init(failures: Int) { self.failures = failures }

    func apply(_ change: EventChange) async throws {
        attempts += 1
        if failures > 0 {
            failures -= 1
            throw EventStoreError(.unavailable, "disk full (test)")
        }
        try await inner.apply(change)
    }
    func record(id: CrowdEventID) async throws -> EventRecord? { try await inner.record(id: id) }
    func events(_ query: EventQuery) async throws -> EventPage { try await inner.events(query) }
    func pendingDeliveries(limit: Int) async throws -> [Delivery] { try await inner.pendingDeliveries(limit: limit) }
    func claimDeliveries(_ claim: DeliveryClaim) async throws -> [Delivery] { try await inner.claimDeliveries(claim) }
    func updateDelivery(_ delivery: Delivery) async throws { try await inner.updateDelivery(delivery) }
    func prune(startedBefore cameraTime: Int64) async throws -> Int { try await inner.prune(startedBefore: cameraTime) }
}

/// A source that only hands over batches: its messages() fails, so a monitor that did not take
/// the batch path would fail.
struct BatchOnlySource: MessageSource {
    let batches: [[RawMessage]]

    struct NotThisWay: Error {}

    func messages() async throws -> AsyncStream<SourceMessage> { throw NotThisWay() }

    struct Reader: RawBatchReader {
        var pending: [[RawMessage]]
        mutating func next(into batch: inout RawMessageBatch) async throws -> Bool {
            guard !pending.isEmpty else { return false }
            for m in pending.removeFirst() { batch.append(m) }
            return true
        }
    }

    func batchReader() async throws -> Reader? { Reader(pending: batches) }
}

@Suite("CrowdMonitor batch path")
struct MonitorBatchPathTests {
    @Test("a source with batches is read a batch at a time: the same events as replay, rejected messages counted")
    func batches() async throws {
        let readings = (0...30).map { RawMessage(topic: "/merakimv/Q2GV-BTCH-0001/0", payload: #"{"ts":\#(1_714_632_600_000 + Int64($0) * 1000),"counts":{"person":\#($0 < 20 ? 5 : 0)}}"#) }
        let bad = RawMessage(topic: "/merakimv/Q2GV-BTCH-0001/0", payload: "not json")
        let batches = [Array(readings[0..<10]) + [bad], Array(readings[10...])]
        let store = InMemoryEventStore()
        let policy = DwellPolicy(DwellParameters(minPeople: 3, dwell: .seconds(5), gap: .seconds(1)))
        let monitor = CrowdMonitor(source: BatchOnlySource(batches: batches), policy: policy, store: store, logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
        try await monitor.run()
        #expect(monitor.processedMessages == 32)
        #expect(monitor.statistics.rejectedByReason == [.notJSON: 1])
        var engine = DetectionEngine(policy: policy)
        var expected: [CrowdEventID: CrowdEvent] = [:]
        for m in readings { _ = engine.process(m) { expected[$0.event.id] = $0.event } }
        let stored = try await store.events(EventQuery(limit: 10)).records.map(\.event)
        #expect(!stored.isEmpty)
        #expect(stored.map(\.id) == expected.values.map(\.id))
        #expect(stored.first?.endedAt == expected.values.first?.endedAt)
    }
}

/// A zone state store whose load waits until `release()`.
private final class SlowLoadingStates: ZoneStateStore, Sendable {
    private let gate = LockedBox<(released: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    let inner = InMemoryEventStore()

    func release() {
        let waiters = gate.withLock { g in
            g.released = true
            defer { g.waiters = [] }
            return g.waiters
        }
        for w in waiters { w.resume() }
    }

    func saveZoneStates(_ batch: ZoneStateBatch) async throws { try await inner.saveZoneStates(batch) }

    func loadZoneStates() async throws -> [SavedZoneState] {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = gate.withLock { g in
                if g.released { return true }
                g.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
        return try await inner.loadZoneStates()
    }
}

@Suite("CrowdMonitor start")
struct MonitorStartTests {
    @Test("hasStarted is false until the saved zone states are restored (readiness waits for it)")
    func startedAfterRestore() async throws {
        let states = SlowLoadingStates()
        let policy = DwellPolicy(DwellParameters(minPeople: 3, dwell: .seconds(5), gap: .seconds(1)))
        let readings = (0..<3).map { RawMessage(topic: "/merakimv/Q2GV-STRT-0001/0", payload: #"{"ts":\#(1_714_632_600_000 + Int64($0) * 1000),"counts":{"person":5}}"#) }
        let monitor = CrowdMonitor(
            source: BatchOnlySource(batches: [readings]), policy: policy, store: InMemoryEventStore(), zoneStates: states,
            logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
        let run = Task { try await monitor.run() }
        try await Task.sleep(for: .milliseconds(200))
        #expect(!monitor.hasStarted)
        #expect(monitor.processedMessages == 0)
        states.release()
        try await run.value
        #expect(monitor.hasStarted)
        #expect(monitor.processedMessages == 3)
    }
}
