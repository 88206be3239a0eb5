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

/// The live-control page and the charts in a real browser, driven like a user (typing, clicking).
@Suite("Settings and charts in a real browser (headless Chromium)", .serialized)
struct BrowserControlTests {
    @Test("changing a threshold through the settings form: typed, submitted, in effect; a bad value is shown at its field", .timeLimit(.minutes(2)))
    func changeThreshold() async throws {
        let executable = try #require(chromiumPath, "chromium is not installed: scripts/bootstrap.sh --test installs it")
        let h = try await SettingsAPITests.Harness.make()
        try await h.app().test(.live) { client async throws in
            let port = try #require(client.port)
            let browser = try await Chromium.launch(executable)
            defer { browser.close() }
            try await browser.navigate("http://127.0.0.1:\(port)/settings", readyWhen: "document.getElementById('d-minPeople')")
            #expect(try await browser.evaluate("document.getElementById('d-minPeople').value") as? String == "3")
            try await browser.typeText("9", into: "#d-minPeople")
            try await browser.click("#defaults-form button[type=submit]")
            try await browser.wait(until: "location.search === '?saved=2' && document.getElementById('d-minPeople').value === '9'")
            #expect(h.live.snapshot.settings.defaults[.minPeople] == 9, "in effect once the form is saved")
            #expect(try await browser.evaluate("document.querySelector('.notice').textContent") as? String == "Saved: settings version 2 is in effect.")
            // a bad value: the page comes back with the error at the field, nothing applied
            try await browser.typeText("0", into: "#d-minPeople")
            try await browser.click("#defaults-form button[type=submit]")
            try await browser.wait(until: "document.getElementById('d-minPeople-error')")
            #expect(try await browser.evaluate("document.getElementById('d-minPeople-error').textContent") as? String == "must be a whole number >= 1")
            #expect(try await browser.evaluate("document.getElementById('d-minPeople').getAttribute('aria-invalid')") as? String == "true")
            #expect(h.live.snapshot.settings.version == 2)
            // pause from the page
            try await browser.click("form[action='/detection/pause'] button")
            try await browser.wait(until: "document.getElementById('detection-state') && document.getElementById('detection-state').textContent === 'paused'")
            #expect(h.live.snapshot.settings.paused)
        }
        #expect(try await h.store.audit(limit: 5).map(\.by) == ["local", "local", "configuration"])
    }

    @Test("screenshot of the charts: the page renders at the viewport's size and the charts draw their lines in colour", .timeLimit(.minutes(2)))
    func chartsScreenshot() async throws {
        let executable = try #require(chromiumPath, "chromium is not installed: scripts/bootstrap.sh --test installs it")
        let f = try await ChartPageTests.fixture()
        try await WebFixture.app(f.web).test(.live) { client async throws in
            let port = try #require(client.port)
            let browser = try await Chromium.launch(executable, width: 1280, height: 900)
            defer { browser.close() }
            try await browser.navigate("http://127.0.0.1:\(port)/charts", readyWhen: "document.querySelectorAll('svg.chart').length === 3")
            // the stylesheet applied (CSP nonce): the threshold line is dashed red, the chart is wide
            #expect(try await browser.evaluate("getComputedStyle(document.querySelector('svg.chart .threshold')).strokeDasharray") as? String == "5px, 4px")
            let width = try await browser.evaluate("document.querySelector('svg.chart').getBoundingClientRect().width") as? Double ?? 0
            #expect(width > 250)
            let png = try await browser.screenshot()
            let size = try #require(pngSize(png))
            #expect(size.width == 1280 && size.height == 900)
            if let dir = ProcessInfo.processInfo.environment["CROWDKIT_SCREENSHOT_DIR"] {
                try png.write(to: URL(fileURLWithPath: dir + "/charts.png"))
            }
            // count the screenshot's pixels of the occupancy colour (#0b5cad) and the threshold
            // colour (#a4161a), decoded by the browser itself
            let counts = try await browser.evaluate(
                """
                new Promise((resolve) => { const img = new Image(); img.onload = () => {
                  const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
                  const g = c.getContext('2d'); g.drawImage(img, 0, 0); const d = g.getImageData(0, 0, c.width, c.height).data;
                  let accent = 0, bad = 0;
                  const near = (i, r, gg, b) => Math.abs(d[i] - r) < 40 && Math.abs(d[i + 1] - gg) < 40 && Math.abs(d[i + 2] - b) < 40;
                  for (let i = 0; i < d.length; i += 4) { if (near(i, 11, 92, 173)) accent++; if (near(i, 164, 22, 26)) bad++; }
                  resolve([accent, bad]); }; img.src = 'data:image/png;base64,\(png.base64EncodedString())'; })
                """) as? [Int] ?? []
            #expect(counts.count == 2)
            #expect((counts.first ?? 0) > 500, "occupancy lines drawn: \(counts)")
            #expect((counts.last ?? 0) > 100, "threshold lines drawn: \(counts)")
        }
    }
}
