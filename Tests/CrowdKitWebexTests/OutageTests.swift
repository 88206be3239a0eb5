import CrowdKitCore
import CrowdKitHTTP
import CrowdKitTestServers
import CrowdKitTesting
import CrowdKitWebex
import Foundation
import Logging
import Testing

/// A Webex outage against the real delivery pipeline (outbox → DeliveryService → WebexNotifier →
/// fake Webex API on 127.0.0.1), with HTTP-level retries off as the app wires them.
@Suite("Delivery through a Webex outage")
struct OutageTests {
    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    static func fired(_ camera: String, kind: NotificationKind = .fired, createdAt: Int64 = OutageTests.now()) -> EventChange {
        var e = CrowdEvent(
            camera: camera, zone: "0", startedAt: 1_714_632_600_000, firedAt: 1_714_632_660_000, peak: 5,
            policy: .init(name: "dwell", parameters: ["minPeople": 3]))
        if kind == .reminder { e.reminders = 1 }
        let seq = kind == .reminder ? 1 : 0
        return EventChange(
            kind: kind, event: e, deliveries: [Delivery(eventID: e.id, notifier: "webex", kind: kind, sequence: seq, createdAt: createdAt)])
    }

    /// Back-off shortened through the configuration; no attempt limit (the default).
    static let configuration = DeliveryConfiguration(
        pollInterval: .milliseconds(50), initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(10),
        maxProbeInterval: .milliseconds(40))

    func notifier(_ webex: FakeWebex, _ logs: LogCapture) -> WebexNotifier {
        WebexNotifier(client: webexClient(webex, logs, retry: RetryPolicy.none), attachment: .none, logger: logs.logger())
    }

    @Test("an outage longer than the old attempt budget loses nothing: every notification raised during it is sent once, when the API answers again")
    func outageLosesNothing() async throws {
        let webex = try await FakeWebex(token: botToken)
        defer { Task { await webex.stop() } }
        webex.setOutage(FakeWebex.error(503, "Service Unavailable"))
        let logs = LogCapture()
        let store = TestEventStore()
        let cameras = (1...20).map { "Q2GV-OUTA-\(String(format: "%04d", $0))" }
        for camera in cameras.prefix(10) { try await store.apply(Self.fired(camera)) }
        let service = DeliveryService(
            store: store, notifiers: [notifier(webex, logs)], configuration: Self.configuration, logger: logs.logger())
        let task = Task { await service.run() }
        defer { task.cancel() }
        // raised during the outage
        #expect(await eventually { webex.attempts >= 10 })
        for camera in cameras.suffix(10) { try await store.apply(Self.fired(camera)) }
        await service.wake()
        // The old budget was 6 attempts per notification: outlast it (the probe is the oldest
        // notification whose own back-off has passed).
        #expect(await eventually(timeout: .seconds(30)) { await store.allDeliveries.map(\.attempts).max() ?? 0 >= 8 })
        let all = await store.allDeliveries
        #expect(all.count == 20)
        #expect(all.allSatisfy { $0.status == .pending }, "nothing failed or expired during the outage")
        #expect(all.contains { $0.lastError?.contains("503") == true })
        let postsDuringOutage = webex.attempts
        // one notification at a time while it is down: far fewer posts than notifications × attempts
        #expect(postsDuringOutage < 20 + 20, "posts during the outage: \(postsDuringOutage)")
        #expect(webex.accepted.isEmpty)

        webex.setOutage(nil)
        #expect(await eventually(timeout: .seconds(60)) { await store.allDeliveries.allSatisfy { $0.status != .pending } })
        // more polls: nothing is sent twice
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        await task.value
        let sent = webex.accepted.compactMap(\.text)
        #expect(sent.count == 20)
        for camera in cameras {
            #expect(sent.filter { $0.contains(camera) }.count == 1, "\(camera)")
        }
        #expect(await store.allDeliveries.allSatisfy {
            if case .sent = $0.status { return true } else { return false }
        })
        #expect(!logs.allText.contains(botToken))
    }

    @Test("a notification older than its maximum age is recorded as expired, not sent; one sent late says so")
    func expiry() async throws {
        let webex = try await FakeWebex(token: botToken)
        defer { Task { await webex.stop() } }
        let logs = LogCapture()
        let store = TestEventStore()
        let now = Self.now()
        let old = Self.fired("Q2GV-OLD0-0001", createdAt: now - 2 * 3_600_000)  // 2 h: past maxAge (1 h)
        let oldReminder = Self.fired("Q2GV-OLD0-0002", kind: .reminder, createdAt: now - 15 * 60_000)  // past 10 min
        let late = Self.fired("Q2GV-LATE-0003", createdAt: now - 14 * 60_000 - 5_000)  // within 1 h: sent, late
        let fresh = Self.fired("Q2GV-NEW0-0004")
        for c in [old, oldReminder, late, fresh] { try await store.apply(c) }
        let service = DeliveryService(
            store: store, notifiers: [notifier(webex, logs)], configuration: Self.configuration, logger: logs.logger())
        let task = Task { await service.run() }
        defer { task.cancel() }
        #expect(await eventually { await store.allDeliveries.allSatisfy { $0.status != .pending } })
        task.cancel()
        await task.value

        let expired = try #require(try await store.record(id: old.event.id)?.deliveries.first)
        guard case .expired(let reason) = expired.status else {
            Issue.record("expected expired, got \(expired.status)")
            return
        }
        #expect(reason.contains("not sent within 1 h"))
        let reminder = try #require(try await store.record(id: oldReminder.event.id)?.deliveries.first)
        #expect(reminder.status.name == "expired")
        #expect(reminder.status.reason?.contains("not sent within 10 min") == true)

        let texts = webex.accepted.compactMap(\.text)
        #expect(texts.count == 2)
        #expect(!texts.contains { $0.contains("Q2GV-OLD0") })
        let lateText = try #require(texts.first { $0.contains("Q2GV-LATE-0003") })
        #expect(lateText.contains("(raised 14 min ago)"))
        let lateMarkdown = try #require(webex.accepted.first { $0.text?.contains("Q2GV-LATE-0003") == true }?.markdown)
        #expect(lateMarkdown.contains("_(raised 14 min ago)_"))
        let freshText = try #require(texts.first { $0.contains("Q2GV-NEW0-0004") })
        #expect(!freshText.contains("raised"))
    }

    @Test("a permanent error ends the outage state and fails only its own notification")
    func permanentErrorDuringOutage() async throws {
        let webex = try await FakeWebex(token: botToken)
        defer { Task { await webex.stop() } }
        webex.enqueue(FakeWebex.error(503, "busy"), FakeWebex.error(404, "The requested resource could not be found."))
        let logs = LogCapture()
        let store = TestEventStore()
        let a = Self.fired("Q2GV-PERM-0001")
        try await store.apply(a)
        let service = DeliveryService(
            store: store, notifiers: [notifier(webex, logs)], configuration: Self.configuration, logger: logs.logger())
        let task = Task { await service.run() }
        defer { task.cancel() }
        #expect(await eventually { await store.allDeliveries.allSatisfy { $0.status != .pending } })
        let b = Self.fired("Q2GV-PERM-0002")
        try await store.apply(b)
        await service.wake()
        #expect(await eventually { await store.delivery(b.deliveries[0].id)?.status.isFinal == true })
        task.cancel()
        await task.value
        #expect(await store.delivery(a.deliveries[0].id)?.status.name == "failed")
        #expect(await store.delivery(b.deliveries[0].id)?.status.name == "sent")
        #expect(webex.attempts == 3)
    }
}
