import CrowdKitCore
import Foundation
import Testing

@testable import crowd_notifier

@Suite("Configuration: flags > environment > file > defaults")
struct ConfigurationTests {
    static func yaml(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("crowdkit-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func settings(flags: [String: String] = [:], env: [String: String] = [:], file: String? = nil) async throws -> AppSettings {
        let path = try file.map { try yaml($0) }
        defer { if let path { try? FileManager.default.removeItem(atPath: path) } }
        return try AppSettings.load(try await ConfigLoader(flags: flags, environment: env, filePath: path))
    }

    static func error(flags: [String: String] = [:], env: [String: String] = [:], file: String? = nil) async -> ConfigurationError? {
        do {
            _ = try await settings(flags: flags, env: env, file: file)
            return nil
        } catch let e as ConfigurationError {
            return e
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test("http.tokens: a YAML mapping or name=token pairs from the environment; http.token joins as `token`; bad entries named, never echoed")
    func namedTokens() async throws {
        let file = "http:\n  token: single-token-abc\n  tokens:\n    alice: alice-token-123\n    bob: bob-token-456\n"
        let s = try await Self.settings(file: file)
        #expect(s.http.tokens == ["alice": "alice-token-123", "bob": "bob-token-456"])
        let access = WebWiring.access(s.http)
        #expect(access == .tokens(["alice": "alice-token-123", "bob": "bob-token-456", "token": "single-token-abc"]))
        #expect(!"\(access)".contains("alice-token-123"))
        let env = try await Self.settings(env: ["HTTP_TOKENS": "carol=carol-token-789, dave=dave-token-000"])
        #expect(env.http.tokens == ["carol": "carol-token-789", "dave": "dave-token-000"])
        #expect(WebWiring.access(env.http) == .tokens(["carol": "carol-token-789", "dave": "dave-token-000"]))
        let short = await Self.error(file: "http:\n  tokens:\n    eve: short\n")
        #expect(short?.key == "http.tokens.eve")
        #expect(short.map { !"\($0)".contains("short") } == true, "the token is not echoed")
        let reused = await Self.error(env: ["HTTP_TOKENS": "a=same-token-1,b=same-token-1"])
        #expect(reused?.key == "http.tokens.b")
        let badName = await Self.error(env: ["HTTP_TOKENS": "a b=token-token-1"])
        #expect(badName?.key == "http.tokens")
        let notMapping = await Self.error(file: "http:\n  tokens: [a, b]\n")
        #expect(notMapping?.key == "http.tokens")
        #expect(WebWiring.access(try await Self.settings().http) == .open)
    }

    @Test("defaults")
    func defaults() async throws {
        let s = try await Self.settings()
        #expect(s.mqtt.host == "127.0.0.1")
        #expect(s.mqtt.port == 1883)
        #expect(s.mqtt.topics == ["/merakimv/#"])
        #expect(s.http.port == 5001)
        #expect(s.storePath == "crowd-events.sqlite")
        #expect(s.retentionDays == 90)
        let p = try #require(s.detection.policy as? DwellPolicy)
        #expect(p.defaults == .defaults)
        #expect(s.webex == nil && s.meraki == nil)
        #expect(s.detection.kinds == [.fired])
    }

    @Test("precedence: a flag beats the environment, which beats the file, which beats the default")
    func precedence() async throws {
        let file = "mqtt:\n  host: file.example\n  port: 1884\nhttp:\n  port: 6000\nstore:\n  path: file.sqlite\n"
        let s = try await Self.settings(
            flags: ["mqtt.host": "flag.example"], env: ["MQTT_HOST": "env.example", "MQTT_PORT": "1885"], file: file)
        #expect(s.mqtt.host == "flag.example")
        #expect(s.mqtt.port == 1885)
        #expect(s.http.port == 6000)
        #expect(s.storePath == "file.sqlite")
        #expect(s.retentionDays == 90)
    }

    @Test("the original notifier's variable names are accepted")
    func originalNames() async throws {
        let s = try await Self.settings(env: [
            "MQTT_SERVER": "mqtt.local", "MQTT_PORT": "8883", "MQTT_TOPIC": "/merakimv/Q2GV-1/#",
            "MERAKI_API_KEY": "k-123", "NETWORK_ID": "L_1", "COLLECT_CAMERAS_SERIAL_NUMBERS": "Q2GV-1,Q2GV-2",
            "COLLECT_ZONE_IDS": "[\"0\"]", "MOTION_ALERT_PEOPLE_COUNT_THRESHOLD": "2", "MOTION_ALERT_ITERATE_COUNT": "40",
            "MOTION_ALERT_TRIGGER_PEOPLE_COUNT": "3", "TIMEOUT": "15", "MOTION_PAUSE_TIME": "7",
            "BOT_ACCESS_TOKEN": "t-456", "WEBEX_TO_PERSON_EMAIL": "a@example.com",
        ])
        #expect(s.mqtt.host == "mqtt.local")
        #expect(s.mqtt.port == 8883)
        #expect(s.mqtt.topics == ["/merakimv/Q2GV-1/#"])
        #expect(s.meraki == AppSettings.Meraki(apiKey: "k-123", baseURL: "https://api.meraki.com/api/v1", networkID: "L_1"))
        #expect(s.filter == ZoneFilter(cameras: .only(["Q2GV-1", "Q2GV-2"]), zones: .only(["0"])))
        // message-count values without a policy select the message-count policy
        let p = try #require(s.detection.policy as? MessageCountPolicy)
        #expect(p.defaults == MessageCountParameters(armPeople: 2, iterateCount: 40, triggerPeople: 3, timeoutCount: 15, pause: .seconds(7)))
        #expect(s.webex?.token == "t-456")
        #expect(s.webex?.destination == .personEmail("a@example.com"))
        // MOTION_ALERT_PAUSE_TIME is the other spelling of the pause
        let t = try await Self.settings(env: ["MOTION_ALERT_PAUSE_TIME": "9"])
        #expect((t.detection.policy as? MessageCountPolicy)?.defaults.pause == .seconds(9))
    }

    @Test("per-zone overrides from the file, exact zone and camera-wide")
    func overrides() async throws {
        let file = """
            detection:
              minPeople: 4
              dwellSeconds: 45
              overrides:
                "Q2GV-ABCD-1234/0":
                  minPeople: 8
                "Q2GV-EFGH-5678/*":
                  dwellSeconds: 30
            """
        let s = try await Self.settings(file: file)
        let p = try #require(s.detection.policy as? DwellPolicy)
        #expect(p.defaults.minPeople == 4)
        #expect(p.parameters(for: ZoneKey(camera: "Q2GV-ABCD-1234", zone: "0")).minPeople == 8)
        #expect(p.parameters(for: ZoneKey(camera: "Q2GV-ABCD-1234", zone: "0")).dwell == .seconds(45))
        #expect(p.parameters(for: ZoneKey(camera: "Q2GV-EFGH-5678", zone: "77")).dwell == .seconds(30))
        #expect(p.parameters(for: ZoneKey(camera: "Q2GV-EFGH-5678", zone: "77")).minPeople == 4)
        #expect(p.parameters(for: ZoneKey(camera: "OTHER", zone: "0")).minPeople == 4)
    }

    @Test("an invalid value names the key, its source and the accepted form")
    func invalidValues() async throws {
        let e1 = try #require(await Self.error(env: ["MQTT_PORT": "eighty"]))
        #expect(e1.key == "mqtt.port")
        #expect(e1.description.contains("environment variable MQTT_PORT"))
        #expect(e1.description.contains("a port number 1-65535"))
        let e2 = try #require(await Self.error(file: "detection:\n  minPeople: 0\n"))
        #expect(e2.key == "detection.minPeople")
        #expect(e2.description.contains("file "))
        #expect(e2.description.contains("an integer >= 1"))
        let e3 = try #require(await Self.error(flags: ["detection.dwellSeconds": "-1"]))
        #expect(e3.description.contains("flag --dwell"))
        let e4 = try #require(await Self.error(env: ["DETECTION_POLICY": "fancy"]))
        #expect(e4.key == "detection.policy")
        let e5 = try #require(await Self.error(file: "detection:\n  overrides:\n    \"Q2GV-1/0\":\n      minPeople: lots\n"))
        #expect(e5.key == "detection.overrides.Q2GV-1/0.minPeople")
        let e6 = try #require(await Self.error(env: ["BOT_ACCESS_TOKEN": "t", "WEBEX_ROOM_ID": "r", "WEBEX_TO_PERSON_EMAIL": "e@x"]))
        #expect(e6.description.contains("exactly one of webex.roomId"))
        let e7 = try #require(await Self.error(env: ["BOT_ACCESS_TOKEN": "t", "WEBEX_ROOM_ID": "r", "WEBEX_BASE_URL": "ftp://x"]))
        #expect(e7.description.contains("an http(s) URL"))
    }

    @Test("secrets are never printed in errors")
    func secretsNotPrinted() async throws {
        let e = try #require(await Self.error(env: ["BOT_ACCESS_TOKEN": "super-secret-token-123", "WEBEX_ROOM_ID": "r", "WEBEX_TO_PERSON_ID": "p"]))
        #expect(!e.description.contains("super-secret-token-123"))
        let e2 = try #require(await Self.error(env: ["MQTT_PASSWORD": "hunter2", "MQTT_PORT": "0"]))
        #expect(!e2.description.contains("hunter2"))
    }

    @Test("webex.tokenFile reads the token from a file")
    func tokenFile() async throws {
        let path = try Self.yaml("file-token-789\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let s = try await Self.settings(env: ["WEBEX_TOKEN_FILE": path, "WEBEX_ROOM_ID": "room"])
        #expect(s.webex?.token == "file-token-789")
    }

    @Test("areas: parsed with their lines, direction, object type and daily reset; area overrides apply")
    func areas() async throws {
        let s = try await Self.settings(file: """
            detection:
              minPeople: 4
              overrides:
                "area/garage": {dwellSeconds: 45}
                "area/*": {minPeople: 2}
            areas:
              garage:
                lines: ["Q2GV-GGGG-0001/5001"]
                objectType: vehicle
                resetDaily: "00:00"
                timeZone: America/New_York
              shop:
                lines: ["Q2GV-GGGG-0002/6001:reverse", "Q2GV-GGGG-0002/6003"]
            """)
        let areas = s.detection.areas
        #expect(areas.areas.map(\.name) == ["garage", "shop"])
        #expect(areas.areas[0].objectType == .vehicle)
        #expect(areas.areas[0].resetDaily?.timeZone.identifier == "America/New_York")
        #expect(areas.areas[1].lines.map(\.reverse) == [true, false])
        let garage = areas.policy.parameters(for: ZoneKey(camera: "area", zone: "garage"))
        #expect(garage.dwell == .seconds(45))
        #expect(garage.minPeople == 2)  // each parameter from the first that sets it: area/garage, area/*, defaults
        #expect(garage.gap == .seconds(5))
        #expect(areas.policy.parameters(for: ZoneKey(camera: "area", zone: "shop")).minPeople == 2)
    }

    @Test("bad areas stop the start with the key named")
    func badAreas() async throws {
        let cases: [(String, String)] = [
            ("areas:\n  garage:\n    lines: [\"Q2GV-GGGG-0001\"]\n", "areas.garage.lines"),
            ("areas:\n  garage:\n    lines: [\"Q2GV-GGGG-0001/5001:backwards\"]\n", "areas.garage.lines"),
            ("areas:\n  garage:\n    lines: []\n", "areas.garage.lines"),
            ("areas:\n  \"my garage\":\n    lines: [\"A/1\"]\n", "areas.my garage"),
            ("areas:\n  garage:\n    lines: [\"A/1\"]\n    objectType: bicycle\n", "areas.garage.objectType"),
            ("areas:\n  garage:\n    lines: [\"A/1\"]\n    resetDaily: \"25:00\"\n", "areas.garage.resetDaily"),
            ("areas:\n  garage:\n    lines: [\"A/1\"]\n    timeZone: Mars/Olympus\n", "areas.garage.timeZone"),
            ("areas:\n  garage:\n    lines: [\"A/1\"]\n    line: [\"A/2\"]\n", "areas.garage.line"),
            ("detection:\n  objectType: bicycle\n", "detection.objectType"),
        ]
        for (file, key) in cases {
            let e = await Self.error(file: file)
            #expect(e?.key == key, "\(file)")
        }
    }

    @Test("Documentation/Configuration.md is generated from the code and has not drifted")
    func referenceUpToDate() throws {
        let path = ReplayFixtureTests.root.appendingPathComponent("Documentation/Configuration.md").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == ConfigCatalog.markdown(), "regenerate with: swift run crowd-notifier config-reference > Documentation/Configuration.md")
    }
}
