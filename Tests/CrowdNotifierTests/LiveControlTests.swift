import CrowdKitTestServers
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// Live control of a running `crowd-notifier run` fed through a real mosquitto (SEMANTICS.md §7).
@Suite("crowd-notifier run: live control")
struct LiveControlTests {
    static func send(_ method: String, _ url: String, headers: [String: String] = [:], body: String? = nil) async throws -> (Int, String, [AnyHashable: Any]) {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.httpMethod = method
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        request.httpBody = body.map { Data($0.utf8) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        return (http.statusCode, String(decoding: data, as: UTF8.self), http.allHeaderFields)
    }

    @Test("a threshold changed through the API decides the very next observation; a mute suppresses, a pause stops detection, at once; all audited")
    func thresholdThroughAPI() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let dir = try LiveCommandTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let httpPort = DemoWebTests.freePort()
        let run = try LiveCommandTests.Child(
            [
                "run", "--mqtt-port", String(broker.port), "--min-people", "3", "--dwell", "5", "--gap", "0", "--cooldown", "0",
                "--print-events", "jsonl", "--stats-interval", "0.1",
            ], in: dir, name: "run", environment: ["HTTP_PORT": String(httpPort)])
        defer { if run.process.isRunning { kill(run.process.processIdentifier, SIGKILL) } }
        #expect(await eventually { run.stdout.contains("state=connected") }, "\(run.stderr)")
        let api = "http://127.0.0.1:\(httpPort)/api"
        #expect(await eventually { (try? await Self.send("GET", api + "/settings"))?.0 == 200 }, "\(run.stderr)")
        let t0: Int64 = 1_714_632_600_000
        // two people for 10 s: no crowd at the configured N = 3
        try await publishReadings(port: broker.port, camera: "Q2GV-LIVE-0001", (0...10).map { (t0 + Int64($0) * 1000, 2) })
        #expect(await eventually { run.stdout.contains("processed=11 ") }, "\(run.stdout)")
        #expect(!run.stdout.contains("\"fired\""))

        // N = 2 through the API, with the version read first
        let (status, _, headers) = try await Self.send("GET", api + "/settings")
        #expect(status == 200)
        let etag = try #require(headers["Etag"] as? String ?? headers["ETag"] as? String)
        let put = try await Self.send(
            "PUT", api + "/settings", headers: ["If-Match": etag, "Content-Type": "application/json"],
            body: #"{"detection": {"defaults": {"minPeople": 2, "dwellSeconds": 5}}}"#)
        #expect(put.0 == 200, "\(put.1)")
        try await publishReadings(port: broker.port, camera: "Q2GV-LIVE-0001", (11...20).map { (t0 + Int64($0) * 1000, 2) })
        // the store, not the stats line: the monitor publishes its counters at most every 100 ms
        // and only as messages come, so after a quiet feed's last batch the line can lag
        #expect(await eventually { ((try? await Self.send("GET", api + "/events?camera=Q2GV-LIVE-0001"))?.1 ?? "").contains("\"startedAt\"") }, "\(run.stderr)")
        let first = try await Self.send("GET", api + "/events?camera=Q2GV-LIVE-0001")
        #expect(first.1.contains("\"startedAt\":\(t0 + 11_000)"), "the crowd starts at the first observation after the change: \(first.1)")
        #expect(first.1.contains("\"minPeople\":2"), "the event keeps the parameters it fired with: \(first.1)")

        // a mute through the API (its effect on notifications: LiveSettingsTests, in process)
        let mute = try await Self.send("POST", api + "/mutes", body: #"{"selector": "Q2GV-LIVE-0002/*", "minutes": 60, "reason": "test"}"#)
        #expect(mute.0 == 201, "\(mute.1)")
        let mutes = try await Self.send("GET", api + "/mutes")
        #expect(mutes.1.contains("Q2GV-LIVE-0002"), "\(mutes.1)")
        // that camera's next crowd is stored with its notification suppressed (mutes are in host
        // time and cover a notification at its camera time: a camera in sync)
        let now = Int64(Date().timeIntervalSince1970 * 1000) + 1000
        try await publishReadings(port: broker.port, camera: "Q2GV-LIVE-0002", (0...10).map { (now + Int64($0) * 1000, 4) })
        #expect(await eventually { run.stdout.contains("processed=32 ") }, "\(run.stdout)")
        #expect(
            await eventually { ((try? await Self.send("GET", api + "/events?camera=Q2GV-LIVE-0002"))?.1 ?? "").contains("\"suppressed\"") },
            "\(run.stderr)")

        // pause: readings still arrive but reach no policy
        let paused = try await Self.send("POST", api + "/detection/pause")
        #expect(paused.1.contains("\"paused\":true"))
        try await publishReadings(port: broker.port, camera: "Q2GV-LIVE-0003", (0...10).map { (t0 + Int64($0) * 1000, 5) })
        #expect(await eventually { run.stdout.contains("processed=43 ") }, "\(run.stdout)")
        try await Task.sleep(for: .milliseconds(300))
        let pausedEvents = try await Self.send("GET", api + "/events?camera=Q2GV-LIVE-0003")
        #expect(!pausedEvents.1.contains("\"startedAt\""), "paused: no crowd: \(pausedEvents.1)")
        _ = try await Self.send("POST", api + "/detection/resume")
        let audit = try await Self.send("GET", api + "/audit?limit=10")
        for action in ["\"settings\"", "\"mute\"", "\"pause\"", "\"resume\""] { #expect(audit.1.contains(action), "\(audit.1)") }
        run.interrupt()
        #expect(await run.wait() == 0, "\(run.stderr)")
        // the events, printed at the end: the first crowd started at the first observation after
        // the change and keeps the parameters it fired with
        let fired = run.stdout.split(separator: "\n").first { $0.contains("Q2GV-LIVE-0001") }.map(String.init) ?? ""
        #expect(fired.contains("\"startedAt\":\(t0 + 11_000)"), "\(fired)")
        #expect(!run.stdout.contains("Q2GV-LIVE-0003"))
    }
}
