import CrowdKitCore
import Foundation
import Logging
import PostgresNIO

/// One schema change: its version (its place in ``PostgresEventStore/migrations``, from 1), a
/// name, and its statements, run in one transaction. Never edited once shipped: a change is a new
/// migration appended to the list.
public struct PostgresMigration: Sendable {
    public var version: Int
    public var name: String
    public var statements: [String]
}

/// The schema: versioned migrations under an advisory lock.
extension PostgresEventStore {
    /// The key of the advisory lock migrations hold (`"CrowdKit"` in ASCII), so that instances
    /// starting at once migrate one after the other: the second finds nothing left to do.
    static let migrationLockKey: Int64 = 0x4372_6F77_644B_6974

    /// The migrations this build knows, in order; the last one's version is the schema version.
    /// Identifiers are lower case, ids and other keys compare byte-wise (`COLLATE "C"`, as in
    /// SQLite and Swift), times are epoch milliseconds (`bigint`).
    public static let migrations: [PostgresMigration] = [
        PostgresMigration(
            version: 1, name: "events and deliveries, with claims",
            statements: [
                """
                CREATE TABLE events (
                    id text COLLATE "C" PRIMARY KEY,
                    camera text COLLATE "C" NOT NULL,
                    zone text COLLATE "C" NOT NULL,
                    camera_name text,
                    zone_name text,
                    started_at bigint NOT NULL,
                    fired_at bigint NOT NULL,
                    ended_at bigint,
                    peak bigint NOT NULL,
                    last_count bigint NOT NULL,
                    last_notified_at bigint NOT NULL,
                    reminders bigint NOT NULL,
                    policy_name text NOT NULL,
                    policy_parameters text NOT NULL,
                    video_url text,
                    vision_url text,
                    snapshot_url text,
                    enrichment_notes text NOT NULL,
                    fired_count bigint
                )
                """,
                "CREATE INDEX events_newest ON events (started_at DESC, id DESC)",
                "CREATE INDEX events_camera_newest ON events (camera, started_at DESC, id DESC)",
                "CREATE INDEX events_zone_newest ON events (zone, started_at DESC, id DESC)",
                "CREATE INDEX events_camera_zone_newest ON events (camera, zone, started_at DESC, id DESC)",
                """
                CREATE TABLE deliveries (
                    id text COLLATE "C" PRIMARY KEY,
                    event_id text COLLATE "C" NOT NULL REFERENCES events (id) ON DELETE CASCADE,
                    notifier text COLLATE "C" NOT NULL,
                    kind text NOT NULL CHECK (kind IN ('fired', 'reminder', 'ended')),
                    sequence bigint NOT NULL,
                    status text NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'expired', 'suppressed')),
                    remote_id text,
                    failure_reason text,
                    attempts bigint NOT NULL,
                    created_at bigint NOT NULL,
                    updated_at bigint NOT NULL,
                    last_error text,
                    lease_owner text,
                    lease_until bigint,
                    retry_at bigint
                )
                """,
                "CREATE INDEX deliveries_event ON deliveries (event_id)",
                // the outbox in outbox order (Delivery.outboxOrder): what claims read
                """
                CREATE INDEX deliveries_pending ON deliveries
                    (created_at, (CASE kind WHEN 'fired' THEN 0 WHEN 'reminder' THEN sequence ELSE 2147483647 END), id)
                    WHERE status = 'pending'
                """,
            ]),
        PostgresMigration(
            // one row per zone: instances that own different cameras never write the same rows
            version: 2, name: "zone states",
            statements: [
                """
                CREATE TABLE zone_states (
                    camera text COLLATE "C" NOT NULL,
                    zone text COLLATE "C" NOT NULL,
                    policy text NOT NULL,
                    data bytea NOT NULL,
                    PRIMARY KEY (camera, zone)
                )
                """
            ]),
        PostgresMigration(
            version: 3, name: "settings, mutes and audit",
            statements: [
                """
                CREATE TABLE settings (
                    id integer PRIMARY KEY CHECK (id = 1),
                    version bigint NOT NULL,
                    document text NOT NULL
                )
                """,
                """
                CREATE TABLE mutes (
                    id text COLLATE "C" PRIMARY KEY,
                    selector text NOT NULL,
                    from_time bigint NOT NULL,
                    until_time bigint NOT NULL,
                    reason text NOT NULL,
                    by_whom text NOT NULL
                )
                """,
                "CREATE INDEX mutes_until ON mutes (until_time)",
                """
                CREATE TABLE audit (
                    seq bigserial PRIMARY KEY,
                    at bigint NOT NULL,
                    by_whom text NOT NULL,
                    action text NOT NULL,
                    summary text NOT NULL
                )
                """,
            ]),
        PostgresMigration(
            // one row per instance sharing the cameras (ClusterMembership); times in the
            // database's clock
            version: 4, name: "instances",
            statements: [
                """
                CREATE TABLE instances (
                    name text COLLATE "C" PRIMARY KEY,
                    heartbeat_at bigint NOT NULL,
                    lease_until bigint NOT NULL,
                    joined_at bigint NOT NULL
                )
                """
            ]),
        PostgresMigration(
            // what people said about events (acks, labels; one row per event and kind, the
            // first kept) and the inbound action ids already handled (Webex button presses), for
            // every instance sharing the store; not pruned with the events
            version: 5, name: "feedback",
            statements: [
                """
                CREATE TABLE event_feedback (
                    seq bigserial PRIMARY KEY,
                    event_id text COLLATE "C" NOT NULL,
                    camera text NOT NULL,
                    zone text NOT NULL,
                    started_at bigint NOT NULL,
                    ended_at bigint,
                    kind text NOT NULL,
                    by_whom text NOT NULL,
                    at bigint NOT NULL,
                    UNIQUE (event_id, kind)
                )
                """,
                """
                CREATE TABLE processed_actions (
                    id text COLLATE "C" PRIMARY KEY,
                    at bigint NOT NULL
                )
                """,
            ]),
        PostgresMigration(
            // occupancy per zone and minute (the charts and the history API), clustered by zone
            // and time by its key; the minute index serves pruning
            version: 6, name: "occupancy",
            statements: [
                """
                CREATE TABLE occupancy (
                    camera text COLLATE "C" NOT NULL,
                    zone text COLLATE "C" NOT NULL,
                    minute bigint NOT NULL,
                    max bigint NOT NULL,
                    sum bigint NOT NULL,
                    observations bigint NOT NULL,
                    last bigint NOT NULL,
                    PRIMARY KEY (camera, zone, minute)
                )
                """,
                "CREATE INDEX occupancy_minute ON occupancy (minute)",
            ]),
        PostgresMigration(
            // one row per instance: its live zone rows (the page's live view) as one JSON document
            version: 7, name: "zone snapshots",
            statements: [
                """
                CREATE TABLE zone_snapshots (
                    instance text COLLATE "C" PRIMARY KEY,
                    taken_at bigint NOT NULL,
                    zones text NOT NULL
                )
                """
            ]),
    ]

    /// The schema version this build writes (the last migration's).
    public static var schemaVersion: Int { migrations.last?.version ?? 0 }

    /// Connects once (not through the pool, so that a failure says why: refused, unknown host,
    /// wrong password) and applies the pending migrations, each in its own transaction holding
    /// the migration lock. Returns the schema version.
    ///
    /// - Throws: `EventStoreError` `.invalid` when the database has a version this build does
    ///   not know (a newer build migrated it); any other error is worth another attempt.
    func migrate() async throws -> Int {
        let connection = try await PostgresConnection.connect(
            configuration: connectionConfiguration, id: 0, logger: logger)
        do {
            while try await applyNextMigration(on: connection) {}
            try? await connection.close()
            return Self.schemaVersion
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Applies the first migration not applied yet, in one transaction under the migration lock;
    /// false when none was left.
    func applyNextMigration(on connection: PostgresConnection) async throws -> Bool {
        let logger = self.logger
        return try await Self.inTransaction(connection, logger: logger) { c in
            try await c.query("SELECT pg_advisory_xact_lock(\(Self.migrationLockKey))", logger: logger)
            try await c.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, logger: logger)
            var applied = Set<Int>()
            for try await version in try await c.query("SELECT version FROM schema_migrations", logger: logger).decode(Int.self) {
                applied.insert(version)
            }
            if let newest = applied.max(), newest > Self.schemaVersion {
                throw EventStoreError(
                    .invalid,
                    "the database schema is version \(newest), newer than this build's version \(Self.schemaVersion): "
                        + "a newer crowd-notifier migrated it; run that version (or newer)")
            }
            guard let next = Self.migrations.first(where: { !applied.contains($0.version) }) else { return false }
            for statement in next.statements {
                try await c.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            try await c.query(
                "INSERT INTO schema_migrations (version, name) VALUES (\(next.version), \(next.name))", logger: logger)
            logger.notice(
                "event store: applied migration \(next.version) (\(next.name))",
                metadata: ["store.url": "\(configuration.redactedURL)"])
            return true
        }
    }

    /// The migrations applied to the database, by name, in order.
    public func appliedMigrations() async throws -> [String] {
        try await query("SELECT name FROM schema_migrations ORDER BY version", "cannot read the migrations")
            .map { try $0.decode(String.self) }
    }
}
