import CrowdKitCore
@testable import CrowdKitPostgres
import CrowdKitTestServers
import CrowdKitTesting
import Foundation
import Logging
import Testing

/// A live feed the test pushes readings into while the monitor runs.
struct PushedSource: MessageSource {
    let stream: AsyncStream<SourceMessage>
    let continuation: AsyncStream<SourceMessage>.Continuation

    init() { (stream, continuation) = AsyncStream.makeStream() }

    func messages() async throws -> AsyncStream<SourceMessage> { stream }

    /// A zone count reading of camera time `second` seconds.
    func push(camera: String, zone: String = "0", second: Int, people: Int) {
        continuation.yield(
            .raw(RawMessage(topic: "/merakimv/\(camera)/\(zone)", payload: #"{"ts":\#(Int64(second) * 1000),"counts":{"person":\#(people)}}"#)))
    }

    /// A crowd of 4 for 7 s: fires at 5 s with a 5 s dwell.
    func crowd(camera: String) {
        for s in 0...6 { push(camera: camera, second: s, people: 4) }
    }

    /// One more reading (of an empty camera "Z"), 150 ms later: a monitor reading message by
    /// message takes the changed zone states with a message that follows a pause (or every
    /// 400 ms), as messages come.
    func nudge(second: Int) async throws {
        try await Task.sleep(for: .milliseconds(150))
        push(camera: "Z", second: second, people: 0)
    }
}

@Suite("PostgresEventStore: PostgreSQL lost while running", .serialized)
struct PostgresOutageTests {
    static let policy = DwellPolicy(DwellParameters(minPeople: 3, dwell: .seconds(5), gap: .seconds(1), cooldown: .zero))

    @Test(
        "stopped while running: detection goes on, writes wait in memory and notifications go out from it; started again on the same data and port: every change, delivery and zone state is written"
    )
    func lostWhileRunning() async throws {
        let server = try PostgresServer()
        defer { server.stop() }
        try await server.start()
        let database = try await server.createDatabase()
        var configuration = try PostgresStoreConfiguration(url: server.url(database: database))
        configuration.tls = .disable
        configuration.retentionDays = nil
        configuration.readyTimeout = scaled(.seconds(60))
        configuration.requestTimeout = .seconds(1)
        let capture = LogCapture()
        let store = try PostgresEventStore(configuration: configuration, logger: capture.logger())
        let storeTask = Task { try await store.run() }
        defer { storeTask.cancel() }
        try await store.check()

        let source = PushedSource()
        let monitor = CrowdMonitor(
            source: source, policy: Self.policy, store: store, notifiers: NotificationPlan(notifiers: ["webex"]),
            storeWrites: StoreWriteConfiguration(capacity: 100, retryInterval: .milliseconds(100), maxRetryInterval: .milliseconds(500)),
            zoneStates: store, logger: capture.logger())
        // what delivery hears of: every fired change, stored or not
        let heard = LockedBox<Set<String>>([])
        let changes = monitor.changes()
        let listening = Task {
            for await c in changes where c.kind == .fired { heard.withLock { _ = $0.insert(c.event.camera) } }
        }
        defer { listening.cancel() }
        let running = Task { try await monitor.run() }
        defer { running.cancel() }

        source.crowd(camera: "A")
        try await source.nudge(second: 1)
        #expect(await eventually { (try? await store.eventCount()) == 1 }, "\(capture.allText)")
        #expect(await eventually { (try? await store.loadZoneStates(cameras: ["A"]).count) == 1 })
        // the test server runs without fsync and synchronous commits: make what is committed
        // survive the crash that follows
        try await store.query("CHECKPOINT", "test")

        server.kill()
        for camera in ["B", "C", "D"] { source.crowd(camera: camera) }
        try await source.nudge(second: 2)
        // detection goes on; the fired changes reach delivery from memory
        #expect(await eventually { heard.withLock { $0 } == ["A", "B", "C", "D"] }, "\(capture.allText)")
        #expect(await eventually { !monitor.storeHealth.isHealthy && monitor.storeHealth.backlog >= 3 }, "\(monitor.storeHealth)")
        #expect(monitor.storeHealth.dropped == 0)
        #expect(capture.entries.contains { $0.message.contains("event store writes failing") })

        try await server.start()
        #expect(await eventually { (try? await store.eventCount()) == 4 }, "\(capture.allText)")
        #expect(await eventually { monitor.storeHealth.isHealthy && monitor.storeHealth.backlog == 0 }, "\(monitor.storeHealth)")
        #expect(capture.entries.contains { $0.message.contains("event store writes again") })
        let pending = try await store.pendingDeliveries(limit: 10)
        #expect(Set(pending.map(\.eventID)).count == 4, "one delivery per crowd: \(pending)")
        let saved = await eventually { (try? await store.loadZoneStates(cameras: ["A", "B", "C", "D"]).count) == 4 }
        let cameras = (try? await store.loadZoneStates(cameras: ["A", "B", "C", "D"]).map(\.zone.camera)) ?? []
        #expect(saved, "zone states saved: \(cameras)")
    }

    @Test("a queue that fills while PostgreSQL is away drops the oldest changes, counts them and says so once; their notifications still go out")
    func queueFull() async throws {
        let server = try PostgresServer()
        defer { server.stop() }
        try await server.start()
        let database = try await server.createDatabase()
        var configuration = try PostgresStoreConfiguration(url: server.url(database: database))
        configuration.tls = .disable
        configuration.retentionDays = nil
        configuration.requestTimeout = .seconds(1)
        let capture = LogCapture()
        let store = try PostgresEventStore(configuration: configuration, logger: capture.logger())
        let storeTask = Task { try await store.run() }
        defer { storeTask.cancel() }
        try await store.check()

        let source = PushedSource()
        let monitor = CrowdMonitor(
            source: source, policy: Self.policy, store: store, notifiers: NotificationPlan(notifiers: ["webex"]),
            storeWrites: StoreWriteConfiguration(capacity: 2, retryInterval: .milliseconds(100), maxRetryInterval: .milliseconds(500)),
            logger: capture.logger())
        let heard = LockedBox<Set<String>>([])
        let changes = monitor.changes()
        let listening = Task {
            for await c in changes where c.kind == .fired { heard.withLock { _ = $0.insert(c.event.camera) } }
        }
        defer { listening.cancel() }
        let running = Task { try await monitor.run() }
        defer { running.cancel() }

        server.kill()
        let cameras = ["B", "C", "D", "E", "F"]
        for camera in cameras {
            source.crowd(camera: camera)
            // one at a time: the queue overflows change by change
            #expect(await eventually { heard.withLock { $0.contains(camera) } })
        }
        #expect(await eventually { monitor.storeHealth.dropped == cameras.count - 2 }, "\(monitor.storeHealth)")
        let full = capture.entries.filter { $0.message.contains("event store queue full") }
        #expect(full.count == 1, "one line per log interval: \(full.map(\.message))")
        #expect(capture.entries.filter { $0.message.contains("event not stored: the memory queue is full") }.count == cameras.count - 2)
        try await server.start()
        #expect(await eventually { (try? await store.eventCount()) == 2 }, "the two kept are written: \(capture.allText)")
    }
}
