import Logging

/// Keeps this instance in the cluster: heartbeats through a ``ClusterMembership`` a few times per
/// lease, and publishes the ``CameraOwnership`` the live members give, for a ``CrowdMonitor`` to
/// follow. The shape of a swift-service-lifecycle `Service` (`run()`).
///
/// While heartbeats fail (the store is away) the last ownership stays in force: detection goes on;
/// cameras this instance keeps although others took them over are processed twice, and the
/// events' ids (from camera, zone and start) and notification keys make the second copy a no-op.
public final class ClusterCoordinator: Sendable {
    /// This instance's name among the members.
    public let name: String
    /// How long a heartbeat keeps this instance live.
    public let lease: Duration
    /// The membership store.
    public let membership: any ClusterMembership
    private let logger: Logger
    private let state = LockedBox(State())

    private struct State: Sendable {
        var ownership: CameraOwnership?
        /// Increases whenever ``ownership`` changes.
        var version = 0
        var failing = false
        var loggedFailureAt: ContinuousClock.Instant?
        var ownedCameras = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    /// - Parameters:
    ///   - name: this instance's name, unique among the instances sharing `membership`.
    ///   - lease: how long a heartbeat keeps it live (at most 5 s: cameras move within twice that).
    public init(name: String, lease: Duration = .seconds(5), membership: any ClusterMembership, logger: Logger) {
        self.name = name
        self.lease = lease
        self.membership = membership
        self.logger = logger
    }

    /// The ownership of the last successful heartbeat and its version (which increases with each
    /// change); `nil` before the first.
    public var ownership: (ownership: CameraOwnership, version: Int)? {
        state.withLock { s in s.ownership.map { ($0, s.version) } }
    }

    /// A summary for health checks and the page.
    public var status: ClusterStatus {
        state.withLock { s in
            ClusterStatus(
                name: name, members: s.ownership?.members ?? [], ownedCameras: s.ownedCameras, heartbeating: s.ownership != nil && !s.failing)
        }
    }

    /// Records how many cameras the monitor processes now (for ``status``).
    public func reportOwnedCameras(_ count: Int) {
        state.withLock { $0.ownedCameras = count }
    }

    /// Waits until the first heartbeat succeeded, at most `limit`; whether it did.
    public func waitForOwnership(within limit: Duration) async -> Bool {
        if ownership != nil { return true }
        let timer = Task { [state] in
            try? await Task.sleep(for: limit)
            let waiters = state.withLock { s in
                defer { s.waiters.removeAll() }
                return s.waiters
            }
            for w in waiters { w.resume() }
        }
        defer { timer.cancel() }
        await withCheckedContinuation { (k: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { s -> Bool in
                if s.ownership != nil { return true }
                s.waiters.append(k)
                return false
            }
            if ready { k.resume() }
        }
        return ownership != nil
    }

    /// Heartbeats every quarter of the lease until cancelled, then leaves the cluster (so that
    /// the other members take this instance's cameras at once).
    public func run() async {
        let interval = lease / 4
        logger.info("cluster: joining as \(name)", metadata: ["cluster.name": "\(name)", "cluster.lease": "\(lease)"])
        while !Task.isCancelled {
            await beat()
            try? await Task.sleep(for: interval)
        }
        do {
            try await membership.leave(name)
            logger.info("cluster: left", metadata: ["cluster.name": "\(name)"])
        } catch {
            logger.warning(
                "cluster: cannot leave; the others take this instance's cameras when its lease ends",
                metadata: ["cluster.name": "\(name)", "error": "\(error)"])
        }
    }

    /// One heartbeat: publishes the new ownership when the members changed.
    func beat() async {
        do {
            let members = try await membership.heartbeat(MemberHeartbeat(name: name, lease: lease))
            let ownership = CameraOwnership(members: members.map(\.name) + [name], me: name)
            let (changed, waiters, recovered) = state.withLock { s in
                let changed = s.ownership != ownership
                if changed {
                    s.ownership = ownership
                    s.version += 1
                }
                let recovered = s.failing
                s.failing = false
                defer { s.waiters.removeAll() }
                return (changed, s.waiters, recovered)
            }
            for w in waiters { w.resume() }
            if recovered { logger.notice("cluster: heartbeats reach the store again", metadata: ["cluster.name": "\(name)"]) }
            if changed {
                logger.notice(
                    "cluster: \(ownership.members.count) live members (\(ownership.members.joined(separator: ", ")))",
                    metadata: ["cluster.name": "\(name)", "cluster.members": "\(ownership.members.count)"])
            }
        } catch {
            let log = state.withLock { s -> Bool in
                s.failing = true
                let now = ContinuousClock.now
                guard s.loggedFailureAt.map({ now - $0 >= .seconds(60) }) ?? true else { return false }
                s.loggedFailureAt = now
                return true
            }
            if log {
                logger.error(
                    "cluster: heartbeat failed; keeping the last cameras (the others take them when this lease ends)",
                    metadata: ["cluster.name": "\(name)", "error": "\(error)"])
            }
        }
    }
}
