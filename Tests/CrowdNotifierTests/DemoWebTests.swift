import CrowdKitTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
import CrowdKitTestServers
#endif

/// The README's first command as a user sees it: `crowd-notifier demo` serves the page, the API,
/// health and Prometheus metrics while the simulated feed runs.
@Suite("crowd-notifier demo: the page and the API")
struct DemoWebTests {
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func get(_ url: String) async -> (Int, String)? {
        guard let (data, response) = try? await URLSession.shared.data(from: URL(string: url)!) else { return nil }
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test("events with video links on the page and in the API, metrics, readiness; SIGTERM exits 0")
    func demoServes() async throws {
        let dir = try LiveCommandTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = Self.freePort()
        let base = "http://127.0.0.1:\(port)"
        let demo = try LiveCommandTests.Child(
            ["demo", "--speed", "20", "--http-port", String(port), "--store", dir.appendingPathComponent("demo.sqlite").path],
            in: dir, name: "demo")
        var events = ""
        let found = await eventually(timeout: .seconds(60)) {
            guard let (status, body) = await Self.get(base + "/api/events"), status == 200 else { return false }
            events = body
            return body.contains("\"videoUrl\":\"http")
        }
        #expect(found, "\(demo.stderr)")
        #expect(events.contains("Q2MV-DEMO-000"))
        let page = await Self.get(base + "/")
        #expect(page?.0 == 200)
        #expect(page?.1.contains("/demo/video/Q2MV-DEMO-000") == true)
        let metrics = await Self.get(base + "/metrics")
        #expect(metrics?.0 == 200)
        #expect(metrics?.1.contains("crowdkit_messages_total") == true)
        #expect(metrics?.1.contains("crowdkit_events_total{kind=\"fired\"}") == true)
        #expect(await Self.get(base + "/readyz")?.0 == 200)
        // the simulated two-door hall: an area counted from two lines, one on each camera
        let areas = await eventually(timeout: .seconds(30)) {
            guard let (_, body) = await Self.get(base + "/api/areas") else { return false }
            return body.contains("\"name\":\"hall\"") && body.contains("\"line\":\"701\"") && body.contains("\"line\":\"702\"")
                && !body.contains("\"inToday\":0,\"outToday\":0")
        }
        #expect(areas)
        #expect(await Self.get(base + "/")?.1.contains("<tr data-area=\"hall\">") == true)
        let lineMetrics = await Self.get(base + "/metrics")?.1 ?? ""
        #expect(lineMetrics.contains("crowdkit_line_crossings_total{camera=\"Q2MV-DEMO-0001\",direction=\"in\",line=\"701\"}")
            || lineMetrics.contains("crowdkit_line_crossings_total{camera=\"Q2MV-DEMO-0001\",line=\"701\",direction=\"in\"}"), "\(lineMetrics.split(separator: "\n").filter { $0.contains("line_crossings") })")
        let video = try #require(events.range(of: "/demo/video/"))
        #expect(await Self.get(base + events[video.lowerBound...].prefix { $0 != "\"" }.description)?.0 == 200)
        kill(demo.process.processIdentifier, SIGTERM)
        #expect(await demo.wait(timeout: .seconds(30)) == 0, "\(demo.stderr)")
        #expect(demo.stderr.contains("Webex message: **Crowd detected**"))
    }
}
