import CrowdKitTestServers
import Foundation
import Testing

/// `crowd-notifier check` against fake Meraki and Webex servers on 127.0.0.1.
@Suite("crowd-notifier check")
struct CheckCommandTests {
    static let merakiKey = "meraki-key-7f3a9c"
    static let webexToken = "webex-token-b81d2e"

    @Test("valid configuration and working credentials: exit 0, what works, no secrets")
    func works() async throws {
        let meraki = try await FakeMeraki(apiKey: Self.merakiKey)
        let webex = try await FakeWebex(token: Self.webexToken)
        let r = try CommandLineTests.run(["check"], environment: [
            "MERAKI_API_KEY": Self.merakiKey, "MERAKI_BASE_URL": meraki.baseURL.absoluteString,
            "BOT_ACCESS_TOKEN": Self.webexToken, "WEBEX_BASE_URL": webex.baseURL.absoluteString,
            "WEBEX_ROOM_ID": "room-1", "MQTT_SERVER": "broker.example", "HTTP_PORT": "5099",
        ])
        await meraki.stop()
        await webex.stop()
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("configuration: valid"))
        #expect(r.stdout.contains("broker: mqtt://broker.example:1883"))
        #expect(r.stdout.contains("meraki: ok, the API key sees 1 organization (Test Organization)"))
        #expect(r.stdout.contains("webex: ok"))
        #expect(!(r.stdout + r.stderr).contains(Self.merakiKey))
        #expect(!(r.stdout + r.stderr).contains(Self.webexToken))
        // nothing was sent
        #expect(webex.accepted.isEmpty)
    }

    @Test("a rejected token: exit 1, the failure named, the token not printed")
    func badToken() async throws {
        let webex = try await FakeWebex(token: Self.webexToken)
        let r = try CommandLineTests.run(["check"], environment: [
            "BOT_ACCESS_TOKEN": "wrong-token-55aa", "WEBEX_BASE_URL": webex.baseURL.absoluteString, "WEBEX_TO_PERSON_EMAIL": "a@example.com",
        ])
        await webex.stop()
        #expect(r.status == 1)
        #expect(r.stdout.contains("webex: FAILED"))
        #expect(!(r.stdout + r.stderr).contains("wrong-token-55aa"))
    }

    @Test("an invalid configuration: exit 78 naming key and source")
    func invalid() throws {
        let r = try CommandLineTests.run(["check"], environment: ["MQTT_PORT": "99999"])
        #expect(r.status == 78)
        #expect(r.stderr.contains("mqtt.port"))
        #expect(r.stderr.contains("environment variable MQTT_PORT"))
    }
}
