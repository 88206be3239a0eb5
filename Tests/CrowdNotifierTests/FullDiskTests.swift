import CrowdKitTestServers
import CrowdKitTesting
import Foundation
import Testing

/// `run` with its real SQLite file on a "full disk": the process's file-size limit
/// (RLIMIT_FSIZE, changed from outside with `prlimit`, SIGXFSZ ignored) makes every write that
/// grows the database or its WAL fail, as a full file system does, and lifting the limit heals
/// it. Needs no mount and no privileges.
@Suite("crowd-notifier run on a full disk", .serialized)
struct FullDiskTests {
    static let prlimit = "/usr/bin/prlimit"
    /// Ignores SIGXFSZ (so a write past the limit fails with EFBIG instead of killing the
    /// process), then becomes the notifier (same pid), its output going through pipes to `cat`
    /// processes that write the test's files (the limit is the notifier's alone).
    static let launcher = [
        "/bin/bash", "-c", "trap '' XFSZ; exec \"$@\" > >(exec cat) 2> >(exec cat >&2)", "crowd-notifier",
    ]

    static func setFileSizeLimit(_ pid: pid_t, _ limit: String) async throws {
        let status = try await runProgram(prlimit, ["--pid", String(pid), "--fsize=\(limit):"])
        try #require(status == 0, "prlimit failed")
    }

    /// Publishes a crowd of 5 at `camera` zone 0 for 4 s of camera time (fires after a 2 s dwell),
    /// then an empty reading.
    static func publishCrowd(port: Int, camera: String, start: Int64) async throws {
        try await publishReadings(port: port, camera: camera, (0...4).map { (start + Int64($0) * 1000, 5) } + [(start + 5000, 0)])
    }

    /// `printEvents`: print the store's events at exit (`--print-events jsonl`; reading the
    /// store back needs it to open, so not while the disk is full).
    func start(_ broker: MosquittoBroker, _ webex: FakeWebex, _ dir: URL, httpPort: Int, printEvents: Bool = true) throws
        -> LiveCommandTests.Child
    {
        try LiveCommandTests.Child(
            [
                "run", "--mqtt-port", String(broker.port), "--dwell", "2", "--cooldown", "0", "--gap", "0",
                "--stats-interval", "0.1", "--store", dir.appendingPathComponent("events.sqlite").path,
                "--webex-base-url", webex.baseURL.absoluteString, "--webex-room-id", "room-1",
            ] + (printEvents ? ["--print-events", "jsonl"] : []), in: dir, name: "run",
            environment: ["BOT_ACCESS_TOKEN": "disk-token", "HTTP_PORT": String(httpPort), "WEBEX_THREADS": "false"], launcher: Self.launcher)
    }

    @Test("crowds raised while the disk is full are notified exactly once, /readyz says so, and all are stored once it has room")
    func fullThenRoom() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.prlimit), "prlimit (util-linux) is needed")
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let webex = try await FakeWebex(token: "disk-token")
        let dir = try LiveCommandTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let httpPort = DemoWebTests.freePort()
        let run = try start(broker, webex, dir, httpPort: httpPort)
        defer { if run.process.isRunning { kill(run.process.processIdentifier, SIGKILL) } }
        let pid = run.process.processIdentifier
        #expect(await eventually { run.stdout.contains("state=connected") })
        let readyz = "http://127.0.0.1:\(httpPort)/readyz"

        try await Self.publishCrowd(port: broker.port, camera: "Q2GV-DISK-0000", start: 1_714_632_600_000)
        #expect(await eventually { webex.accepted.count == 1 })
        #expect(await eventually { await DemoWebTests.get(readyz)?.0 == 200 })

        // the disk is full
        try await Self.setFileSizeLimit(pid, "0")
        let cameras = (1...3).map { "Q2GV-DISK-000\($0)" }
        for (i, camera) in cameras.enumerated() {
            try await Self.publishCrowd(port: broker.port, camera: camera, start: 1_714_632_700_000 + Int64(i) * 10_000)
        }
        #expect(await eventually { webex.accepted.count == 4 }, "\(run.stderr)")
        let notReady = await DemoWebTests.get(readyz)
        #expect(notReady?.0 == 503)
        #expect(notReady?.1.contains("\"store\":\"failing\"") == true, "\(notReady?.1 ?? "-")")
        // past the delivery poll (5 s): a sent notification whose status could not be written is
        // not sent again
        try await Task.sleep(for: .seconds(6))
        #expect(webex.accepted.count == 4)
        #expect(run.stderr.contains("event store writes failing"), "\(run.stderr)")

        // room again
        try await Self.setFileSizeLimit(pid, "unlimited")
        #expect(await eventually(timeout: .seconds(60)) { await DemoWebTests.get(readyz)?.0 == 200 })
        #expect(await eventually { run.stderr.contains("Delivery statuses recorded again") }, "\(run.stderr)")
        try await Task.sleep(for: .seconds(6))
        run.interrupt()
        #expect(await run.wait() == 0, "\(run.stderr)")
        await webex.stop()

        #expect(webex.accepted.count == 4, "each crowd notified exactly once")
        for camera in ["Q2GV-DISK-0000"] + cameras {
            #expect(webex.accepted.filter { $0.text?.contains(camera) == true }.count == 1, "\(camera)")
        }
        let events = run.stdout.split(separator: "\n").filter { !$0.hasPrefix("stats ") }
        #expect(events.count == 4, "every crowd is in the store: \(events)")
        for camera in cameras { #expect(events.contains { $0.contains(camera) }) }
        #expect(run.stderr.contains("event store writes again"), "\(run.stderr)")
        #expect(!run.stderr.contains("disk-token"))
        #expect(!run.stderr.contains("event not stored"))
    }

    @Test("SIGTERM while the disk is full ends the process within the graceful-shutdown limit, logging what it could not save")
    func sigtermWhileFull() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.prlimit), "prlimit (util-linux) is needed")
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let webex = try await FakeWebex(token: "disk-token")
        defer { Task { await webex.stop() } }
        let dir = try LiveCommandTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try start(broker, webex, dir, httpPort: 0, printEvents: false)
        defer { if run.process.isRunning { kill(run.process.processIdentifier, SIGKILL) } }
        let pid = run.process.processIdentifier
        #expect(await eventually { run.stdout.contains("state=connected") })
        try await Self.setFileSizeLimit(pid, "0")
        try await Self.publishCrowd(port: broker.port, camera: "Q2GV-TERM-0001", start: 1_714_632_600_000)
        #expect(await eventually { webex.accepted.count == 1 })
        #expect(await eventually { run.stderr.contains("event store writes failing") })
        let start = ContinuousClock.now
        kill(pid, SIGTERM)
        let status = await run.wait(timeout: .seconds(30))
        let took = ContinuousClock.now - start
        #expect(status == 0, "\(run.stderr)")
        // the default limit is 10 s
        #expect(took < .seconds(12), "took \(took)")
        #expect(run.stderr.contains("could not be saved before shutdown"), "\(run.stderr)")
        #expect(run.stderr.contains("Q2GV-TERM-0001"))
        #expect(webex.accepted.count == 1)
    }
}
