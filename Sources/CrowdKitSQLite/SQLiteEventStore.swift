import CrowdKitCore
import Foundation
import GRDB
import Logging

/// The durable ``EventStore``: crowd events and their delivery outbox in one SQLite file (GRDB,
/// WAL mode, a pool of concurrent readers and one writer).
///
/// ## Durability and the at-least-once boundary
/// Every ``apply(_:)`` is one SQLite transaction: the event upsert and the new delivery records
/// commit together or not at all, so a notification is due exactly when its event is stored.
/// A delivery stays `pending` until ``updateDelivery(_:)`` commits its new status. After a crash
/// or restart, ``pendingDeliveries(limit:)`` hands out every delivery that was pending when the
/// process stopped, including one whose send was in flight. So a notifier sends the same
/// delivery twice only when the process stopped after the remote side accepted the message and
/// before its `sent` status was committed; otherwise never (delivery ids are deterministic, so
/// re-processing the feed never enqueues a second delivery). Notifiers pass
/// ``Delivery/id`` as an idempotency key where the remote side supports one.
///
/// With the default `synchronous = NORMAL` in WAL mode, committed transactions survive a process
/// crash; the last transactions before a power loss or OS crash may be lost. Set
/// ``Configuration/fullSync`` to survive those too, at the cost of one fsync per write.
///
/// ## Retention
/// ``run()`` (or ``runRetention(interval:)``) deletes events older than
/// ``Configuration/retentionDays`` once an hour (configurable) until the task is cancelled; the
/// app runs it as a service. ``prune(startedBefore:)`` does the work and can be called directly.
///
/// ## Schema
/// Named migrations (see ``SQLiteEventStore/migrationNames``) are never edited once shipped; a
/// schema change is a new migration appended to the list.
public final class SQLiteEventStore: EventStore {
    /// How to open the store.
    public struct Configuration: Sendable {
        /// The database file. Created with its directory's permissions when missing.
        public var path: String
        /// Events are kept this many days after they started; `nil` keeps them forever.
        /// Default 90.
        public var retentionDays: Int?
        /// How often the retention loop prunes. Default one hour.
        public var retentionInterval: Duration
        /// `PRAGMA synchronous = FULL` (fsync on every commit) instead of `NORMAL`. Default off.
        public var fullSync: Bool
        /// Maximum concurrent readers. Default 8.
        public var maximumReaders: Int
        /// How long a write waits for a lock held by another process. Default 5 s.
        public var busyTimeout: Duration
        /// SQLite page cache of the writer connection, in MiB (SQLite's own default is 2).
        /// Default 8: event ids and start times grow, so inserts touch the right-most pages of
        /// each index, which stay in it even with a million events.
        public var pageCacheMiB: Int
        /// Page cache of each reader connection (up to ``maximumReaders`` of them), in MiB. Default
        /// 4: the caches fill as the file grows, so this bounds what they take (4 × 8 MiB).
        public var readerPageCacheMiB: Int
        /// Bytes of the file SQLite may memory-map, in MiB (reads without a system call each);
        /// 0 (the default) turns memory mapping off.
        public var memoryMapMiB: Int

        public init(
            path: String, retentionDays: Int? = 90, retentionInterval: Duration = .seconds(3600),
            fullSync: Bool = false, maximumReaders: Int = 8, busyTimeout: Duration = .seconds(5),
            pageCacheMiB: Int = 8, readerPageCacheMiB: Int = 4, memoryMapMiB: Int = 0
        ) {
            self.readerPageCacheMiB = readerPageCacheMiB
            self.path = path
            self.retentionDays = retentionDays
            self.retentionInterval = retentionInterval
            self.fullSync = fullSync
            self.maximumReaders = maximumReaders
            self.busyTimeout = busyTimeout
            self.pageCacheMiB = pageCacheMiB
            self.memoryMapMiB = memoryMapMiB
        }
    }

    public let configuration: Configuration
    let pool: DatabasePool
    /// The zone states as stored, block by block (see `SQLiteEventStore+ZoneStates.swift`).
    let zoneStateMirror = ZoneStateMirror()
    let groupCommit = GroupCommit()
    let logger: Logger
    let now: @Sendable () -> Int64

    /// Opens (or creates) the store at `configuration.path` and runs the pending migrations.
    ///
    /// - Parameter now: the clock retention measures against, epoch milliseconds. Events carry
    ///   camera time, which follows the host clock closely enough for days of retention.
    /// - Throws: ``EventStoreError`` `.unavailable` when the file cannot be opened or migrated.
    public init(
        configuration: Configuration, logger: Logger,
        now: @escaping @Sendable () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
    ) throws {
        self.configuration = configuration
        self.logger = logger
        self.now = now
        if let days = configuration.retentionDays, days < 1 {
            throw EventStoreError(.invalid, "retention must be at least 1 day, got \(days)")
        }
        var config = GRDB.Configuration()
        config.maximumReaderCount = max(1, configuration.maximumReaders)
        config.busyMode = .timeout(configuration.busyTimeout.timeInterval)
        config.label = "crowdkit.events"
        let fullSync = configuration.fullSync
        let cacheKiB = max(1, configuration.pageCacheMiB) * 1024
        let readerCacheKiB = max(1, configuration.readerPageCacheMiB) * 1024
        let mmapBytes = max(0, configuration.memoryMapMiB) * 1024 * 1024
        config.prepareDatabase { db in
            try db.execute(sql: fullSync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
            // A bigger page cache than SQLite's 2 MiB for the writer: with a million events the
            // id and time indexes no longer fit it, and inserts thrash. Readers (read-only
            // connections of the pool) get a smaller one each.
            try db.execute(sql: "PRAGMA cache_size = -\(db.configuration.readonly ? readerCacheKiB : cacheKiB)")
            try db.execute(sql: "PRAGMA mmap_size = \(mmapBytes)")
        }
        do {
            pool = try DatabasePool(path: configuration.path, configuration: config)
            try Self.migrator.migrate(pool)
            let superseded = try pool.read { try Self.migrator.hasBeenSuperseded($0) }
            if superseded {
                logger.warning(
                    "event store was written by a newer version; unknown migrations are ignored",
                    metadata: ["store.path": "\(configuration.path)"])
            }
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw Self.wrap(error, "cannot open \(configuration.path)")
        }
        logger.debug("event store open", metadata: ["store.path": "\(configuration.path)"])
    }

    /// Convenience: opens the store at `path` with default settings.
    public convenience init(path: String, logger: Logger) throws {
        try self.init(configuration: Configuration(path: path), logger: logger)
    }

    // MARK: - Database access with error mapping

    // Reads and writes from async code go through GRDB's asynchronous access: the closure runs on
    // GRDB's own reader or writer queue, never on a thread of Swift's cooperative pool (on which
    // detection and delivery run), however long a checkpoint, a busy lock or a slow disk makes it
    // wait. The group commit writes on a queue of its own the same way.

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw Self.wrap(error, "read failed")
        }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(body)
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw Self.wrap(error, "write failed")
        }
    }

    /// Only on the group commit's own queue.
    func writeNow<T>(_ body: (Database) throws -> T) throws -> T { try pool.write(body) }

    /// Maps a GRDB or system error to an ``EventStoreError`` without SQL arguments (which could
    /// hold data from the network) in the message.
    static func wrap(_ error: any Error, _ context: String) -> EventStoreError {
        if let db = error as? DatabaseError {
            return EventStoreError(
                .unavailable, "\(context): sqlite \(db.resultCode.rawValue) \(db.message ?? "error")")
        }
        if error is CancellationError { return EventStoreError(.unavailable, "\(context): cancelled") }
        return EventStoreError(.unavailable, "\(context): \(error)")
    }
}

extension Duration {
    fileprivate var timeInterval: TimeInterval {
        let (s, attos) = components
        return TimeInterval(s) + TimeInterval(attos) / 1e18
    }
}
