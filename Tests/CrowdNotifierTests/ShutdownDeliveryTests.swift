import CrowdKitCore
import CrowdKitSQLite
import CrowdKitTestServers
import CrowdKitTesting
import Foundation
import Logging
import Testing

/// SIGTERM while notifications are in flight: they are kept as pending in the SQLite store and
/// sent when the notifier starts again (issue 6, lifecycle).
@Suite("crowd-notifier run: SIGTERM with deliveries in flight")
struct ShutdownDeliveryTests {
    @Test("in-flight notifications are persisted as pending at SIGTERM and sent after a restart")
    func persistedAndResumed() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let hold = LockedBox(true)
        let arrived = LockedBox(0)
        // Webex answers only when `hold` is released: every send is in flight until then.
        let webex = try await FakeWebex(token: "shutdown-token") { _ in
            arrived.withLock { $0 += 1 }
            while hold.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(20)) }
        }
        let dir = try LiveCommandTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = String(broker.port)
        func runArgs(_ webex: FakeWebex) -> [String] {
            [
                "run", "--mqtt-port", port, "--dwell", "10", "--cooldown", "0", "--stats-interval", "0.1",
                "--webex-base-url", webex.baseURL.absoluteString, "--webex-room-id", "room-1",
            ]
        }
        let env = ["BOT_ACCESS_TOKEN": "shutdown-token", "WEBEX_THREADS": "false"]

        let first = try LiveCommandTests.Child(runArgs(webex), in: dir, name: "first", environment: env)
        #expect(await eventually { first.stdout.contains("state=connected") })
        let simulate = try LiveCommandTests.Child(
            // camera time of today: retention (90 days by default) must not prune the events at restart
            [
                "simulate", "--mqtt-port", port, "--speed", "0", "--duration", "120", "--start-time",
                String(Int64(Date().timeIntervalSince1970 * 1000) - 3_600_000),
            ],
            in: dir, name: "simulate")
        #expect(await simulate.wait() == 0)
        #expect(await eventually { arrived.withLock { $0 } > 0 }, "\(first.stderr)")
        kill(first.process.processIdentifier, SIGTERM)
        #expect(await first.wait(timeout: .seconds(30)) == 0, "\(first.stderr)")
        #expect(webex.accepted.isEmpty)

        // The store holds the events and their notifications, still pending.
        let storePath = dir.appendingPathComponent("crowd-events.sqlite").path
        let events: Int
        do {
            let store = try SQLiteEventStore(path: storePath, logger: Logger(label: "test"))
            events = try await store.events(EventQuery(limit: 1000)).records.count
            let pending = try await store.pendingDeliveries(limit: 1000)
            #expect(events > 0)
            #expect(pending.count == events, "every fired event's notification is pending")
        }

        // Restart (no feed) against a Webex that answers: the pending notifications go out.
        hold.withLock { $0 = false }
        await webex.stop()
        let answering = try await FakeWebex(token: "shutdown-token")
        let second = try LiveCommandTests.Child(runArgs(answering), in: dir, name: "second", environment: env)
        #expect(await eventually { second.stdout.contains("state=connected") })
        #expect(await eventually(timeout: .seconds(30)) { Set(answering.accepted.map { $0.text ?? "" }).count == events }, "\(second.stderr)")
        kill(second.process.processIdentifier, SIGTERM)
        let status = await second.wait(timeout: .seconds(30))
        #expect(status == 0, "status \(status) stdout \(second.stdout) stderr \(second.stderr)")
        await answering.stop()
        let store = try SQLiteEventStore(path: storePath, logger: Logger(label: "test"))
        #expect(try await store.pendingDeliveries(limit: 1000).isEmpty)
        let records = try await store.events(EventQuery(limit: 1000)).records
        #expect(records.allSatisfy { r in r.deliveries.allSatisfy { if case .sent = $0.status { true } else { false } } })
    }
}
