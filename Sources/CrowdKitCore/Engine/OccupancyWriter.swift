import Logging
import Metrics

/// Writes the monitor's finished occupancy minutes to the store in batches, on a task of its own
/// (detection never waits for it). Keeps at most `capacity` minutes while the store fails
/// (the oldest are dropped and counted); tried again every `interval`.
final class OccupancyWriter: Sendable {
    private let store: any OccupancyHistoryStore
    private let interval: Duration
    private let capacity: Int
    private let logger: Logger
    private let queue = LockedBox<(minutes: [OccupancyMinute], finishing: Bool, loggedAt: ContinuousClock.Instant?)>(([], false, nil))
    private let dropped = Counter(label: "crowdkit_occupancy_minutes_dropped_total")
    private let written = Counter(label: "crowdkit_occupancy_minutes_written_total")

    init(store: any OccupancyHistoryStore, interval: Duration = .seconds(2), capacity: Int = 1_000_000, logger: Logger) {
        self.store = store
        self.interval = interval
        self.capacity = capacity
        self.logger = logger
    }

    func offer(_ minutes: [OccupancyMinute]) {
        guard !minutes.isEmpty else { return }
        let over = queue.withLock { q -> Int in
            q.minutes += minutes
            let over = q.minutes.count - capacity
            if over > 0 { q.minutes.removeFirst(over) }
            return max(0, over)
        }
        if over > 0 { dropped.increment(by: over) }
    }

    func finish() { queue.withLock { $0.finishing = true } }

    /// Writes every `interval` until ``finish()``, then once more.
    func run() async {
        while true {
            let end = ContinuousClock.now + interval
            while ContinuousClock.now < end, !queue.withLock({ $0.finishing }) {
                try? await Task.sleep(for: min(.milliseconds(50), end - ContinuousClock.now))
            }
            let finishing = queue.withLock { $0.finishing }
            await flush()
            if finishing { return }
        }
    }

    private func flush() async {
        let batch = queue.withLock { q -> [OccupancyMinute] in
            defer { q.minutes.removeAll() }
            return q.minutes
        }
        guard !batch.isEmpty else { return }
        do {
            try await store.appendOccupancy(batch)
            written.increment(by: batch.count)
        } catch {
            // back in front of what came meanwhile, within the capacity
            let log = queue.withLock { q -> Bool in
                q.minutes = Array((batch + q.minutes).suffix(capacity))
                let now = ContinuousClock.now
                guard q.loggedAt.map({ now - $0 >= .seconds(60) }) ?? true else { return false }
                q.loggedAt = now
                return true
            }
            if log { logger.warning("cannot write occupancy history; kept in memory and written again", metadata: ["error": "\(error)"]) }
        }
    }
}
