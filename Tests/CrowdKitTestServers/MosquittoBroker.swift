import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real `mosquitto` process on a free 127.0.0.1 port, with its config in a temporary folder,
/// for integration tests. Stopped (and the folder removed) by ``stop()``; call it in a `defer`.
///
/// ```swift
/// let broker = try MosquittoBroker()
/// try await broker.start()
/// defer { broker.stop() }
/// ```
public final class MosquittoBroker: @unchecked Sendable {
    // @unchecked: `process` is only touched by the test that owns the broker, one call at a time.
    /// The broker's folder (config, log, and whatever files a test puts there).
    public let directory: URL
    /// The TCP port on 127.0.0.1.
    public let port: Int
    /// The configuration written to `mosquitto.conf`.
    public let config: String
    private var process: Process?

    /// Starts mosquitto with `listener <port> 127.0.0.1`, `allow_anonymous true` unless `extra`
    /// says otherwise, and `extra` appended (paths in it may use `$DIR`).
    public init(extra: String = "", anonymous: Bool = true) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("crowdkit-mqtt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try Self.freePort()
        config = """
            listener \(port) 127.0.0.1
            allow_anonymous \(anonymous)
            persistence false
            max_queued_messages 0
            user root
            log_dest file \(directory.path)/mosquitto.log
            log_type error
            log_type warning
            log_type notice
            \(extra.replacingOccurrences(of: "$DIR", with: directory.path))

            """
        try config.write(to: directory.appendingPathComponent("mosquitto.conf"), atomically: true, encoding: .utf8)
    }

    /// Starts (or restarts) the process and waits until the port accepts connections.
    public func start() async throws {
        let p = Process()
        guard let mosquitto = findTool("mosquitto") else { throw BrokerError("mosquitto not found (apt-get install mosquitto)") }
        p.executableURL = URL(fileURLWithPath: mosquitto)
        p.arguments = ["-c", directory.appendingPathComponent("mosquitto.conf").path]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        // Generous: under ThreadSanitizer with the whole suite running in parallel on two cores,
        // this loop itself may get to run only every few seconds.
        let deadline = ContinuousClock.now + scaled(.seconds(60))
        while ContinuousClock.now < deadline {
            if Self.canConnect(port: port) { return }
            guard p.isRunning else { throw BrokerError("mosquitto exited: \(log)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BrokerError("mosquitto did not listen on \(port) (\(Self.connectError(port: port) ?? "connects now")): \(log)")
    }

    /// Kills the broker with SIGKILL (an outage, not a clean shutdown) and waits for it to exit.
    public func kill() {
        guard let p = process, p.isRunning else { return }
        Glibc.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    /// Stops the broker (SIGKILL: children of the test process may inherit a signal mask that
    /// blocks SIGTERM) and removes its folder.
    public func stop() {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    public var log: String { (try? String(contentsOf: directory.appendingPathComponent("mosquitto.log"), encoding: .utf8)) ?? "" }

    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BrokerError("socket() failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, len) == 0 && getsockname(fd, sa, &len) == 0
            }
        }
        guard ok else { throw BrokerError("bind() failed") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    public static func canConnect(port: Int) -> Bool { connectError(port: port) == nil }

    /// `nil` when a TCP connection to 127.0.0.1:`port` succeeds, else the failing call and errno.
    public static func connectError(port: Int) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return "socket: errno \(errno)" }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let status = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return status == 0 ? nil : "connect: errno \(errno)"
    }
}

/// A broker or tool that would not start.
public struct BrokerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// The path of a command line tool: `$PATH`, then the usual sbin folders (mosquitto lives in
/// `/usr/sbin` on Debian, which is not always on a test runner's `PATH`).
public func findTool(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let dirs = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin", "/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"]
    return dirs.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Runs a command line tool (openssl, mosquitto_passwd; a name or a path) and throws with its
/// output if it fails.
public func runTool(_ tool: String, _ args: [String], in dir: URL) throws {
    guard let path = tool.contains("/") ? tool : findTool(tool) else { throw BrokerError("\(tool) not found") }
    let (status, out) = try runToolCapturing(path, args, in: dir)
    guard status == 0 else { throw BrokerError("\(path) \(args.joined(separator: " ")) failed: \(out)") }
}

/// Runs a tool (a path) to its end and returns its exit status and its output (standard output
/// and error together).
public func runToolCapturing(_ path: String, _ args: [String], in dir: URL? = nil) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    if let dir { p.currentDirectoryURL = dir }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: out, as: UTF8.self))
}

/// A test CA, a server certificate for 127.0.0.1/localhost signed by it, and an unrelated CA.
public struct TestCertificates {
    public let dir: URL
    public var caFile: String { dir.appendingPathComponent("ca.crt").path }
    public var otherCAFile: String { dir.appendingPathComponent("other-ca.crt").path }
    public var serverCert: String { dir.appendingPathComponent("server.crt").path }
    public var serverKey: String { dir.appendingPathComponent("server.key").path }

    /// Makes the files with the `openssl` command line tool.
    public init(in dir: URL) throws {
        self.dir = dir
        guard let openssl = findTool("openssl") else { throw BrokerError("openssl not found") }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try runTool(openssl, ["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=CrowdKit Test CA"], in: dir)
        try runTool(openssl, ["req", "-x509"] + ec + ["-keyout", "other-ca.key", "-out", "other-ca.crt", "-days", "2", "-subj", "/CN=Some Other CA"], in: dir)
        try runTool(openssl, ["req"] + ec + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"], in: dir)
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(to: dir.appendingPathComponent("san.ext"), atomically: true, encoding: .utf8)
        try runTool(openssl, ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext"], in: dir)
    }
}

/// An MV Sense zone-count payload.
public func countPayload(ts: Int64, people: Int) -> String {
    "{\"ts\":\(ts),\"counts\":{\"person\":\(people),\"vehicle\":0}}"
}
