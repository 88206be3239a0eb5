import CrowdKitCore
import Logging
import Testing

@testable import crowd_notifier

@Suite("Notifier settings for run (flags, environment, setup)")
struct NotifierOptionsTests {
    let logger = Logger(label: "test")

    func setup(_ args: [String], env: [String: String] = [:]) async throws -> NotifierSetup {
        let flags = try NotifierOptions.parse(args).configFlags
        let loader = try await ConfigLoader(flags: flags, environment: env, filePath: nil)
        return try AppSettings.load(loader).notifierSetup(logger: logger)
    }

    @Test("flags map onto the configuration keys")
    func flags() throws {
        let f = try NotifierOptions.parse([
            "--webex-token", "t", "--webex-base-url", "http://x/v1", "--webex-room-id", "r", "--meraki-api-key", "k",
            "--meraki-base-url", "http://m/api/v1", "--meraki-network-id", "N", "--webhook-url", "http://h",
        ]).configFlags
        #expect(
            f == [
                "webex.token": "t", "webex.baseURL": "http://x/v1", "webex.roomId": "r", "meraki.apiKey": "k",
                "meraki.baseURL": "http://m/api/v1", "meraki.networkId": "N", "webhook.url": "http://h",
            ])
    }

    @Test("tuning flags are validated")
    func tuning() throws {
        #expect(try NotifierOptions.parse(["--meraki-snapshot", "off", "--meraki-rate", "50"]).snapshotMode == .off)
        #expect(throws: (any Error).self) { try NotifierOptions.parse(["--meraki-snapshot", "maybe"]) }
        #expect(throws: (any Error).self) { try NotifierOptions.parse(["--meraki-rate", "0"]) }
    }

    @Test("nothing configured: the log notifier, and the summary says so")
    func logOnly() async throws {
        let s = try await setup([])
        #expect(s.logOnly)
        #expect(s.notifiers.map(\.name) == ["log"])
        #expect(s.plan.notifiers == ["log"])
        #expect(s.plan.kinds == [.fired])
        #expect(s.summary.contains("go to the log"))
        #expect(s.enricher is NoEnrichment)
    }

    @Test("Webex token and Meraki key from the environment, the rest from flags")
    func fromEnvironment() async throws {
        let env = ["BOT_ACCESS_TOKEN": "tok-abcdef-123456", "MERAKI_API_KEY": "key-abcdef-123456", "NETWORK_ID": "N_1"]
        let s = try await setup(
            [
                "--webex-room-id", "ROOM", "--webex-base-url", "http://127.0.0.1:9/v1", "--meraki-base-url",
                "http://127.0.0.1:9/api/v1", "--webhook-url", "http://127.0.0.1:9/hook",
            ], env: env)
        #expect(!s.logOnly)
        #expect(s.notifiers.map(\.name) == ["webex", "webhook"])
        #expect(s.plan.notifiers == ["webex", "webhook"])
        #expect(s.enricher is CrowdKitMeraki.MerakiEnricher)
        #expect(!s.summary.contains("tok-abcdef-123456"))
        #expect(!s.summary.contains("key-abcdef-123456"))
        #expect(s.summary.contains("Webex (roomId"))
    }

    @Test("a Webex token needs exactly one destination; a destination needs a token")
    func webexRules() async throws {
        await #expect(throws: ConfigurationError.self) { try await setup(["--webex-token", "tok-abcdef-123456"]) }
        await #expect(throws: ConfigurationError.self) {
            try await setup(["--webex-token", "tok-abcdef-123456", "--webex-room-id", "R", "--webex-to-person-email", "a@b.c"])
        }
        await #expect(throws: ConfigurationError.self) { try await setup(["--webex-room-id", "R"]) }
    }
}

import CrowdKitMeraki
