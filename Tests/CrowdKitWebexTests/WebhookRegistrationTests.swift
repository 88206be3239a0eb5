import CrowdKitCore
import CrowdKitTestServers
import CrowdKitWebex
import Foundation
import Testing

@Suite("The attachmentActions webhook, created or updated by name, against a fake Webex")
struct WebhookRegistrationTests {
    @Test("created once with the secret, then updated in place; found by name")
    func idempotent() async throws {
        let fake = try await FakeWebex(token: botToken)
        defer { Task { await fake.stop() } }
        let logs = LogCapture()
        let client = webexClient(fake, logs)
        #expect(try await client.webhook() == nil)
        let first = try await client.ensureWebhook(targetURL: try #require(URL(string: "https://crowds.example/webhooks/webex")), secret: "s-1")
        #expect(fake.webhooks.count == 1)
        let hook = try #require(fake.webhooks.first)
        #expect(hook["resource"] == "attachmentActions")
        #expect(hook["event"] == "created")
        #expect(hook["secret"] == "s-1")
        #expect(hook["targetUrl"] == "https://crowds.example/webhooks/webex")

        let second = try await client.ensureWebhook(targetURL: try #require(URL(string: "https://new.example/webhooks/webex")), secret: "s-2")
        #expect(second == first)
        #expect(fake.webhooks.count == 1)
        #expect(fake.webhooks.first?["targetUrl"] == "https://new.example/webhooks/webex")
        #expect(fake.webhooks.first?["secret"] == "s-2")
        let found = try #require(try await client.webhook())
        #expect(found.id == first)
        #expect(found.targetURL == "https://new.example/webhooks/webex")
        #expect(!logs.allText.contains("s-2"))
        #expect(!logs.allText.contains(botToken))
    }
}
