import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A real PostgreSQL server on a free 127.0.0.1 port, with its cluster in a temporary folder
/// (`initdb` and `pg_ctl` of the Debian `postgresql` package), for integration tests.
///
/// Tests share one server per test process (``shared()``, started on first use and stopped
/// with `pg_ctl stop -m immediate` when the process exits) and take a fresh database each
/// (``createDatabase()``), so they run in parallel. A server of your own (to stop or kill
/// in a test) is ``start()``ed and ``stop()``ped by the test, or stopped when it goes away.
///
/// PostgreSQL refuses to run as root: as root (CI), `initdb` and `pg_ctl` run as the `postgres`
/// user (`runuser -u postgres --`), which owns the folder. Connections use the `crowdkit`
/// superuser with trust authentication, on TCP.
public final class PostgresServer: Sendable {
    /// The cluster's folder (data, socket, log).
    public let directory: URL
    /// The TCP port on 127.0.0.1.
    public let port: Int
    /// The superuser every test connects as (no password: trust authentication).
    public let user = "crowdkit"
    private let binDirectory: String
    /// Whether the server runs (touched by start and stop only).
    private let started = Mutex(false)
    /// The `pg_ctl start` processes, kept until the server stops.
    private let starters = Mutex<[Process]>([])

    /// Makes the cluster folder and picks a port; nothing runs before ``start()``.
    public init() throws {
        guard let bin = Self.findBinDirectory() else {
            throw BrokerError("PostgreSQL's initdb and pg_ctl not found (apt-get install postgresql)")
        }
        binDirectory = bin
        directory = URL(fileURLWithPath: "/tmp/crowdkit-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try MosquittoBroker.freePort()
        if getuid() == 0 {
            // PostgreSQL will not run as root: the cluster belongs to the postgres user
            try runTool("chown", ["postgres:postgres", directory.path], in: directory)
        }
    }

    deinit { stop() }

    /// `postgres://crowdkit@127.0.0.1:<port>/<database>`.
    public func url(database: String) -> String { "postgres://\(user)@127.0.0.1:\(port)/\(database)" }

    /// `initdb` (first time only) and `pg_ctl start`, waiting until the server accepts
    /// connections.
    public func start() async throws {
        try await offThePool { try self.startBlocking() }
    }

    private func startBlocking() throws {
        let data = directory.appendingPathComponent("data").path
        if !FileManager.default.fileExists(atPath: data) {
            try run("initdb", ["-D", data, "-U", user, "--auth=trust", "-N", "-E", "UTF8", "--locale=C"])
        }
        let options = [
            "-p \(port)", "-k \(directory.path)", "-c listen_addresses=127.0.0.1", "-c fsync=off",
            "-c synchronous_commit=off", "-c full_page_writes=off", "-c max_connections=300",
        ].joined(separator: " ")
        // Not waited for with Process.waitUntilExit: the server pg_ctl leaves running inherits the
        // descriptor Foundation watches for the child's exit, so that wait would last as long as
        // the server. pg_isready says when it accepts connections instead.
        //
        // The server outlives this call and would inherit every descriptor of the test process
        // that is not close-on-exec, sockets of other tests' HTTP servers and clients among
        // them: a connection the test closes would stay open in the server, its peer would never
        // see the end, and the test would time out. So pg_ctl starts from a shell that first
        // closes every inherited socket.
        let p = Process()
        let pgCtl = URL(fileURLWithPath: binDirectory).appendingPathComponent("pg_ctl").path
        var command = [pgCtl, "-D", data, "-o", options, "-l", logFile, "start"]
        if getuid() == 0 {
            guard let runuser = findTool("runuser") else { throw BrokerError("runuser not found (util-linux)") }
            command = [runuser, "-u", "postgres", "--"] + command
        }
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [
            "-c",
            #"for fd in /proc/$$/fd/*; do n=${fd##*/}; case "$(readlink "$fd")" in socket:*) eval "exec $n>&-";; esac; done; exec "$@""#,
            "pg_ctl-start",
        ] + command
        p.currentDirectoryURL = directory
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        starters.withLock { $0.append(p) }
        started.withLock { $0 = true }
        let pgIsReady = URL(fileURLWithPath: binDirectory).appendingPathComponent("pg_isready").path
        let deadline = ContinuousClock.now + scaled(.seconds(60))
        while ContinuousClock.now < deadline {
            let (status, _) = try runToolCapturing(pgIsReady, ["-h", "127.0.0.1", "-p", "\(port)", "-U", user, "-d", "postgres"])
            if status == 0 { return }
            if !p.isRunning, p.terminationStatus != 0 { throw BrokerError("pg_ctl start failed (\(p.terminationStatus)): \(log)") }
            usleep(50_000)
        }
        throw BrokerError("PostgreSQL did not accept connections on \(port) in time: \(log)")
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`: an outage, not a clean shutdown).
    /// The folder stays, so ``start()`` brings the same cluster back.
    public func kill() {
        let wasRunning = started.withLock { s -> Bool in
            defer { s = false }
            return s
        }
        guard wasRunning else { return }
        _ = try? run("pg_ctl", ["-D", directory.appendingPathComponent("data").path, "-m", "immediate", "-w", "stop"])
    }

    /// Stops the server and removes its folder.
    public func stop() {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    /// A new empty database (named `t_<random>`); returns its name.
    public func createDatabase() async throws -> String {
        try await offThePool { try self.createDatabaseBlocking() }
    }

    private func createDatabaseBlocking() throws -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        let createdb = URL(fileURLWithPath: binDirectory).appendingPathComponent("createdb").path
        let (status, output) = try runToolCapturing(
            createdb, ["-h", "127.0.0.1", "-p", "\(port)", "-U", user, "-T", "template0", name])
        guard status == 0 else { throw BrokerError("createdb \(name) failed: \(output)\n\(log)") }
        return name
    }

    /// The server's log.
    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    private var logFile: String { directory.appendingPathComponent("postgres.log").path }

    /// Runs a server tool, as the postgres user when this process is root.
    @discardableResult
    private func run(_ tool: String, _ args: [String]) throws -> String {
        let path = URL(fileURLWithPath: binDirectory).appendingPathComponent(tool).path
        let (status, output): (Int32, String)
        if getuid() == 0 {
            guard let runuser = findTool("runuser") else { throw BrokerError("runuser not found (util-linux)") }
            (status, output) = try runToolCapturing(runuser, ["-u", "postgres", "--", path] + args, in: directory)
        } else {
            (status, output) = try runToolCapturing(path, args, in: directory)
        }
        guard status == 0 else { throw BrokerError("\(tool) \(args.joined(separator: " ")) failed (\(status)): \(output)\n\(log)") }
        return output
    }

    /// The folder of `initdb` and `pg_ctl`: where `$PATH` finds them, else the newest
    /// `/usr/lib/postgresql/<version>/bin` (Debian does not put them on the `PATH`).
    static func findBinDirectory() -> String? {
        if let initdb = findTool("initdb") {
            let resolved = URL(fileURLWithPath: initdb).resolvingSymlinksInPath()
            let dir = resolved.deletingLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("pg_ctl").path),
                FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("createdb").path)
            {
                return dir.path
            }
        }
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for v in versions {
            let dir = "/usr/lib/postgresql/\(v)/bin"
            if FileManager.default.isExecutableFile(atPath: dir + "/initdb") { return dir }
        }
        return nil
    }

    // MARK: - One server per test process

    /// The process's server, started on first use; stopped when the process exits. Tests wait
    /// for it without holding a thread of the cooperative pool (``offThePool(_:)``).
    public static func shared() async throws -> PostgresServer {
        let task = sharedServer.withLock { t in
            if let t { return t }
            let started = Task {
                try await offThePool {
                    let server = try PostgresServer()
                    do {
                        try server.startBlocking()
                    } catch {
                        server.stop()
                        throw error
                    }
                    sharedStarted.withLock { $0 = server }
                    atexit { stopSharedPostgresServer() }
                    return server
                }
            }
            t = started
            return started
        }
        return try await task.value
    }
}

/// Runs blocking work (child processes and waits for them) on a thread of its own, not on the
/// cooperative pool: on a 2-core machine that pool has two threads, and tests blocking them for
/// seconds (initdb, pg_ctl, createdb) stalled every other test of the process.
public func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.start()
    }
}

/// The server of ``PostgresServer/shared()``: test support, one per test process.
private let sharedServer = Mutex<Task<PostgresServer, any Error>?>(nil)
/// The started server, for the exit handler (which cannot wait for a task).
private let sharedStarted = Mutex<PostgresServer?>(nil)

private func stopSharedPostgresServer() {
    sharedStarted.withLock { $0?.stop() }
}
