import CrowdKitCore
import Foundation
import GRDB
import Logging

/// The schema: named migrations, never edited once shipped.
extension SQLiteEventStore {
    // MARK: - Schema

    /// The names of the migrations this version knows, in order.
    public static var migrationNames: [String] { migrations.map(\.name) }

    static let migrations: [(name: String, sql: String)] = [
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
            // Each zone's detection state (SEMANTICS §7), in blocks of zones (32 when this was
            // written, 128 since; a load reads any size and the next save rewrites them): a save rewrites
            // the blocks of the zones that changed (100,000 zones changing every second are about
            // 3,000 row writes, not 100,000).
            name: "v5-zone-state-blocks",
            sql: """
                CREATE TABLE zone_state_blocks (
                    block INTEGER PRIMARY KEY NOT NULL,
                    data BLOB NOT NULL
                );
                """
        ),
        (
            // One outbox: delivery workers claim due deliveries with a lease (owner, until), and
            // a transient failure's back-off is stored with the delivery (retryAt), so that any
            // worker of any process sees the same due list.
            name: "v6-delivery-claims",
            sql: """
                ALTER TABLE deliveries ADD COLUMN leaseOwner TEXT;
                ALTER TABLE deliveries ADD COLUMN leaseUntil INTEGER;
                ALTER TABLE deliveries ADD COLUMN retryAt INTEGER;
                """
        ),
        (
            // Run-time settings (SEMANTICS §7): one versioned document, the mutes, the audit log.
            name: "v7-settings-mutes-audit",
            sql: """
                CREATE TABLE settings (
                    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
                    version INTEGER NOT NULL,
                    document TEXT NOT NULL
                );
                CREATE TABLE mutes (
                    id TEXT PRIMARY KEY NOT NULL,
                    selector TEXT NOT NULL,
                    fromTime INTEGER NOT NULL,
                    untilTime INTEGER NOT NULL,
                    reason TEXT NOT NULL,
                    byWhom TEXT NOT NULL
                );
                CREATE INDEX mutes_until ON mutes (untilTime);
                CREATE TABLE audit (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    at INTEGER NOT NULL,
                    byWhom TEXT NOT NULL,
                    action TEXT NOT NULL,
                    summary TEXT NOT NULL
                );
                """
        ),
        (
            // Occupancy per zone and minute (the charts): clustered by zone and time, so a
            // zone's day is one range read.
            name: "v8-occupancy",
            sql: """
                CREATE TABLE occupancy (
                    camera TEXT NOT NULL,
                    zone TEXT NOT NULL,
                    minute INTEGER NOT NULL,
                    max INTEGER NOT NULL,
                    sum INTEGER NOT NULL,
                    observations INTEGER NOT NULL,
                    last INTEGER NOT NULL,
                    PRIMARY KEY (camera, zone, minute)
                ) WITHOUT ROWID;
                CREATE INDEX occupancy_minute ON occupancy (minute);
                """
        ),
        (
            // What people said about events (acks, labels; one row per event and kind) and the
            // inbound action ids already handled (Webex button presses): kept apart from the
            // events, which retention prunes.
            name: "v9-event-feedback",
            sql: """
                CREATE TABLE event_feedback (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    eventID TEXT NOT NULL,
                    camera TEXT NOT NULL,
                    zone TEXT NOT NULL,
                    startedAt INTEGER NOT NULL,
                    endedAt INTEGER,
                    kind TEXT NOT NULL,
                    byWhom TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    UNIQUE (eventID, kind)
                );
                CREATE TABLE processed_actions (
                    id TEXT PRIMARY KEY NOT NULL,
                    at INTEGER NOT NULL
                ) WITHOUT ROWID;
                """
        ),
        (
            // Quarter-hours merged from the minutes (charts of a day or more read 96 rows a day,
            // not 1,440), kept up to date with every minute written; `newest` is the quarter's
            // newest minute index * 1,000,000 + that minute's last count. Filled from the minutes
            // already there.
            name: "v10-occupancy-quarters",
            sql: """
                CREATE TABLE occupancy_quarter (
                    camera TEXT NOT NULL,
                    zone TEXT NOT NULL,
                    quarter INTEGER NOT NULL,
                    max INTEGER NOT NULL,
                    sum INTEGER NOT NULL,
                    observations INTEGER NOT NULL,
                    newest INTEGER NOT NULL,
                    PRIMARY KEY (camera, zone, quarter)
                ) WITHOUT ROWID;
                INSERT INTO occupancy_quarter (camera, zone, quarter, max, sum, observations, newest)
                    SELECT camera, zone, (minute / 900000) * 900000, max(max), sum(sum), sum(observations),
                           max((minute / 60000) * 1000000 + min(max(last, 0), 999999))
                    FROM occupancy GROUP BY camera, zone, minute / 900000;
                """
        ),
        (
            // Zone states without their keys in every block: each zone's key once, under a slot
            // number that never changes, and the blocks of 128 slots hold only the states' bytes
            // (a save of 100,000 changed zones writes about 2.5 MB, not 15). Rows of
            // zone_state_blocks are read and converted by the first save (SQLiteEventStore+ZoneStates).
            name: "v11-zone-state-slots",
            sql: """
                CREATE TABLE zone_state_keys (
                    slot INTEGER PRIMARY KEY NOT NULL,
                    camera TEXT NOT NULL,
                    zone TEXT NOT NULL,
                    policy TEXT NOT NULL
                );
                CREATE TABLE zone_state_data (
                    block INTEGER PRIMARY KEY NOT NULL,
                    data BLOB NOT NULL
                );
                """
        ),
    ]

    static let migrator: DatabaseMigrator = {
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
}
