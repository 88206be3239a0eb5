import CrowdKitCore
@testable import CrowdKitPostgres
import CrowdKitTestServers
import CrowdKitTesting
import Foundation
import Logging
import Synchronization
import Testing

let quietLogger = Logger(label: "test.postgres") { _ in SwiftLogNoOpLogHandler() }

/// Stores on the shared test server, each running (its pool, migrations, retention) in a task
/// of its own until the harness goes away.
final class RunningStores: Sendable {
    let server: PostgresServer
    private let tasks = Mutex<[Task<Void, any Error>]>([])

    init() async throws { server = try await PostgresServer.shared() }

    deinit { tasks.withLock { $0.forEach { $0.cancel() } } }

    func configuration(database: String) throws -> PostgresStoreConfiguration {
        var c = try PostgresStoreConfiguration(url: server.url(database: database))
        c.tls = .disable
        c.maximumConnections = 4
        c.readyTimeout = scaled(.seconds(60))
        // a request waits for a free connection too: on a loaded machine (the whole suite in
        // parallel) 5 s was seen to pass; the outage tests set their own short timeout
        c.requestTimeout = scaled(.seconds(30))
        // the fixtures' events are from 2024: retention would prune them as a store starts
        c.retentionDays = nil
        return c
    }

    /// A running store on `database` (a new database when `nil`).
    func store(database: String? = nil, logger: Logger = quietLogger) async throws -> PostgresEventStore {
        let name: String
        if let database { name = database } else { name = try await server.createDatabase() }
        let store = try PostgresEventStore(configuration: configuration(database: name), logger: logger)
        start(store)
        return store
    }

    func start(_ store: PostgresEventStore) {
        let task = Task { try await store.run() }
        tasks.withLock { $0.append(task) }
    }
}

@Suite("PostgresEventStore")
struct PostgresEventStoreTests {
    @Test("passes the EventStore conformance suite", arguments: EventStoreConformance.Check.allCases)
    func conformance(_ check: EventStoreConformance.Check) async throws {
        let stores = try await RunningStores()
        try await EventStoreConformance.run(check) { try await stores.store() }
    }

    @Test("passes the ZoneStateStore conformance suite, reopening included")
    func zoneStates() async throws {
        let stores = try await RunningStores()
        try await ZoneStateStoreConformance.run(
            makeStore: { try await stores.store() },
            reopen: { store in
                // another instance (its own pool) on the same database
                try await stores.store(database: (store as? PostgresEventStore)?.configuration.database)
            })
    }

    @Test("passes the SettingsStore conformance suite, reopening included")
    func settings() async throws {
        let stores = try await RunningStores()
        try await SettingsStoreConformance.run(
            makeStore: { try await stores.store() },
            reopen: { store in try await stores.store(database: (store as? PostgresEventStore)?.configuration.database) })
    }

    @Test("passes the OccupancyHistoryStore conformance suite")
    func occupancyHistory() async throws {
        let stores = try await RunningStores()
        try await OccupancyHistoryStoreConformance.run { try await stores.store() }
    }

    @Test("two instances (two pools) claiming the same outbox at once never both get a delivery")
    func claimsAcrossInstances() async throws {
        let stores = try await RunningStores()
        let a = try await stores.store()
        let b = try await stores.store(database: a.configuration.database)
        var all: [String] = []
        for i in 0..<200 {
            let change = EventStoreConformance.fired(
                EventStoreConformance.sampleEvent(camera: "CAM-\(i)", startedAt: 1_000 + Int64(i)), notifiers: ["n"],
                createdAt: 1_000 + Int64(i % 7))
            all.append(change.deliveries[0].id)
            try await (i % 2 == 0 ? a : b).apply(change)
        }
        // four workers on each instance, each claiming small batches until nothing is left; every
        // worker's first claim is made before any worker's second (8 x 3 of the 200 deliveries),
        // so that on a loaded machine one pool cannot drain the outbox before the other connects
        let firstRound = Gate()
        let arrived = Arrivals()
        // claims that read the same head of the outbox at once collide (SKIP LOCKED: one leases,
        // the others get nothing this time), so a worker stops only once every delivery is taken
        // (or after many empty claims in a row)
        let taken = Arrivals()
        let total = all.count
        let claimed = try await withThrowingTaskGroup(of: (String, [String]).self) { group in
            for (name, store) in [("a", a), ("b", b)] {
                for w in 0..<4 {
                    group.addTask {
                        let owner = "\(name)-\(w)"
                        var mine: [String] = []
                        var empty = 0
                        var first = true
                        while empty < 200 && taken.count < total {
                            let got = try await store.claimDeliveries(
                                DeliveryClaim(owner: owner, now: 5_000, leaseUntil: 65_000, limit: 3, perNotifier: ["n": 3], excluding: Set(mine)))
                            mine += got.map(\.id)
                            taken.add(got.count)
                            empty = got.isEmpty ? empty + 1 : 0
                            if first {
                                first = false
                                if arrived.arrive() == 8 { firstRound.open() }
                                await firstRound.wait()
                            }
                        }
                        return (owner, mine)
                    }
                }
            }
            var out: [String: [String]] = [:]
            for try await (owner, ids) in group { out[owner] = ids }
            return out
        }
        let flat = claimed.values.flatMap { $0 }
        #expect(flat.count == Set(flat).count, "a delivery was leased to two workers while its lease held")
        #expect(Set(flat) == Set(all), "every delivery is claimed by someone")
        #expect(claimed.filter { $0.key.hasPrefix("a") }.values.contains { !$0.isEmpty })
        #expect(claimed.filter { $0.key.hasPrefix("b") }.values.contains { !$0.isEmpty })
        // once the leases end, the other instance may take what the first left unsent
        let again = try await b.claimDeliveries(
            DeliveryClaim(owner: "late", now: 65_000, leaseUntil: 70_000, limit: 500, perNotifier: ["n": 500]))
        #expect(Set(again.map(\.id)) == Set(all), "expired leases are claimable again, from any instance")
    }

    @Test("a claim reads past a long head of deliveries it cannot take (its outbox read is paged)")
    func claimReadsPastPages() async throws {
        let stores = try await RunningStores()
        let store = try await stores.store()
        // far more of notifier "a" than a page holds, all older than the deliveries of "b": one
        // event's fired and ended (one series: the ended one waits for the fired one)
        let pageSize = PostgresEventStore.claimPageSize(capacity: 2)
        var aIDs: [String] = []
        for i in 0..<(pageSize * 3) {
            let change = EventStoreConformance.fired(
                EventStoreConformance.sampleEvent(camera: "CAM-A-\(i)", startedAt: 1_000 + Int64(i)), notifiers: ["a"], createdAt: 1_000 + Int64(i))
            aIDs.append(change.deliveries[0].id)
            try await store.apply(change)
        }
        let late = EventStoreConformance.sampleEvent(camera: "CAM-B", startedAt: 90_000)
        let fired = EventStoreConformance.fired(late, notifiers: ["b"], createdAt: 90_000)
        try await store.apply(fired)
        var ended = late
        ended.endedAt = 95_000
        let endedDelivery = Delivery(eventID: late.id, notifier: "b", kind: .ended, createdAt: 95_000)
        try await store.apply(EventChange(kind: .ended, event: ended, deliveries: [endedDelivery]))
        let claim = DeliveryClaim(owner: "w", now: 100_000, leaseUntil: 160_000, limit: 10, perNotifier: ["a": 1, "b": 2])
        let got = try await store.claimDeliveries(claim)
        // "b"'s ended delivery waits for its fired one, the first of its series
        #expect(got.map(\.id) == [aIDs[0], fired.deliveries[0].id])
        // the rest of "a", paged through in outbox order by claims that exclude what was taken
        var taken = [aIDs[0]]
        while true {
            let next = try await store.claimDeliveries(
                DeliveryClaim(owner: "w", now: 100_000, leaseUntil: 160_000, limit: 100, perNotifier: ["a": 100], excluding: Set(taken)))
            if next.isEmpty { break }
            taken += next.map(\.id)
        }
        #expect(taken == aIDs, "every delivery of a, once each, in outbox order")
    }

    @Test("a delivery leased by an instance whose heartbeat ended is claimed at once; a live instance's lease holds")
    func deadInstancesLeases() async throws {
        let stores = try await RunningStores()
        let store = try await stores.store()
        var ids: [String] = []
        for i in 0..<3 {
            let change = EventStoreConformance.fired(
                EventStoreConformance.sampleEvent(camera: "CAM-L-\(i)", startedAt: 1_000 + Int64(i)), notifiers: ["a"], createdAt: 1_000 + Int64(i))
            ids.append(change.deliveries[0].id)
            try await store.apply(change)
        }
        _ = try await store.heartbeat(MemberHeartbeat(name: "dies", lease: .seconds(600)))
        _ = try await store.heartbeat(MemberHeartbeat(name: "lives", lease: .seconds(600)))
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        func claim(_ owner: String, _ n: Int) async throws -> [String] {
            try await store.claimDeliveries(
                DeliveryClaim(owner: owner, now: now, leaseUntil: now + 300_000, limit: n, perNotifier: ["a": n])
            ).map(\.id)
        }
        #expect(try await claim("dies", 1) == [ids[0]])
        #expect(try await claim("lives", 1) == [ids[1]])
        // a worker that is not a member (a single process under its host name): its lease holds too
        #expect(try await claim("alone", 1) == [ids[2]])
        #expect(try await claim("survivor", 10) == [], "every lease holds while its holder heartbeats")
        // its last heartbeat: a lease that ends at once (by the database's clock)
        _ = try await store.heartbeat(MemberHeartbeat(name: "dies", lease: .milliseconds(1)))
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await claim("survivor", 10) == [ids[0]], "the lease of the instance that stopped heartbeating is free")
        #expect(try await claim("other", 10) == [], "and taken once")
    }

    @Test("instances starting at once on one database migrate it once; a restart migrates nothing")
    func concurrentStart() async throws {
        let stores = try await RunningStores()
        let database = try await stores.server.createDatabase()
        let capture = LogCapture()
        var many: [PostgresEventStore] = []
        for _ in 0..<4 { many.append(try await stores.store(database: database, logger: capture.logger())) }
        for store in many { try await store.check() }
        let names = PostgresEventStore.migrations.map(\.name)
        for store in many { #expect(try await store.appliedMigrations() == names) }
        let applied = capture.entries.filter { $0.message.contains("applied migration") }
        #expect(applied.count == names.count, "each migration is applied once, by one instance: \(applied)")
        // the schema works for all of them
        try await many[1].apply(EventStoreConformance.fired(EventStoreConformance.sampleEvent()))
        #expect(try await many[3].eventCount() == 1)
        // started again: nothing left to apply
        let again = try await stores.store(database: database, logger: capture.logger())
        try await again.check()
        #expect(capture.entries.filter { $0.message.contains("applied migration") }.count == names.count)
        #expect(try await again.eventCount() == 1)
    }

    @Test("a database migrated by a newer build is refused, naming both versions")
    func newerSchemaRefused() async throws {
        let stores = try await RunningStores()
        let first = try await stores.store()
        try await first.check()
        try await first.query(
            "INSERT INTO schema_migrations (version, name) VALUES (\(PostgresEventStore.schemaVersion + 1), 'from the future')",
            "test")
        let newer = try PostgresEventStore(configuration: stores.configuration(database: first.configuration.database), logger: quietLogger)
        do {
            try await newer.run()
            Issue.record("run() accepted a newer schema")
        } catch let error as EventStoreError {
            #expect(error.code == .invalid)
            #expect(error.message.contains("version \(PostgresEventStore.schemaVersion + 1)"))
            #expect(error.message.contains("version \(PostgresEventStore.schemaVersion)"))
        }
        await #expect(throws: EventStoreError.self) { try await newer.check() }
    }

    @Test("unreachable at start: retries with back-off, one log line per attempt, no password anywhere; then connects")
    func unreachableAtStart() async throws {
        let server = try PostgresServer()  // not started yet
        defer { server.stop() }
        let capture = LogCapture()
        var configuration = try PostgresStoreConfiguration(url: "postgres://crowdkit:s3cr3t-pw@127.0.0.1:\(server.port)/postgres")
        configuration.tls = .disable
        configuration.readyTimeout = .milliseconds(300)
        configuration.initialRetryDelay = .milliseconds(100)
        configuration.maximumRetryDelay = .milliseconds(400)
        configuration.retentionDays = nil
        let store = try PostgresEventStore(configuration: configuration, logger: capture.logger())
        let running = Task { try await store.run() }
        defer { running.cancel() }
        do {
            _ = try await store.eventCount()
            Issue.record("a call succeeded with no server")
        } catch let error as EventStoreError {
            #expect(error.code == .unavailable)
            #expect(!error.description.contains("s3cr3t"))
        }
        #expect(await eventually(timeout: .seconds(30)) { capture.entries.filter { $0.message.contains("attempt") }.count >= 3 })
        let attempts = capture.entries.filter { $0.message.contains("cannot reach PostgreSQL") }
        #expect(attempts.allSatisfy { $0.level == .error })
        #expect(attempts.map(\.message).contains { $0.contains("attempt 2") })
        #expect(!capture.allText.contains("s3cr3t"), "the password must never be logged")
        #expect(capture.allText.contains("postgres://crowdkit:***@127.0.0.1:\(server.port)/postgres"))
        try await server.start()
        #expect(await eventually(timeout: .seconds(60)) { store.isReady })
        try await store.apply(EventStoreConformance.fired(EventStoreConformance.sampleEvent()))
        #expect(try await store.eventCount() == 1)
        #expect(!capture.allText.contains("s3cr3t"))
    }

    @Test("URLs: parsed with defaults and sslmode, redacted everywhere, bad ones refused without the password")
    func urls() throws {
        let c = try PostgresStoreConfiguration(url: "postgresql://app:p%40ss:w@db.example:6543/crowd?sslmode=require")
        #expect(c.host == "db.example" && c.port == 6543 && c.username == "app" && c.password == "p@ss:w" && c.database == "crowd")
        #expect(c.tls == .require)
        #expect(c.redactedURL == "postgres://app:***@db.example:6543/crowd")
        let d = try PostgresStoreConfiguration(url: "postgres://db")
        #expect(d.port == 5432 && d.username == "postgres" && d.password == nil && d.database == "postgres" && d.tls == .prefer)
        #expect(PostgresStoreConfiguration.redact("postgres://u:hunter2@h:1/x") == "postgres://u:***@h:1/x")
        #expect(PostgresStoreConfiguration.redact("postgres://u:p@w@h/x") == "postgres://u:***@h/x")
        #expect(PostgresStoreConfiguration.redact("crowd-events.sqlite") == "crowd-events.sqlite")
        for bad in ["postgres://u:hunter2@/x", "postgres://u:hunter2@h/x?sslmode=maybe", "postgres://u:hunter2@h/x/y", "postgres://u:hunter2@h/x?foo=1"] {
            do {
                _ = try PostgresStoreConfiguration(url: bad)
                Issue.record("accepted \(bad)")
            } catch let error as EventStoreError {
                #expect(error.code == .invalid)
                #expect(!error.description.contains("hunter2"), "\(error)")
            }
        }
        #expect(PostgresStoreConfiguration.isURL("postgres://h/x") && PostgresStoreConfiguration.isURL("POSTGRESQL://h"))
        #expect(!PostgresStoreConfiguration.isURL("/var/lib/crowdkit/events.sqlite"))
    }
}

/// Counts the tasks that reached a point (or anything else several tasks add up).
final class Arrivals: Sendable {
    private let total = Mutex(0)
    /// How many have arrived, this one included.
    func arrive() -> Int { add(1) }
    /// Adds `k`; returns the new count.
    @discardableResult
    func add(_ k: Int) -> Int { total.withLock { n in n += k; return n } }
    var count: Int { total.withLock { $0 } }
}
