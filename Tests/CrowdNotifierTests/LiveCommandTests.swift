import CrowdKitTestServers
import CrowdKitTesting
import Foundation
import Testing

/// `run`, `record` and `simulate` as a user runs them, against a real mosquitto.
@Suite("crowd-notifier run, record and simulate")
struct LiveCommandTests {
    /// A `crowd-notifier` child process with its output in files.
    final class Child: @unchecked Sendable {
        // @unchecked: used by one test at a time.
        let process = Process()
        let out: URL
        let err: URL

        /// `launcher`: a program (and its options) that runs the binary with the arguments
        /// (`/usr/bin/setsid --wait`).
        init(_ arguments: [String], in dir: URL, name: String, environment: [String: String] = [:], launcher: [String]? = nil) throws {
            let bin = try #require(CommandLineTests.binary, "crowd-notifier binary not found; run swift build first")
            out = dir.appendingPathComponent("\(name).out")
            err = dir.appendingPathComponent("\(name).err")
            _ = FileManager.default.createFile(atPath: out.path, contents: nil)
            _ = FileManager.default.createFile(atPath: err.path, contents: nil)
            if let launcher, let program = launcher.first {
                process.executableURL = URL(fileURLWithPath: program)
                process.arguments = launcher.dropFirst() + [bin.path] + arguments
            } else {
                process.executableURL = bin
                process.arguments = arguments
            }
            // each child works in the test's own folder (its event store lands there) and serves no page
            process.currentDirectoryURL = dir
            process.environment = ProcessInfo.processInfo.environment.merging(["HTTP_PORT": "0"].merging(environment) { _, new in new }) { _, new in new }
            process.standardOutput = try FileHandle(forWritingTo: out)
            process.standardError = try FileHandle(forWritingTo: err)
            try process.run()
        }

        var stdout: String { (try? String(contentsOf: out, encoding: .utf8)) ?? "" }
        var stderr: String { (try? String(contentsOf: err, encoding: .utf8)) ?? "" }

        func interrupt() { kill(process.processIdentifier, SIGINT) }

        /// Waits for the exit (killing the process after `timeout`) and returns its status.
        func wait(timeout: Duration = .seconds(20)) async -> Int32 {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return -1
            }
            return process.terminationStatus
        }
    }

    static func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crowdkit-live-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("record then replay gives the same events as the live run; SIGINT stops run gracefully")
    func recordReplayEqualsLive() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = String(broker.port)
        let detection = ["--dwell", "10", "--cooldown", "0", "--gap", "3"]
        // 3 cameras × 2 zones × 2 readings/s × 300 s
        let total = 3600
        let capture = dir.appendingPathComponent("feed.capture").path

        let run = try Child(
            ["run", "--mqtt-port", port, "--print-events", "jsonl", "--stats-interval", "0.1"] + detection, in: dir, name: "run")
        let record = try Child(["record", "--mqtt-port", port, "--out", capture, "--count", String(total)], in: dir, name: "record")
        #expect(await eventually { run.stderr.contains("mqtt connected") && record.stderr.contains("mqtt connected") })

        let simulate = try Child(
            ["simulate", "--mqtt-port", port, "--speed", "0", "--duration", "300", "--start-time", "1714632600000"], in: dir,
            name: "simulate")
        #expect(await simulate.wait() == 0)
        #expect(await record.wait() == 0)
        #expect(await eventually { run.stdout.contains("processed=\(total) ") })
        run.interrupt()
        #expect(await run.wait() == 0, "\(run.stderr)")

        let live = run.stdout.split(separator: "\n").filter { !$0.hasPrefix("stats ") }.map { $0 + "\n" }.joined()
        let replayed = try CommandLineTests.run(["replay", capture, "--format", "jsonl"] + detection)
        #expect(replayed.status == 0)
        #expect(!live.isEmpty)
        #expect(live == replayed.stdout)
        #expect(run.stderr.contains("crowd fired: camera Q2SM-0000-0001 zone "))
        #expect(run.stderr.contains("\(total) messages processed"))
    }

    @Test("run notifies through Webex: one message per crowd, naming the camera serial")
    func webex() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let webex = try await FakeWebex(token: "bench-token")
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = String(broker.port)
        let run = try Child(
            [
                "run", "--mqtt-port", port, "--dwell", "10", "--cooldown", "0", "--print-events", "jsonl", "--stats-interval", "0.1",
                "--webex-base-url", webex.baseURL.absoluteString, "--webex-room-id", "room-1",
            ], in: dir, name: "run", environment: ["BOT_ACCESS_TOKEN": "bench-token", "WEBEX_THREADS": "false"])
        #expect(await eventually { run.stdout.contains("state=connected") })
        let simulate = try Child(
            ["simulate", "--mqtt-port", port, "--speed", "0", "--duration", "120", "--start-time", "1714632600000", "--camera-count", "2"],
            in: dir, name: "simulate")
        #expect(await simulate.wait() == 0)
        #expect(await eventually { run.stdout.contains("processed=960 ") })
        run.interrupt()
        #expect(await run.wait() == 0, "\(run.stderr)")
        await webex.stop()

        let events = run.stdout.split(separator: "\n").filter { !$0.hasPrefix("stats ") }
        #expect(!events.isEmpty)
        let sent = webex.accepted
        // delivery is at least once (a request whose answer is lost is sent again): one distinct
        // message per event, and nothing else
        #expect(Set(sent.map { $0.text ?? "" }).count == events.count, "\(run.stderr)")
        #expect(sent.count >= events.count)
        #expect(sent.allSatisfy { $0.roomId == "room-1" })
        #expect(sent.allSatisfy { ($0.text ?? "").contains("Q2SM-0000-000") })
        #expect(!run.stderr.contains("bench-token"))
    }

    @Test("run --exit-on-connect-failure cannot start: one line naming the broker and the reason, exit 1")
    func cannotConnect() async throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = try MosquittoBroker.freePort()
        let run = try Child(["run", "--mqtt-port", String(port), "--exit-on-connect-failure"], in: dir, name: "run")
        #expect(await run.wait() == 1)
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains("MQTT broker 127.0.0.1:\(port): cannot connect: Connection refused") == true, "\(run.stderr)")
    }

    @Test("broker down at start: run keeps trying, one line per attempt, /readyz 503 until subscribed, then processes the feed")
    func brokerComesUpSecond() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let httpPort = DemoWebTests.freePort()
        let readyz = "http://127.0.0.1:\(httpPort)/readyz"
        let run = try Child(
            ["run", "--mqtt-port", String(broker.port), "--http-port", String(httpPort), "--stats-interval", "0.1", "--dwell", "2", "--cooldown", "0",
             "--print-events", "jsonl"],
            in: dir, name: "run", environment: ["MQTT_RECONNECT_MAX_SECONDS": "1"])
        #expect(await eventually { await DemoWebTests.get(readyz)?.0 == 503 }, "\(run.stderr)")
        #expect(await eventually { run.stderr.components(separatedBy: "cannot connect to the broker yet").count > 2 }, "\(run.stderr)")
        #expect(run.stderr.contains("Connection refused"), "\(run.stderr)")
        try await broker.start()
        #expect(await eventually(timeout: .seconds(30)) { await DemoWebTests.get(readyz)?.0 == 200 }, "\(run.stderr)")
        #expect(await eventually { run.stdout.contains("state=connected") })
        let t0: Int64 = 1_714_632_600_000
        try await publishReadings(port: broker.port, camera: "Q2GV-LATE-0001", (0...4).map { (t0 + Int64($0) * 1000, 5) })
        #expect(await eventually { run.stdout.contains("processed=5 ") }, "\(run.stdout)")
        run.interrupt()
        #expect(await run.wait() == 0, "\(run.stderr)")
        #expect(run.stdout.contains(#""camera":"Q2GV-LATE-0001""#), "\(run.stdout)")
    }

    @Test("SIGTERM while run is still waiting for the broker ends it promptly with status 0")
    func stopWhileWaitingForBroker() async throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = try MosquittoBroker.freePort()
        let run = try Child(["run", "--mqtt-port", String(port), "--http-port", "0"], in: dir, name: "run")
        #expect(await eventually { run.stderr.contains("cannot connect to the broker yet") }, "\(run.stderr)")
        run.interrupt()
        #expect(await run.wait(timeout: .seconds(15)) == 0, "\(run.stderr)")
    }

    @Test("simulate and run reject bad options with a clear message")
    func badOptions() throws {
        let size = try CommandLineTests.run(["simulate", "--crowd-size", "9-3"])
        #expect(size.status == 64)
        #expect(size.stderr.contains("--crowd-size: MIN must not exceed MAX"), "\(size.stderr)")
        let rate = try CommandLineTests.run(["simulate", "--rate", "0"])
        #expect(rate.status == 64)
        #expect(rate.stderr.contains("--rate must be in (0, 1000]"))
        let port = try CommandLineTests.run(["run", "--mqtt-port", "70000"])
        #expect(port.status == 64)
        #expect(port.stderr.contains("--mqtt-port must be in 1...65535"))
        let proto = try CommandLineTests.run(["record", "--out", "/dev/null", "--mqtt-protocol", "4"])
        #expect(proto.status == 64)
        #expect(proto.stderr.contains("--mqtt-protocol must be 3.1.1 or 5"))
    }

    @Test("run --nice 7 in a session of its own: the session's scheduling group and the main thread run at nice 7")
    func nice() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let arguments = ["run", "--mqtt-port", String(broker.port), "--stats-interval", "0.05", "--nice", "7", "--log-level", "info"]
        #if os(Linux)
        let setsid = "/usr/bin/setsid"
        try #require(FileManager.default.isExecutableFile(atPath: setsid), "setsid (util-linux) is needed")
        // Process starts its child as a process group leader, so setsid forks: the notifier is
        // setsid's child, and `--wait` passes its exit status on.
        let run = try Child(arguments, in: dir, name: "run", launcher: [setsid, "--wait"])
        defer { if run.process.isRunning { kill(run.process.processIdentifier, SIGKILL) } }
        #expect(await eventually { run.stdout.contains("state=connected") })
        let pid = try #require(Self.child(of: run.process.processIdentifier))
        defer { kill(pid, SIGKILL) }
        #expect(getsid(pid) == pid)
        // state is field 3 of /proc/PID/stat, nice field 19
        let fields = try #require(Self.statFields(of: pid))
        #expect(fields[16] == "7", "\(fields)")
        if let group = try? String(contentsOfFile: "/proc/\(pid)/autogroup", encoding: .utf8) {
            #expect(group.hasSuffix("nice 7\n"), "\(group)")
        }
        kill(pid, SIGINT)
        #expect(await run.wait() == 0)
        #expect(run.stderr.contains("running at nice 7"), "\(run.stderr)")
        #endif

        let invalid = try CommandLineTests.run(["run", "--nice", "20"])
        #expect(invalid.status == 64)
        #expect(invalid.stderr.contains("--nice must be 0 to 19 (got 20)"), "\(invalid.stderr)")
    }

    /// The fields of /proc/`pid`/stat after "(comm)", from field 3 (state) on.
    static func statFields(of pid: pid_t) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ")
    }

    /// The process whose parent is `parent`, from /proc.
    static func child(of parent: pid_t) -> pid_t? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        // field 4 is the parent's pid
        return entries.lazy.compactMap { pid_t($0) }.first { pid in
            guard let fields = statFields(of: pid), fields.count > 1 else { return false }
            return pid_t(fields[1]) == parent
        }
    }

    @Test("MQTT_SERVER and MQTT_PORT name the broker when no flag does")
    func environment() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try Child(
            ["run", "--stats-interval", "0.05"], in: dir, name: "run",
            environment: ["MQTT_SERVER": "127.0.0.1", "MQTT_PORT": String(broker.port)])
        #expect(await eventually { run.stdout.contains("state=connected") })
        run.interrupt()
        #expect(await run.wait() == 0)
        #expect(run.stderr.contains("watching mqtt://127.0.0.1:\(broker.port)"), "\(run.stderr)")

        let unused = try MosquittoBroker.freePort()
        let refused = try Child(["run", "--exit-on-connect-failure"], in: dir, name: "refused", environment: ["MQTT_SERVER": "127.0.0.1", "MQTT_PORT": String(unused)])
        #expect(await refused.wait() == 1)
        #expect(refused.stderr.contains("MQTT broker 127.0.0.1:\(unused): cannot connect"), "\(refused.stderr)")
    }

    @Test("run over TLS: the test CA connects; another CA is refused with the TLS reason, exit 1")
    func tls() async throws {
        let broker = try MosquittoBroker(
            extra: """
                cafile $DIR/ca.crt
                certfile $DIR/server.crt
                keyfile $DIR/server.key
                """)
        defer { broker.stop() }
        let certs = try TestCertificates(in: broker.directory)
        try await broker.start()
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = String(broker.port)

        let good = try Child(["run", "--mqtt-port", port, "--mqtt-tls-ca", certs.caFile, "--stats-interval", "0.05"], in: dir, name: "good")
        #expect(await eventually { good.stdout.contains("state=connected") })
        good.interrupt()
        #expect(await good.wait() == 0)
        #expect(good.stderr.contains("watching mqtts://127.0.0.1:\(port)"))

        let bad = try Child(["run", "--mqtt-port", port, "--mqtt-tls-ca", certs.otherCAFile, "--exit-on-connect-failure"], in: dir, name: "bad")
        #expect(await bad.wait() == 1)
        #expect(bad.stderr.contains("MQTT broker 127.0.0.1:\(port): TLS failed"), "\(bad.stderr)")
        #expect(bad.stderr.contains("certificate verify failed"), "\(bad.stderr)")
    }

    @Test("run with a wrong password: exit 1, the reason, never the password")
    func wrongPassword() async throws {
        let broker = try MosquittoBroker(extra: "password_file $DIR/passwd", anonymous: false)
        defer { broker.stop() }
        try runTool("mosquitto_passwd", ["-c", "-b", "passwd", "bob", "right"], in: broker.directory)
        try await broker.start()
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try Child(
            ["run", "--mqtt-port", String(broker.port), "--mqtt-username", "bob", "--mqtt-password", "hunter2-wrong", "--exit-on-connect-failure"],
            in: dir, name: "run")
        #expect(await run.wait() == 1)
        #expect(run.stderr.contains("MQTT broker 127.0.0.1:\(broker.port): connection refused: Connection Refused: not authorised."), "\(run.stderr)")
        #expect(!run.stderr.contains("hunter2"))
    }
}

/// Publishes MV Sense zone counts `(ts, people)` on `/merakimv/<camera>/0` with `mosquitto_pub -l`
/// (QoS 1, one message a line), without blocking the cooperative pool.
func publishReadings(port: Int, camera: String, _ readings: [(ts: Int64, people: Int)]) async throws {
    let lines = readings.map { #"{"ts":\#($0.ts),"counts":{"person":\#($0.people)}}"# + "\n" }.joined()
    let status = try await runProgram(
        "/usr/bin/mosquitto_pub", ["-h", "127.0.0.1", "-p", String(port), "-t", "/merakimv/\(camera)/0", "-l", "-q", "1"],
        input: Data(lines.utf8))
    try #require(status == 0, "mosquitto_pub failed")
}
