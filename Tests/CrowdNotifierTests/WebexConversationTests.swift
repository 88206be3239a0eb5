import CrowdKitCore
import CrowdKitHTTP
import CrowdKitSQLite
import CrowdKitTestServers
import CrowdKitTesting
import CrowdKitWeb
import CrowdKitWebex
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// Webex button presses end to end in process: a signed webhook on the app's route
/// (`POST /webhooks/webex`), the receiver fetching the action from a fake Webex, the performer
/// writing to a real SQLite store, the settings service taking the mute into ``LiveSettings``,
/// and the monitor recording the next crowd's notification as suppressed.
@Suite("Webex conversations end to end (fake Webex, route, receiver, store, live settings, monitor)")
struct WebexConversationTests {
    static let secret = "whsec-ZW5kLXRvLWVuZC1zZWNyZXQtMDEyMzQ1Njc4OQ"
    static let token = "BOT-token-ZW5kLXRvLWVuZC10b2tlbi0wMTIzNDU2Nzg5"
    /// Host time of the press (epoch ms); the camera times below are around it.
    static let pressedAt: Int64 = 1_764_666_000_000
    static let camera = "Q2GV-CONV-0001"
    static let policy = DwellPolicy(DwellParameters(minPeople: 3, dwell: .seconds(10), gap: .zero, cooldown: .zero, stale: .seconds(30)))

    /// 13 readings of 4 people, one a second from `start` (camera time, ms): a crowd that fires.
    static func crowd(zone: String, from start: Int64) -> [SourceMessage] {
        (Int64(0)...12).map { t in
            .raw(RawMessage(topic: "/merakimv/\(camera)/\(zone)", payload: #"{"ts":\#(start + t * 1000),"counts":{"person":4}}"#))
        }
    }

    static func body(actionID: String, resource: String = "attachmentActions") -> String {
        #"{"id":"wh-1","name":"crowdkit","resource":"\#(resource)","event":"created","data":{"id":"\#(actionID)","type":"submit","personId":"p-1","roomId":"ROOM-1"}}"#
    }

    struct Fixture: Sendable {
        let directory: URL
        let store: SQLiteEventStore
        let fake: FakeWebex
        let logs = LogCapture()
        let receiver: WebexWebhookReceiver
        let web: CrowdWeb

        init() async throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("crowdkit-conv-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            store = try SQLiteEventStore(
                configuration: .init(path: directory.appendingPathComponent("events.sqlite").path, retentionDays: nil),
                logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
            fake = try await FakeWebex(token: WebexConversationTests.token)
            fake.addPerson(id: "p-1", emails: ["guard@example.com"])
            let client = WebexClient(
                configuration: WebexConfiguration(
                    baseURL: fake.baseURL, token: WebexConversationTests.token, destination: .room(id: "ROOM-1"), timeout: scaled(.seconds(5)),
                    retry: RetryPolicy(maxAttempts: 3, maxTotalTime: scaled(.seconds(20)), initialBackoff: .milliseconds(10))),
                logger: logs.logger())
            let performer = WebexCardActionPerformer(events: store, settings: store, feedback: store, now: { WebexConversationTests.pressedAt })
            receiver = WebexWebhookReceiver(
                configuration: .init(secret: WebexConversationTests.secret), client: client, logger: logs.logger(),
                perform: { try await performer.perform($0) })
            let receiver = self.receiver
            web = CrowdWeb(
                store: store, configuration: CrowdWebConfiguration(access: .token("page-token-0123456789abcdef")), logger: logs.logger(),
                webexWebhook: IncomingWebhook(signatureHeader: WebexWebhookReceiver.signatureHeader, maxBodyBytes: WebexWebhookReceiver.maxBodyBytes) {
                    receiver.receive(body: $0, signature: $1).status
                },
                feedback: store)
        }

        func remove() async {
            await fake.stop()
            try? FileManager.default.removeItem(at: directory)
        }

        /// Runs the monitor over `messages` with `live`'s settings until the source ends.
        func monitor(_ messages: [SourceMessage], live: LiveSettings) async throws {
            let monitor = CrowdMonitor(
                source: ScriptedSource(messages), policy: WebexConversationTests.policy, store: store,
                notifiers: NotificationPlan(notifiers: ["webex"], kinds: [.fired]), settings: live,
                logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
            try await monitor.run()
        }

        /// POSTs `body` to the route, signed unless `signature` is given.
        func post(_ client: some TestClientProtocol, _ body: String, signature: String? = nil) async throws -> HTTPResponse.Status {
            var headers = HTTPFields()
            headers[HTTPFields.Element.Name(WebexWebhookReceiver.signatureHeader)!] =
                signature ?? HMACSHA1.hex(for: Data(body.utf8), key: Array(WebexConversationTests.secret.utf8))
            return try await client.execute(uri: "/webhooks/webex", method: .post, headers: headers, body: ByteBuffer(string: body)).status
        }

        var app: some ApplicationProtocol {
            let router = Router()
            web.addRoutes(to: router)
            return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logs.logger())
        }
    }

    @Test("a snooze pressed in Webex mutes the zone: the next crowd of that zone is stored with its notification suppressed, another zone's is not")
    func snoozeSuppressesNextCrowd() async throws {
        let f = try await Fixture()
        let runner = Task { await f.receiver.run() }
        defer {
            runner.cancel()
            Task { await f.remove() }
        }
        let live = LiveSettings()
        let control = SettingsControl(
            store: f.store, live: live, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }, now: { Self.pressedAt + 1_000 })
        try await control.start(seed: RuntimeSettings())

        // the first crowd of zone 5843 fires and is notified (pending)
        try await f.monitor(Self.crowd(zone: "5843", from: Self.pressedAt - 120_000), live: live)
        let first = try #require(try await f.store.events(EventQuery()).records.first)
        #expect(first.deliveries.map(\.status) == [.pending])

        // someone presses "Snooze 15 min" on its card
        f.fake.addAttachmentAction(
            id: "act-snooze-1", personId: "p-1", inputs: ["action": "snooze", "eventId": first.event.id.rawValue, "minutes": 15])
        try await f.app.test(.router) { client async throws in
            #expect(try await f.post(client, Self.body(actionID: "act-snooze-1")) == .ok)
        }
        #expect(await eventually(timeout: scaled(.seconds(30))) { f.receiver.processedCount == 1 })
        let mutes = try await f.store.mutes(activeAt: Self.pressedAt + 1_000)
        #expect(mutes.map(\.id) == ["webex-act-snooze-1"])
        #expect(mutes.first?.by == "guard@example.com")

        // the settings service takes the stored mute into the live settings (every 2 s in the app)
        try await control.refresh()
        #expect(live.snapshot.mutes.map(\.id) == ["webex-act-snooze-1"])

        // the next crowd of the snoozed zone, and one of another zone of the same camera
        try await f.monitor(
            Self.crowd(zone: "5843", from: Self.pressedAt + 60_000) + Self.crowd(zone: "0", from: Self.pressedAt + 60_000), live: live)
        let records = try await f.store.events(EventQuery()).records
        #expect(records.count == 3, "a mute gates notifications, not detection")
        let snoozed = try #require(records.first { $0.event.zone == "5843" && $0.event.startedAt >= Self.pressedAt })
        #expect(snoozed.deliveries.map(\.status) == [.suppressed(reason: "mute webex-act-snooze-1")])
        let other = try #require(records.first { $0.event.zone == "0" })
        #expect(other.deliveries.map(\.status) == [.pending], "the snooze is of the zone, not the camera")
        #expect(!f.logs.allText.contains(Self.secret))
        #expect(!f.logs.allText.contains(Self.token))
    }

    @Test("bad input through the route: not JSON, unknown resource, unknown event, unknown action are 200 with nothing done and one log line each; over 1 MiB is 413; the same action id again after a restart does nothing")
    func badInput() async throws {
        let f = try await Fixture()
        let runner = Task { await f.receiver.run() }
        defer {
            runner.cancel()
            Task { await f.remove() }
        }
        try await f.monitor(Self.crowd(zone: "0", from: Self.pressedAt - 120_000), live: LiveSettings())
        let event = try #require(try await f.store.events(EventQuery()).records.first?.event)
        let unknown = CrowdEventID(camera: Self.camera, zone: "77", startedAt: 1)
        f.fake.addAttachmentAction(id: "a-unknown-event", personId: "p-1", inputs: ["action": "ack", "eventId": unknown.rawValue])
        f.fake.addAttachmentAction(id: "a-unknown-action", personId: "p-1", inputs: ["action": "delete_everything", "eventId": event.id.rawValue])
        f.fake.addAttachmentAction(id: "a-ack", personId: "p-1", inputs: ["action": "ack", "eventId": event.id.rawValue])
        @Sendable func lines() -> Int { f.logs.entries.filter { $0.metadata["webhook"] == "webex" }.count }

        try await f.app.test(.router) { client async throws in
            // answered at once, never queued
            for body in ["not json at all", Self.body(actionID: "x", resource: "messages")] {
                let before = lines()
                #expect(try await f.post(client, body) == .ok)
                #expect(lines() == before + 1, "\(body)")
            }
            // queued, then nothing done when worked
            for (n, id) in ["a-unknown-event", "a-unknown-action"].enumerated() {
                let before = lines()
                #expect(try await f.post(client, Self.body(actionID: id)) == .ok)
                #expect(await eventually(timeout: scaled(.seconds(30))) { f.receiver.processedCount == n + 1 })
                #expect(lines() == before + 1, "\(id): \(f.logs.allText)")
            }
            let big = String(repeating: "x", count: WebexWebhookReceiver.maxBodyBytes + 1)
            #expect(try await f.post(client, big) == .contentTooLarge)
        }
        #expect(try await f.store.all().isEmpty)
        #expect(try await f.store.mutes(activeAt: Self.pressedAt).isEmpty)

        // an ack is recorded once, shown in /api/events; the same action id delivered to a
        // restarted receiver (its memory of ids is gone, the store's is not) does nothing more
        try await f.app.test(.router) { client async throws in
            #expect(try await f.post(client, Self.body(actionID: "a-ack")) == .ok)
            #expect(await eventually(timeout: scaled(.seconds(30))) { f.receiver.processedCount == 3 })
            var headers = HTTPFields()
            headers[.authorization] = "Bearer page-token-0123456789abcdef"
            let page = try await client.execute(uri: "/api/events", method: .get, headers: headers)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(page.body.readableBytesView)) as? [String: Any])
            let listed = try #require((json["events"] as? [[String: Any]])?.first)
            #expect(listed["acknowledgedBy"] as? String == "guard@example.com")
            #expect((listed["acknowledgedAt"] as? NSNumber)?.int64Value == Self.pressedAt)
            #expect((listed["labels"] as? [Any])?.isEmpty == true)
        }
        let restarted = WebexCardActionPerformer(events: f.store, settings: f.store, feedback: f.store, now: { Self.pressedAt + 5_000 })
        let again = WebexCardAction(id: "a-ack", kind: .notACrowd, eventID: event.id, personID: "p-1", personEmail: "guard@example.com")
        #expect(try await restarted.perform(again) == .repeated)
        #expect(try await f.store.all().map(\.kind) == [.acknowledged], "the repeated action id labelled nothing")
    }

    @Test("in the app: an ack through POST /webhooks/webex is kept in the SQLite store; after a restart it is still shown and the same press does nothing more")
    func ackSurvivesRestart() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let webex = try await FakeWebex(token: Self.token)
        defer { Task { await webex.stop() } }
        webex.addPerson(id: "p-1", emails: ["guard@example.com"])
        let dir = try LiveCommandTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let httpPort = DemoWebTests.freePort()
        let environment = ["BOT_ACCESS_TOKEN": Self.token, "WEBEX_WEBHOOK_SECRET": Self.secret, "HTTP_PORT": String(httpPort)]
        func start(_ name: String) throws -> LiveCommandTests.Child {
            try LiveCommandTests.Child(
                [
                    "run", "--mqtt-port", String(broker.port), "--min-people", "3", "--dwell", "5", "--gap", "0", "--cooldown", "0",
                    "--stats-interval", "0.1", "--webex-base-url", webex.baseURL.absoluteString, "--webex-room-id", "ROOM-1",
                ], in: dir, name: name, environment: environment)
        }
        let base = "http://127.0.0.1:\(httpPort)"
        func events() async -> String { (try? await LiveControlTests.send("GET", base + "/api/events"))?.1 ?? "" }
        func press(_ actionID: String) async throws -> Int {
            let body = Self.body(actionID: actionID)
            let signature = HMACSHA1.hex(for: Data(body.utf8), key: Array(Self.secret.utf8))
            return try await LiveControlTests.send(
                "POST", base + "/webhooks/webex", headers: ["X-Spark-Signature": signature, "Content-Type": "application/json"], body: body
            ).0
        }

        let first = try start("first")
        defer { if first.process.isRunning { kill(first.process.processIdentifier, SIGKILL) } }
        #expect(await eventually { first.stdout.contains("state=connected") }, "\(first.stderr)")
        #expect(await eventually { (try? await LiveControlTests.send("GET", base + "/api/settings"))?.0 == 200 }, "\(first.stderr)")
        let t0 = Int64(Date().timeIntervalSince1970 * 1000) - 60_000
        try await publishReadings(port: broker.port, camera: Self.camera, (0...8).map { (t0 + Int64($0) * 1000, 4) })
        // the crowd's thread: its root, then the card
        #expect(await eventually { webex.accepted.contains { $0.card != nil } }, "\(first.stderr)")
        let listed = await events()
        let eventID = try #require(
            (try JSONSerialization.jsonObject(with: Data(listed.utf8)) as? [String: Any]).flatMap { ($0["events"] as? [[String: Any]])?.first?["id"] as? String })
        webex.addAttachmentAction(id: "act-ack-1", personId: "p-1", inputs: ["action": "ack", "eventId": eventID])
        #expect(try await press("act-ack-1") == 200)
        #expect(await eventually { await events().contains(#""acknowledgedBy":"guard@example.com""#) }, "\(first.stderr)")
        #expect(await eventually { webex.edits.count == 1 }, "the root says who acknowledged")
        #expect(webex.edits.first?.markdown?.hasSuffix("_Acknowledged by guard@example.com_") == true)
        first.interrupt()
        #expect(await first.wait() == 0, "\(first.stderr)")

        let second = try start("second")
        defer { if second.process.isRunning { kill(second.process.processIdentifier, SIGKILL) } }
        #expect(await eventually { second.stdout.contains("state=connected") }, "\(second.stderr)")
        #expect(await eventually { await events().contains(#""acknowledgedBy":"guard@example.com""#) }, "kept across the restart: \(second.stderr)")
        let fetchesBefore = webex.server.requests.filter { $0.path == "/v1/attachment/actions/act-ack-1" }.count
        #expect(try await press("act-ack-1") == 200)
        // the restarted receiver does not remember the id: it fetches the action again, and the store's claim stops it
        #expect(await eventually { webex.server.requests.filter { $0.path == "/v1/attachment/actions/act-ack-1" }.count > fetchesBefore })
        #expect(await eventually { second.stderr.contains("Webex card action: repeated") }, "\(second.stderr)")
        #expect(webex.edits.count == 1, "the same press after a restart edits nothing")
        second.interrupt()
        #expect(await second.wait() == 0, "\(second.stderr)")
        #expect(!first.stderr.contains(Self.secret) && !second.stderr.contains(Self.secret))
        #expect(!first.stderr.contains(Self.token) && !second.stderr.contains(Self.token))
    }
}
