import ArgumentParser
import CrowdKitCore
import CrowdKitTestServers
import Foundation
import Testing

@testable import crowd_notifier

@Suite("crowd-notifier webex webhook / check (in process, against a fake Webex)")
struct WebexCommandTests {
    static let token = "BOT-webex-cmd-0123456789abcdef0123456789"

    @Test("webhook creates then updates one webhook by name; check finds it and compares the target")
    func webhookAndCheck() async throws {
        let fake = try await FakeWebex(token: Self.token)
        defer { Task { await fake.stop() } }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crowdkit-webexcmd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("crowd-notifier.yaml")
        try "webex:\n  webhookSecret: whsec-cmd-test\n".write(to: config, atomically: true, encoding: .utf8)
        let common = [
            "--config", config.path, "--webex-token", Self.token, "--webex-room-id", "ROOM-1", "--webex-base-url", fake.baseURL.absoluteString,
        ]
        try await WebexCommand.Webhook.parse(common + ["--target-url", "https://a.example/webhooks/webex"]).run()
        try await WebexCommand.Webhook.parse(common + ["--target-url", "https://b.example/webhooks/webex"]).run()
        #expect(fake.webhooks.count == 1)
        #expect(fake.webhooks.first?["targetUrl"] == "https://b.example/webhooks/webex")
        #expect(fake.webhooks.first?["secret"] == "whsec-cmd-test")

        try await WebexCommand.Check.parse(common + ["--target-url", "https://b.example/webhooks/webex"]).run()
        await #expect(throws: ExitCode(1)) {
            try await WebexCommand.Check.parse(common + ["--target-url", "https://elsewhere.example/webhooks/webex"]).run()
        }
    }
}
