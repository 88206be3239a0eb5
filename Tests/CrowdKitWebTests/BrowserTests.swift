import CrowdKitCore
import CrowdKitWeb
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The Debian `chromium` binary, when installed (CI installs it: `apt-get install -y chromium`).
let chromiumPath: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }

@Suite("Page in a real browser (headless Chromium)")
struct BrowserTests {
    @Test(
        "Chromium renders the served page: rows, video links, local times from the script",
        .timeLimit(.minutes(2)))
    func chromiumRendersPage() async throws {
        // never skipped: scripts/test.sh installs chromium, and a missing browser fails the test
        let chromium = try #require(chromiumPath, "chromium is not installed: scripts/bootstrap.sh --test installs it")
        let f = try await WebFixture.make()
        try await WebFixture.app(f.web()).test(.live) { client async throws in
            let port = try #require(client.port)
            let dom = try await dumpDOM(chromium: chromium, url: "http://127.0.0.1:\(port)/", timeZone: "America/New_York")
            // Rows, newest first, as the browser parsed them.
            let ids = dom.components(separatedBy: "data-event-id=\"").dropFirst().map { String($0.prefix(32)) }
            #expect(
                ids == [
                    WebFixture.ongoing.event.id.rawValue, WebFixture.ended.event.id.rawValue,
                    WebFixture.formula.event.id.rawValue,
                ])
            // Video links at the start of each episode; the javascript: link is not a link.
            #expect(dom.contains("href=\"https://video.example.invalid/lobby?t=\(WebFixture.t0)&amp;x=1\""))
            #expect(dom.contains("href=\"https://video.example.invalid/door\""))
            #expect(!dom.contains("javascript:alert"))
            #expect(dom.components(separatedBy: "class=\"video\"").count - 1 == 2)
            // The hostile zone label is text in the DOM, not an element.
            #expect(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!dom.contains("<script>alert(1)</script>"))
            // The page's script ran (the CSP nonce works) and showed times in the viewer's zone.
            #expect(dom.contains("Times in America/New_York"))
            #expect(dom.contains("title=\"2024-05-02T06:50:00.123Z\""))
            let startCell = try #require(
                dom.components(separatedBy: "<time datetime=\"2024-05-02T06:50:00.123Z\"").dropFirst().first)
            let shown = String(startCell.prefix { $0 != "<" })
            #expect(!shown.contains("UTC"), "localized: \(shown)")
            #expect(shown.contains("2:50:00"), "06:50 UTC is 02:50 in New York in May: \(shown)")
            #expect(dom.contains("(America/New_York)"), "filter labels name the viewer's zone")
        }
    }
}

/// Runs `chromium --headless --dump-dom URL` and returns the serialized DOM after scripts ran.
func dumpDOM(chromium: String, url: String, timeZone: String) async throws -> String {
    let dir = try TemporaryDirectory()
    let out = dir.path + "/dom.html"
    let err = dir.path + "/stderr.txt"
    _ = FileManager.default.createFile(atPath: out, contents: nil)
    _ = FileManager.default.createFile(atPath: err, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: chromium)
    process.arguments = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--user-data-dir=\(dir.path)/profile", "--virtual-time-budget=2000", "--dump-dom", url,
    ]
    var env = ProcessInfo.processInfo.environment
    env["TZ"] = timeZone
    env["LANG"] = "en_US.UTF-8"
    process.environment = env
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do { try process.run() } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
    let dom = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
    if status != 0 || dom.isEmpty {
        let stderr = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        Issue.record("chromium exited with \(status): \(stderr.suffix(2000))")
    }
    return dom
}
