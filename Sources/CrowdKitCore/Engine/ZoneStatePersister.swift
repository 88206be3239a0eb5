import Logging
import Metrics

/// Saves the monitor's changed zone states: collects them (latest per zone) and writes them in
/// one store call every `interval`, on a task of its own, so detection never waits for the disk.
/// A failing store keeps them (newer states replace older ones) and is tried again next time.
///
/// A state is saved only once the event changes emitted before it are written (`mark` against
/// `written()`): a zone whose saved state says "fired" always has its fired event stored, so a
/// crash can make the monitor process observations again (idempotent: same event id, same
/// notification keys), never lose a notification.
final class ZoneStatePersister: Sendable {
    private let store: any ZoneStateStore
    private let interval: Duration
    private let logger: Logger
    private let written: @Sendable () -> Int
    /// Batches as the monitor hands them over, oldest first, each with the writer's mark at the
    /// time; the saving task merges those whose events are written (latest per zone) into one.
    /// Marks never decrease, so the batches that may be saved are always a prefix.
    private let pending = LockedBox<[(batch: ZoneStateBatch, mark: Int)]>([])
    private let control = LockedBox<(finishing: Bool, deadline: ContinuousClock.Instant?, loggedAt: ContinuousClock.Instant?)>(
        (false, nil, nil))
    private let saved = Counter(label: "crowdkit_zone_states_saved_total")
    private let failures = Counter(label: "crowdkit_zone_state_save_failures_total")

    init(store: any ZoneStateStore, interval: Duration, logger: Logger, written: @escaping @Sendable () -> Int) {
        self.store = store
        self.written = written
        self.interval = interval
        self.logger = logger
    }

    /// Takes the latest states of these zones (never blocks on the store), to be saved once
    /// `written()` reaches `mark`.
    func offer(_ batch: ZoneStateBatch, mark: Int) {
        guard !batch.isEmpty else { return }
        pending.withLock { $0.append((batch, mark)) }
    }

    /// Ends the loop after a last save, tried until `timeout` has passed.
    func finish(within timeout: Duration) {
        control.withLock {
            $0.finishing = true
            $0.deadline = ContinuousClock.now + timeout
        }
    }

    /// Saves what waits, at most once every `interval` (and within 50 ms of it once something
    /// waits), until ``finish(within:)``, then once more.
    func run() async {
        var last = ContinuousClock.now
        while !control.withLock({ $0.finishing }) {
            try? await Task.sleep(for: .milliseconds(50))
            if control.withLock({ $0.finishing }) { break }
            guard ContinuousClock.now - last >= interval, !pending.withLock({ $0.isEmpty }) else { continue }
            last = ContinuousClock.now
            _ = await flush()
        }
        while await !flush() {
            let deadline = control.withLock { $0.deadline } ?? ContinuousClock.now
            if ContinuousClock.now >= deadline {
                let left = pending.withLock { $0.reduce(0) { $0 + $1.batch.count } }
                logger.error(
                    "zone states not saved at shutdown: the store keeps failing; these zones resume from older states",
                    metadata: ["crowd.zones": "\(left)"])
                return
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Saves what waits and may be saved; returns false when the store failed or states still
    /// wait for their events to be written.
    private func flush() async -> Bool {
        let limit = written()
        let (ready, held) = pending.withLock { p -> ([ZoneStateBatch], Bool) in
            let n = p.firstIndex { $0.mark > limit } ?? p.count
            let ready = p[..<n].map(\.batch)
            p.removeFirst(n)
            // while the events stay unwritten (a failing event store), what waits is merged into
            // one batch at the newest mark: memory stays bounded by the number of zones
            if p.count > 16, let mark = p.last?.mark {
                p = ZoneStateBatch.merged(p.map(\.batch)).map { ($0, mark) }
            }
            return (ready, !p.isEmpty)
        }
        guard !ready.isEmpty else { return !held }
        let batches = ZoneStateBatch.merged(ready)
        for (i, batch) in batches.enumerated() {
            do {
                try await store.saveZoneStates(batch)
                saved.increment(by: batch.count)
                control.withLock { $0.loggedAt = nil }
            } catch {
                failures.increment()
                // kept, oldest first, before anything newer
                pending.withLock { $0.insert(contentsOf: batches[i...].map { ($0, Int.min) }, at: 0) }
                let log = control.withLock { c -> Bool in
                    let now = ContinuousClock.now
                    guard c.loggedAt.map({ now - $0 >= .seconds(60) }) ?? true else { return false }
                    c.loggedAt = now
                    return true
                }
                if log {
                    logger.error(
                        "cannot save zone states; kept in memory and saved again",
                        metadata: ["crowd.zones": "\(batch.count)", "error": "\(error)"])
                }
                return false
            }
        }
        return !held
    }
}
