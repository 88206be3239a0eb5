/// A client-side rate limit shared by every request that goes through it: at most ``limit``
/// request starts in any window of ``window`` (a sliding log, so there is no burst above the limit).
///
/// Safe to share between tasks; waiting callers are served in the order they asked. The rate can
/// change while requests wait (``setRate(limit:per:)``: several instances sharing one budget).
public actor RateLimiter {
    public private(set) var limit: Int
    public private(set) var window: Duration
    private var starts: [ContinuousClock.Instant] = []
    private var head = 0

    /// `limit` starts per `window`, e.g. `RateLimiter(limit: 10, per: .seconds(1))` (Meraki's
    /// documented 10 requests/s per organisation).
    public init(limit: Int, per window: Duration) {
        self.limit = max(1, limit)
        self.window = window
    }

    /// Changes the rate for the requests that start from now on (reservations already handed
    /// out keep their slots).
    public func setRate(limit: Int, per window: Duration) {
        self.limit = max(1, limit)
        self.window = window
    }

    /// The rate now: `limit` starts per `window`.
    public var rate: (limit: Int, window: Duration) { (limit, window) }

    /// Waits until a request may start (throws `CancellationError` when the task is cancelled).
    public nonisolated func acquire() async throws {
        let slot = await reserve()
        if slot > .now {
            try await Task.sleep(until: slot, clock: .continuous)
        }
    }

    private func reserve() -> ContinuousClock.Instant {
        let now = ContinuousClock.now
        let active = starts.count - head
        var slot = now
        if active >= limit {
            slot = max(now, starts[starts.count - limit] + window)
        }
        starts.append(slot)
        // Keep only the last `limit` reservations.
        if starts.count - head > limit { head = starts.count - limit }
        if head > 1024 {
            starts.removeFirst(head)
            head = 0
        }
        return slot
    }
}
