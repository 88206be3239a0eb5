import CrowdKitCore
import CrowdKitHTTP
import CrowdKitTestServers
import CrowdKitWebex
import Foundation
import Testing

private let secret = "whsec-c2VjcmV0LXNpZ25pbmcta2V5LTAxMjM0NTY3"

private func signed(_ body: Data) -> String { HMACSHA1.hex(for: body, key: Array(secret.utf8)) }

private func webhookBody(actionID: String, resource: String = "attachmentActions", event: String = "created") -> Data {
    Data(
        """
        {"id":"wh-1","name":"crowdkit","resource":"\(resource)","event":"\(event)","data":{"id":"\(actionID)","type":"submit","personId":"p-1","roomId":"ROOM-1","messageId":"msg-2"}}
        """.utf8)
}

private struct Fixture {
    let fake: FakeWebex
    let store: InMemoryEventStore
    let feedback: InMemoryEventFeedbackStore
    let logs: LogCapture
    let receiver: WebexWebhookReceiver
    let runner: Task<Void, Never>
    let event: CrowdEvent

    init(allowedActors: [String] = []) async throws {
        fake = try await FakeWebex(token: botToken)
        store = InMemoryEventStore()
        feedback = InMemoryEventFeedbackStore()
        logs = LogCapture()
        event = CrowdEvent(
            camera: "Q2GV-ABCD-1234", zone: "0", startedAt: 1_764_666_000_000, firedAt: 1_764_666_060_000, peak: 6,
            policy: PolicyDescription(name: "dwell", parameters: [:]))
        try await store.apply(EventChange(kind: .fired, event: event))
        let performer = WebexCardActionPerformer(events: store, settings: store, feedback: feedback, now: { 1_764_666_100_000 })
        receiver = WebexWebhookReceiver(
            configuration: .init(secret: secret, allowedActors: allowedActors), client: webexClient(fake, logs), logger: logs.logger(),
            perform: { try await performer.perform($0) })
        let receiver = self.receiver
        runner = Task { await receiver.run() }
        fake.addPerson(id: "p-1", emails: ["guard@example.com"])
        fake.addPerson(id: "p-2", emails: ["visitor@elsewhere.org"])
    }

    func stop() async {
        runner.cancel()
        await fake.stop()
    }

    /// Delivers a signed webhook for `actionID` and waits until the receiver has worked it.
    func press(_ actionID: String) async -> WebexWebhookReceiver.Answer {
        let before = receiver.processedCount
        let body = webhookBody(actionID: actionID)
        let answer = receiver.receive(body: body, signature: signed(body))
        if answer == .accepted { _ = await eventually { receiver.processedCount > before } }
        return answer
    }
}

@Suite("Webex webhook receiver (button presses) against a fake Webex")
struct WebhookReceiverTests {
    @Test("HMAC-SHA1 matches the RFC 2202 and FIPS vectors; comparison ignores hex case")
    func hmac() {
        #expect(SHA1.hash(Array("abc".utf8)).hexString == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.hash([UInt8]()).hexString == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        let fox = Array("The quick brown fox jumps over the lazy dog".utf8)
        #expect(HMACSHA1.hex(for: fox, key: Array("key".utf8)) == "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9")
        #expect(HMACSHA1.hex(for: Array("Hi There".utf8), key: [UInt8](repeating: 0x0b, count: 20)) == "b617318655057264e28bc0b6fb378c8ef146be00")
        let longKey = [UInt8](repeating: 0xaa, count: 80)
        #expect(
            HMACSHA1.hex(for: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8), key: longKey)
                == "aa4ae5e15272d00e95705637ce8a3b55ed402112")
        #expect(HMACSHA1.isValid(signature: "DE7C9B85B8B78AA6BC8A7A36F70A90701C9DB4D9", for: fox, key: Array("key".utf8)))
        #expect(!HMACSHA1.isValid(signature: "de7c9b85", for: fox, key: Array("key".utf8)))
    }

    @Test("signature good, wrong, missing, body altered after signing: only the good one is queued")
    func signatures() async throws {
        let f = try await Fixture()
        defer { Task { await f.stop() } }
        f.fake.addAttachmentAction(id: "act-1", personId: "p-1", inputs: ["action": "ack", "eventId": f.event.id.rawValue])
        let body = webhookBody(actionID: "act-1")
        #expect(f.receiver.receive(body: body, signature: nil) == .unauthorized)
        #expect(f.receiver.receive(body: body, signature: String(repeating: "0", count: 40)) == .unauthorized)
        #expect(f.receiver.receive(body: body, signature: HMACSHA1.hex(for: body, key: Array("another".utf8))) == .unauthorized)
        var altered = body
        altered.append(contentsOf: Array(" ".utf8))
        #expect(f.receiver.receive(body: altered, signature: signed(body)) == .unauthorized)
        #expect(WebexWebhookReceiver.Answer.unauthorized.status == 401)
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await f.feedback.all().isEmpty)
        #expect(f.receiver.processedCount == 0)

        #expect(await f.press("act-1") == .accepted)
        let entries = try await f.feedback.all()
        #expect(entries.count == 1)
        #expect(entries.first?.kind == .acknowledged)
        #expect(entries.first?.by == "guard@example.com")
        #expect(entries.first?.at == 1_764_666_100_000)
        #expect(!f.logs.allText.contains(secret))
        #expect(!f.logs.allText.contains(botToken))
    }

    @Test("the same action id twice does one thing")
    func idempotent() async throws {
        let f = try await Fixture()
        defer { Task { await f.stop() } }
        f.fake.addAttachmentAction(id: "act-s", personId: "p-1", inputs: ["action": "snooze", "eventId": f.event.id.rawValue, "minutes": 60])
        #expect(await f.press("act-s") == .accepted)
        if case .ignored = await f.press("act-s") {} else { Issue.record("a repeated action id was accepted again") }
        let mutes = try await f.store.mutes(activeAt: 1_764_666_100_000)
        #expect(mutes.count == 1)
        let mute = try #require(mutes.first)
        #expect(mute.selector == .zone(ZoneKey(camera: "Q2GV-ABCD-1234", zone: "0")))
        #expect(mute.until - mute.from == 60 * 60_000)
        #expect(mute.by == "guard@example.com")
        let audit = try await f.store.audit(limit: 10)
        #expect(audit.contains { $0.by == "guard@example.com" && $0.action == "mute" })
        #expect(f.fake.server.requests.filter { $0.path == "/v1/attachment/actions/act-s" }.count == 1)
    }

    @Test("not_a_crowd labels the event; GET /api/labels' JSON Lines come from the store")
    func label() async throws {
        let f = try await Fixture()
        defer { Task { await f.stop() } }
        f.fake.addAttachmentAction(id: "act-n", personId: "p-1", inputs: ["action": "not_a_crowd", "eventId": f.event.id.rawValue])
        #expect(await f.press("act-n") == .accepted)
        #expect(
            try await f.feedback.labelLines()
                == "{\"camera\":\"Q2GV-ABCD-1234\",\"zone\":\"0\",\"startedAt\":1764666000000,\"endedAt\":null,\"label\":\"not_crowd\"}\n")
    }

    @Test("bad input: 2xx, nothing done, one log line each")
    func badInput() async throws {
        let f = try await Fixture(allowedActors: ["@example.com"])
        defer { Task { await f.stop() } }
        // the receiver's own lines (the HTTP client's debug lines are not counted)
        func lines() -> Int { f.logs.entries.filter { $0.metadata["webhook"] == "webex" }.count }
        func check(_ body: Data) {
            let before = lines()
            let answer = f.receiver.receive(body: body, signature: signed(body))
            #expect(answer.status == 200)
            if case .ignored = answer {} else { Issue.record("\(String(decoding: body, as: UTF8.self)) was queued") }
            #expect(lines() == before + 1)
        }
        check(Data("not json at all".utf8))
        check(Data("[1,2,3]".utf8))
        check(webhookBody(actionID: "x", resource: "messages"))
        check(webhookBody(actionID: "x", event: "deleted"))
        check(Data(#"{"resource":"attachmentActions","event":"created","data":{}}"#.utf8))

        // queued, then refused during the work: one log line each, nothing done
        let unknownEvent = CrowdEventID(camera: "Q2GV-ABCD-1234", zone: "9", startedAt: 1)
        f.fake.addAttachmentAction(id: "a-unknown-event", personId: "p-1", inputs: ["action": "ack", "eventId": unknownEvent.rawValue])
        f.fake.addAttachmentAction(id: "a-unknown-action", personId: "p-1", inputs: ["action": "delete_everything", "eventId": f.event.id.rawValue])
        f.fake.addAttachmentAction(id: "a-bad-minutes", personId: "p-1", inputs: ["action": "snooze", "eventId": f.event.id.rawValue, "minutes": 7])
        f.fake.addAttachmentAction(id: "a-stranger", personId: "p-2", inputs: ["action": "ack", "eventId": f.event.id.rawValue])
        for id in ["a-unknown-event", "a-unknown-action", "a-bad-minutes", "a-stranger", "a-not-at-webex"] {
            let before = lines()
            #expect(await f.press(id) == .accepted)
            #expect(lines() - before == 1, "\(id): \(f.logs.allText)")
        }
        #expect(try await f.feedback.all().isEmpty)
        #expect(try await f.store.mutes(activeAt: 1_764_666_100_000).isEmpty)
    }

    @Test("allowedActors: addresses and @domain")
    func actors() {
        let c = WebexWebhookReceiver.Configuration(secret: "s", allowedActors: ["Boss@Example.com", "@staff.example.org"])
        #expect(c.admits(email: "boss@example.com"))
        #expect(c.admits(email: "anyone@staff.example.org"))
        #expect(!c.admits(email: "anyone@example.com"))
        #expect(!c.admits(email: "x@evilstaff.example.org"))
        #expect(WebexWebhookReceiver.Configuration(secret: "s").admits(email: "anyone@anywhere"))
    }
}
