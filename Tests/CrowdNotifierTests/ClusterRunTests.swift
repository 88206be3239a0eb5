import CrowdKitCore
import CrowdKitTestServers
import CrowdKitTesting
import Foundation
import Testing

/// Several `crowd-notifier run` processes on one PostgreSQL database and one broker (a `*`
/// subscription each): the cameras are shared out, and a camera whose instance dies moves to a
/// survivor with its zone state (issue 17, item 3).
@Suite("crowd-notifier run: several instances on PostgreSQL", .serialized)
struct ClusterRunTests {
    /// Camera time near now: events older than the store's retention (90 days) are pruned at start.
    static let t0: Int64 = Int64(Date().timeIntervalSince1970) * 1000

    /// An instance named `name` on `database`, with its own delivery worker name.
    func start(_ name: String, broker: MosquittoBroker, webex: FakeWebex, database: String, dir: URL) throws -> LiveCommandTests.Child {
        let config = dir.appendingPathComponent("\(name).yaml")
        try "cluster:\n  name: \(name)\ndelivery:\n  workerName: \(name)\n".write(to: config, atomically: true, encoding: .utf8)
        return try LiveCommandTests.Child(
            [
                "run", "--config", config.path, "--mqtt-port", String(broker.port), "--dwell", "20", "--gap", "2",
                "--cooldown", "300", "--stats-interval", "0.2", "--store", database, "--print-events", "jsonl",
                "--webex-base-url", webex.baseURL.absoluteString, "--webex-room-id", "room-1",
            ], in: dir, name: name, environment: ["BOT_ACCESS_TOKEN": "cluster-token", "WEBEX_THREADS": "false"])
    }

    /// The database URL of a new database on the shared test server.
    func database() async throws -> String {
        let server = try await PostgresServer.shared()
        return server.url(database: try await server.createDatabase()) + "?sslmode=disable"
    }

    /// The last status line's `key=value`, as an integer.
    static func stat(_ child: LiveCommandTests.Child, _ key: String) -> Int? {
        guard let line = child.stdout.split(separator: "\n").last(where: { $0.hasPrefix("stats ") }) else { return nil }
        for field in line.split(separator: " ") where field.hasPrefix("\(key)=") { return Int(field.dropFirst(key.count + 1)) }
        return nil
    }

    /// The camera `owner` owns among `members`.
    static func camera(ownedBy owner: String, among members: [String], prefix: String) -> String {
        (0..<1000).lazy.map { "\(prefix)-\($0)" }.first { CameraOwnership.owner(of: $0, among: members) == owner } ?? prefix
    }

    @Test("two instances, the owner of a crowding camera killed with SIGKILL: the survivor takes it with its dwell timer, the crowd fires once, on time, from the survivor")
    func survivorTakesOverACrowd() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let webex = try await FakeWebex(token: "cluster-token")
        defer { Task { await webex.stop() } }
        let dir = try LiveCommandTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let database = try await database()
        let camera = Self.camera(ownedBy: "ha-a", among: ["ha-a", "ha-b"], prefix: "Q2GV-HA")

        let a = try start("ha-a", broker: broker, webex: webex, database: database, dir: dir)
        let b = try start("ha-b", broker: broker, webex: webex, database: database, dir: dir)
        defer {
            kill(a.process.processIdentifier, SIGKILL)
            kill(b.process.processIdentifier, SIGKILL)
        }
        #expect(await eventually(timeout: .seconds(30)) { Self.stat(a, "members") == 2 && Self.stat(b, "members") == 2 }, "\(a.stderr)\n\(b.stderr)")
        #expect(await eventually { a.stdout.contains("state=connected") && b.stdout.contains("state=connected") })

        // a crowd from t0 to t0+8 s of its 20 s dwell: a processes it, b skips it; a saves the state, then dies
        try await publishReadings(port: broker.port, camera: camera, (0...8).map { (Self.t0 + Int64($0) * 1000, 5) })
        #expect(await eventually { a.stdout.contains("processed=9 ") && b.stdout.contains("processed=9 ") })
        try await Task.sleep(for: .milliseconds(2500))
        kill(a.process.processIdentifier, SIGKILL)
        _ = await a.wait()

        // the crowd stays; one reading per second of camera time, as a camera sends them, until
        // the notification or t0+30 s (10 s after the crowd was due)
        var ts = Self.t0 + 9_000
        while ts <= Self.t0 + 30_000, webex.accepted.isEmpty {
            try await publishReadings(port: broker.port, camera: camera, [(ts, 5)])
            try await Task.sleep(for: .milliseconds(1000))
            ts += 1000
        }
        #expect(await eventually(timeout: .seconds(5)) { webex.accepted.count == 1 }, "\(b.stderr)")
        #expect(b.stderr.contains("zone states taken over"), "\(b.stderr)")
        #expect(b.stderr.contains("crowd fired: camera \(camera)"), "the survivor fired it: \(b.stderr)")
        #expect(!a.stderr.contains("crowd fired"), "\(a.stderr)")
        try await Task.sleep(for: .milliseconds(500))
        b.interrupt()
        #expect(await b.wait() == 0, "\(b.stderr)")
        #expect(webex.accepted.count == 1, "one notification for one crowd")

        // b prints the events of the store at its exit
        let lines = b.stdout.split(separator: "\n").filter { !$0.hasPrefix("stats ") }
        #expect(lines.count == 1, "\(lines)")
        let object = try #require(try lines.first.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        let startedAt = (object["startedAt"] as? NSNumber)?.int64Value
        let firedAt = (object["firedAt"] as? NSNumber)?.int64Value ?? .max
        #expect(startedAt == Self.t0, "the dwell timer carried over: \(object)")
        #expect(firedAt >= Self.t0 + 20_000 && firedAt <= Self.t0 + 30_000, "on time within 10 s: \(firedAt - Self.t0) ms after t0")
    }

    @Test("three instances share 30 cameras: each processes the cameras rendezvous hashing gives it, about a third")
    func threeInstancesShareTheCameras() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let webex = try await FakeWebex(token: "cluster-token")
        defer { Task { await webex.stop() } }
        let dir = try LiveCommandTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let database = try await database()
        let names = ["ha-1", "ha-2", "ha-3"]
        let children = try names.map { try start($0, broker: broker, webex: webex, database: database, dir: dir) }
        defer { for c in children { kill(c.process.processIdentifier, SIGKILL) } }
        #expect(await eventually(timeout: .seconds(30)) { children.allSatisfy { Self.stat($0, "members") == 3 } })
        #expect(await eventually { children.allSatisfy { $0.stdout.contains("state=connected") } })

        let cameras = (0..<30).map { String(format: "Q2GV-SHARE-%03d", $0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, camera) in cameras.enumerated() {
                group.addTask { try await publishReadings(port: broker.port, camera: camera, [(Self.t0 + Int64(i), 1)]) }
            }
            try await group.waitForAll()
        }
        #expect(await eventually { children.allSatisfy { $0.stdout.contains("processed=30 ") } })
        for c in children { c.interrupt() }
        for c in children { #expect(await c.wait() == 0, "\(c.stderr)") }

        var total = 0
        for (name, child) in zip(names, children) {
            let expected = cameras.filter { CameraOwnership.owner(of: $0, among: names) == name }.count
            let line = child.stderr.split(separator: "\n").first { $0.contains("observations of this instance's cameras") }
            let observed = line.flatMap { l in
                l.components(separatedBy: "; ").last.flatMap { Int($0.split(separator: " ").first ?? "") }
            }
            #expect(observed == expected, "\(name): \(line ?? "no stopped line")")
            #expect(expected >= 5 && expected <= 17, "\(name) owns \(expected) of 30: about a third")
            total += observed ?? 0
        }
        #expect(total == cameras.count, "each camera processed by exactly one instance")
    }
}
