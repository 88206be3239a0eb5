/// One instance of a cluster, as the membership store last heard of it.
public struct ClusterMember: Hashable, Sendable {
    /// The instance's name (`cluster.name`), unique among the instances sharing a store.
    public var name: String
    /// When it last heartbeat, epoch milliseconds (the store's clock).
    public var heartbeatAt: Int64
    /// Until when it counts as live, epoch milliseconds (the store's clock): its last heartbeat
    /// plus its lease.
    public var leaseUntil: Int64

    public init(name: String, heartbeatAt: Int64, leaseUntil: Int64) {
        self.name = name
        self.heartbeatAt = heartbeatAt
        self.leaseUntil = leaseUntil
    }
}

/// What an instance says when it heartbeats: its name and how long it counts as live without
/// another heartbeat.
public struct MemberHeartbeat: Hashable, Sendable {
    /// The instance's name, unique among the instances sharing the store.
    public var name: String
    /// How long the instance counts as live after this heartbeat (at most 5 s in the reference
    /// app, so that its cameras move within 10 s of its death).
    public var lease: Duration

    public init(name: String, lease: Duration) {
        self.name = name
        self.lease = lease
    }
}

/// Which instances are live: each instance heartbeats with a lease; one whose lease ended
/// (it stopped, crashed or lost the store) is no longer a member. ``CameraOwnership`` shares the
/// cameras out among the live members.
///
/// `CrowdKitPostgres`' store implements it for instances sharing a database;
/// ``InMemoryClusterMembership`` for one process (a single instance, or tests).
///
/// ## Implementation requirements
/// - Safe to call from many tasks and processes at once (`Sendable`).
/// - ``heartbeat(_:)`` registers the instance or renews it: afterwards it is live until the
///   heartbeat's time plus its lease, by one clock shared by every member (a database's clock,
///   not the callers'), and the call returns the live members, itself included, sorted by name.
/// - ``members()`` returns the members whose lease has not ended, sorted by name, each once.
/// - ``leave(_:)`` ends the named member's lease at once (a graceful shutdown); leaving a member
///   that is not there is not an error.
/// - Errors thrown are the store's failures; they never contain secrets.
public protocol ClusterMembership: Sendable {
    /// Registers or renews an instance; returns the live members.
    func heartbeat(_ beat: MemberHeartbeat) async throws -> [ClusterMember]

    /// The live members, sorted by name.
    func members() async throws -> [ClusterMember]

    /// Ends a member's lease now.
    func leave(_ name: String) async throws
}
