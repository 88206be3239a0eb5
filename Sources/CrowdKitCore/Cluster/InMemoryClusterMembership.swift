import Foundation

/// A ``ClusterMembership`` kept in memory: for a single instance (it is then the only member) and
/// for tests of several instances in one process. Time comes from `now` (epoch milliseconds), so
/// tests can move it.
public final class InMemoryClusterMembership: ClusterMembership {
    private let now: @Sendable () -> Int64
    private let leases = LockedBox<[String: ClusterMember]>([:])

    /// - Parameter now: the clock, epoch milliseconds (the system clock unless given).
    public init(now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.now = now
    }

    public func heartbeat(_ beat: MemberHeartbeat) async throws -> [ClusterMember] {
        let t = now()
        let lease = beat.lease.components
        let leaseMilliseconds = lease.seconds * 1000 + lease.attoseconds / 1_000_000_000_000_000
        return leases.withLock { l in
            l[beat.name] = ClusterMember(name: beat.name, heartbeatAt: t, leaseUntil: t + leaseMilliseconds)
            return Self.live(l, at: t)
        }
    }

    public func members() async throws -> [ClusterMember] {
        let t = now()
        return leases.withLock { Self.live($0, at: t) }
    }

    public func leave(_ name: String) async throws {
        leases.withLock { _ = $0.removeValue(forKey: name) }
    }

    private static func live(_ leases: [String: ClusterMember], at t: Int64) -> [ClusterMember] {
        leases.values.filter { $0.leaseUntil > t }.sorted { $0.name < $1.name }
    }
}
