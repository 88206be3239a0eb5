import CrowdKitCore
import Logging
import Testing

@testable import crowd_notifier

@Suite("NotifierOptions (run's notifier flags)")
struct NotifierOptionsTests {
    let logger = Logger(label: "test")

    func setup(_ args: [String], env: [String: String] = [:]) throws -> NotifierOptions.Setup {
        try NotifierOptions.parse(args).makeSetup(environment: env, logger: logger)
    }

    @Test("nothing configured: the log notifier, and the summary says so")
    func logOnly() throws {
        let s = try setup([])
        #expect(s.logOnly)
        #expect(s.notifiers.map(\.name) == ["log"])
        #expect(s.plan.notifiers == ["log"])
        #expect(s.plan.kinds == [.fired])
        #expect(s.summary.contains("notifications go to the log"))
        #expect(s.enricher is NoEnrichment)
    }

    @Test("Webex from the environment token and a room; Meraki key and network from the environment")
    func fromEnvironment() throws {
        let env = ["BOT_ACCESS_TOKEN": "tok-abcdef-123456", "MERAKI_API_KEY": "key-abcdef-123456", "NETWORK_ID": "N_1"]
        let s = try setup(
            ["--webex-room-id", "ROOM", "--webex-base-url", "http://127.0.0.1:9/v1", "--meraki-base-url", "http://127.0.0.1:9/api/v1",
             "--webhook-url", "http://127.0.0.1:9/hook", "--notify-on", "fired,ended"], env: env)
        #expect(!s.logOnly)
        #expect(s.notifiers.map(\.name) == ["webex", "webhook"])
        #expect(s.plan.kinds == [.fired, .ended])
        #expect(!(s.enricher is NoEnrichment))
        #expect(!s.summary.contains("tok-abcdef-123456"))
        #expect(!s.summary.contains("key-abcdef-123456"))
        #expect(s.summary.contains("Webex (roomId"))
    }

    @Test("a Webex token needs exactly one destination; a destination needs a token")
    func webexRules() throws {
        #expect(throws: ConfigurationError.self) { try setup(["--webex-token", "tok-abcdef-123456"]) }
        #expect(throws: ConfigurationError.self) {
            try setup(["--webex-token", "tok-abcdef-123456", "--webex-room-id", "R", "--webex-to-person-email", "a@b.c"])
        }
        #expect(throws: ConfigurationError.self) { try setup(["--webex-room-id", "R"]) }
        do {
            _ = try setup(["--webex-room-id", "R"], env: [:])
        } catch let error as ConfigurationError {
            #expect(error.got == nil)
        }
    }

    @Test("invalid URLs and kinds are rejected")
    func invalid() throws {
        #expect(throws: ConfigurationError.self) { try setup(["--webhook-url", "not a url"]) }
        #expect(throws: (any Error).self) { try NotifierOptions.parse(["--notify-on", "sometimes"]) }
        #expect(throws: (any Error).self) { try NotifierOptions.parse(["--meraki-snapshot", "maybe"]) }
    }
}
