import CrowdKitHTTP
import Foundation

/// The `attachmentActions` webhook that brings button presses to `POST /webhooks/webex`.
public struct WebexWebhookRegistration: Sendable, Hashable {
    public var id: String
    public var name: String
    public var targetURL: String
    public var resource: String
    public var event: String
}

extension WebexClient {
    /// The name CrowdKit gives its webhook (found again by it).
    public static let webhookName = "crowdkit-attachment-actions"

    /// The webhook named `name`, if there is one (`GET /webhooks`).
    public func webhook(named name: String = WebexClient.webhookName) async throws(WebexError) -> WebexWebhookRegistration? {
        let data = try await get("webhooks")
        struct List: Decodable {
            struct Item: Decodable {
                var id: String
                var name: String
                var targetUrl: String
                var resource: String
                var event: String
            }
            var items: [Item]
        }
        guard let list = try? JSONDecoder().decode(List.self, from: data) else {
            throw WebexError(.decoding, "the webhook list could not be read")
        }
        return list.items.first { $0.name == name }.map {
            WebexWebhookRegistration(id: $0.id, name: $0.name, targetURL: $0.targetUrl, resource: $0.resource, event: $0.event)
        }
    }

    /// Creates the `attachmentActions`/`created` webhook named `name` for `targetURL` with
    /// `secret`, or updates the one with that name (`PUT /webhooks/{id}`): running it twice
    /// leaves one webhook. Returns its id.
    @discardableResult
    public func ensureWebhook(targetURL: URL, secret: String, name: String = WebexClient.webhookName) async throws(WebexError) -> String {
        let existing = try await webhook(named: name)
        var object: [String: String] = ["name": name, "targetUrl": targetURL.absoluteString, "secret": secret]
        if existing == nil {
            object["resource"] = "attachmentActions"
            object["event"] = "created"
        }
        let body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        let answer = try await write(method: existing == nil ? "POST" : "PUT", path: existing.map { "webhooks/\($0.id)" } ?? "webhooks", body: body)
        struct Created: Decodable { var id: String }
        return (try? JSONDecoder().decode(Created.self, from: answer))?.id ?? existing?.id ?? ""
    }
}
