import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real Prometheus Alertmanager (`alertmanager`, Debian's `prometheus-alertmanager`) on a free
/// 127.0.0.1 port, clustering off, with its config and storage in a temporary folder. Its one
/// receiver is a webhook to `webhookURL` (with `send_resolved`), grouping by `alertname` with
/// no wait and a one-second group interval, so a test sees firing and resolved notifications
/// within seconds. Stop it with ``stop()`` in a `defer`.
public final class AlertmanagerServer: @unchecked Sendable {
    // @unchecked: `process` is only touched by the test that owns the server, one call at a time.
    public let directory: URL
    public let port: Int
    private var process: Process?

    /// The API base URL (`http://127.0.0.1:<port>`).
    public var baseURL: URL {
        URL(string: "http://127.0.0.1:\(port)") ?? URL(fileURLWithPath: "/")
    }

    public init(webhookURL: URL) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("crowdkit-alertmanager-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try MosquittoBroker.freePort()
        let config = """
            route:
              receiver: test
              group_by: [alertname, camera, zone]
              group_wait: 0s
              group_interval: 1s
              repeat_interval: 1h
            receivers:
              - name: test
                webhook_configs:
                  - url: "\(webhookURL.absoluteString)"
                    send_resolved: true

            """
        try config.write(to: directory.appendingPathComponent("alertmanager.yml"), atomically: true, encoding: .utf8)
    }

    /// The binary: `alertmanager` or Debian's `prometheus-alertmanager`.
    public static var tool: String? { findTool("alertmanager") ?? findTool("prometheus-alertmanager") }

    /// Starts the process and waits (polling with `Task.sleep`) until its API answers.
    public func start() async throws {
        guard let path = Self.tool else {
            throw BrokerError("alertmanager not found (apt-get install prometheus-alertmanager)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = [
            "--config.file=\(directory.appendingPathComponent("alertmanager.yml").path)",
            "--storage.path=\(directory.appendingPathComponent("data").path)",
            "--web.listen-address=127.0.0.1:\(port)",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        let log = FileManager.default.createFile(atPath: logPath, contents: nil) ? FileHandle(forWritingAtPath: logPath) : nil
        p.standardOutput = log ?? FileHandle.nullDevice
        p.standardError = log ?? FileHandle.nullDevice
        try p.run()
        process = p
        let deadline = ContinuousClock.now + scaled(.seconds(60))
        while ContinuousClock.now < deadline {
            if MosquittoBroker.canConnect(port: port) { return }
            guard p.isRunning else { throw BrokerError("alertmanager exited: \(self.log)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BrokerError("alertmanager did not listen on \(port): \(self.log)")
    }

    private var logPath: String { directory.appendingPathComponent("alertmanager.log").path }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Kills the process (SIGKILL) and removes the folder.
    public func stop() {
        if let p = process, p.isRunning {
            Glibc.kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        process = nil
        try? FileManager.default.removeItem(at: directory)
    }
}
