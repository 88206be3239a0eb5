import CrowdKitCore
import CrowdKitHTTP
import CrowdKitMeraki
import CrowdKitTestServers
import CrowdKitTesting
import CrowdKitWebex
import Foundation
import Logging
import Testing

/// The delivery pipeline with real parts: outbox → DeliveryService → MerakiEnricher (fake
/// Dashboard API) → WebexNotifier (fake Webex API).
@Suite("Delivery end to end (fake Meraki + fake Webex)")
struct EndToEndTests {
    static func merakiConfiguration(_ fake: FakeMeraki) -> MerakiConfiguration {
        MerakiConfiguration(
            baseURL: fake.baseURL, apiKey: merakiKey, networkID: "N_1", timeout: scaled(.seconds(5)),
            retry: RetryPolicy(maxAttempts: 2, initialBackoff: .milliseconds(10)),
            snapshotInitialDelay: .milliseconds(10), snapshotPollInterval: .milliseconds(10), snapshotMaxPolls: 5)
    }

    static func fired(_ camera: String, zone: String = "0", notifiers: [String] = ["webex"]) -> EventChange {
        let e = CrowdEvent(
            camera: camera, zone: zone, startedAt: 1_714_632_600_000, firedAt: 1_714_632_660_000, peak: 5,
            policy: .init(name: "dwell", parameters: ["minPeople": 3]))
        return EventChange(
            kind: .fired, event: e, deliveries: notifiers.map { Delivery(eventID: e.id, notifier: $0, kind: .fired, createdAt: Int64(Date().timeIntervalSince1970 * 1000)) })
    }

    static let fast = DeliveryConfiguration(
        pollInterval: .milliseconds(50), maxAttempts: 4, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(100))

    func run<R>(_ service: DeliveryService, _ body: () async throws -> R) async throws -> R {
        let task = Task { await service.run() }
        defer { task.cancel() }
        let r = try await body()
        task.cancel()
        await task.value
        return r
    }

    @Test("defect 'video link missing': the Webex message carries the Meraki video link, names and snapshot")
    func videoLinkInMessage() async throws {
        let webex = try await FakeWebex(token: botToken)
        defer { Task { await webex.stop() } }
        var state = FakeMeraki.State()
        state.setDevices(network: "N_1", [("Q2GV-ABCD-1234", "Front Desk")])
        state.imageNotReadyPolls = 1
        let meraki = try await FakeMeraki(apiKey: merakiKey, state: state)
        defer { Task { await meraki.stop() } }
        let logs = LogCapture()
        let store = TestEventStore()
        let change = Self.fired("Q2GV-ABCD-1234")
        try await store.apply(change)
        let client = MerakiClient(configuration: Self.merakiConfiguration(meraki), logger: logs.logger())
        let images = SnapshotImages()
        let service = DeliveryService(
            store: store,
            notifiers: [WebexNotifier(client: webexClient(webex, logs), images: images, logger: logs.logger())],
            enricher: MerakiEnricher(client: client, images: images, logger: logs.logger()), configuration: Self.fast,
            logger: logs.logger())
        try await run(service) {
            #expect(await eventually { await store.allDeliveries.first?.status != .pending })
        }
        #expect(await store.allDeliveries.first?.status == .sent(remoteID: "msg-1"))
        let m = try #require(webex.accepted.first)
        let video = "https://video.example/Q2GV-ABCD-1234?t=2024-05-02T06:50:00Z"
        #expect(m.markdown?.contains("[video](\(video))") == true)
        #expect(m.markdown?.contains("(camera *Front Desk*)") == true)
        #expect(m.markdown?.contains("*Full Frame*") == true)
        #expect(m.upload?.data == FakeMeraki.jpeg)
        // the image the enricher downloaded once ready is the one uploaded: one 404, one download
        #expect(meraki.requests("image").count == 2, "image requests: \(meraki.requests("image").count)")
        let stored = try #require(try await store.record(id: change.event.id)?.event)
        #expect(stored.videoURL == video)
        #expect(!logs.allText.contains(botToken))
        #expect(!logs.allText.contains(merakiKey))
    }

    @Test("defect 'one notification blocks the others': a Webex call that hangs for one zone does not delay the rest")
    func hangingZone() async throws {
        let gate = Gate()
        let webex = try await FakeWebex(token: botToken) { message in
            if message.text?.contains("Q2SL-OWWW-0001") == true { await gate.wait() }
        }
        defer { Task { await webex.stop() } }
        let store = TestEventStore()
        try await store.apply(Self.fired("Q2SL-OWWW-0001"))
        let others = ["Q2GV-AAAA-0001", "Q2GV-AAAA-0002", "Q2GV-AAAA-0003", "Q2GV-AAAA-0004"]
        for camera in others { try await store.apply(Self.fired(camera)) }
        let logs = LogCapture()
        let service = DeliveryService(
            store: store, notifiers: [WebexNotifier(client: webexClient(webex, logs), logger: logs.logger())],
            configuration: Self.fast, logger: logs.logger())
        try await run(service) {
            #expect(await eventually { webex.accepted.count == others.count })
            #expect(Set(webex.accepted.compactMap { m in others.first { m.text?.contains($0) == true } }) == Set(others))
            #expect(await store.allDeliveries.first?.status == .pending)
            gate.open()
            #expect(await eventually { await store.allDeliveries.allSatisfy { $0.status != .pending } })
        }
        #expect(webex.accepted.count == others.count + 1)
    }

    /// One fired event delivered through a WebexNotifier with `client` until it is no longer
    /// pending; its delivery as stored.
    func deliverOne(through client: WebexClient, _ logs: LogCapture) async throws -> Delivery {
        let store = TestEventStore()
        try await store.apply(Self.fired("Q2GV-ABCD-1234"))
        let service = DeliveryService(
            store: store, notifiers: [WebexNotifier(client: client, logger: logs.logger())], configuration: Self.fast,
            logger: logs.logger())
        try await run(service) {
            #expect(await eventually { await store.allDeliveries.first?.status != .pending })
        }
        return try #require(await store.allDeliveries.first)
    }

    @Test("defect 'no retry': a failed send is retried by delivery until Webex accepts it")
    func retried() async throws {
        let webex = try await FakeWebex(token: botToken)
        defer { Task { await webex.stop() } }
        webex.enqueue(FakeWebex.error(503, "Service unavailable"), FakeWebex.error(502, "Bad gateway"))
        let logs = LogCapture()
        // No HTTP-level retry: the delivery service itself must try again.
        let d = try await deliverOne(through: webexClient(webex, logs, retry: RetryPolicy.none), logs)
        #expect(d.status == .sent(remoteID: "msg-1"))
        #expect(d.attempts == 3)
        #expect(webex.attempts == 3)
        #expect(webex.accepted.count == 1)
    }

    @Test("one retry layer: with the Webex client's defaults, each delivery attempt is one POST (no retries inside)")
    func oneRetryLayer() async throws {
        let webex = try await FakeWebex(token: botToken)
        defer { Task { await webex.stop() } }
        webex.enqueue(
            FakeWebex.error(503, "Service unavailable"), FakeWebex.error(503, "Service unavailable"),
            FakeWebex.error(502, "Bad gateway"))
        let logs = LogCapture()
        let client = WebexClient(
            configuration: WebexConfiguration(baseURL: webex.baseURL, token: botToken, destination: .room(id: "ROOM-1")),
            logger: logs.logger())
        let d = try await deliverOne(through: client, logs)
        #expect(d.status == .sent(remoteID: "msg-1"))
        #expect(d.attempts == 4)
        #expect(webex.attempts == d.attempts, "POSTs: \(webex.attempts) for \(d.attempts) delivery attempts")
    }

    @Test("a notification Webex rejects for good is recorded as failed with the reason")
    func failedRecorded() async throws {
        let webex = try await FakeWebex(token: botToken)
        defer { Task { await webex.stop() } }
        webex.enqueue(FakeWebex.error(404, "Could not find a person with the e-mail."))
        let store = TestEventStore()
        try await store.apply(Self.fired("Q2GV-ABCD-1234"))
        let logs = LogCapture()
        let service = DeliveryService(
            store: store, notifiers: [WebexNotifier(client: webexClient(webex, logs), logger: logs.logger())],
            configuration: Self.fast, logger: logs.logger())
        try await run(service) {
            #expect(await eventually { await store.allDeliveries.first?.status != .pending })
        }
        let d = try #require(await store.allDeliveries.first)
        guard case .failed(let reason) = d.status else {
            Issue.record("expected failed, got \(d.status)")
            return
        }
        #expect(reason.contains("Could not find a person"))
        #expect(reason.contains("404"))
        #expect(!reason.contains(botToken))
        #expect(d.attempts == 1)
        #expect(webex.attempts == 1)
    }
}

/// The shape of `crowd-notifier run`: MV Sense messages → CrowdMonitor → store outbox →
/// DeliveryService (woken by the monitor's changes) → Meraki enrichment → Webex.
@Suite("Monitor to Webex (run-shaped)")
struct MonitorToWebexTests {
    @Test("a crowd in the feed becomes a fired and an ended Webex message, both with the video link")
    func monitorToWebex() async throws {
        let webex = try await FakeWebex(token: botToken)
        defer { Task { await webex.stop() } }
        var state = FakeMeraki.State()
        state.setDevices(network: "N_1", [("Q2GV-ABCD-1234", "Front Desk")])
        state.imageNotReadyPolls = 0
        let meraki = try await FakeMeraki(apiKey: merakiKey, state: state)
        defer { Task { await meraki.stop() } }
        let logs = LogCapture()

        // 20 s of 5 people, then 10 s empty (one reading a second, camera time).
        let t0: Int64 = 1_714_632_600_000
        let readings = (0..<30).map { (ts: t0 + Int64($0) * 1000, people: $0 < 20 ? 5 : 0) }
        let store = InMemoryEventStore()
        let monitor = CrowdMonitor(
            source: ScriptedSource(camera: "Q2GV-ABCD-1234", zone: "0", readings: readings),
            policy: DwellPolicy(DwellParameters(minPeople: 3, dwell: .seconds(10), gap: .seconds(2), cooldown: .zero)),
            filter: ZoneFilter(), store: store,
            notifiers: NotificationPlan(notifiers: ["webex"], kinds: [.fired, .ended]), logger: logs.logger())
        let delivery = DeliveryService(
            store: store, notifiers: [WebexNotifier(client: webexClient(webex, logs), logger: logs.logger())],
            enricher: MerakiEnricher(
                client: MerakiClient(configuration: EndToEndTests.merakiConfiguration(meraki), logger: logs.logger()),
                logger: logs.logger()),
            configuration: EndToEndTests.fast, logger: logs.logger())
        let changes = monitor.changes()
        let deliveryTask = Task { await delivery.run(changes: changes) }
        try await monitor.run()
        #expect(await eventually { webex.accepted.count == 2 })
        // the second delivery's status is written right after Webex accepted it: wait for it
        _ = await eventually {
            let statuses = (try? await store.events(EventQuery()).records.first?.deliveries.map(\.status)) ?? []
            return statuses.count == 2 && statuses.allSatisfy { $0 != .pending }
        }
        deliveryTask.cancel()
        await deliveryTask.value

        let video = "https://video.example/Q2GV-ABCD-1234?t=2024-05-02T06:50:00Z"
        let messages = webex.accepted
        #expect(messages.count == 2)
        #expect(
            messages.first?.markdown?.hasPrefix("**Crowd detected**: 5 people in *Full Frame* (camera *Front Desk*)") == true,
            "\(messages.first?.markdown ?? "no message")")
        #expect(messages.last?.markdown?.hasPrefix("**Crowd ended**") == true)
        #expect(messages.allSatisfy { $0.markdown?.contains("[video](\(video))") == true })
        // Enriched once, although the monitor rewrote the event when the crowd ended.
        #expect(meraki.requests("videoLink").count == 1)
        let page = try await store.events(EventQuery())
        let record = try #require(page.records.first)
        #expect(record.event.videoURL == video)
        #expect(record.event.endedAt != nil)
        #expect(record.deliveries.map(\.status) == [.sent(remoteID: "msg-1"), .sent(remoteID: "msg-2")])
        #expect(!logs.allText.contains(botToken))
        #expect(!logs.allText.contains(merakiKey))
    }
}
