import CrowdKitCore
@testable import CrowdKitWeb
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("POST /webhooks/webex and GET /api/labels (no socket)")
struct WebhookRouteTests {
    /// Records what reached the webhook and answers 200, or 401 for the signature "bad".
    final class Recorder: Sendable {
        let received = LockedBox<[(body: Data, signature: String?)]>([])
        var hook: IncomingWebhook {
            IncomingWebhook { body, signature in
                self.received.withLock { $0.append((body, signature)) }
                return signature == "bad" ? 401 : 200
            }
        }
    }

    func web(_ f: WebFixture, _ recorder: Recorder, labels: String = "") -> CrowdWeb {
        var web = f.web(access: .token("page-token-0123456789abcdef"))
        web.webexWebhook = recorder.hook
        web.labels = { labels }
        return web
    }

    @Test("the webhook needs no page token, gets the raw body and X-Spark-Signature, and its status")
    func passesThrough() async throws {
        let f = try await WebFixture.make()
        let recorder = Recorder()
        try await WebFixture.app(web(f, recorder)).test(.router) { client async throws in
            let body = #"{"resource":"attachmentActions","event":"created","data":{"id":"a"}}  "#
            var headers = HTTPFields()
            headers[HTTPFields.Element.Name("X-Spark-Signature")!] = "abc123"
            let ok = try await client.execute(uri: "/webhooks/webex", method: .post, headers: headers, body: ByteBuffer(string: body))
            #expect(ok.status == .ok)
            headers[HTTPFields.Element.Name("X-Spark-Signature")!] = "bad"
            let refused = try await client.execute(uri: "/webhooks/webex", method: .post, headers: headers, body: ByteBuffer(string: body))
            #expect(refused.status == .unauthorized)
            let received = recorder.received.withLock { $0 }
            #expect(received.count == 2)
            #expect(received.first?.body == Data(body.utf8), "the raw bytes, trailing spaces included")
            #expect(received.first?.signature == "abc123")
            // the other routes still need the token
            #expect(try await client.execute(uri: "/api/labels", method: .get).status == .unauthorized)
            let get = try await client.execute(uri: "/webhooks/webex", method: .get).status
            #expect(get == .unauthorized || get == .notFound, "only POST skips the token")
            #expect(recorder.received.withLock { $0.count } == 2)
        }
    }

    @Test("a body over 1 MiB is 413 and never reaches the receiver")
    func tooLarge() async throws {
        let f = try await WebFixture.make()
        let recorder = Recorder()
        try await WebFixture.app(web(f, recorder)).test(.router) { client async throws in
            let big = ByteBuffer(repeating: UInt8(ascii: "x"), count: (1 << 20) + 1)
            let r = try await client.execute(uri: "/webhooks/webex", method: .post, body: big)
            #expect(r.status == .contentTooLarge)
            let fits = ByteBuffer(repeating: UInt8(ascii: "x"), count: 1 << 20)
            #expect(try await client.execute(uri: "/webhooks/webex", method: .post, body: fits).status == .ok)
        }
        #expect(recorder.received.withLock { $0.count } == 1)
    }

    @Test("GET /api/labels answers the JSON Lines with the token")
    func labels() async throws {
        let f = try await WebFixture.make()
        let line = #"{"camera":"Q2","zone":"0","startedAt":1,"endedAt":null,"label":"not_crowd"}"# + "\n"
        try await WebFixture.app(web(f, Recorder(), labels: line)).test(.router) { client async throws in
            var headers = HTTPFields()
            headers[.authorization] = "Bearer page-token-0123456789abcdef"
            let r = try await client.execute(uri: "/api/labels", method: .get, headers: headers)
            #expect(r.status == .ok)
            #expect(r.text == line)
            #expect(r.headers[.contentType]?.hasPrefix("application/x-ndjson") == true)
        }
    }
}
