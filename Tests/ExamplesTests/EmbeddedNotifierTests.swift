import CrowdKitTestServers
import CrowdKitTesting
import Foundation
import Testing

/// `Examples/EmbeddedNotifier/main.swift`, the complete program of Documentation/Embedding.md:
/// the very file, built and run against a real mosquitto.
@Suite("Example: the complete embedded notifier")
struct EmbeddedNotifierTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var binary: URL? {
        [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("EmbeddedNotifier"),
            root.appendingPathComponent(".build/debug/EmbeddedNotifier"),
        ].first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    @Test("Documentation/Embedding.md shows the example program verbatim")
    func documented() throws {
        let doc = try String(contentsOf: Self.root.appendingPathComponent("Documentation/Embedding.md"), encoding: .utf8)
        let program = try String(contentsOf: Self.root.appendingPathComponent("Examples/EmbeddedNotifier/main.swift"), encoding: .utf8)
        #expect(doc.contains("```swift\n" + program + "```"), "copy Examples/EmbeddedNotifier/main.swift into Embedding.md")
    }

    @Test("it notifies a crowd from a live broker through its own notifier and stops gracefully on SIGTERM")
    func runsAgainstMosquitto() async throws {
        let binary = try #require(Self.binary, "swift build --build-tests builds the EmbeddedNotifier example")
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let process = Process()
        process.executableURL = binary
        process.environment = ProcessInfo.processInfo.environment.merging(["MQTT_PORT": String(broker.port)]) { _, b in b }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdout = LockedText(), stderr = LockedText()
        out.fileHandleForReading.readabilityHandler = { stdout.append($0.availableData) }
        err.fileHandleForReading.readabilityHandler = { stderr.append($0.availableData) }
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        #expect(await eventually(timeout: .seconds(60)) { stderr.text.contains("mqtt connected") }, "\(stderr.text)")
        // 5 people for 12 s of camera time, then nobody: fired once the 10 s dwell is reached, then ended
        let t0: Int64 = 1_714_632_600_000
        let readings = (0...12).map { (t0 + Int64($0) * 1000, 5) } + [(t0 + 20_000, 0)]
        let lines = readings.map { #"{"ts":\#($0.0),"counts":{"person":\#($0.1)}}"# + "\n" }.joined()
        let published = try await runProgram(
            "/usr/bin/mosquitto_pub", ["-h", "127.0.0.1", "-p", String(broker.port), "-t", "/merakimv/Q2GV-EMBD-0001/0", "-l", "-q", "1"],
            input: Data(lines.utf8))
        #expect(published == 0)
        #expect(await eventually(timeout: .seconds(60)) { stdout.text.contains("ended: Q2GV-EMBD-0001/0") }, "\(stdout.text)\n\(stderr.text)")
        #expect(stdout.text.contains("fired: Q2GV-EMBD-0001/0, 5 people since 2024-05-02T06:50:00.000Z"), "\(stdout.text)")
        #expect(stdout.text.components(separatedBy: "fired:").count == 2, "notified once")
        process.terminate()  // SIGTERM
        let exited = await eventually(timeout: .seconds(15)) { !process.isRunning }
        #expect(exited)
        #expect(process.terminationStatus == 0, "\(stderr.text)")
        #expect(process.terminationReason == .exit)
        #expect(stderr.text.contains("stopped"), "\(stderr.text)")
    }
}

/// Text collected from a pipe's handler thread.
final class LockedText: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ d: Data) {
        lock.lock()
        data.append(d)
        lock.unlock()
    }
    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}
