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
    func start(
        _ name: String, broker: MosquittoBroker, webex: FakeWebex, database: String, dir: URL, cameras: [String]? = nil,
        httpPort: Int = 0, meraki: FakeMeraki? = nil
    ) throws -> LiveCommandTests.Child {
        let config = dir.appendingPathComponent("\(name).yaml")
        var yaml = "cluster:\n  name: \(name)\ndelivery:\n  workerName: \(name)\n"
        if let cameras { yaml += "cameras: [\(cameras.joined(separator: ", "))]\n" }
        try yaml.write(to: config, atomically: true, encoding: .utf8)
        return try LiveCommandTests.Child(
            [
                "run", "--config", config.path, "--mqtt-port", String(broker.port), "--dwell", "20", "--gap", "2",
                "--cooldown", "300", "--stats-interval", "0.2", "--store", database, "--print-events", "jsonl",
                "--webex-base-url", webex.baseURL.absoluteString, "--webex-room-id", "room-1", "--http-port", String(httpPort),
            ] + (meraki.map { ["--meraki-base-url", $0.baseURL.absoluteString, "--meraki-network-id", "N_HA"] } ?? []),
            in: dir, name: name, environment: ["BOT_ACCESS_TOKEN": "cluster-token", "MERAKI_API_KEY": "ha-meraki-key", "WEBEX_THREADS": "false"])
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

    @Test("three instances share 30 cameras: each processes the cameras rendezvous hashing gives it, about a third; the page of any shows all 30")
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
        let httpPort = DemoWebTests.freePort()
        let children = try names.map {
            try start($0, broker: broker, webex: webex, database: database, dir: dir, httpPort: $0 == "ha-1" ? httpPort : 0)
        }
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
        // a second reading of each camera: a monitor publishes its zone rows as messages come
        // (at most every 100 ms), so the rows of a burst's last messages wait for the next one
        try await Task.sleep(for: .milliseconds(200))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, camera) in cameras.enumerated() {
                group.addTask { try await publishReadings(port: broker.port, camera: camera, [(Self.t0 + 1000 + Int64(i), 1)]) }
            }
            try await group.waitForAll()
        }
        #expect(await eventually { children.allSatisfy { $0.stdout.contains("processed=60 ") } })
        // ha-1's live view merges the zones the others publish through the store
        let zonesURL = "http://127.0.0.1:\(httpPort)/api/zones"
        let merged = await eventually(timeout: .seconds(20)) {
            guard let (status, body) = await DemoWebTests.get(zonesURL), status == 200 else { return false }
            return cameras.allSatisfy { body.contains("\"camera\":\"\($0)\"") }
        }
        let body = await DemoWebTests.get(zonesURL)?.1 ?? "no answer"
        #expect(merged, "\(body)")
        for c in children { c.interrupt() }
        for c in children { #expect(await c.wait() == 0, "\(c.stderr)") }

        var total = 0
        for (name, child) in zip(names, children) {
            let expected = cameras.filter { CameraOwnership.owner(of: $0, among: names) == name }.count
            let line = child.stderr.split(separator: "\n").first { $0.contains("observations of this instance's cameras") }
            let observed = line.flatMap { l in
                l.components(separatedBy: "; ").last.flatMap { Int($0.split(separator: " ").first ?? "") }
            }
            // two readings of each of its cameras
            #expect(observed == 2 * expected, "\(name): \(line ?? "no stopped line")")
            #expect(expected >= 5 && expected <= 17, "\(name) owns \(expected) of 30: about a third")
            total += observed ?? 0
        }
        #expect(total == 2 * cameras.count, "each camera processed by exactly one instance")
    }

    @Test("with a camera list each instance subscribes to its own cameras only, and to a dead member's cameras once they move to it")
    func perCameraSubscriptions() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let webex = try await FakeWebex(token: "cluster-token")
        defer { Task { await webex.stop() } }
        let dir = try LiveCommandTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let database = try await database()
        let names = ["ha-s1", "ha-s2"]
        let cameras = (0..<12).map { String(format: "Q2GV-SUB-%03d", $0) }
        let mine = cameras.filter { CameraOwnership.owner(of: $0, among: names) == "ha-s2" }.count
        try #require(mine > 0 && mine < cameras.count, "both own cameras")
        let one = try start(names[0], broker: broker, webex: webex, database: database, dir: dir, cameras: cameras)
        let two = try start(names[1], broker: broker, webex: webex, database: database, dir: dir, cameras: cameras)
        defer {
            kill(one.process.processIdentifier, SIGKILL)
            kill(two.process.processIdentifier, SIGKILL)
        }
        #expect(
            await eventually(timeout: .seconds(30)) {
                two.stderr.contains("mqtt: subscribed to the \(mine) of 12 cameras")
                    && one.stderr.contains("mqtt: subscribed to the \(12 - mine) of 12 cameras")
            }, "\(one.stderr)\n\(two.stderr)")

        func publishAll(at ts: Int64) async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (i, camera) in cameras.enumerated() {
                    group.addTask { try await publishReadings(port: broker.port, camera: camera, [(ts + Int64(i), 1)]) }
                }
                try await group.waitForAll()
            }
        }
        try await publishAll(at: Self.t0)
        // each receives its own cameras' messages only: the broker does not send it the others'
        #expect(await eventually { Self.stat(two, "processed") == mine && Self.stat(one, "processed") == 12 - mine }, "\(two.stdout.suffix(300))")
        try await Task.sleep(for: .milliseconds(500))
        #expect(Self.stat(two, "received") == mine, "\(two.stdout.suffix(300))")

        // (two may have been alone for a moment at start, and subscribed to all 12 then)
        let allTwelve = { two.stderr.components(separatedBy: "mqtt: subscribed to the 12 of 12 cameras").count - 1 }
        let before = allTwelve()
        kill(one.process.processIdentifier, SIGKILL)
        _ = await one.wait()
        #expect(await eventually(timeout: .seconds(30)) { allTwelve() > before }, "\(two.stderr)")
        try await publishAll(at: Self.t0 + 1000)
        #expect(await eventually { Self.stat(two, "processed") == mine + 12 }, "\(two.stdout.suffix(300))")
        two.interrupt()
        #expect(await two.wait() == 0, "\(two.stderr)")
        let line = two.stderr.split(separator: "\n").first { $0.contains("observations of this instance's cameras") } ?? ""
        #expect(line.contains("\(mine + 12) observations of this instance's cameras, 0 of other instances' cameras skipped"), "\(line)")
    }

    @Test("without a camera list, the Meraki network's cameras are the list: each instance subscribes to its own")
    func merakiCameraList() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let webex = try await FakeWebex(token: "cluster-token")
        defer { Task { await webex.stop() } }
        let cameras = (0..<6).map { String(format: "Q2GV-MRK-%04d", $0) }
        var state = FakeMeraki.State()
        state.setDevices(network: "N_HA", cameras.map { ($0, "Camera \($0)") })
        let meraki = try await FakeMeraki(apiKey: "ha-meraki-key", state: state)
        defer { Task { await meraki.stop() } }
        let dir = try LiveCommandTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let database = try await database()
        let names = ["ha-m1", "ha-m2"]
        let mine = cameras.filter { CameraOwnership.owner(of: $0, among: names) == "ha-m1" }.count
        let children = try names.map { try start($0, broker: broker, webex: webex, database: database, dir: dir, meraki: meraki) }
        defer { for c in children { kill(c.process.processIdentifier, SIGKILL) } }
        #expect(
            await eventually(timeout: .seconds(30)) {
                children[0].stderr.contains("mqtt: subscribed to the \(mine) of 6 cameras")
                    && children[1].stderr.contains("mqtt: subscribed to the \(6 - mine) of 6 cameras")
            }, "\(children[0].stderr)\n\(children[1].stderr)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, camera) in cameras.enumerated() {
                group.addTask { try await publishReadings(port: broker.port, camera: camera, [(Self.t0 + Int64(i), 1)]) }
            }
            try await group.waitForAll()
        }
        #expect(await eventually { Self.stat(children[0], "processed") == mine && Self.stat(children[1], "processed") == 6 - mine })
        try await Task.sleep(for: .milliseconds(500))
        #expect(Self.stat(children[0], "received") == mine, "only its own cameras' messages reach it")
        #expect(Self.stat(children[1], "received") == 6 - mine)
        #expect(!meraki.requests("devices").isEmpty)
    }
}
