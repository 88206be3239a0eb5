import CrowdKitCore
import Logging
import Testing

@testable import crowd_notifier

@Suite("Alertmanager and Webex conversation settings")
struct AlertmanagerWebexOptionsTests {
    let logger = Logger(label: "test")

    func settings(_ args: [String], env: [String: String] = [:]) async throws -> AppSettings {
        let flags = try NotifierOptions.parse(args).configFlags
        return try AppSettings.load(try await ConfigLoader(flags: flags, environment: env, filePath: nil))
    }

    @Test("--alertmanager-url repeats into alertmanager.urls; an alertmanager notifier and a resend loop are set up")
    func alertmanager() async throws {
        let s = try await settings(["--alertmanager-url", "http://am-1:9093", "--alertmanager-url", "http://am-2:9093/"])
        let am = try #require(s.alertmanager)
        #expect(am.urls == ["http://am-1:9093", "http://am-2:9093/"])
        #expect(am.resendInterval == .seconds(60))
        #expect(am.pageURL == "http://127.0.0.1:5001")
        let setup = try s.notifierSetup(logger: logger)
        #expect(setup.notifiers.map(\.name) == ["alertmanager"])
        #expect(!setup.logOnly)
        #expect(setup.background.count == 1)
        #expect(setup.summary.contains("Alertmanager"))

        let env = try await settings([], env: ["ALERTMANAGER_URLS": "http://am:9093", "ALERTMANAGER_RESEND_SECONDS": "15", "HTTP_PUBLIC_URL": "https://crowds.example"])
        #expect(env.alertmanager?.resendInterval == .seconds(15))
        #expect(env.alertmanager?.pageURL == "https://crowds.example")
        await #expect(throws: (any Error).self) { _ = try await settings(["--alertmanager-url", "ftp://am"]) }
        #expect(try await settings([]).alertmanager == nil)
    }

    @Test("webex.webhookSecret, webex.allowedActors and webex.threads are read with the Webex settings")
    func webex() async throws {
        let env = [
            "BOT_ACCESS_TOKEN": "tok-abcdef-123456", "WEBEX_WEBHOOK_SECRET": "whsec-abcdef", "WEBEX_ALLOWED_ACTORS": "boss@example.com,@staff.example.com",
            "WEBEX_THREADS": "true",
        ]
        let s = try await settings(["--webex-room-id", "ROOM", "--webex-base-url", "http://127.0.0.1:9/v1"], env: env)
        #expect(s.webex?.webhookSecret == "whsec-abcdef")
        #expect(s.webex?.allowedActors == ["boss@example.com", "@staff.example.com"])
        #expect(s.webex?.threads == true)
        let setup = try s.notifierSetup(logger: logger)
        #expect(setup.webexWebhook != nil)
        #expect(!setup.summary.contains("whsec-abcdef"))
        #expect(try await settings(["--webex-room-id", "ROOM"], env: ["BOT_ACCESS_TOKEN": "t"]).notifierSetup(logger: logger).webexWebhook == nil)
    }
}
