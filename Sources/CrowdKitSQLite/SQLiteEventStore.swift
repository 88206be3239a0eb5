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
        /// SQLite page cache per connection, in MiB (SQLite's own default is 2). Default 16.
        public var pageCacheMiB: Int
        /// Bytes of the file SQLite may memory-map, in MiB (reads without a system call each);
        /// 0 (the default) turns memory mapping off.
        public var memoryMapMiB: Int

        public init(
            path: String, retentionDays: Int? = 90, retentionInterval: Duration = .seconds(3600),
            fullSync: Bool = false, maximumReaders: Int = 8, busyTimeout: Duration = .seconds(5),
            pageCacheMiB: Int = 16, memoryMapMiB: Int = 0
        ) {
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
    /// Records in the zone-state journal and zones after its last compaction (see
    /// `SQLiteEventStore+ZoneStates.swift`); `nil` until first read.
    let zoneStateJournal = ZoneStateJournalCounters()
    private let groupCommit = GroupCommit()
    let logger: Logger
    private let now: @Sendable () -> Int64

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
        let mmapBytes = max(0, configuration.memoryMapMiB) * 1024 * 1024
        config.prepareDatabase { db in
            try db.execute(sql: fullSync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
            // A bigger page cache than SQLite's 2 MiB: with a million events the id and time
            // indexes no longer fit it, and inserts thrash.
            try db.execute(sql: "PRAGMA cache_size = -\(cacheKiB)")
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

    // MARK: - Schema

    /// The names of the migrations this version knows, in order.
    public static var migrationNames: [String] { migrations.map(\.name) }

    private static let migrations: [(name: String, sql: String)] = [
        (
            "2026-11-28 v1 events and deliveries",
            """
            CREATE TABLE events (
                id TEXT PRIMARY KEY NOT NULL,
                camera TEXT NOT NULL,
                zone TEXT NOT NULL,
                cameraName TEXT,
                zoneName TEXT,
                startedAt INTEGER NOT NULL,
                firedAt INTEGER NOT NULL,
                endedAt INTEGER,
                peak INTEGER NOT NULL,
                lastCount INTEGER NOT NULL,
                lastNotifiedAt INTEGER NOT NULL,
                reminders INTEGER NOT NULL,
                policyName TEXT NOT NULL,
                policyParameters TEXT NOT NULL,
                videoURL TEXT,
                visionURL TEXT,
                snapshotURL TEXT,
                enrichmentNotes TEXT NOT NULL
            );
            CREATE INDEX events_newest ON events (startedAt DESC, id DESC);
            CREATE INDEX events_camera_newest ON events (camera, startedAt DESC, id DESC);
            CREATE INDEX events_zone_newest ON events (zone, startedAt DESC, id DESC);
            CREATE TABLE deliveries (
                id TEXT PRIMARY KEY NOT NULL,
                eventID TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
                notifier TEXT NOT NULL,
                kind TEXT NOT NULL,
                sequence INTEGER NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
                remoteID TEXT,
                failureReason TEXT,
                attempts INTEGER NOT NULL,
                createdAt INTEGER NOT NULL,
                updatedAt INTEGER NOT NULL
            );
            CREATE INDEX deliveries_event ON deliveries (eventID);
            CREATE INDEX deliveries_pending ON deliveries (createdAt, id) WHERE status = 'pending';
            """
        ),
        (
            name: "v2-fired-count",
            sql: "ALTER TABLE events ADD COLUMN firedCount INTEGER;"
        ),
        (
            // A page filtered by camera and zone (the common case: a zone id belongs to one
            // camera, except "0") reads exactly its rows from events_camera_zone_newest, instead
            // of checking about 20 candidate rows per result on a store of a million events.
            // Event ids and start times grow, so the new index also grows at its end and
            // inserting stays cheap.
            name: "v3-camera-zone-index",
            sql: "CREATE INDEX events_camera_zone_newest ON events (camera, zone, startedAt DESC, id DESC);"
        ),
        (
            // Deliveries that are retried until they are sent or too old: the `expired` status
            // (and `suppressed`, for mutes) and the last error of a delivery still retried.
            // SQLite cannot change a CHECK constraint, so the table is rebuilt (once).
            name: "v4-delivery-expiry",
            sql: """
                CREATE TABLE deliveries_v4 (
                    id TEXT PRIMARY KEY NOT NULL,
                    eventID TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
                    notifier TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'expired', 'suppressed')),
                    remoteID TEXT,
                    failureReason TEXT,
                    attempts INTEGER NOT NULL,
                    createdAt INTEGER NOT NULL,
                    updatedAt INTEGER NOT NULL,
                    lastError TEXT
                );
                INSERT INTO deliveries_v4 (id, eventID, notifier, kind, sequence, status, remoteID, failureReason, attempts, createdAt, updatedAt)
                    SELECT id, eventID, notifier, kind, sequence, status, remoteID, failureReason, attempts, createdAt, updatedAt FROM deliveries;
                DROP TABLE deliveries;
                ALTER TABLE deliveries_v4 RENAME TO deliveries;
                CREATE INDEX deliveries_event ON deliveries (eventID);
                CREATE INDEX deliveries_pending ON deliveries (createdAt, id) WHERE status = 'pending';
                """
        ),
        (
            // Each zone's detection state (SEMANTICS §7), as a journal of chunks: one row per
            // save (every zone that changed in about a second), compacted now and then.
            name: "v5-zone-state-journal",
            sql: """
                CREATE TABLE zone_state_chunks (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    records INTEGER NOT NULL,
                    data BLOB NOT NULL
                );
                """
        ),
    ]

    private static let migrator: DatabaseMigrator = {
        var m = DatabaseMigrator()
        for migration in migrations {
            let sql = migration.sql
            m.registerMigration(migration.name) { db in try db.execute(sql: sql) }
        }
        return m
    }()

    /// The migrations applied to the open file, in order.
    public func appliedMigrations() async throws -> [String] {
        try await read { db in try Self.migrator.appliedMigrations(db) }
    }

    // MARK: - EventStore

    public func apply(_ change: EventChange) async throws {
        try await groupCommit.apply(.change(change)) { writes in self.writeBatch(writes) }
    }

    private static func perform(_ write: PendingWrite, in db: Database) throws {
        switch write {
        case .change(let change): try apply(change, in: db)
        case .delivery(let delivery): try update(delivery, in: db)
        case .enrichment(let event): try enrich(event, in: db)
        }
    }

    /// One update of the enrichment columns, group-committed (no read of the event).
    public func enrich(_ enriched: CrowdEvent) async throws {
        try await groupCommit.apply(.enrichment(enriched)) { writes in self.writeBatch(writes) }
    }

    private static func enrich(_ e: CrowdEvent, in db: Database) throws {
        let stmt = try db.cachedStatement(
            sql: """
                UPDATE events SET
                enrichmentNotes = CASE WHEN cameraName IS NULL AND zoneName IS NULL AND videoURL IS NULL
                    AND visionURL IS NULL AND snapshotURL IS NULL AND enrichmentNotes = '[]'
                    THEN ? ELSE enrichmentNotes END,
                cameraName = COALESCE(cameraName, ?), zoneName = COALESCE(zoneName, ?),
                videoURL = COALESCE(videoURL, ?), visionURL = COALESCE(visionURL, ?),
                snapshotURL = COALESCE(snapshotURL, ?)
                WHERE id = ?
                """)
        var args: [(any DatabaseValueConvertible)?] = [CompactJSON.encode(e.enrichmentNotes), e.cameraName, e.zoneName]
        args += [e.videoURL, e.visionURL, e.snapshotURL, e.id.rawValue]
        try stmt.execute(arguments: StatementArguments(args))
        if db.changesCount == 0 {
            throw EventStoreError(.notFound, "no event \(e.id)")
        }
    }

    /// Writes `changes` in one transaction, each in its own savepoint; a failing change is rolled
    /// back alone and reported in its slot.
    private func writeBatch(_ changes: [PendingWrite]) -> [Result<Void, any Error>] {
        if changes.count == 1 {
            do {
                try writeNow { db in try Self.perform(changes[0], in: db) }
                return [.success(())]
            } catch let error as EventStoreError {
                return [.failure(error)]
            } catch {
                return [.failure(Self.wrap(error, "write failed"))]
            }
        }
        do {
            return try writeNow { db in
                var results: [Result<Void, any Error>] = []
                results.reserveCapacity(changes.count)
                for change in changes {
                    do {
                        try db.inSavepoint {
                            try Self.perform(change, in: db)
                            return .commit
                        }
                        results.append(.success(()))
                    } catch let error as EventStoreError {
                        results.append(.failure(error))
                    } catch {
                        results.append(.failure(Self.wrap(error, "write failed")))
                    }
                }
                return results
            }
        } catch {
            let wrapped = Self.wrap(error, "write failed")
            return changes.map { _ in .failure(wrapped) }
        }
    }

    /// Applies several changes in one transaction (all or nothing), in order. Much faster than
    /// one ``apply(_:)`` each when a burst of changes is ready at once.
    public func apply(contentsOf changes: [EventChange]) async throws {
        guard !changes.isEmpty else { return }
        try await write { db in
            for change in changes { try Self.apply(change, in: db) }
        }
    }

    public func record(id: CrowdEventID) async throws -> EventRecord? {
        try await read { db in
            let stmt = try db.cachedStatement(sql: "SELECT \(Self.eventColumns) FROM events WHERE id = ?")
            guard let row = try Row.fetchOne(stmt, arguments: [id.rawValue]) else { return nil }
            let event = try Self.event(from: row)
            return EventRecord(event: event, deliveries: try Self.deliveries(of: [event.id], in: db)[event.id] ?? [])
        }
    }

    public func events(_ query: EventQuery) async throws -> EventPage {
        let limit = query.effectiveLimit
        var clauses: [String] = []
        var arguments = StatementArguments()
        if !query.cameras.isEmpty {
            let cams = query.cameras.sorted()
            clauses.append("camera IN (\(databaseQuestionMarks(count: cams.count)))")
            arguments += StatementArguments(cams)
        }
        if !query.zones.isEmpty {
            let zones = query.zones.sorted()
            clauses.append("zone IN (\(databaseQuestionMarks(count: zones.count)))")
            arguments += StatementArguments(zones)
        }
        if let from = query.startedFrom {
            clauses.append("startedAt >= ?")
            arguments += [from]
        }
        if let before = query.startedBefore {
            clauses.append("startedAt < ?")
            arguments += [before]
        }
        if let cursor = query.cursor {
            clauses.append("startedAt <= ? AND (startedAt < ? OR id < ?)")
            arguments += [cursor.startedAt, cursor.startedAt, cursor.id.rawValue]
        }
        let whereSQL = clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND ")
        let sql =
            "SELECT \(Self.eventColumns) FROM events\(whereSQL) ORDER BY startedAt DESC, id DESC LIMIT \(limit + 1)"
        let boundArguments = arguments
        return try await read { db in
            var events: [CrowdEvent] = []
            events.reserveCapacity(limit + 1)
            // A cursor reads columns straight from the statement, without copying rows.
            let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: boundArguments)
            while let row = try rows.next() { events.append(try Self.event(from: row)) }
            var next: EventCursor?
            if events.count > limit {
                events.removeLast(events.count - limit)
                let last = events[events.count - 1]
                next = EventCursor(startedAt: last.startedAt, id: last.id)
            }
            let deliveries = try Self.deliveries(of: events.map(\.id), in: db)
            return EventPage(
                records: events.map { EventRecord(event: $0, deliveries: deliveries[$0.id] ?? []) },
                nextCursor: next)
        }
    }

    public func pendingDeliveries(limit: Int) async throws -> [Delivery] {
        guard limit > 0 else { return [] }
        return try await read { db in
            let stmt = try db.cachedStatement(
                sql:
                    "SELECT \(Self.deliveryColumns) FROM deliveries WHERE status = 'pending' ORDER BY createdAt, id LIMIT ?"
            )
            return try Row.fetchAll(stmt, arguments: [limit]).map(Self.delivery(from:))
        }
    }

    /// Group-committed with other concurrent writes (a burst of notifications finishing at once
    /// is one transaction).
    public func updateDelivery(_ delivery: Delivery) async throws {
        try await groupCommit.apply(.delivery(delivery)) { writes in self.writeBatch(writes) }
    }

    private static func update(_ delivery: Delivery, in db: Database) throws {
        let (status, remoteID, reason) = columns(of: delivery.status)
        let stmt = try db.cachedStatement(
            sql:
                "UPDATE deliveries SET status = ?, remoteID = ?, failureReason = ?, attempts = ?, updatedAt = ?, lastError = ? WHERE id = ?"
        )
        try stmt.execute(arguments: [status, remoteID, reason, delivery.attempts, delivery.updatedAt, delivery.lastError, delivery.id])
        if db.changesCount == 0 {
            throw EventStoreError(.notFound, "no delivery \(delivery.id)")
        }
    }

    public func prune(startedBefore cameraTime: Int64) async throws -> Int {
        // Deletes in batches so that writers (the monitor) never wait long behind retention.
        var total = 0
        while true {
            let deleted = try await write { db in
                try db.execute(
                    sql: """
                        DELETE FROM events WHERE id IN
                        (SELECT id FROM events WHERE startedAt < ? ORDER BY startedAt LIMIT 500)
                        """, arguments: [cameraTime])
                return db.changesCount
            }
            total += deleted
            if deleted < 500 { break }
            await Task.yield()
        }
        if total > 0 {
            logger.info("pruned old events", metadata: ["store.pruned": "\(total)"])
        }
        return total
    }

    // MARK: - Retention

    /// Prunes events older than the retention period now; returns how many were deleted.
    @discardableResult
    public func pruneExpired() async throws -> Int {
        guard let days = configuration.retentionDays else { return 0 }
        return try await prune(startedBefore: now() - Int64(days) * 86_400_000)
    }

    /// Runs the retention loop until the task is cancelled: prunes at once, then every
    /// `interval`. Failures are logged and retried at the next tick, never thrown.
    public func runRetention(interval: Duration? = nil) async {
        guard configuration.retentionDays != nil else { return }
        let interval = interval ?? configuration.retentionInterval
        while !Task.isCancelled {
            do {
                try await pruneExpired()
            } catch {
                logger.error("retention failed", metadata: ["error": "\(error)"])
            }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }

    /// `Service`-shaped entry point: runs the retention loop until cancelled. An app conforms the
    /// store to swift-service-lifecycle's `Service` with `extension SQLiteEventStore: Service {}`
    /// and wraps it in `cancelWhenGracefulShutdown`.
    public func run() async throws {
        await runRetention()
    }

    // MARK: - Health and statistics

    /// Throws when the database cannot be read (for readiness checks).
    public func check() async throws {
        _ = try await read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    /// Number of stored events.
    public func eventCount() async throws -> Int {
        try await read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") ?? 0 }
    }

    // MARK: - Row mapping

    private static let eventColumns =
        "id, camera, zone, cameraName, zoneName, startedAt, firedAt, endedAt, peak, lastCount, lastNotifiedAt, reminders, policyName, policyParameters, videoURL, visionURL, snapshotURL, enrichmentNotes, firedCount"
    private static let deliveryColumns =
        "id, eventID, notifier, kind, sequence, status, remoteID, failureReason, attempts, createdAt, updatedAt, lastError"

    private static func apply(_ change: EventChange, in db: Database) throws {
        let e = change.event
        let stmt = try db.cachedStatement(
            sql: """
                INSERT INTO events (\(eventColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET camera = excluded.camera, zone = excluded.zone,
                cameraName = COALESCE(excluded.cameraName, events.cameraName),
                zoneName = COALESCE(excluded.zoneName, events.zoneName), startedAt = excluded.startedAt,
                firedAt = excluded.firedAt, endedAt = excluded.endedAt, peak = excluded.peak,
                lastCount = excluded.lastCount, lastNotifiedAt = excluded.lastNotifiedAt,
                reminders = excluded.reminders, policyName = excluded.policyName,
                policyParameters = excluded.policyParameters,
                videoURL = COALESCE(excluded.videoURL, events.videoURL),
                visionURL = COALESCE(excluded.visionURL, events.visionURL),
                snapshotURL = COALESCE(excluded.snapshotURL, events.snapshotURL),
                enrichmentNotes = CASE WHEN excluded.cameraName IS NULL AND excluded.zoneName IS NULL
                    AND excluded.videoURL IS NULL AND excluded.visionURL IS NULL AND excluded.snapshotURL IS NULL
                    THEN events.enrichmentNotes ELSE excluded.enrichmentNotes END,
                firedCount = COALESCE(excluded.firedCount, events.firedCount)
                """)
        var args: [(any DatabaseValueConvertible)?] = [e.id.rawValue, e.camera, e.zone, e.cameraName, e.zoneName]
        args += [e.startedAt, e.firedAt, e.endedAt, e.peak, e.lastCount, e.lastNotifiedAt, e.reminders]
        args += [e.policy.name, CompactJSON.encode(e.policy.parameters), e.videoURL, e.visionURL, e.snapshotURL]
        args += [CompactJSON.encode(e.enrichmentNotes), e.firedCount]
        try stmt.execute(arguments: StatementArguments(args))
        guard !change.deliveries.isEmpty else { return }
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO deliveries (\(deliveryColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO NOTHING
                """)
        for d in change.deliveries {
            let (status, remoteID, reason) = columns(of: d.status)
            var dargs: [(any DatabaseValueConvertible)?] = [d.id, d.eventID.rawValue, d.notifier, d.kind.rawValue]
            dargs += [d.sequence, status, remoteID, reason, d.attempts, d.createdAt, d.updatedAt, d.lastError]
            do {
                try insert.execute(arguments: StatementArguments(dargs))
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw EventStoreError(.invalid, "delivery \(d.id) refers to an event that is not stored")
            }
        }
    }

    private static func columns(of status: DeliveryStatus) -> (String, String?, String?) {
        switch status {
        case .pending: ("pending", nil, nil)
        case .sent(let remoteID): ("sent", remoteID, nil)
        case .failed(let reason): ("failed", nil, reason)
        case .expired(let reason): ("expired", nil, reason)
        }
    }

    private static func event(from row: Row) throws -> CrowdEvent {
        var e = CrowdEvent(
            camera: row[1], zone: row[2], startedAt: row[5], firedAt: row[6], endedAt: row[7], peak: row[8],
            lastCount: row[9], policy: PolicyDescription(name: row[12], parameters: try CompactJSON.decodeParameters(row[13])),
            cameraName: row[3], zoneName: row[4])
        e.id = CrowdEventID(rawValue: row[0])
        e.lastNotifiedAt = row[10]
        e.reminders = row[11]
        e.videoURL = row[14]
        e.visionURL = row[15]
        e.snapshotURL = row[16]
        e.enrichmentNotes = try CompactJSON.decodeStrings(row[17])
        e.firedCount = row[18]
        return e
    }

    private static func delivery(from row: Row) throws -> Delivery {
        let kindText: String = row[3]
        guard let kind = NotificationKind(rawValue: kindText) else {
            throw EventStoreError(.unavailable, "unknown notification kind \(kindText) in delivery store")
        }
        let statusText: String = row[5]
        let status: DeliveryStatus
        switch statusText {
        case "sent": status = .sent(remoteID: row[6])
        case "failed": status = .failed(reason: row[7] ?? "")
        case "expired": status = .expired(reason: row[7] ?? "")
        default: status = .pending
        }
        var d = Delivery(
            eventID: CrowdEventID(rawValue: row[1]), notifier: row[2], kind: kind, sequence: row[4],
            status: status, attempts: row[8], createdAt: row[9], updatedAt: row[10], lastError: row[11])
        d.id = row[0]
        return d
    }

    private static func deliveries(of ids: [CrowdEventID], in db: Database) throws -> [CrowdEventID: [Delivery]] {
        guard !ids.isEmpty else { return [:] }
        var result: [CrowdEventID: [Delivery]] = [:]
        // Chunks stay far below SQLite's bound-parameter limit.
        var start = 0
        while start < ids.count {
            let chunk = ids[start..<min(start + 500, ids.count)]
            let sql =
                "SELECT \(deliveryColumns) FROM deliveries WHERE eventID IN (\(databaseQuestionMarks(count: chunk.count))) ORDER BY createdAt, id"
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: sql), arguments: StatementArguments(chunk.map(\.rawValue)))
            while let row = try rows.next() {
                let d = try delivery(from: row)
                result[d.eventID, default: []].append(d)
            }
            start += 500
        }
        return result
    }

    // MARK: - Database access with error mapping

    // GRDB's synchronous accessors run the closure on the calling thread when the connection is
    // free (a `DispatchQueue.sync` onto an idle serial queue), where the async ones hand the work
    // to another thread and back: two thread wake-ups that cost more than a small transaction
    // itself. Transactions here are short (one change, one page), so waiting for a busy writer
    // or reader blocks the calling thread only briefly; retention deletes in small batches for
    // the same reason.

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try readNow(body)
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw Self.wrap(error, "read failed")
        }
    }

    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try writeNow(body)
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw Self.wrap(error, "write failed")
        }
    }

    private func readNow<T>(_ body: (Database) throws -> T) throws -> T { try pool.read(body) }
    private func writeNow<T>(_ body: (Database) throws -> T) throws -> T { try pool.write(body) }

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
