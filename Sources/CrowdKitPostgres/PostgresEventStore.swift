import CrowdKitCore
import Foundation
import Logging
import PostgresNIO


/// The ``EventStore`` (with ``ZoneStateStore`` and ``SettingsStore``) on PostgreSQL, for several
/// instances sharing one outbox, one event log and one set of settings.
///
/// ## Running it
/// The store holds a PostgresNIO connection pool (`PostgresClient`) that works only while
/// ``run()`` runs: run it as a swift-service-lifecycle `Service` (the app does, first in its
/// `ServiceGroup`) or in a task of your own, and cancel that task to close the pool. ``run()``
/// connects, retrying with back-off while the server cannot be reached (one log line per
/// attempt), takes the migration lock, applies the pending migrations, then prunes old events
/// until cancelled. Calls made before the store is ready wait for it up to
/// ``PostgresStoreConfiguration/readyTimeout`` and then throw `EventStoreError` `.unavailable`.
///
/// ```swift
/// let store = try PostgresEventStore(
///     configuration: try PostgresStoreConfiguration(url: "postgres://crowdkit:secret@db:5432/crowdkit"),
///     logger: logger)
/// try await withThrowingDiscardingTaskGroup { group in
///     group.addTask { try await store.run() }
///     try await store.apply(change)   // waits until connected and migrated
///     group.cancelAll()
/// }
/// ```
///
/// ## Several instances, one outbox
/// ``claimDeliveries(_:)`` locks the rows it leases with `FOR UPDATE SKIP LOCKED`: two claims at
/// once (two workers, two processes, two hosts) never lease the same delivery, and neither waits
/// for the other. A lease that ended is claimable again; ``updateDelivery(_:)`` ends it.
///
/// ## Durability and the at-least-once boundary
/// As with the SQLite store: every ``apply(_:)`` is one transaction (the event and its new
/// deliveries commit together), and a delivery is sent twice only when its sender stopped after
/// the remote side accepted it and before its `sent` status was committed.
///
/// ## Schema
/// Versioned migrations (``migrations``) in a `schema_migrations` table, each in its own
/// transaction, under a PostgreSQL advisory lock so that instances starting at once migrate
/// once. A database migrated by a newer build (a version this one does not know) is refused:
/// ``run()`` throws, naming both versions.
public final class PostgresEventStore: EventStore, Sendable {
    public let configuration: PostgresStoreConfiguration
    let client: PostgresClient
    let connectionConfiguration: PostgresConnection.Configuration
    let logger: Logger
    let readiness = Readiness()
    let now: @Sendable () -> Int64
    private let running = LockedBox(false)

    /// Makes the store (and its pool); nothing connects before ``run()``.
    ///
    /// - Parameter now: the clock retention measures against, epoch milliseconds.
    /// - Throws: `EventStoreError` `.invalid` for a configuration that cannot work (a retention
    ///   under one day, an unreadable CA file).
    public init(
        configuration: PostgresStoreConfiguration, logger: Logger,
        now: @escaping @Sendable () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
    ) throws {
        if let days = configuration.retentionDays, days < 1 {
            throw EventStoreError(.invalid, "retention must be at least 1 day, got \(days)")
        }
        self.configuration = configuration
        self.logger = logger
        self.now = now
        let clientConfiguration = try configuration.clientConfiguration()
        client = PostgresClient(configuration: clientConfiguration)
        connectionConfiguration = try configuration.connectionConfiguration()
    }

    /// Convenience: the store at `url` (`postgres://user:password@host:port/database`) with
    /// default settings.
    public convenience init(url: String, logger: Logger) throws {
        try self.init(configuration: PostgresStoreConfiguration(url: url), logger: logger)
    }

    /// Whether the store has connected and migrated (for readiness checks).
    public var isReady: Bool { readiness.isReady }

    // MARK: - Running

    /// Runs the pool, connects (retrying with back-off), migrates, then runs the retention loop,
    /// until the task is cancelled. Returns when cancelled.
    ///
    /// - Throws: `EventStoreError` `.invalid` when the database's schema is newer than this
    ///   build, or when ``run()`` is already running.
    public func run() async throws {
        let first = running.withLock { r -> Bool in
            defer { r = true }
            return !r
        }
        guard first else { throw EventStoreError(.invalid, "PostgresEventStore.run() is already running") }
        try await withThrowingDiscardingTaskGroup { group in
            defer { group.cancelAll() }
            group.addTask { await self.client.run() }
            do {
                try await connectAndMigrate()
            } catch is CancellationError {
                return
            }
            readiness.markReady()
            await runRetention()
        }
    }

    /// Connection attempts until one connects and migrates: a failure is logged (one line per
    /// attempt, the password never in it) and retried after a doubling delay.
    func connectAndMigrate() async throws {
        var delay = configuration.initialRetryDelay
        var attempt = 1
        while true {
            do {
                let version = try await migrate()
                logger.notice(
                    "event store ready on PostgreSQL",
                    metadata: ["store.url": "\(configuration.redactedURL)", "store.schemaVersion": "\(version)"])
                return
            } catch let error as EventStoreError where error.code == .invalid {
                readiness.fail(error)
                logger.critical("\(error.message)", metadata: ["store.url": "\(configuration.redactedURL)"])
                throw error
            } catch {
                try Task.checkCancellation()
                let reason = Self.describe(error)
                readiness.attemptFailed(reason)
                logger.error(
                    "cannot reach PostgreSQL (attempt \(attempt)): \(reason); next attempt in \(delay.seconds) s",
                    metadata: ["store.url": "\(configuration.redactedURL)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, configuration.maximumRetryDelay)
                attempt += 1
            }
        }
    }

    // MARK: - Database access with error mapping

    /// Runs one statement on a pooled connection and returns its rows, once the store is ready.
    @discardableResult
    func query(_ query: PostgresQuery, _ context: @autoclosure () -> String) async throws -> [PostgresRow] {
        try await readiness.wait(timeout: configuration.readyTimeout)
        let context = context()
        let logger = self.logger
        do {
            return try await answered(context) { connection in try await connection.query(query, logger: logger).collect() }
        } catch {
            throw Self.wrap(error, context)
        }
    }

    /// Runs `body` in one transaction on one pooled connection, once the store is ready: commits
    /// when it returns, rolls back when it throws (and rethrows its error as it was, mapped to an
    /// ``EventStoreError`` when it is a database error).
    func transaction<T: Sendable>(
        _ context: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await readiness.wait(timeout: configuration.readyTimeout)
        let logger = self.logger
        do {
            return try await answered(context) { connection in try await Self.inTransaction(connection, logger: logger, body) }
        } catch let error as EventStoreError {
            throw error
        } catch let error as SettingsStoreError {
            throw error
        } catch {
            throw Self.wrap(error, context)
        }
    }

    /// The result of `operation` on a pooled connection, or `EventStoreError` `.unavailable`
    /// once ``PostgresStoreConfiguration/requestTimeout`` has passed without one (PostgreSQL lost
    /// while running: the pool keeps a call waiting for a new connection up to a minute, and the
    /// monitor's writes and delivery must learn of the outage sooner).
    ///
    /// Nothing is cancelled: cancelling a transaction half-way could hand its connection back to
    /// the pool inside the transaction. A call still waiting for a connection when it timed out
    /// gives it back untouched once it gets one (so a write given up on is not made later); one
    /// that was already running on its connection completes (every write here is idempotent,
    /// so the caller's retry is harmless).
    func answered<T: Sendable>(
        _ context: String, _ operation: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let timeout = configuration.requestTimeout
        let client = self.client
        // the caller's continuation until one of the two ends it; then `nil`, and the call is
        // abandoned if it has not started
        let waiting = LockedBox<CheckedContinuation<T, any Error>?>(nil)
        @Sendable func finish(_ result: Result<T, any Error>) {
            waiting.withLock { k in
                k?.resume(with: result)
                k = nil
            }
        }
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            waiting.withLock { $0 = continuation }
            let timer = Task {
                try await Task.sleep(for: timeout)
                finish(.failure(EventStoreError(.unavailable, "\(context): PostgreSQL did not answer within \(timeout.seconds) s")))
            }
            Task {
                let result: Result<T, any Error>
                do {
                    result = .success(
                        try await client.withConnection { connection in
                            guard waiting.withLock({ $0 != nil }) else {
                                throw EventStoreError(.unavailable, "\(context): given up before a connection was free")
                            }
                            return try await operation(connection)
                        })
                } catch {
                    result = .failure(error)
                }
                timer.cancel()
                finish(result)
            }
        }
    }

    /// `BEGIN`, `body`, `COMMIT`; `ROLLBACK` and the body's own error when it throws.
    static func inTransaction<T: Sendable>(
        _ connection: PostgresConnection, logger: Logger, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await connection.query("BEGIN", logger: logger)
        let value: T
        do {
            value = try await body(connection)
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
        try await connection.query("COMMIT", logger: logger)
        return value
    }

    /// Maps a PostgresNIO or system error to an ``EventStoreError`` without SQL arguments (which
    /// could hold data from the network) or connection secrets in the message.
    static func wrap(_ error: any Error, _ context: String) -> EventStoreError {
        if let e = error as? EventStoreError { return e }
        if error is CancellationError { return EventStoreError(.unavailable, "\(context): cancelled") }
        return EventStoreError(.unavailable, "\(context): \(describe(error))")
    }

    /// A PostgresNIO error in words: the server's SQLSTATE and message, or the connection
    /// failure. Never the query's arguments or the password.
    static func describe(_ error: any Error) -> String {
        if let e = error as? PSQLError {
            if let info = e.serverInfo {
                let state = info[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
                return "PostgreSQL: \(info[.message] ?? "error")\(state)"
            }
            if let underlying = e.underlying { return "\(e.code): \(describe(underlying))" }
            return "\(e.code)"
        }
        return "\(error)"
    }

    /// The SQLSTATE of a server error, if `error` is one.
    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }
}

extension Duration {
    /// Seconds, as a `Double`.
    var seconds: Double {
        let (s, attos) = components
        return Double(s) + Double(attos) / 1e18
    }
}
