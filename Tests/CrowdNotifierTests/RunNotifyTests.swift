import CrowdKitTestServers
import CrowdKitTesting
import Foundation
import Testing

/// `run` with Webex and Meraki configured (fake servers on 127.0.0.1) and a real mosquitto.
@Suite("crowd-notifier run: Webex and Meraki")
struct RunNotifyTests {
    static let token = "BOT-run-test-token-0123456789abcdef"
    static let apiKey = "meraki-run-test-key-0123456789abcdef"

    @Test("every crowd becomes a Webex message with the camera, the video link and the snapshot; secrets never logged")
    func webexAndMeraki() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let webex = try await FakeWebex(token: Self.token)
        defer { Task { await webex.stop() } }
        var state = FakeMeraki.State()
        state.setDevices(network: "N_1", [("Q2SM-0000-0001", "Front Desk"), ("Q2SM-0000-0002", "Loading Bay")])
        state.imageNotReadyPolls = 0
        let meraki = try await FakeMeraki(apiKey: Self.apiKey, state: state)
        defer { Task { await meraki.stop() } }
        let dir = try LiveCommandTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = String(broker.port)

        let run = try LiveCommandTests.Child(
            [
                "run", "--mqtt-port", port, "--dwell", "10", "--cooldown", "0", "--gap", "3",
                "--webex-base-url", webex.baseURL.absoluteString, "--webex-room-id", "ROOM-1",
                "--meraki-base-url", meraki.baseURL.absoluteString, "--meraki-network-id", "N_1",
            ], in: dir, name: "run", environment: ["BOT_ACCESS_TOKEN": Self.token, "MERAKI_API_KEY": Self.apiKey, "WEBEX_THREADS": "false"])
        #expect(await eventually { run.stderr.contains("mqtt connected") }, "\(run.stderr)")
        let simulate = try LiveCommandTests.Child(
            ["simulate", "--mqtt-port", port, "--speed", "0", "--duration", "120", "--start-time", "1714632600000"], in: dir,
            name: "simulate")
        #expect(await simulate.wait() == 0)
        #expect(await eventually(timeout: .seconds(60)) { run.stderr.contains("crowd fired: ") }, "\(run.stderr)")
        func fired() -> Int { run.stderr.components(separatedBy: "crowd fired: ").count - 1 }
        // delivery is at least once: a request whose answer is lost is sent again, so count distinct messages
        func distinct() -> Int { Set(webex.accepted.map { $0.text ?? "" }).count }
        #expect(await eventually(timeout: .seconds(60)) { fired() > 0 && distinct() == fired() })
        run.interrupt()
        #expect(await run.wait() == 0, "\(run.stderr)")

        let messages = webex.accepted
        #expect(!messages.isEmpty)
        #expect(distinct() == fired())
        #expect(messages.count >= fired())
        for m in messages {
            let markdown = m.markdown ?? ""
            #expect(m.roomId == "ROOM-1")
            #expect(markdown.hasPrefix("**Crowd detected**: "), "\(markdown)")
            #expect(markdown.contains("[video](https://video.example/Q2SM-0000-000"), "\(markdown)")
            #expect(m.text?.contains("Q2SM-0000-000") == true)
            #expect(m.upload?.contentType == "image/jpeg")
        }
        #expect(messages.contains { $0.markdown?.contains("(camera *Front Desk*)") == true })
        #expect(run.stderr.components(separatedBy: "notifications (fired) go to Webex (roomId").count == 2, "\(run.stderr)")
        #expect(!run.stderr.contains(Self.token))
        #expect(!run.stderr.contains(Self.apiKey))
        #expect(!run.stdout.contains(Self.token))
    }

    @Test("with no notifier configured, run says once that notifications go to the log")
    func logOnly() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let dir = try LiveCommandTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try LiveCommandTests.Child(
            ["run", "--mqtt-port", String(broker.port), "--stats-interval", "0.05"], in: dir, name: "run")
        // The first status line comes from the running service group (signals handled by then).
        #expect(await eventually { run.stdout.contains("state=connected") }, "\(run.stderr)")
        run.interrupt()
        #expect(await run.wait() == 0)
        #expect(run.stderr.components(separatedBy: "go to the log").count == 2, "\(run.stderr)")
    }
}
