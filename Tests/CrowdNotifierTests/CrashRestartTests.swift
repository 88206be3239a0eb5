import CrowdKitTestServers
import CrowdKitTesting
import Foundation
import Synchronization
import Testing

/// `run` killed with SIGKILL and started again, as a crash or a reboot does it: dwell timers,
/// cool-downs and notifications survive (SEMANTICS.md §7 "Persisted state").
@Suite("crowd-notifier run: SIGKILL and restart", .serialized)
struct CrashRestartTests {
    /// Camera time near now: events older than the store's retention (90 days) are pruned at start.
    static let t0: Int64 = Int64(Date().timeIntervalSince1970) * 1000

    /// Publishes one reading per second of camera time at `camera` zone 0.
    static func publish(port: Int, camera: String, seconds: ClosedRange<Int>, people: Int) async throws {
        try await publishReadings(port: port, camera: camera, seconds.map { (t0 + Int64($0) * 1000, people) })
    }

    func start(_ broker: MosquittoBroker, _ webex: FakeWebex, _ dir: URL, name: String) throws -> LiveCommandTests.Child {
        try LiveCommandTests.Child(
            [
                "run", "--mqtt-port", String(broker.port), "--dwell", "20", "--gap", "2", "--cooldown", "300",
                "--stats-interval", "0.1", "--store", dir.appendingPathComponent("events.sqlite").path, "--print-events", "jsonl",
                "--webex-base-url", webex.baseURL.absoluteString, "--webex-room-id", "room-1",
            ], in: dir, name: name, environment: ["BOT_ACCESS_TOKEN": "crash-token", "WEBEX_THREADS": "false"])
    }

    func kill9(_ child: LiveCommandTests.Child) async {
        kill(child.process.processIdentifier, SIGKILL)
        _ = await child.wait()
    }

    @Test("a dwell timer and a cool-down survive SIGKILL: the crowd fires at t0+20 s once, and not again in its cool-down")
    func dwellAndCooldownSurviveKill() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let webex = try await FakeWebex(token: "crash-token")
        defer { Task { await webex.stop() } }
        let dir = try LiveCommandTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let camera = "Q2GV-KILL-0001"

        // a crowd from t0 to t0+8 s of its 20 s dwell, then SIGKILL (after the state's next save)
        let first = try start(broker, webex, dir, name: "first")
        #expect(await eventually { first.stdout.contains("state=connected") })
        try await Self.publish(port: broker.port, camera: camera, seconds: 0...8, people: 5)
        #expect(await eventually { first.stdout.contains("processed=9 ") })
        try await Task.sleep(for: .milliseconds(2500))
        await kill9(first)

        // started again at t0+10 s while the crowd stays
        let second = try start(broker, webex, dir, name: "second")
        #expect(await eventually { second.stdout.contains("state=connected") })
        #expect(second.stderr.contains("zone states restored"), "\(second.stderr)")
        try await Self.publish(port: broker.port, camera: camera, seconds: 10...25, people: 5)
        #expect(await eventually { webex.accepted.count == 1 }, "\(second.stderr)")
        // the crowd leaves; the zone is in its 300 s cool-down; SIGKILL again
        try await Self.publish(port: broker.port, camera: camera, seconds: 26...30, people: 0)
        #expect(await eventually { second.stdout.contains("processed=21 ") })
        try await Task.sleep(for: .milliseconds(2500))
        await kill9(second)

        // a new crowd of 30 s within the cool-down does not notify
        let third = try start(broker, webex, dir, name: "third")
        #expect(await eventually { third.stdout.contains("state=connected") })
        try await Self.publish(port: broker.port, camera: camera, seconds: 40...75, people: 6)
        #expect(await eventually { third.stdout.contains("processed=36 ") })
        try await Task.sleep(for: .milliseconds(500))
        third.interrupt()
        #expect(await third.wait() == 0, "\(third.stderr)")

        #expect(webex.accepted.count == 1, "one notification for one crowd")
        let events = third.stdout.split(separator: "\n").filter { !$0.hasPrefix("stats ") }
        #expect(events.count == 1, "\(events)")
        let event = try #require(events.first)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any])
        #expect((object["startedAt"] as? NSNumber)?.int64Value == Self.t0, "\(event)")
        #expect((object["firedAt"] as? NSNumber)?.int64Value == Self.t0 + 20_000, "\(event)")
        #expect((object["endedAt"] as? NSNumber)?.int64Value == Self.t0 + 25_000, "\(event)")
    }

    @Test("SIGKILL while a notification's request is in flight: after the restart it is sent")
    func inFlightNotificationIsSentAfterKill() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let hang = Gate()
        defer { hang.open() }
        let hanging = try await FakeWebex(token: "crash-token") { _ in await hang.wait() }
        defer { Task { await hanging.stop() } }
        let dir = try LiveCommandTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let camera = "Q2GV-KILL-0002"

        let first = try start(broker, hanging, dir, name: "first")
        #expect(await eventually { first.stdout.contains("state=connected") })
        try await Self.publish(port: broker.port, camera: camera, seconds: 0...21, people: 5)
        #expect(await eventually { hanging.attempts == 1 }, "the request is in flight")
        await kill9(first)
        #expect(hanging.accepted.isEmpty)

        let webex = try await FakeWebex(token: "crash-token")
        defer { Task { await webex.stop() } }
        let second = try start(broker, webex, dir, name: "second")
        #expect(await eventually { webex.accepted.count == 1 }, "\(second.stderr)")
        try await Task.sleep(for: .milliseconds(300))
        second.interrupt()
        #expect(await second.wait() == 0)
        #expect(webex.accepted.count == 1)
        #expect(webex.accepted.first?.text?.contains(camera) == true)
    }
}
