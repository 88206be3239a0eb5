import CrowdKitCore
import CrowdKitWeb
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

let curlPath: String? = ["/usr/bin/curl", "/usr/local/bin/curl"].first { FileManager.default.isExecutableFile(atPath: $0) }

@Suite("Web server lifecycle")
struct ShutdownTests {
    @Test(
        "graceful shutdown ends an open event stream instead of waiting for it",
.timeLimit(.minutes(1)))
    func shutdownEndsOpenStreams() async throws {
        let f = try await WebFixture.make()
        // A live feed that never ends on its own.
        let web = CrowdWeb(
            store: f.store, logger: quietLogger, liveStatus: { WebFixture.live() },
            changes: { AsyncStream { _ in } })
        let dir = try TemporaryDirectory()
        let out = dir.path + "/stream.txt"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        let curl = Process()
        let exited = AsyncStream<Int32>.makeStream()
        curl.terminationHandler = { p in
            exited.continuation.yield(p.terminationStatus)
            exited.continuation.finish()
        }
        try await WebFixture.app(web).test(.live) { client async throws in
            let port = try #require(client.port)
            curl.executableURL = URL(fileURLWithPath: try #require(curlPath))
            curl.arguments = ["-sN", "http://127.0.0.1:\(port)/api/events/stream"]
            curl.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
            try curl.run()
            // Wait until the stream is open (the server writes a comment first).
            for _ in 0..<500 {
                if let text = try? String(contentsOfFile: out, encoding: .utf8), text.contains(": connected") { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect((try? String(contentsOfFile: out, encoding: .utf8))?.contains(": connected") == true)
            // Returning starts the graceful shutdown; the test framework waits for the server.
        }
        var status: Int32 = -1
        for await s in exited.stream { status = s }
        #expect(status == 0, "the client saw the stream end cleanly")
    }
}
