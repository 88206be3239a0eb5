import CrowdKitCore
import Foundation
import PostgresNIO

/// Instance membership (``ClusterMembership``) in the `instances` table: one row per instance,
/// its last heartbeat and the end of its lease, both in the database's clock (epoch
/// milliseconds), so that the instances' own clocks never matter. A heartbeat is one statement:
/// it upserts the instance's row, removes rows whose lease ended more than a day ago, and returns
/// the live members.
extension PostgresEventStore: ClusterMembership {
    /// How long the row of an instance that stopped heartbeating stays (for inspection) before a
    /// heartbeat of another removes it.
    static let deadInstanceRetention: Int64 = 86_400_000

    public func heartbeat(_ beat: MemberHeartbeat) async throws -> [ClusterMember] {
        let lease = beat.lease.components
        let leaseMilliseconds = lease.seconds * 1000 + lease.attoseconds / 1_000_000_000_000_000
        let name = beat.name
        let rows = try await query(
            """
            WITH t AS (SELECT (extract(epoch FROM now()) * 1000)::bigint AS ms),
            beat AS (
                INSERT INTO instances (name, heartbeat_at, lease_until, joined_at)
                SELECT \(name), t.ms, t.ms + \(leaseMilliseconds)::bigint, t.ms FROM t
                ON CONFLICT (name) DO UPDATE
                    SET heartbeat_at = excluded.heartbeat_at, lease_until = excluded.lease_until,
                        joined_at = CASE WHEN instances.lease_until > excluded.heartbeat_at
                            THEN instances.joined_at ELSE excluded.joined_at END
                RETURNING name, heartbeat_at, lease_until
            ),
            gone AS (
                DELETE FROM instances
                WHERE lease_until < (SELECT ms FROM t) - \(Self.deadInstanceRetention)::bigint AND name <> \(name)
            )
            SELECT name, heartbeat_at, lease_until FROM instances
                WHERE lease_until > (SELECT ms FROM t) AND name <> \(name)
            UNION ALL SELECT name, heartbeat_at, lease_until FROM beat
            ORDER BY name
            """, "cannot heartbeat as \(name)")
        return try rows.map(Self.member)
    }

    public func members() async throws -> [ClusterMember] {
        try await query(
            """
            SELECT name, heartbeat_at, lease_until FROM instances
            WHERE lease_until > (extract(epoch FROM now()) * 1000)::bigint ORDER BY name
            """, "cannot read the instances"
        ).map(Self.member)
    }

    public func leave(_ name: String) async throws {
        try await query("DELETE FROM instances WHERE name = \(name)", "cannot leave as \(name)")
    }

    static func member(_ row: PostgresRow) throws -> ClusterMember {
        let (name, heartbeatAt, leaseUntil) = try row.decode((String, Int64, Int64).self)
        return ClusterMember(name: name, heartbeatAt: heartbeatAt, leaseUntil: leaseUntil)
    }
}
