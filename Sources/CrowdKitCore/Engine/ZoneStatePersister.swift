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
    private let pending = LockedBox<[ZoneKey: (state: SavedZoneState, mark: Int)]>([:])
    /// Batches as the monitor hands them over: merged into `pending` (latest per zone) by the
    /// saving task, so that the monitor's task spends no time on per-zone bookkeeping.
    private let arrivals = LockedBox<[(states: [SavedZoneState], mark: Int)]>([])
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
    func offer(_ states: [SavedZoneState], mark: Int) {
        guard !states.isEmpty else { return }
        arrivals.withLock { $0.append((states, mark)) }
    }

    /// Moves what arrived into `pending`, newest last (on the saving task).
    private func merge() {
        let batches = arrivals.withLock { a -> [(states: [SavedZoneState], mark: Int)] in
            defer { a.removeAll(keepingCapacity: true) }
            return a
        }
        guard !batches.isEmpty else { return }
        pending.withLock { p in
            for batch in batches {
                for s in batch.states { p[s.zone] = (s, batch.mark) }
            }
        }
    }

    /// Ends the loop after a last save, tried until `timeout` has passed.
    func finish(within timeout: Duration) {
        control.withLock {
            $0.finishing = true
            $0.deadline = ContinuousClock.now + timeout
        }
    }

    /// Saves every `interval` until ``finish(within:)``, then once more.
    func run() async {
        while !control.withLock({ $0.finishing }) {
            let end = ContinuousClock.now + interval
            while ContinuousClock.now < end, !control.withLock({ $0.finishing }) {
                try? await Task.sleep(for: min(.milliseconds(50), end - ContinuousClock.now))
            }
            if control.withLock({ $0.finishing }) { break }
            _ = await flush()
        }
        while await !flush() {
            let deadline = control.withLock { $0.deadline } ?? ContinuousClock.now
            if ContinuousClock.now >= deadline {
                let left = pending.withLock { $0.count }
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
        merge()
        let limit = written()
        let (batch, held) = pending.withLock { p -> ([(state: SavedZoneState, mark: Int)], Bool) in
            var out: [(state: SavedZoneState, mark: Int)] = []
            out.reserveCapacity(p.count)
            var keep: [ZoneKey: (state: SavedZoneState, mark: Int)] = [:]
            for (key, entry) in p {
                if entry.mark <= limit { out.append(entry) } else { keep[key] = entry }
            }
            p = keep
            return (out, !keep.isEmpty)
        }
        guard !batch.isEmpty else { return !held }
        do {
            try await store.saveZoneStates(batch.map(\.state))
            saved.increment(by: batch.count)
            control.withLock { $0.loggedAt = nil }
            return !held
        } catch {
            failures.increment()
            // put back what no newer state replaced meanwhile
            pending.withLock { p in
                for entry in batch where p[entry.state.zone] == nil { p[entry.state.zone] = entry }
            }
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
}
