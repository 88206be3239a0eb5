import CrowdKitAlertmanager
import CrowdKitCore
import CrowdKitHTTP
import CrowdKitTestServers
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

private let policy = PolicyDescription(name: "dwell", parameters: ["minPeople": 3])

private func nowMS() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

private func crowd(startedAt: Int64, endedAt: Int64? = nil, names: Bool = true) -> CrowdEvent {
    var e = CrowdEvent(
        camera: "Q2GV-ABCD-1234", zone: "0", startedAt: startedAt, firedAt: startedAt + 60_000, endedAt: endedAt, peak: 7,
        lastCount: 5, policy: policy, cameraName: names ? "Lobby" : nil, zoneName: names ? "Entrance" : nil)
    e.videoURL = "https://video.example/q2gv?t=1"
    e.snapshotURL = "https://snap.example/1.jpg"
    return e
}

private func notifier(_ urls: [URL], resend: Duration = .seconds(60), logs: LogCapture = LogCapture()) -> AlertmanagerNotifier {
    AlertmanagerNotifier(
        configuration: AlertmanagerConfiguration(
            urls: urls, resendInterval: resend, pageURL: URL(string: "http://crowds.example:5001"),
            http: HTTPClientConfiguration(timeout: scaled(.seconds(5)), retry: .none)),
        logger: logs.logger())
}

private func alerts(in request: RecordedRequest) -> [[String: Any]] {
    (try? JSONSerialization.jsonObject(with: request.body)) as? [[String: Any]] ?? []
}

@Suite("Alertmanager alerts (no sockets)")
struct AlertmanagerAlertTests {
    @Test("the alert has exactly the labels, annotations and times of the issue")
    func shape() throws {
        let start: Int64 = 1_764_666_000_000  // 2025-12-02T09:00:00Z
        let open = AlertmanagerAlert(event: crowd(startedAt: start), openUntil: start + 600_000, pageURL: URL(string: "http://crowds.example:5001"))
        let body = try AlertmanagerNotifier.body(for: [open])
        let object = try #require((try JSONSerialization.jsonObject(with: body)) as? [[String: Any]])
        let alert = try #require(object.first)
        #expect(Set(alert.keys) == ["labels", "annotations", "startsAt", "endsAt", "generatorURL"])
        #expect(
            alert["labels"] as? [String: String] == [
                "alertname": "CrowdDetected", "camera": "Q2GV-ABCD-1234", "zone": "0", "camera_name": "Lobby", "zone_name": "Entrance",
            ])
        let annotations = try #require(alert["annotations"] as? [String: String])
        #expect(Set(annotations.keys) == ["summary", "video_url", "snapshot_url"])
        #expect(annotations["summary"]?.contains("Lobby / Entrance") == true)
        #expect(annotations["video_url"] == "https://video.example/q2gv?t=1")
        #expect(alert["startsAt"] as? String == "2025-12-02T09:00:00.000Z")
        #expect(alert["endsAt"] as? String == "2025-12-02T09:10:00.000Z")
        #expect(alert["generatorURL"] as? String == "http://crowds.example:5001/?camera=Q2GV-ABCD-1234&zone=0&from=1764666000000&to=1764666000001")

        let ended = AlertmanagerAlert(event: crowd(startedAt: start, endedAt: start + 300_000), openUntil: start + 600_000, pageURL: nil)
        #expect(ended.endsAt == "2025-12-02T09:05:00.000Z")
        #expect(ended.generatorURL == nil)
        #expect(ended.annotations["summary"]?.contains("ended") == true)
    }

    @Test("unknown names are the serial and the zone id; no link, no annotation")
    func unnamed() {
        var e = crowd(startedAt: 1_000, names: false)
        e.videoURL = nil
        e.snapshotURL = ""
        let alert = AlertmanagerAlert(event: e, openUntil: 2_000, pageURL: nil)
        #expect(alert.labels["camera_name"] == "Q2GV-ABCD-1234")
        #expect(alert.labels["zone_name"] == "0")
        #expect(Set(alert.annotations.keys) == ["summary"])
    }
}

@Suite("Alertmanager notifier against test servers")
struct AlertmanagerNotifierTests {
    @Test("fired, re-posted while open, resolved through the event lookup; labels stay those of the first post")
    func resendAndLookup() async throws {
        let server = try await FakeHTTPServer { _ in FakeResponse(status: 200) }
        defer { Task { await server.stop() } }
        let start = nowMS() - 120_000
        let state = LockedBox<CrowdEvent?>(nil)
        let n = notifier([server.baseURL], resend: .milliseconds(100))
        _ = try await n.send(CrowdNotification(kind: .fired, event: crowd(startedAt: start, names: false)))
        #expect(n.openAlerts.count == 1)
        let first = try #require(server.requests.first)
        #expect(first.method == "POST")
        #expect(first.path == "/api/v2/alerts")
        #expect(first.header("content-type") == "application/json")

        // names learnt later change the annotations, not the labels (another alert otherwise)
        state.withLock { $0 = crowd(startedAt: start) }
        let runner = Task { await n.run(currentEvent: { _ in state.withLock { $0 } }) }
        defer { runner.cancel() }
        #expect(await eventually(timeout: .seconds(20)) { server.requests.count >= 3 })
        let resent = alerts(in: server.requests[2])
        #expect((resent.first?["labels"] as? [String: String])?["camera_name"] == "Q2GV-ABCD-1234")

        state.withLock { $0 = crowd(startedAt: start, endedAt: nowMS() - 1_000) }
        #expect(await eventually(timeout: .seconds(20)) { n.openAlerts.isEmpty })
        let last = try #require(server.requests.last.map(alerts(in:))?.first)
        #expect((last["annotations"] as? [String: String])?["summary"]?.contains("ended") == true)
        let count = server.requests.count
        try await Task.sleep(for: .milliseconds(400))
        #expect(server.requests.count == count, "a resolved alert is not posted again")
    }

    @Test("several instances: one that accepts is enough; all refusing fails, permanent only when each refusal is")
    func severalInstances() async throws {
        let good = try await FakeHTTPServer { _ in FakeResponse(status: 200) }
        let bad = try await FakeHTTPServer { _ in FakeResponse(status: 400, body: Data("bad alert".utf8)) }
        let busy = try await FakeHTTPServer { _ in FakeResponse(status: 503) }
        defer { Task { await good.stop(); await bad.stop(); await busy.stop() } }
        let logs = LogCapture()
        let event = crowd(startedAt: nowMS() - 60_000)
        _ = try await notifier([bad.baseURL, good.baseURL], logs: logs).send(CrowdNotification(kind: .fired, event: event))
        #expect(good.requests.count == 1 && bad.requests.count == 1)
        #expect(logs.entries.contains { $0.level == .warning })

        await #expect(throws: NotificationError.self) {
            _ = try await notifier([bad.baseURL]).send(CrowdNotification(kind: .fired, event: event))
        }
        do {
            _ = try await notifier([bad.baseURL]).send(CrowdNotification(kind: .fired, event: event))
        } catch let error as NotificationError {
            #expect(error.code == .permanent)
        }
        do {
            _ = try await notifier([bad.baseURL, busy.baseURL]).send(CrowdNotification(kind: .fired, event: event))
            Issue.record("all instances refused, yet it succeeded")
        } catch let error as NotificationError {
            #expect(error.code == .transient)
        }
    }

    @Test("against the real alertmanager: the alert is firing, then resolved after the end")
    func realAlertmanager() async throws {
        guard AlertmanagerServer.tool != nil else {
            Issue.record("alertmanager is not installed (scripts/bootstrap.sh --test installs prometheus-alertmanager)")
            return
        }
        let receiver = try await FakeHTTPServer { _ in FakeResponse(status: 200) }
        defer { Task { await receiver.stop() } }
        let am = try AlertmanagerServer(webhookURL: receiver.baseURL.appendingPathComponent("hook"))
        defer { am.stop() }
        try await am.start()
        let n = notifier([am.baseURL])
        let start = nowMS() - 120_000
        let fired = crowd(startedAt: start)

        func listed() async throws -> [[String: Any]] {
            var request = URLRequest(url: am.baseURL.appendingPathComponent("api/v2/alerts"))
            request.timeoutInterval = 10
            let (data, _) = try await URLSession.shared.data(for: request)
            let all = (try JSONSerialization.jsonObject(with: data)) as? [[String: Any]] ?? []
            return all.filter { ($0["labels"] as? [String: String])?["alertname"] == "CrowdDetected" }
        }
        func webhookStatuses() -> [String] {
            receiver.requests.compactMap { $0.jsonObject?["status"] as? String }
        }

        _ = try await n.send(CrowdNotification(kind: .fired, event: fired))
        var alert: [String: Any]?
        #expect(
            try await eventually(timeout: .seconds(30)) {
                alert = try await listed().first
                return alert != nil
            })
        let found = try #require(alert)
        #expect((found["status"] as? [String: Any])?["state"] as? String == "active")
        #expect(
            found["labels"] as? [String: String] == [
                "alertname": "CrowdDetected", "camera": "Q2GV-ABCD-1234", "zone": "0", "camera_name": "Lobby", "zone_name": "Entrance",
            ])
        #expect((found["annotations"] as? [String: String])?["snapshot_url"] == "https://snap.example/1.jpg")
        #expect((found["generatorURL"] as? String)?.hasPrefix("http://crowds.example:5001/?camera=Q2GV-ABCD-1234") == true)
        #expect(await eventually(timeout: .seconds(30)) { webhookStatuses().contains("firing") }, "\(am.log)")

        var ended = fired
        ended.endedAt = nowMS() - 1_000
        _ = try await n.send(CrowdNotification(kind: .ended, event: ended))
        #expect(n.openAlerts.isEmpty)
        #expect(try await eventually(timeout: .seconds(30)) { try await listed().isEmpty })
        #expect(await eventually(timeout: .seconds(30)) { webhookStatuses().contains("resolved") }, "\(am.log)")
    }
}
