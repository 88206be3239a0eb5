import CrowdKitCore
import CrowdKitHTTP
import CrowdKitMeraki
import CrowdKitTestServers
import CrowdKitTesting
import CrowdKitWebex
import Foundation
import Testing

let botToken = "BOT-token-ZmFrZS10b2tlbi0wMTIzNDU2Nzg5YWJjZGVm"
let merakiKey = "meraki-KEY-fedcba9876543210fedcba9876543210"

func webexClient(_ fake: FakeWebex, _ logs: LogCapture, destination: WebexDestination = .room(id: "ROOM-1"), retry: RetryPolicy? = nil)
    -> WebexClient
{
    WebexClient(
        configuration: WebexConfiguration(
            baseURL: fake.baseURL, token: botToken, destination: destination, timeout: scaled(.seconds(5)),
            retry: retry ?? RetryPolicy(maxAttempts: 4, maxTotalTime: scaled(.seconds(20)), initialBackoff: .milliseconds(10))),
        logger: logs.logger())
}

@Suite("Webex against a fake Webex API")
struct WebexIntegrationTests {
    @Test("JSON message: POST /v1/messages, Bearer token, exactly one destination, markdown and text")
    func json() async throws {
        let fake = try await FakeWebex(token: botToken)
        defer { Task { await fake.stop() } }
        let logs = LogCapture()
        let receipt = try await webexClient(fake, logs, destination: .personEmail("guard@example.com"))
            .send(WebexMessage(markdown: "**hi** [video](https://video.example/x)", text: "hi"))
        #expect(receipt.id == "msg-1")
        let m = try #require(fake.accepted.first)
        #expect(m.request.method == "POST")
        #expect(m.request.path == "/v1/messages")
        #expect(m.request.header("authorization") == "Bearer \(botToken)")
        #expect(m.destinationCount == 1)
        #expect(m.toPersonEmail == "guard@example.com")
        #expect(m.markdown == "**hi** [video](https://video.example/x)")
        #expect(m.text == "hi")
        #expect(!m.isMultipart)
        #expect(!logs.allText.contains(botToken))
    }

    @Test("an over-long message is cut to 7439 bytes and accepted")
    func longMessage() async throws {
        let fake = try await FakeWebex(token: botToken)
        defer { Task { await fake.stop() } }
        let long = String(repeating: "Ünïcødé ✓ ", count: 1500)
        _ = try await webexClient(fake, LogCapture()).send(WebexMessage(markdown: long, text: long))
        let m = try #require(fake.accepted.first)
        #expect(m.markdown!.utf8.count <= 7439)
        #expect(long.hasPrefix(String(m.markdown!.dropLast())))
    }

    @Test("401: no retry, a permanent error with the TrackingID logged, and no token anywhere")
    func unauthorized() async throws {
        let fake = try await FakeWebex(token: "another-token-entirely")
        defer { Task { await fake.stop() } }
        let logs = LogCapture()
        let notifier = WebexNotifier(client: webexClient(fake, logs), logger: logs.logger())
        do {
            _ = try await notifier.send(CrowdNotification(kind: .fired, event: sampleEvent()))
            Issue.record("expected an error")
        } catch let error as NotificationError {
            #expect(error.code == .permanent)
            #expect(error.message.contains("401"))
            #expect(error.message.contains("ROUTER_FAKE_"))
            #expect(!error.message.contains(botToken))
        }
        #expect(fake.server.requests.count == 1)
        #expect(logs.entries.contains { $0.level == .error && $0.metadata["webex.tracking.id"]?.hasPrefix("ROUTER_FAKE_") == true })
        #expect(!logs.allText.contains(botToken))
    }

    @Test("retries after 429 and 503 with Retry-After, then the message is accepted once")
    func retries() async throws {
        let fake = try await FakeWebex(token: botToken)
        defer { Task { await fake.stop() } }
        fake.enqueue(
            FakeWebex.error(429, "Too many requests").with(header: ("Retry-After", "1")),
            FakeWebex.error(503, "Service unavailable").with(header: ("Retry-After", "0")))
        let logs = LogCapture()
        let receipt = try await WebexNotifier(client: webexClient(fake, logs), logger: logs.logger())
            .send(CrowdNotification(kind: .fired, event: sampleEvent()))
        #expect(receipt.remoteID == "msg-1")
        #expect(fake.attempts == 3)
        #expect(fake.accepted.count == 1)
        let posts = fake.server.requests
        #expect(posts[1].arrivedAt - posts[0].arrivedAt >= .milliseconds(900))
        #expect(!logs.allText.contains(botToken))
    }

    @Test("the snapshot is uploaded as a multipart files part (image/jpeg) with the markdown and one destination")
    func multipart() async throws {
        let fake = try await FakeWebex(token: botToken)
        defer { Task { await fake.stop() } }
        let meraki = try await FakeMeraki(apiKey: merakiKey)
        defer { Task { await meraki.stop() } }
        meraki.update { $0.imageNotReadyPolls = 0 }
        var e = sampleEvent()
        e.snapshotURL = meraki.server.baseURL.appendingPathComponent("images/snap-1.jpg").absoluteString
        let logs = LogCapture()
        _ = try await WebexNotifier(client: webexClient(fake, logs, destination: .person(id: "PERSON-1")), logger: logs.logger())
            .send(CrowdNotification(kind: .fired, event: e))
        let m = try #require(fake.accepted.first)
        #expect(m.isMultipart)
        #expect(m.destinationCount == 1)
        #expect(m.toPersonId == "PERSON-1")
        #expect(m.markdown?.contains("[video](https://video.example/clip)") == true)
        let file = try #require(m.upload)
        #expect(file.contentType == "image/jpeg")
        #expect(file.filename == "snapshot.jpg")
        #expect(file.data == FakeMeraki.jpeg)
        #expect(meraki.requests("image").first?.header("authorization") == nil)
    }

    @Test("when the snapshot cannot be downloaded its URL goes in files and the message still goes out")
    func snapshotLinkFallback() async throws {
        let fake = try await FakeWebex(token: botToken)
        defer { Task { await fake.stop() } }
        let meraki = try await FakeMeraki(apiKey: merakiKey)
        defer { Task { await meraki.stop() } }
        meraki.update { $0.imageNotReadyPolls = 1000 }
        var e = sampleEvent()
        let url = meraki.server.baseURL.appendingPathComponent("images/snap-2.jpg").absoluteString
        e.snapshotURL = url
        _ = try await WebexNotifier(client: webexClient(fake, LogCapture()), logger: LogCapture().logger())
            .send(CrowdNotification(kind: .fired, event: e))
        let m = try #require(fake.accepted.first)
        #expect(!m.isMultipart)
        #expect(m.fileURLs == [url])
    }
}

@Suite("WebexNotifier snapshot refusal")
struct WebexSnapshotRefusalTests {
    @Test("when Webex refuses the file (400), the message goes out without it")
    func refusedFile() async throws {
        let fake = try await FakeWebex(token: botToken)
        defer { Task { await fake.stop() } }
        fake.enqueue(FakeWebex.error(400, "Unable to retrieve content from the files URL."))
        var e = sampleEvent()
        e.snapshotURL = "https://snapshots.example/expired.jpg"
        let receipt = try await WebexNotifier(
            client: webexClient(fake, LogCapture()), attachment: .link, logger: LogCapture().logger()
        ).send(CrowdNotification(kind: .fired, event: e))
        #expect(receipt.remoteID == "msg-1")
        #expect(fake.attempts == 2)
        let m = try #require(fake.accepted.first)
        #expect(m.fileURLs.isEmpty)
        #expect(m.upload == nil)
        #expect(m.markdown?.contains("[video](https://video.example/clip)") == true)
        #expect(m.markdown?.contains("Snapshot could not be attached") == true)
    }
}

extension FakeResponse {
    func with(header: (String, String)) -> FakeResponse {
        var copy = self
        copy.headers.append(header)
        return copy
    }
}

@Suite("Webex notifier: the Notifier conformance suite")
struct WebexNotifierConformanceTests {
    @Test("WebexNotifier passes against the fake Webex API (an outage for the failing case), never naming the token")
    func conforms() async throws {
        let webex = try await FakeWebex(token: botToken)
        let down = try await FakeWebex(token: botToken)
        down.setOutage(.json(503, ["message": "Service unavailable"]))
        let logs = LogCapture()
        try await NotifierConformance.run(
            makeNotifier: { WebexNotifier(client: webexClient(webex, logs, retry: RetryPolicy(maxAttempts: 1)), logger: logs.logger()) },
            accepted: { webex.accepted.count },
            makeFailing: { WebexNotifier(client: webexClient(down, logs, retry: RetryPolicy(maxAttempts: 1)), logger: logs.logger()) },
            secrets: [botToken])
        #expect(!logs.allText.contains(botToken))
        await webex.stop()
        await down.stop()
    }
}
