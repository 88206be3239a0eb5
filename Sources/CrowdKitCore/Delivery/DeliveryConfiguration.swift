/// Settings of the ``DeliveryService``.
public struct DeliveryConfiguration: Sendable, Hashable {
    /// Notifications being sent at once, in all.
    public var maxConcurrent: Int
    /// Notifications being sent at once by one notifier, so a slow channel cannot take every slot.
    public var maxConcurrentPerNotifier: Int
    /// How often the outbox is read even without a wake-up (catches restarts and missed signals).
    public var pollInterval: Duration
    /// Send attempts per delivery before it is marked failed (each attempt may itself retry at
    /// the HTTP level).
    public var maxAttempts: Int
    /// Wait before the second attempt; doubles per attempt up to ``maxBackoff`` (or the
    /// notifier's `retryAfter` when longer).
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    /// Pending deliveries read per pass.
    public var batchSize: Int
    /// Enriched events remembered, so each event is enriched once.
    public var enrichmentCacheSize: Int

    public init(
        maxConcurrent: Int = 32, maxConcurrentPerNotifier: Int = 16, pollInterval: Duration = .seconds(5),
        maxAttempts: Int = 6, initialBackoff: Duration = .seconds(5), maxBackoff: Duration = .seconds(300),
        batchSize: Int = 200, enrichmentCacheSize: Int = 4096
    ) {
        self.maxConcurrent = max(1, maxConcurrent)
        self.maxConcurrentPerNotifier = max(1, maxConcurrentPerNotifier)
        self.pollInterval = pollInterval
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.batchSize = max(1, batchSize)
        self.enrichmentCacheSize = max(1, enrichmentCacheSize)
    }

    /// The wait after `attempts` failed attempts.
    public func backoff(afterAttempts attempts: Int) -> Duration {
        var wait = initialBackoff
        var n = 1
        while n < attempts && wait < maxBackoff {
            wait = wait * 2
            n += 1
        }
        return min(wait, maxBackoff)
    }
}
