import CrowdKitCore
@testable import CrowdKitSQLite
import CrowdKitTesting
import Foundation
import Logging
import Synchronization
import Testing

/// A temporary directory removed when the value goes away.
final class TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "crowdkit-sqlite-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String = "events.sqlite") -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

let quietLogger = Logger(label: "test.sqlite") { _ in SwiftLogNoOpLogHandler() }

@Suite("SQLiteEventStore")
struct SQLiteEventStoreTests {
    @Test("passes the EventStore conformance suite", arguments: EventStoreConformance.Check.allCases)
    func conformance(_ check: EventStoreConformance.Check) async throws {
        let dir = try TemporaryDirectory()
        var n = 0
        try await EventStoreConformance.run(check) {
            n += 1
            return try SQLiteEventStore(path: dir.file("store-\(n).sqlite"), logger: quietLogger)
        }
    }

    @Test("migrates an empty file, in WAL mode, and reopens without migrating again")
    func migrationsFromEmptyFile() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.file()
        #expect(!FileManager.default.fileExists(atPath: path))
        do {
            let store = try SQLiteEventStore(path: path, logger: quietLogger)
            #expect(try await store.appliedMigrations() == SQLiteEventStore.migrationNames)
            #expect(try await store.eventCount() == 0)
            try await store.apply(EventStoreConformance.fired(EventStoreConformance.sampleEvent()))
            #expect(FileManager.default.fileExists(atPath: path + "-wal"), "WAL journal file while open")
        }
        #expect(FileManager.default.fileExists(atPath: path))
        let reopened = try SQLiteEventStore(path: path, logger: quietLogger)
        #expect(try await reopened.appliedMigrations() == SQLiteEventStore.migrationNames)
        #expect(try await reopened.eventCount() == 1)
    }

    @Test("a file that is not a database is reported as unavailable")
    func notADatabase() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("garbage.sqlite")
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try SQLiteEventStore(path: path, logger: quietLogger)
        } throws: { error in
            (error as? EventStoreError)?.code == .unavailable
        }
    }

    @Test("rejects a retention shorter than a day")
    func invalidRetention() throws {
        let dir = try TemporaryDirectory()
        #expect(throws: EventStoreError.self) {
            _ = try SQLiteEventStore(
                configuration: .init(path: dir.file(), retentionDays: 0), logger: quietLogger)
        }
    }

    @Test("after a restart, pending deliveries are handed out again; sent ones are not")
    func restartResumesPendingDeliveries() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.file()
        let events = (0..<3).map {
            EventStoreConformance.sampleEvent(camera: "CAM-\($0)", startedAt: 1_000 + Int64($0))
        }
        var allIDs: [String] = []
        var sentID = ""
        do {
            let store = try SQLiteEventStore(path: path, logger: quietLogger)
            for (i, e) in events.enumerated() {
                let change = EventStoreConformance.fired(e, notifiers: ["webex"], createdAt: 10 + Int64(i))
                try await store.apply(change)
                allIDs += change.deliveries.map(\.id)
            }
            // One send completed before the stop; one was in flight (attempt counted, not sent).
            var sent = try await store.pendingDeliveries(limit: 1)[0]
            sent.status = .sent(remoteID: "m-1")
            sent.attempts = 1
            try await store.updateDelivery(sent)
            sentID = sent.id
            var inFlight = try await store.pendingDeliveries(limit: 1)[0]
            inFlight.attempts = 1
            try await store.updateDelivery(inFlight)
        }
        let reopened = try SQLiteEventStore(path: path, logger: quietLogger)
        let pending = try await reopened.pendingDeliveries(limit: 10)
        #expect(pending.map(\.id) == allIDs.filter { $0 != sentID })
        #expect(pending.first?.attempts == 1, "the interrupted send keeps its attempt count")
        // Re-processing the same feed after the restart enqueues nothing new.
        for (i, e) in events.enumerated() {
            try await reopened.apply(EventStoreConformance.fired(e, notifiers: ["webex"], createdAt: 99 + Int64(i)))
        }
        #expect(try await reopened.pendingDeliveries(limit: 10).map(\.id) == pending.map(\.id))
        let sentRecord = try #require(try await reopened.record(id: events[0].id))
        #expect(sentRecord.deliveries.first?.status == .sent(remoteID: "m-1"))
    }

    @Test("readers see consistent pages while a writer inserts")
    func concurrentReadersWhileWriting() async throws {
        let dir = try TemporaryDirectory()
        let store = try SQLiteEventStore(path: dir.file(), logger: quietLogger)
        let total = 400
        let writer = Task {
            for i in 0..<total {
                let e = EventStoreConformance.sampleEvent(camera: "CAM-\(i % 7)", startedAt: 1_000_000 + Int64(i))
                try await store.apply(EventStoreConformance.fired(e, notifiers: ["a", "b"]))
            }
        }
        let problems = try await withThrowingTaskGroup(of: Int.self) { group in
            for r in 0..<4 {
                group.addTask {
                    var bad = 0
                    var lastCount = 0
                    for _ in 0..<40 {
                        let page = try await store.events(EventQuery(cameras: r == 0 ? [] : ["CAM-\(r)"], limit: 20))
                        bad += page.records.filter { $0.deliveries.count != 2 }.count
                        let starts = page.records.map(\.event.startedAt)
                        if starts != starts.sorted(by: >) { bad += 1 }
                        let count = try await store.eventCount()
                        if count < lastCount { bad += 1 }
                        lastCount = count
                    }
                    return bad
                }
            }
            return try await group.reduce(0, +)
        }
        try await writer.value
        #expect(problems == 0)
        #expect(try await store.eventCount() == total)
    }

    @Test("retention prunes events older than the configured days, and the loop runs until cancelled")
    func retention() async throws {
        let dir = try TemporaryDirectory()
        let day: Int64 = 86_400_000
        let now: Int64 = 1_800_000_000_000
        let store = try SQLiteEventStore(
            configuration: .init(path: dir.file(), retentionDays: 10, retentionInterval: .milliseconds(20)),
            logger: quietLogger, now: { now })
        let ages: [Int64] = [0, 1, 9, 11, 30, 400]
        for (i, age) in ages.enumerated() {
            let e = EventStoreConformance.sampleEvent(camera: "CAM-\(i)", startedAt: now - age * day - 1)
            try await store.apply(EventStoreConformance.fired(e))
        }
        let loop = Task { await store.runRetention() }
        var remaining = try await store.eventCount()
        for _ in 0..<500 where remaining != 3 {
            try await Task.sleep(for: .milliseconds(10))
            remaining = try await store.eventCount()
        }
        loop.cancel()
        await loop.value
        #expect(remaining == 3)
        let kept = try await store.events(EventQuery()).records.map(\.event.camera).sorted()
        #expect(kept == ["CAM-0", "CAM-1", "CAM-2"])
        #expect(try await store.pendingDeliveries(limit: 100).count == 6, "deliveries of pruned events are deleted")
    }

    @Test("prune deletes in batches larger than one")
    func pruneManyEvents() async throws {
        let dir = try TemporaryDirectory()
        let store = try SQLiteEventStore(path: dir.file(), logger: quietLogger)
        let changes = (0..<5_000).map {
            EventStoreConformance.fired(
                EventStoreConformance.sampleEvent(camera: "CAM-\($0 % 3)", startedAt: Int64($0)), notifiers: ["n"])
        }
        try await store.apply(contentsOf: changes)
        #expect(try await store.eventCount() == 5_000)
        #expect(try await store.prune(startedBefore: 4_500) == 4_500)
        #expect(try await store.eventCount() == 500)
        #expect(try await store.pendingDeliveries(limit: 10_000).count == 500)
    }

    @Test("a batch apply is all or nothing")
    func batchApplyIsAtomic() async throws {
        let dir = try TemporaryDirectory()
        let store = try SQLiteEventStore(path: dir.file(), logger: quietLogger)
        let good = EventStoreConformance.fired(EventStoreConformance.sampleEvent(camera: "GOOD"))
        var bad = EventStoreConformance.fired(EventStoreConformance.sampleEvent(camera: "BAD"))
        // A delivery that points at an event that is not stored violates the foreign key.
        bad.deliveries = [Delivery(eventID: CrowdEventID(rawValue: "ffff"), notifier: "n", kind: .fired, createdAt: 1)]
        await #expect(throws: EventStoreError.self) {
            try await store.apply(contentsOf: [good, bad])
        }
        #expect(try await store.eventCount() == 0)
        #expect(try await store.pendingDeliveries(limit: 10).isEmpty)
    }
}

/// A store that breaks three clauses: it lists oldest first, forgets delivery status updates, and
/// hands out deliveries without leasing them (two workers get the same ones).
struct BrokenStore: EventStore {
    let base: SQLiteEventStore
    func apply(_ change: EventChange) async throws { try await base.apply(change) }
    func record(id: CrowdEventID) async throws -> EventRecord? { try await base.record(id: id) }
    func events(_ query: EventQuery) async throws -> EventPage {
        let page = try await base.events(query)
        return EventPage(records: page.records.reversed(), nextCursor: page.nextCursor)
    }
    func pendingDeliveries(limit: Int) async throws -> [Delivery] { try await base.pendingDeliveries(limit: limit) }
    func claimDeliveries(_ claim: DeliveryClaim) async throws -> [Delivery] {
        try await base.pendingDeliveries(limit: claim.limit).map { d in
            var leased = d
            leased.lease = DeliveryLease(owner: claim.owner, until: claim.leaseUntil)
            return leased
        }
    }
    func updateDelivery(_ delivery: Delivery) async throws {}
    func prune(startedBefore cameraTime: Int64) async throws -> Int { try await base.prune(startedBefore: cameraTime) }
}

@Suite("EventStoreConformance")
struct EventStoreConformanceSelfTests {
    @Test("the suite catches a store that breaks the contract, naming the clauses")
    func catchesBrokenStore() async throws {
        let dir = try TemporaryDirectory()
        var n = 0
        do {
            try await EventStoreConformance.run {
                n += 1
                return BrokenStore(base: try SQLiteEventStore(path: dir.file("b\(n).sqlite"), logger: quietLogger))
            }
            Issue.record("a broken store passed the conformance suite")
        } catch let failure as EventStoreConformanceFailure {
            #expect(failure.message.contains("listsNewestFirstWithIDTieBreak"))
            #expect(failure.message.contains("updateDeliveryStoresStatus"))
            #expect(failure.message.contains("claimsAreExclusive"))
            #expect(!failure.message.contains("recordOfUnknownIDIsNil"))
        }
    }
}

@Suite("InMemoryEventStore conformance")
struct InMemoryConformanceTests {
    @Test("InMemoryEventStore passes the EventStore conformance suite", arguments: EventStoreConformance.Check.allCases)
    func conformance(_ check: EventStoreConformance.Check) async throws {
        try await EventStoreConformance.run(check) { InMemoryEventStore() }
    }
}

@Suite("SQLiteEventStore group commit")
struct GroupCommitTests {
    @Test("concurrent applies commit together, yet a failing change fails alone")
    func failingChangeFailsAlone() async throws {
        let dir = try TemporaryDirectory()
        let store = try SQLiteEventStore(path: dir.file(), logger: quietLogger)
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for i in 0..<64 {
                group.addTask {
                    var change = EventStoreConformance.fired(
                        EventStoreConformance.sampleEvent(camera: "CAM-\(i)", startedAt: 1_000 + Int64(i)), notifiers: ["n"])
                    if i % 9 == 4 {
                        // Refers to an event that is not stored: this change must fail, alone.
                        change.deliveries = [
                            Delivery(eventID: CrowdEventID(rawValue: "dead\(i)"), notifier: "n", kind: .fired, createdAt: 1)
                        ]
                    }
                    do {
                        try await store.apply(change)
                        return (i, true)
                    } catch {
                        return (i, false)
                    }
                }
            }
            var all: [Int: Bool] = [:]
            for await (i, ok) in group { all[i] = ok }
            return all
        }
        let failed = Set(outcomes.filter { !$0.value }.map(\.key))
        #expect(failed == Set((0..<64).filter { $0 % 9 == 4 }))
        #expect(try await store.eventCount() == 64 - failed.count)
        for i in failed {
            let id = CrowdEventID(camera: "CAM-\(i)", zone: "584342051651321858", startedAt: 1_000 + Int64(i))
            #expect(try await store.record(id: id) == nil, "a failed change leaves nothing behind")
        }
        #expect(try await store.pendingDeliveries(limit: 1000).count == 64 - failed.count)
    }
}

/// The group commit itself: writes that arrive while a transaction is being written go into the
/// next one together.
@Suite("Group commit batching")
struct GroupCommitBatchingTests {
    @Test("64 writes arriving during a slow transaction are written in one more transaction, each with its own result")
    func batches() async throws {
        let commit = GroupCommit()
        let firstStarted = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let batches = Mutex<[Int]>([])
        let write: @Sendable ([PendingWrite]) -> [Result<Void, any Error>] = { writes in
            let n = batches.withLock { b in
                b.append(writes.count)
                return b.count
            }
            if n == 1 {
                firstStarted.signal()
                release.wait()  // a slow first transaction (on the commit's own thread)
            }
            return writes.map { w in
                if case .delivery(let d) = w, d.notifier == "bad" { return .failure(EventStoreError(.invalid, "bad")) }
                return .success(())
            }
        }
        func delivery(_ i: Int) -> PendingWrite {
            .delivery(Delivery(eventID: CrowdEventID(rawValue: "e\(i)"), notifier: i == 7 ? "bad" : "n", kind: .fired, createdAt: Int64(i)))
        }
        async let first: Void = commit.apply(delivery(0), write: write)
        await withCheckedContinuation { k in DispatchQueue.global().async { firstStarted.wait(); k.resume() } }
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for i in 1...64 {
                group.addTask {
                    do {
                        try await commit.apply(delivery(i), write: write)
                        return (i, true)
                    } catch { return (i, false) }
                }
            }
            // all 64 are queued behind the slow transaction before it ends
            while commit.queuedForTesting < 64 { try? await Task.sleep(for: .milliseconds(5)) }
            release.signal()
            var out: [Int: Bool] = [:]
            for await (i, ok) in group { out[i] = ok }
            return out
        }
        try await first
        #expect(batches.withLock { $0 } == [1, 64])
        #expect(outcomes.filter { !$0.value }.map(\.key) == [7])
        #expect(outcomes.count == 64)
    }
}
