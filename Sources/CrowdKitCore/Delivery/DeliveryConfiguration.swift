import Foundation

/// Settings of the ``DeliveryService``.
///
/// A delivery is retried with capped back-off until it is sent, until it meets a permanent error
/// (400, 401, 403, 404), or until it is older than its maximum age (``maxAge`` for `fired`,
/// ``followUpMaxAge`` for reminders and `ended`), when it is recorded as `expired`. So an outage
/// of the notification service of any length shorter than the maximum age loses nothing.
public struct DeliveryConfiguration: Sendable, Hashable {
    /// Notifications being sent at once, in all.
    public var maxConcurrent: Int
    /// Notifications being sent at once by one notifier, so a slow channel cannot take every slot.
    public var maxConcurrentPerNotifier: Int
    /// How often the outbox is read even without a wake-up (catches restarts and missed signals);
    /// also how often statuses that could not be written are written again.
    public var pollInterval: Duration
    /// Send attempts per delivery before it is marked failed; `nil` (the default): no limit, the
    /// age decides (``maxAge``).
    public var maxAttempts: Int?
    /// A `fired` notification not sent within this time after it was raised is recorded as
    /// expired instead of being sent. Default one hour (`delivery.maxAgeSeconds`).
    public var maxAge: Duration
    /// The same for reminders and `ended` notifications, which are of no use much later.
    /// Default 10 minutes, never more than ``maxAge``.
    public var followUpMaxAge: Duration
    /// Wait before the second attempt of a delivery; doubles per attempt up to ``maxBackoff``.
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    /// While a notifier fails (a transient error: timeout, 429, 5xx), it is tried with one
    /// notification at a time (a probe), at waits that double from ``initialBackoff`` up to this
    /// (or the server's `Retry-After` when longer); the first success releases every waiting
    /// notification at once. Default 60 s.
    public var maxProbeInterval: Duration
    /// Pending deliveries read per pass.
    public var batchSize: Int
    /// Enriched events remembered, so each event is enriched once.
    public var enrichmentCacheSize: Int
    /// The name this worker claims deliveries under (``DeliveryClaim/owner``). Stable across
    /// restarts, so that a worker that died while sending takes those deliveries back at once
    /// when it starts again; every worker running at the same time (several services on one
    /// store, several instances on one database) needs its own. Default: the host name and the
    /// ``defaultWorkerName``.
    public var workerName: String
    /// How long a claim holds (``DeliveryLease``): longer than the longest send (enrichment and
    /// the notifier's request). When a worker dies, other workers take its deliveries after this.
    /// Default 5 minutes.
    public var lease: Duration
    /// The shortest time between two claims of this worker: announcements arriving in a burst
    /// are claimed together, one store transaction for many notifications. Default 10 ms.
    public var claimInterval: Duration

    public init(
        maxConcurrent: Int = 32, maxConcurrentPerNotifier: Int = 16, pollInterval: Duration = .seconds(5),
        maxAttempts: Int? = nil, maxAge: Duration = .seconds(3600), followUpMaxAge: Duration = .seconds(600),
        initialBackoff: Duration = .seconds(5), maxBackoff: Duration = .seconds(300), maxProbeInterval: Duration = .seconds(60),
        batchSize: Int = 200, enrichmentCacheSize: Int = 4096, workerName: String = DeliveryConfiguration.defaultWorkerName,
        lease: Duration = .seconds(300), claimInterval: Duration = .milliseconds(10)
    ) {
        self.maxConcurrent = max(1, maxConcurrent)
        self.maxConcurrentPerNotifier = max(1, maxConcurrentPerNotifier)
        self.pollInterval = pollInterval
        self.maxAttempts = maxAttempts.map { max(1, $0) }
        self.maxAge = max(maxAge, .zero)
        self.followUpMaxAge = min(max(followUpMaxAge, .zero), self.maxAge)
        self.initialBackoff = initialBackoff
        self.maxBackoff = max(maxBackoff, initialBackoff)
        self.maxProbeInterval = max(maxProbeInterval, initialBackoff)
        self.batchSize = max(1, batchSize)
        self.enrichmentCacheSize = max(1, enrichmentCacheSize)
        self.workerName = workerName.isEmpty ? Self.defaultWorkerName : workerName
        self.lease = max(lease, .seconds(1))
        self.claimInterval = max(claimInterval, .zero)
    }

    /// `<host name>:delivery`: one delivery worker per host, the same after a restart.
    public static var defaultWorkerName: String { "\(ProcessInfo.processInfo.hostName):delivery" }

    /// The wait after `attempts` failed attempts.
    public func backoff(afterAttempts attempts: Int) -> Duration {
        Self.doubling(initialBackoff, times: attempts - 1, cap: maxBackoff)
    }

    /// The wait before probing a notifier again after `failures` failures in a row.
    public func probeInterval(afterFailures failures: Int) -> Duration {
        Self.doubling(initialBackoff, times: failures - 1, cap: maxProbeInterval)
    }

    /// How old a delivery of `kind` may get before it expires.
    public func maxAge(for kind: NotificationKind) -> Duration {
        kind == .fired ? maxAge : followUpMaxAge
    }

    private static func doubling(_ start: Duration, times: Int, cap: Duration) -> Duration {
        var wait = start
        var n = 0
        while n < times && wait < cap {
            wait = wait * 2
            n += 1
        }
        return min(wait, cap)
    }
}
