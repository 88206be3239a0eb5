import CrowdKitCore
import CrowdKitHTTP
import CrowdKitTestServers
import CrowdKitWebex
import Foundation
import Testing

@Suite("A Webex thread per crowd, against a fake Webex")
struct ThreadTests {
    @Test("root markdown only; snapshot and card as replies; reminder as a reply; at the end the root is edited and an ended reply posted")
    func thread() async throws {
        let fake = try await FakeWebex(token: botToken)
        defer { Task { await fake.stop() } }
        let logs = LogCapture()
        let roots = LockedBox<[CrowdEventID: String]>([:])
        let notifier = WebexNotifier(
            client: webexClient(fake, logs), attachment: .link,
            threads: .init(roomID: "ROOM-1") { id in roots.withLock { $0[id] } }, logger: logs.logger())
        var event = CrowdEvent(
            camera: "Q2GV-ABCD-1234", zone: "0", startedAt: 1_764_666_000_000, firedAt: 1_764_666_060_000, peak: 6,
            policy: PolicyDescription(name: "dwell", parameters: [:]), cameraName: "Lobby", zoneName: "Entrance")
        event.snapshotURL = "https://snap.example/1.jpg"

        let receipt = try await notifier.send(CrowdNotification(kind: .fired, event: event))
        let rootID = try #require(receipt.remoteID)
        roots.withLock { $0[event.id] = rootID }  // what the outbox keeps as the fired delivery's remote id
        var messages = fake.accepted
        #expect(messages.count == 3)
        let root = try #require(messages.first)
        #expect(root.id == rootID)
        #expect(root.parentId == nil)
        #expect(!root.hasFileOrCard, "the root must stay editable")
        #expect(root.markdown?.isEmpty == false)
        #expect(messages[1].parentId == rootID)
        #expect(messages[1].fileURLs == ["https://snap.example/1.jpg"])
        let cardMessage = messages[2]
        #expect(cardMessage.parentId == rootID)
        #expect(cardMessage.markdown?.isEmpty == false, "a fallback text")
        let card = try #require(cardMessage.card)
        #expect(card.contentType == "application/vnd.microsoft.card.adaptive")
        #expect(card.content["version"] as? String == "1.3")
        let actions = try #require(card.content["actions"] as? [[String: Any]])
        #expect(actions.allSatisfy { $0["type"] as? String == "Action.Submit" })
        let data = actions.compactMap { $0["data"] as? [String: Any] }
        let id = event.id.rawValue
        #expect(data.count == 5)
        #expect(data.filter { Set($0.keys) == ["action", "eventId"] }.map { $0["action"] as? String } == ["ack", "not_a_crowd"])
        #expect(data.allSatisfy { $0["eventId"] as? String == id })
        let snoozes = data.filter { $0["action"] as? String == "snooze" }
        #expect(snoozes.allSatisfy { Set($0.keys) == ["action", "eventId", "minutes"] })
        #expect(snoozes.compactMap { $0["minutes"] as? Int } == [15, 60, 480])

        event.reminders = 1
        _ = try await notifier.send(CrowdNotification(kind: .reminder, event: event, sequence: 1))
        messages = fake.accepted
        #expect(messages.count == 4)
        #expect(messages[3].parentId == rootID)
        #expect(!messages[3].hasFileOrCard)

        event.endedAt = event.startedAt + 300_000
        _ = try await notifier.send(CrowdNotification(kind: .ended, event: event))
        let edit = try #require(fake.edits.first)
        #expect(fake.edits.count == 1)
        #expect(edit.messageId == rootID)
        #expect(edit.roomId == "ROOM-1")
        #expect(edit.markdown?.isEmpty == false)
        messages = fake.accepted
        #expect(messages.count == 5)
        #expect(messages[4].parentId == rootID)
        #expect(edit.markdown == messages[4].markdown, "the root says what the ended reply says")

        // a button press is shown on the root
        let ack = WebexCardAction(id: "a-1", kind: .ack, eventID: event.id, personID: "p-1", personEmail: "guard@example.com")
        try await notifier.annotateThread(of: event, note: ack.note)
        #expect(fake.edits.count == 2)
        #expect(fake.edits.last?.messageId == rootID)
        #expect(fake.edits.last?.markdown?.hasSuffix("_Acknowledged by guard@example.com_") == true)
        #expect(fake.edits.last?.markdown?.hasPrefix(edit.markdown ?? "-") == true, "under the ended text")
        #expect(!logs.allText.contains(botToken))
    }

    @Test("without a known root (or without threads) a reminder goes out on its own")
    func noRoot() async throws {
        let fake = try await FakeWebex(token: botToken)
        defer { Task { await fake.stop() } }
        let notifier = WebexNotifier(
            client: webexClient(fake, LogCapture()), attachment: .none, threads: .init(roomID: "ROOM-1") { _ in nil },
            logger: LogCapture().logger())
        let event = CrowdEvent(
            camera: "Q2", zone: "1", startedAt: 1_000, firedAt: 2_000, peak: 4, policy: PolicyDescription(name: "dwell", parameters: [:]))
        _ = try await notifier.send(CrowdNotification(kind: .reminder, event: event, sequence: 1))
        #expect(fake.accepted.count == 1)
        #expect(fake.accepted.first?.parentId == nil)
        #expect(fake.edits.isEmpty)
    }
}
