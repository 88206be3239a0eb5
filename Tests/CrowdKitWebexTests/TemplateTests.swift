import CrowdKitCore
import CrowdKitTestServers
import CrowdKitWebex
import Foundation
import Testing

@Suite("Webex templates from files: texts, the acknowledgement line and the card, checked when made")
struct TemplateTests {
    static let event = CrowdEvent(
        camera: "Q2GV-ABCD-1234", zone: "0", startedAt: 1_764_666_000_000, firedAt: 1_764_666_060_000, peak: 6,
        policy: PolicyDescription(name: "dwell", parameters: [:]), cameraName: "Lobby", zoneName: "Entrance")

    static let card = #"""
        {"type": "AdaptiveCard", "version": "1.3", "body": [{"type": "TextBlock", "text": "Crowd at {zone} ({camera}) since {since}"}],
         "actions": [
            {"type": "Action.Submit", "title": "Mine", "data": {"action": "ack", "eventId": "{eventId}"}},
            {"type": "Action.Submit", "title": "Quiet 1 h", "data": {"action": "snooze", "eventId": "{eventId}", "minutes": 60}},
            {"type": "Action.OpenUrl", "title": "Video", "url": "https://video.example/{serial}"}]}
        """#

    func problem(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as WebexError {
            #expect(error.code == .invalidTemplate)
            return error.message
        } catch {
            Issue.record("not a WebexError: \(error)")
            return "\(error)"
        }
    }

    @Test("a message file: markdown, then after a line --- the plain text; without it the text is the markdown filled with plain values")
    func messageFile() throws {
        let both = try WebexMessageTemplate.pair(fromFile: "**Crowd** in *{zone}*: {count}\n---\nCrowd in {zone}: {count}\n")
        #expect(both == .init(markdown: "**Crowd** in *{zone}*: {count}", text: "Crowd in {zone}: {count}"))
        let one = try WebexMessageTemplate.pair(fromFile: "**Crowd** in *{zone}*\r\n")
        #expect(one == .init(markdown: "**Crowd** in *{zone}*", text: "**Crowd** in *{zone}*"))
        var template = WebexMessageTemplate.standard
        template.fired = both
        let message = template.render(CrowdNotification(kind: .fired, event: Self.event))
        #expect(message.markdown == "**Crowd** in *Entrance*: 6")
        #expect(message.text == "Crowd in Entrance: 6")
    }

    @Test("an unknown placeholder, an empty markdown or an empty text part are refused, naming the problem")
    func badMessageFiles() {
        #expect(problem { _ = try WebexMessageTemplate.pair(fromFile: "Crowd in {zoen}") }?.contains("unknown placeholder {zoen}") == true)
        #expect(problem { _ = try WebexMessageTemplate.pair(fromFile: "ok\n---\nCrowd for {minutes}") }?.contains("{minutes}") == true)
        #expect(problem { _ = try WebexMessageTemplate.pair(fromFile: " \n\n") }?.contains("empty") == true)
        #expect(problem { _ = try WebexMessageTemplate.pair(fromFile: "Crowd\n---\n  \n") }?.contains("plain text") == true)
        #expect(problem { _ = try WebexMessageTemplate.pair(fromFile: "By {actor}") } != nil, "{actor} only where allowed")
        #expect(problem { _ = try WebexMessageTemplate.pair(fromFile: "By {actor}", extra: ["actor"]) } == nil)
        #expect(problem { _ = try WebexMessageTemplate.pair(fromFile: "JSON-ish { braces } and {} stay text") } == nil)
    }

    @Test("a card file: placeholders filled in its strings, its buttons' data as the webhook reads them")
    func cardFile() throws {
        let template = try WebexCardTemplate(json: Self.card)
        let data = template.render(Self.event, timeZone: try #require(TimeZone(identifier: "UTC")))
        let card = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let body = try #require(card["body"] as? [[String: Any]])
        #expect(body.first?["text"] as? String == "Crowd at Entrance (Lobby) since 09:00:00")
        let actions = try #require(card["actions"] as? [[String: Any]])
        let submitted = actions.compactMap { $0["data"] as? [String: Any] }
        #expect(submitted.map { $0["eventId"] as? String } == [Self.event.id.rawValue, Self.event.id.rawValue])
        #expect(submitted.last?["minutes"] as? Int == 60)
        #expect(actions.last?["url"] as? String == "https://video.example/Q2GV-ABCD-1234")
    }

    @Test("a card that is not JSON, not an AdaptiveCard, or has a button the webhook would not understand is refused")
    func badCards() {
        #expect(problem { _ = try WebexCardTemplate(json: "{\"type\": \"AdaptiveCard\",") }?.hasPrefix("not JSON") == true)
        #expect(problem { _ = try WebexCardTemplate(json: "[1]") } == "not a JSON object")
        #expect(problem { _ = try WebexCardTemplate(json: #"{"type": "MessageCard"}"#) }?.contains("AdaptiveCard") == true)
        func card(_ data: String) -> String {
            #"{"type": "AdaptiveCard", "actions": [{"type": "Action.Submit", "title": "B", "data": \#(data)}]}"#
        }
        #expect(problem { _ = try WebexCardTemplate(json: card(#"{"action": "delete", "eventId": "{eventId}"}"#)) }?.contains("\"delete\"") == true)
        #expect(problem { _ = try WebexCardTemplate(json: card(#"{"action": "ack", "eventId": "E-1"}"#)) }?.contains("{eventId}") == true)
        #expect(problem { _ = try WebexCardTemplate(json: card(#"{"action": "snooze", "eventId": "{eventId}", "minutes": 7}"#)) } != nil)
        #expect(problem { _ = try WebexCardTemplate(json: card(#""ack""#)) }?.contains("no data object") == true)
        #expect(
            problem { _ = try WebexCardTemplate(json: #"{"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "{nope}"}]}"#) }?
                .contains("{nope}") == true)
        #expect(problem { _ = try WebexCardTemplate(json: Self.card) } == nil)
    }

    @Test("the thread posts the template's card and the acknowledgement line comes from its template")
    func threadUsesTemplates() async throws {
        let fake = try await FakeWebex(token: botToken)
        defer { Task { await fake.stop() } }
        let logs = LogCapture()
        var templates = WebexTemplates(card: try WebexCardTemplate(json: Self.card))
        templates.acknowledged = try WebexMessageTemplate.pair(fromFile: "**On it:** {actor} ({zone})", extra: ["actor"])
        let roots = LockedBox<[CrowdEventID: String]>([:])
        let notifier = WebexNotifier(
            client: webexClient(fake, logs), attachment: .none,
            threads: .init(roomID: "ROOM-1", makeCard: { [templates] in templates.card(for: $0) }) { id in roots.withLock { $0[id] } },
            logger: logs.logger())
        let receipt = try await notifier.send(CrowdNotification(kind: .fired, event: Self.event))
        roots.withLock { $0[Self.event.id] = receipt.remoteID }
        let card = try #require(fake.accepted.last?.card)
        #expect((card.content["actions"] as? [Any])?.count == 3, "the template's card, not the built-in one (5 buttons)")
        try await notifier.annotateThread(of: Self.event, markdown: templates.acknowledgement(of: Self.event, by: "guard@example.com"))
        #expect(fake.edits.last?.markdown?.hasSuffix("\n\n**On it:** guard@example.com (Entrance)") == true)
        #expect(WebexTemplates().acknowledgement(of: Self.event, by: "a_b@example.com") == "_Acknowledged by a\\_b@example.com_")
    }

    @Test("webexteams links from Webex API ids; anything else gives no link")
    func links() {
        let room = "Y2lzY29zcGFyazovL3VzL1JPT00vYmJjZWIxYWQtNDNmMS0zYjU4LTkxNDctZjE0YmIwYzRkMTU0"
        let message = "Y2lzY29zcGFyazovL3VzL01FU1NBR0UvOTJkYjNiZTAtNDNiZC0xMWU2LThhZTktZGQ1YjNkZmM1NjVk"
        #expect(
            WebexLinks.message(message, inRoom: room)
                == "webexteams://im?space=bbceb1ad-43f1-3b58-9147-f14bb0c4d154&message=92db3be0-43bd-11e6-8ae9-dd5b3dfc565d")
        #expect(WebexLinks.message(room, inRoom: room) == nil, "a room id is not a message id")
        #expect(WebexLinks.message("msg-1", inRoom: room) == nil)
        #expect(WebexLinks.message(message, inRoom: "ROOM-1") == nil)
    }
}
