import CrowdKitCore
@testable import CrowdKitWeb
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// Counts the reads of a feedback store, to show that a page costs one.
final class CountingFeedbackStore: EventFeedbackStore {
    let base: any EventFeedbackStore
    let pageReads = LockedBox<[[CrowdEventID]]>([])
    let singleReads = LockedBox<Int>(0)
    init(_ base: any EventFeedbackStore) { self.base = base }
    func add(_ feedback: EventFeedback) async throws -> Bool { try await base.add(feedback) }
    func feedback(for id: CrowdEventID) async throws -> [EventFeedback] {
        singleReads.withLock { $0 += 1 }
        return try await base.feedback(for: id)
    }
    func feedback(for ids: [CrowdEventID]) async throws -> [CrowdEventID: [EventFeedback]] {
        pageReads.withLock { $0.append(ids) }
        return try await base.feedback(for: ids)
    }
    func all() async throws -> [EventFeedback] { try await base.all() }
    func claimAction(id: String, at: Int64) async throws -> Bool { try await base.claimAction(id: id, at: at) }
}

@Suite("Acknowledgements, labels and the Webex thread on the page and in /api/events")
struct FeedbackPageTests {
    static let ackAt: Int64 = WebFixture.t0 + 120_000

    /// The fixture with the ended event acknowledged and labelled (SQLite), the page reading it
    /// through a counting store, and the thread link of events whose Webex fired notification was sent.
    func fixture() async throws -> (WebFixture, CrowdWeb, CountingFeedbackStore) {
        let f = try await WebFixture.make()
        let ended = WebFixture.ended.event
        try await f.store.add(EventFeedback(event: ended, kind: .acknowledged, by: "guard <b>@example.com", at: Self.ackAt))
        try await f.store.add(EventFeedback(event: ended, kind: .notCrowd, by: "ops@example.com", at: Self.ackAt + 1_000))
        let counting = CountingFeedbackStore(f.store)
        var web = f.web()
        web.feedback = counting
        web.conversationLink = { record in
            for d in record.deliveries where d.notifier == "webex" && d.kind == .fired {
                if case .sent(let id?) = d.status { return "webexteams://im?space=room-1&message=\(id)" }
            }
            return nil
        }
        return (f, web, counting)
    }

    @Test("the page says who acknowledged and when, shows the label, links the thread; one feedback read for the listed page")
    func page() async throws {
        let (_, web, counting) = try await fixture()
        try await WebFixture.app(web).test(.router) { client async throws in
            let html = try await client.execute(uri: "/", method: .get).text
            #expect(html.contains("Acknowledged by guard &lt;b&gt;@example.com at <time datetime=\"2024-05-02T06:52:00.123Z\">"), "\(html)")
            #expect(html.contains("<span class=\"badge muted\">not a crowd</span> by ops@example.com"))
            #expect(html.contains("href=\"webexteams://im?space=room-1&amp;message=msg-1\""))
            #expect(html.components(separatedBy: "Acknowledged by").count == 2, "only the acknowledged event says so")
            #expect(html.components(separatedBy: "Webex thread").count == 2, "only the event whose root was sent links one")
        }
        #expect(counting.pageReads.withLock { $0.count } == 1)
        #expect(counting.pageReads.withLock { $0.first?.count } == 3, "the three listed events in one read")
        #expect(counting.singleReads.withLock { $0 } == 0)
    }

    @Test("/api/events carries acknowledgedBy, acknowledgedAt, labels and conversationUrl for each event (null and [] when none)")
    func json() async throws {
        let (_, web, counting) = try await fixture()
        try await WebFixture.app(web).test(.router) { client async throws in
            let r = try await client.execute(uri: "/api/events", method: .get)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(r.text.utf8)) as? [String: Any])
            let events = try #require(object["events"] as? [[String: Any]])
            let ended = try #require(events.first { $0["id"] as? String == WebFixture.ended.event.id.rawValue })
            #expect(ended["acknowledgedBy"] as? String == "guard <b>@example.com")
            #expect((ended["acknowledgedAt"] as? NSNumber)?.int64Value == Self.ackAt)
            #expect(ended["acknowledgedAtISO"] as? String == "2024-05-02T06:52:00.123Z")
            let labels = try #require(ended["labels"] as? [[String: Any]])
            #expect(labels.map { $0["label"] as? String } == ["not_crowd"])
            #expect(labels.first?["by"] as? String == "ops@example.com")
            #expect(ended["conversationUrl"] as? String == "webexteams://im?space=room-1&message=msg-1")
            let ongoing = try #require(events.first { $0["id"] as? String == WebFixture.ongoing.event.id.rawValue })
            #expect(ongoing["acknowledgedBy"] is NSNull)
            #expect((ongoing["labels"] as? [Any])?.isEmpty == true)
            #expect(ongoing["conversationUrl"] is NSNull)
            // the labels route comes from the same store
            let lines = try await client.execute(uri: "/api/labels", method: .get).text
            #expect(lines == EventFeedback(event: WebFixture.ended.event, kind: .notCrowd, by: "", at: 0).labelLine + "\n")
        }
        #expect(counting.pageReads.withLock { $0.count } == 1)
    }

    @Test("without a feedback store the event JSON has no feedback fields (as before)")
    func withoutFeedback() async throws {
        let f = try await WebFixture.make()
        try await WebFixture.app(f.web()).test(.router) { client async throws in
            let text = try await client.execute(uri: "/api/events", method: .get).text
            #expect(!text.contains("acknowledgedBy"))
            #expect(try await client.execute(uri: "/api/labels", method: .get).status == .notFound)
        }
    }
}
