import CrowdKitCore
import CrowdKitHTTP
import Logging

/// Meraki's request budget (10 requests/s per organisation) shared by the instances of a
/// cluster: each live instance takes an equal share, recomputed when the members change, so that
/// together they stay within it without talking to each other.
///
/// The share of `n` members of `total` requests per second is ``share(of:members:)``: `k =
/// max(1, total / n)` requests per window of `k * n / total` seconds, exactly `total / n`
/// requests per second (10 over 3 instances: 3 per 0.9 s each). While the members are changing
/// (one died, the others not yet told) the sum may exceed the budget for up to a lease; Meraki's
/// 429 with `Retry-After` is honoured by the HTTP layer meanwhile.
public enum MerakiBudget {
    /// Each member's share of `total` requests per second among `members` (at least 1).
    public static func share(of total: Int, members: Int) -> (limit: Int, window: Duration) {
        let n = max(1, members)
        let total = max(1, total)
        let k = max(1, total / n)
        return (k, Duration.seconds(k * n) / total)
    }

    /// Keeps `limiter` at this instance's share of `total` as the live members of `coordinator`
    /// change (checked every quarter lease), until cancelled.
    public static func follow(
        _ coordinator: ClusterCoordinator, total: Int, limiter: RateLimiter, logger: Logger
    ) async {
        var members = 0
        while !Task.isCancelled {
            let status = coordinator.status
            let n = max(1, status.members.count)
            if status.heartbeating || !status.members.isEmpty, n != members {
                members = n
                let (limit, window) = share(of: total, members: n)
                await limiter.setRate(limit: limit, per: window)
                logger.notice(
                    "Meraki budget: \(total) requests/s shared by \(n) instances; this one \(limit) per \(window)",
                    metadata: ["cluster.members": "\(n)", "meraki.limit": "\(limit)", "meraki.window": "\(window)"])
            }
            try? await Task.sleep(for: coordinator.lease / 4)
        }
    }
}
