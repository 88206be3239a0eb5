import CrowdKitCore
import CrowdKitMQTT
import CrowdKitTesting
import Foundation
import Testing
import CrowdKitTestServers

@Suite("MQTTMessageSource against a real mosquitto")
struct MQTTMessageSourceTests {
    static let camera = "Q2GV-TEST-0001"
    static let t0: Int64 = 1_714_632_600_000
    /// N = 3, D = 60 s, G = 5 s, C = 300 s.
    static let policy = DwellPolicy(DwellParameters(minPeople: 3, dwell: .seconds(60), gap: .seconds(5)))

    /// One episode in `zone`: `people` for 70 s, then 10 s of nobody, one reading every 500 ms.
    static func episode(zone: String, start: Int64, people: Int = 4) -> [(String, String)] {
        (0..<160).map { i in
            let ts = start + Int64(i) * 500
            return ("/merakimv/\(camera)/\(zone)", countPayload(ts: ts, people: i < 140 ? people + (i == 70 ? 2 : 0) : 0))
        }
    }

    func makeSource(port: Int) throws -> MQTTMessageSource {
        try MQTTMessageSource(
            configuration: .init(mqtt: .init(port: port, reconnect: .init(initialDelay: .milliseconds(50), maxDelay: .milliseconds(400)))),
            logger: testLogger)
    }

    @Test("a published feed gives the right events")
    func feedGivesEvents() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let source = try makeSource(port: broker.port)
        let publisher = try MQTTClient(configuration: .init(port: broker.port), logger: testLogger)
        let feed = try await source.messages()
        try await publisher.connect()
        let messages = Self.episode(zone: "0", start: Self.t0) + [("/merakimv/\(Self.camera)/light", "{\"lux\": 212.5}")]
        for (t, p) in messages { try publisher.publish(topic: t, payload: p) }
        let got = await collect(messages.count, from: feed)
        #expect(got.count == messages.count)

        var engine = DetectionEngine(policy: Self.policy)
        var changes: [EventChange] = []
        for m in got { _ = engine.process(m) { changes.append($0) } }
        #expect(changes.map(\.kind) == [.fired, .ended])
        let fired = try #require(changes.first).event
        #expect(fired.camera == Self.camera)
        #expect(fired.zone == "0")
        #expect(fired.startedAt == Self.t0)
        #expect(fired.firedAt == Self.t0 + 60_000)
        #expect(changes.last?.event.endedAt == Self.t0 + 69_500)
        #expect(changes.last?.event.peak == 6)
        #expect(engine.statistics.nonCount == 1)
        #expect(source.status.received == messages.count)
        #expect(source.status.state == .connected)
        await #expect(throws: MQTTError.self) { _ = try await source.messages() }
        await publisher.shutdown()
        await source.shutdown()
    }

    @Test("the batch reader hands over every message in order, with its retain flag; one consumer only")
    func batchReader() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let publisher = try MQTTClient(configuration: .init(port: broker.port), logger: testLogger)
        try await publisher.connect()
        // retained before the source subscribes: delivered with the retain flag
        try publisher.publish(topic: "/merakimv/\(Self.camera)/light", payload: Array("{\"lux\": 1}".utf8), retain: true)
        // the broker holds it once a fresh subscriber is handed it as retained (no fixed sleep;
        // a probe that subscribed before the publish reached the broker gets it live, unflagged,
        // and the next probe looks again)
        var retainedSeen = false
        for _ in 0..<50 where !retainedSeen {
            let probe = try MQTTClient(configuration: .init(port: broker.port), logger: testLogger)
            try await probe.subscribe("/merakimv/\(Self.camera)/light")
            try await probe.connect()
            retainedSeen = await collect(1, from: probe.messages).first?.retain == true
            await probe.shutdown()
        }
        #expect(retainedSeen, "the broker never handed the message to a new subscriber as retained")
        let source = try makeSource(port: broker.port)
        var reader = try #require(try await source.batchReader())
        await #expect(throws: MQTTError.self) { _ = try await source.messages() }
        await #expect(throws: MQTTError.self) { _ = try await source.batchReader() }
        let messages = Self.episode(zone: "0", start: Self.t0)
        for (t, p) in messages { try publisher.publish(topic: t, payload: p) }

        var got: [RawMessage] = []
        var flags: [UInt8] = []
        var batches = 0
        var batch = RawMessageBatch()
        let deadline = ContinuousClock.now + .seconds(10)
        while got.count < messages.count + 1, ContinuousClock.now < deadline {
            guard try await reader.next(into: &batch) else { break }
            batches += 1
            #expect(!batch.isEmpty)
            for i in 0..<batch.count {
                got.append(batch.message(at: i))
                flags.append(batch.entries[i].flags)
            }
            batch.removeAll()
        }
        #expect(got.count == messages.count + 1)
        #expect(got.first?.topic == "/merakimv/\(Self.camera)/light")
        #expect(flags.first == 4)  // retained, QoS 0
        #expect(got.dropFirst().map(\.topic) == messages.map(\.0))
        #expect(got.dropFirst().map { String(decoding: $0.payload, as: UTF8.self) } == messages.map(\.1))
        #expect(flags.dropFirst().allSatisfy { $0 == 0 })
        #expect(got.allSatisfy { ($0.receivedAt ?? 0) > 1_700_000_000_000 })
        #expect(source.consumed == got.count)
        await publisher.shutdown()
        await source.shutdown()
        // after shutdown the feed ends
        batch.removeAll()
        #expect(try await reader.next(into: &batch) == false)
    }

    @Test("the monitor fires the right events for a published feed")
    func monitorFires() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let source = try makeSource(port: broker.port)
        let store = InMemoryEventStore()
        let monitor = CrowdMonitor(
            source: source, policy: Self.policy, store: store, notifiers: NotificationPlan(notifiers: ["log"]), logger: testLogger)
        let changes = monitor.changes()
        let running = Task { try await monitor.run() }
        #expect(await eventually { source.status.state == .connected })

        let publisher = try MQTTClient(configuration: .init(port: broker.port), logger: testLogger)
        try await publisher.connect()
        let feed = zip(Self.episode(zone: "0", start: Self.t0), Self.episode(zone: "7", start: Self.t0 + 1000, people: 3))
        for (a, b) in feed {
            try publisher.publish(topic: a.0, payload: a.1)
            try publisher.publish(topic: b.0, payload: b.1)
        }
        let got = await collect(4, from: changes)
        running.cancel()
        try await running.value
        await publisher.shutdown()
        await source.shutdown()

        #expect(got.map(\.kind) == [.fired, .fired, .ended, .ended])
        #expect(got.filter { $0.kind == .fired }.map { "\($0.event.camera)/\($0.event.zone)/\($0.event.peak)" } == ["\(Self.camera)/0/6", "\(Self.camera)/7/5"])
        let stored = try await store.events(EventQuery())
        #expect(stored.records.count == 2)
        #expect(stored.records.allSatisfy { $0.event.endedAt != nil })
        #expect(try await store.pendingDeliveries(limit: 10).count == 2)
        #expect(monitor.statistics.observations == 320)
    }

    @Test("malformed payloads are counted and skipped; the feed goes on")
    func malformedPayloads() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let source = try makeSource(port: broker.port)
        let publisher = try MQTTClient(configuration: .init(port: broker.port), logger: testLogger)
        let feed = try await source.messages()
        try await publisher.connect()
        let topic = "/merakimv/\(Self.camera)/0"
        var messages = Self.episode(zone: "0", start: Self.t0)
        messages.insert((topic, "not json"), at: 10)
        messages.insert((topic, "{\"counts\":{\"person\":9}}"), at: 20)
        messages.insert((topic, "{\"ts\":\(Self.t0 + 5000),\"counts\":{\"person\":-1}}"), at: 30)
        messages.insert(("/merakimv/", countPayload(ts: Self.t0, people: 1)), at: 40)
        for (t, p) in messages { try publisher.publish(topic: t, payload: p) }
        let got = await collect(messages.count, from: feed)
        var engine = DetectionEngine(policy: Self.policy)
        var changes: [EventChange] = []
        for m in got { _ = engine.process(m) { changes.append($0) } }
        #expect(engine.statistics.rejected == 4)
        #expect(engine.statistics.observations == 160)
        #expect(changes.map(\.kind) == [.fired, .ended])
        await publisher.shutdown()
        await source.shutdown()
    }

    @Test("a broker killed and restarted mid-feed is reconnected to, and the feed resumes")
    func reconnects() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let source = try makeSource(port: broker.port)
        let feed = try await source.messages()
        let first = Self.episode(zone: "1", start: Self.t0)
        let second = Self.episode(zone: "2", start: Self.t0 + 200_000)
        async let received = collect(first.count + second.count, from: feed, timeout: .seconds(30))

        let publisher = try MQTTClient(configuration: .init(port: broker.port), logger: testLogger)
        try await publisher.connect()
        for (t, p) in first { try publisher.publish(topic: t, payload: p) }
        #expect(await eventually { source.status.received == first.count })
        await publisher.shutdown()

        broker.kill()
        #expect(await eventually { source.status.state != .connected })
        try await Task.sleep(for: .milliseconds(300))
        try await broker.start()
        #expect(await eventually { source.status.state == .connected && source.status.reconnects == 1 })

        let publisher2 = try MQTTClient(configuration: .init(port: broker.port), logger: testLogger)
        try await publisher2.connect()
        for (t, p) in second { try publisher2.publish(topic: t, payload: p) }
        let got = await received
        #expect(got.count == first.count + second.count)

        var engine = DetectionEngine(policy: Self.policy)
        var changes: [EventChange] = []
        for m in got { _ = engine.process(m) { changes.append($0) } }
        #expect(changes.filter { $0.kind == .fired }.map(\.event.zone) == ["1", "2"])
        #expect(source.status.reconnects == 1)
        #expect(source.status.lastError != nil)
        await publisher2.shutdown()
        await source.shutdown()
    }
}

@Suite("MQTT source: the MessageSource conformance suite")
struct MQTTSourceConformanceTests {
    @Test("MQTTMessageSource passes against a real mosquitto (messages published once the source is subscribed)")
    func conforms() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let port = broker.port
        try await MessageSourceConformance.run { messages in
            let source = try MQTTMessageSource(configuration: .init(mqtt: .init(port: port)), logger: testLogger)
            Task {
                // publish, in order and at QoS 1, once the source is connected and subscribed
                guard await eventually(timeout: .seconds(10), { source.status.state == .connected }) else { return }
                try await Task.sleep(for: .milliseconds(100))
                let publisher = try MQTTClient(configuration: .init(port: port), logger: testLogger)
                try await publisher.connect()
                for m in messages { try publisher.publish(topic: m.topic, payload: m.payload, qos: .atLeastOnce) }
                try await Task.sleep(for: .seconds(2))
                await publisher.shutdown()
            }
            return source
        }
    }
}
