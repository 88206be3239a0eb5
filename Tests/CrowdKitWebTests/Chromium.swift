import Foundation
import Testing

/// Headless Chromium driven over the DevTools protocol (`--remote-debugging-pipe`: JSON messages
/// ended by a NUL byte on file descriptors 3 and 4, here two FIFOs), so that a test can type into
/// fields, click buttons and take screenshots like a user.
final class Chromium: @unchecked Sendable {
    private let process: Process
    private let directory: TemporaryDirectory
    private let toBrowser: FileHandle
    private let fromBrowser: FileHandle
    private let lock = NSLock()
    private var nextID = 1
    private var buffer = Data()
    private(set) var sessionID: String?
    private static let queue = DispatchQueue(label: "chromium.pipe", attributes: .concurrent)

    struct ProtocolError: Error, CustomStringConvertible {
        var description: String
    }

    private init(process: Process, directory: TemporaryDirectory, toBrowser: FileHandle, fromBrowser: FileHandle) {
        self.process = process
        self.directory = directory
        self.toBrowser = toBrowser
        self.fromBrowser = fromBrowser
    }

    deinit {
        if process.isRunning { process.terminate() }
    }

    /// Starts the browser (light colour scheme, the given time zone) with one page attached.
    static func launch(_ executable: String, width: Int = 1280, height: Int = 900, timeZone: String = "UTC") async throws -> Chromium {
        let dir = try TemporaryDirectory()
        let input = dir.path + "/in"
        let output = dir.path + "/out"
        for fifo in [input, output] { guard mkfifo(fifo, 0o600) == 0 else { throw ProtocolError(description: "mkfifo failed") } }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        let flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
            "--user-data-dir=\(dir.path)/profile", "--window-size=\(width),\(height)", "--remote-debugging-pipe", "about:blank",
        ].map { "'\($0)'" }.joined(separator: " ")
        process.arguments = ["-c", "exec '\(executable)' \(flags) 3<'\(input)' 4>'\(output)' 2>'\(dir.path)/stderr.txt'"]
        var env = ProcessInfo.processInfo.environment
        env["TZ"] = timeZone
        env["LANG"] = "en_US.UTF-8"
        process.environment = env
        try process.run()
        // the shell opens `in` for reading first, then `out` for writing: open in the same order
        let (toBrowser, fromBrowser) = try await blocking {
            guard let w = FileHandle(forWritingAtPath: input), let r = FileHandle(forReadingAtPath: output) else {
                throw ProtocolError(description: "cannot open the DevTools pipes")
            }
            return (w, r)
        }
        let browser = Chromium(process: process, directory: dir, toBrowser: toBrowser, fromBrowser: fromBrowser)
        let targets = try await browser.send("Target.getTargets", session: false)
        let infos = targets["targetInfos"] as? [[String: Any]] ?? []
        guard let page = infos.first(where: { $0["type"] as? String == "page" })?["targetId"] as? String else {
            throw ProtocolError(description: "no page target: \(targets)")
        }
        let attached = try await browser.send("Target.attachToTarget", ["targetId": page, "flatten": true], session: false)
        browser.sessionID = attached["sessionId"] as? String
        _ = try await browser.send("Emulation.setDeviceMetricsOverride", ["width": width, "height": height, "deviceScaleFactor": 1, "mobile": false])
        _ = try await browser.send("Emulation.setEmulatedMedia", ["features": [["name": "prefers-color-scheme", "value": "light"]]])
        return browser
    }

    func close() {
        _ = try? toBrowser.write(contentsOf: Data(#"{"id":999999,"method":"Browser.close"}"#.utf8) + Data([0]))
        let process = self.process
        Self.queue.asyncAfter(deadline: .now() + 5) { if process.isRunning { process.terminate() } }
    }

    /// Sends a command (to the attached page unless `session` is false) and returns its result.
    func send(_ method: String, _ params: [String: Any] = [:], session: Bool = true) async throws -> [String: Any] {
        let id: Int = lock.withLock {
            defer { nextID += 1 }
            return nextID
        }
        var message: [String: Any] = ["id": id, "method": method, "params": params]
        if session, let sessionID { message["sessionId"] = sessionID }
        let data = try JSONSerialization.data(withJSONObject: message) + Data([0])
        let handle = toBrowser
        try await Self.blocking { try handle.write(contentsOf: data) }
        while true {
            let reply = try await readMessage()
            guard reply["id"] as? Int == id else { continue }  // events and other replies
            if let error = reply["error"] as? [String: Any] {
                throw ProtocolError(description: "\(method): \(error["message"] ?? error)")
            }
            return reply["result"] as? [String: Any] ?? [:]
        }
    }

    private func readMessage() async throws -> [String: Any] {
        while true {
            if let end = buffer.firstIndex(of: 0) {
                let data = buffer[buffer.startIndex..<end]
                buffer = Data(buffer[(end + 1)...])
                return (try JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            }
            let handle = fromBrowser
            let chunk = try await Self.blocking { handle.availableData }
            if chunk.isEmpty {
                let stderr = (try? String(contentsOfFile: directory.path + "/stderr.txt", encoding: .utf8)) ?? ""
                throw ProtocolError(description: "chromium closed the pipe: \(stderr.suffix(2000))")
            }
            buffer += chunk
        }
    }

    // MARK: - What a test does

    /// Evaluates `expression` in the page and returns its value (JSON-serialisable values only).
    func evaluate(_ expression: String) async throws -> Any? {
        let r = try await send("Runtime.evaluate", ["expression": expression, "returnByValue": true, "awaitPromise": true])
        if let exception = r["exceptionDetails"] as? [String: Any] {
            throw ProtocolError(description: "\(expression): \(exception["text"] ?? exception)")
        }
        return (r["result"] as? [String: Any])?["value"]
    }

    /// Waits (at most `seconds`) until `condition`, a JavaScript expression, is true.
    func wait(until condition: String, seconds: Double = 15) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? await evaluate("!!(\(condition))")) as? Bool == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        let at = (try? await evaluate("location.href + ': ' + document.body.textContent.slice(0, 300)")) ?? "?"
        throw ProtocolError(description: "timed out waiting for \(condition) at \(at)")
    }

    func navigate(_ url: String, readyWhen condition: String = "true") async throws {
        _ = try await send("Page.navigate", ["url": url])
        try await wait(until: "document.readyState === 'complete' && location.href === \(Self.jsString(url)) && (\(condition))")
    }

    /// Clicks the centre of the element `selector` with the mouse.
    func click(_ selector: String) async throws {
        let box = try await evaluate(
            "(() => { const e = document.querySelector(\(Self.jsString(selector))); e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        guard let point = box as? [Double], point.count == 2 else { throw ProtocolError(description: "no element \(selector)") }
        for type in ["mousePressed", "mouseReleased"] {
            _ = try await send("Input.dispatchMouseEvent", ["type": type, "x": point[0], "y": point[1], "button": "left", "clickCount": 1])
        }
    }

    /// Focuses the field `selector`, selects its text and types `text` over it.
    func typeText(_ text: String, into selector: String) async throws {
        _ = try await evaluate("(() => { const e = document.querySelector(\(Self.jsString(selector))); e.focus(); e.select(); })()")
        _ = try await send("Input.insertText", ["text": text])
    }

    /// A PNG screenshot of the viewport.
    func screenshot() async throws -> Data {
        let r = try await send("Page.captureScreenshot", ["format": "png"])
        guard let b64 = r["data"] as? String, let data = Data(base64Encoded: b64) else { throw ProtocolError(description: "no screenshot") }
        return data
    }

    static func jsString(_ s: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [s])) ?? Data("[\"\"]".utf8)
        return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
    }

    private static func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// Width and height from a PNG's IHDR chunk.
func pngSize(_ data: Data) -> (width: Int, height: Int)? {
    let bytes = [UInt8](data.prefix(24))
    guard bytes.count == 24, bytes[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], bytes[12..<16] == [0x49, 0x48, 0x44, 0x52] else {
        return nil
    }
    func be(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
    return (be(16), be(20))
}
