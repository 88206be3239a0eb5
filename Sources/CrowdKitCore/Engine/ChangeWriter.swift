import Foundation
import Logging
import Metrics

/// How the monitor writes its changes to the store, and what it does while the store fails.
public struct StoreWriteConfiguration: Sendable, Hashable {
    /// Changes kept in memory while the store fails. Past it the oldest change is dropped (its
    /// notifications still go out; it is logged and counted in `crowdkit_store_dropped_total`).
    /// Default 10,000 (a few MB).
    public var capacity: Int
    /// First wait before writing again after a failure; doubles up to ``maxRetryInterval``.
    public var retryInterval: Duration
    public var maxRetryInterval: Duration
    /// At shutdown, how long the monitor keeps trying to write what waits in memory before it
    /// gives up, logging each change it could not save. Default 4 s.
    public var shutdownTimeout: Duration
    /// One log line per this interval while the store fails. Default one minute.
    public var logInterval: Duration

    public init(
        capacity: Int = 10_000, retryInterval: Duration = .milliseconds(250), maxRetryInterval: Duration = .seconds(5),
        shutdownTimeout: Duration = .seconds(4), logInterval: Duration = .seconds(60)
    ) {
        self.capacity = max(1, capacity)
        self.retryInterval = retryInterval
        self.maxRetryInterval = max(maxRetryInterval, retryInterval)
        self.shutdownTimeout = shutdownTimeout
        self.logInterval = logInterval
    }
}

/// The health of the monitor's writes to the store (for `/readyz` and the page).
public struct StoreWriteHealth: Sendable, Hashable {
    /// Changes waiting in memory to be written.
    public var backlog: Int
    /// Changes dropped because the memory queue was full (since start).
    public var dropped: Int
    /// Host time (epoch ms) of the first failure of the current failing spell; `nil` when writes
    /// succeed.
    public var failingSince: Int64?
    /// The last write error (never a secret).
    public var lastError: String?

    public init(backlog: Int = 0, dropped: Int = 0, failingSince: Int64? = nil, lastError: String? = nil) {
        self.backlog = backlog
        self.dropped = dropped
        self.failingSince = failingSince
        self.lastError = lastError
    }

    /// Whether writes currently succeed.
    public var isHealthy: Bool { failingSince == nil }
}

/// Writes the monitor's changes to the store in order, on a task of its own, so that detection
/// never waits for the disk. Bursts are written as one batch.
///
/// While the store fails, changes wait in a bounded memory queue and are written again with
/// back-off; each change is broadcast to listeners (delivery among them) once, as soon as it is
/// stored or its first write failed, so that notifications go out whatever the disk does.
final class ChangeWriter: Sendable {
    private let store: any EventStore
    private let configuration: StoreWriteConfiguration
    private let logger: Logger
    private let broadcast: @Sendable ([EventChange]) -> Void
    private let state = LockedBox(State())
    private let wakeUps: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let backlogGauge = Gauge(label: "crowdkit_store_backlog")
    private let failingGauge = Gauge(label: "crowdkit_store_failing")
    private let failures = Counter(label: "crowdkit_store_write_failures_total")
    private let droppedCounter = Counter(label: "crowdkit_store_dropped_total")

    private struct Queued: Sendable {
        var change: EventChange
        var broadcast: Bool
    }

    private struct State: Sendable {
        var queue: [Queued] = []
        var head = 0
        /// Changes removed from the front of `queue` (written or dropped) before `queue[0]`.
        var removed = 0
        var health = StoreWriteHealth()
        var finishing = false
        var deadline: ContinuousClock.Instant?
        var droppedSinceLog = 0
        var loggedAt: ContinuousClock.Instant?
        var failingSinceInstant: ContinuousClock.Instant?
        /// When the last "queue full" line was logged.
        var fullLoggedAt: ContinuousClock.Instant?
    }

    init(
        store: any EventStore, configuration: StoreWriteConfiguration, logger: Logger,
        broadcast: @escaping @Sendable ([EventChange]) -> Void
    ) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.broadcast = broadcast
        (wakeUps, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    var health: StoreWriteHealth { state.withLock { $0.health } }

    /// How many changes were ever queued: a mark that ``written`` reaches once all of them are
    /// written (or dropped).
    var queued: Int { state.withLock { $0.removed + $0.queue.count } }

    /// How many changes were written (or dropped) so far, in queue order.
    var written: Int { state.withLock { $0.removed + $0.head } }

    /// Queues changes (never blocks). Past the capacity the oldest waiting change is dropped.
    func enqueue(_ changes: [EventChange]) {
        var dropped: [Queued] = []
        let logFull = state.withLock { s -> Bool in
            s.queue.append(contentsOf: changes.map { Queued(change: $0, broadcast: false) })
            let excess = s.queue.count - s.head - configuration.capacity
            if excess > 0 {
                dropped = Array(s.queue[s.head..<(s.head + excess)])
                s.head += excess
                s.health.dropped += excess
                s.droppedSinceLog += excess
            }
            s.health.backlog = s.queue.count - s.head
            guard excess > 0 else { return false }
            let now = ContinuousClock.now
            guard s.fullLoggedAt.map({ now - $0 >= configuration.logInterval }) ?? true else { return false }
            s.fullLoggedAt = now
            return true
        }
        if !dropped.isEmpty {
            droppedCounter.increment(by: dropped.count)
            if logFull {
                // one line per log interval; the fired events dropped are each logged below
                logger.critical(
                    "event store queue full (\(configuration.capacity) changes): the oldest are dropped from memory, their notifications still go out",
                    metadata: ["store.capacity": "\(configuration.capacity)", "store.dropped": "\(health.dropped)"])
            }
            // its notifications still go out from memory
            let unsent = dropped.filter { !$0.broadcast }.map(\.change)
            if !unsent.isEmpty { broadcast(unsent) }
            for q in dropped where q.change.kind == .fired { logUnsaved(q.change, "the memory queue is full") }
        }
        wake.yield()
    }

    /// Ends the writer: what waits is written until `deadline`, then given up (logged).
    func finish(within timeout: Duration) {
        state.withLock {
            $0.finishing = true
            $0.deadline = ContinuousClock.now + timeout
        }
        wake.finish()
    }

    /// The writing loop; returns after ``finish(within:)`` once everything is written or the
    /// deadline has passed.
    func run() async {
        var delay = configuration.retryInterval
        for await _ in wakeUps {
            writing: while true {
                switch await writeOnce() {
                case .empty: break writing
                case .more: continue
                case .failed:
                    // wait, then try again (the queue keeps growing meanwhile)
                    if await pause(delay) { break writing }
                    delay = min(delay * 2, configuration.maxRetryInterval)
                }
            }
            if state.withLock({ $0.health.isHealthy }) { delay = configuration.retryInterval }
        }
        // finishing: keep trying until the deadline
        while true {
            let outcome = await writeOnce()
            if outcome == .empty { break }
            let deadline = state.withLock { $0.deadline } ?? ContinuousClock.now
            let now = ContinuousClock.now
            if now >= deadline { break }
            if outcome == .failed {
                try? await Task.sleep(for: min(delay, deadline - now))
                delay = min(delay * 2, configuration.maxRetryInterval)
            }
        }
        let rest = state.withLock { s in
            defer {
                s.removed += s.queue.count
                s.queue.removeAll()
                s.head = 0
                s.health.backlog = 0
            }
            return Array(s.queue[s.head...])
        }
        if !rest.isEmpty {
            let unsent = rest.filter { !$0.broadcast }.map(\.change)
            if !unsent.isEmpty { broadcast(unsent) }
            logger.critical(
                "event store: \(rest.count) changes could not be saved before shutdown; each is logged below",
                metadata: ["store.error": "\(state.withLock { $0.health.lastError } ?? "-")"])
            for q in rest { logUnsaved(q.change, "the store kept failing until shutdown") }
        }
        backlogGauge.record(0)
    }

    /// Sleeps `delay` in short steps; returns early (true) when the writer is finishing.
    private func pause(_ delay: Duration) async -> Bool {
        let end = ContinuousClock.now + delay
        while ContinuousClock.now < end {
            if state.withLock({ $0.finishing }) { return true }
            try? await Task.sleep(for: min(.milliseconds(100), end - ContinuousClock.now))
        }
        return state.withLock { $0.finishing }
    }

    private enum WriteOutcome { case empty, more, failed }

    /// The most changes written in one store call.
    static let maximumBatch = 1000

    /// Writes everything queued now (one batch): `.empty` when nothing waits afterwards, `.more`
    /// when changes came meanwhile, `.failed` when the store refused the batch.
    private func writeOnce() async -> WriteOutcome {
        // at most `maximumBatch` at once: a backlog written after an outage goes in transactions
        // of bounded size (each well within a store's request timeout)
        let (batch, start) = state.withLock { s in
            (Array(s.queue[s.head..<min(s.queue.count, s.head + Self.maximumBatch)]), s.head)
        }
        if batch.isEmpty { return .empty }
        do {
            // one change goes through the store's own batching (SQLite group-commits it with
            // delivery status updates); a burst is one transaction
            if batch.count == 1 {
                try await store.apply(batch[0].change)
            } else {
                try await store.apply(contentsOf: batch.map(\.change))
            }
        } catch let error as EventStoreError where error.code == .invalid && batch.count > 1 {
            // one change the store refuses for good must not hold up the others: one at a time
            for q in batch {
                do {
                    try await store.apply(q.change)
                } catch let single as EventStoreError where single.code == .invalid {
                    logger.critical("event store refused a change", metadata: ["error": "\(single)"])
                    logUnsaved(q.change, "the store refused it")
                } catch {
                    failed(batch, start: start, error)
                    return .failed
                }
            }
        } catch {
            failed(batch, start: start, error)
            return .failed
        }
        let recovered: (waited: Duration, count: Int)? = state.withLock { s in
            // the queue may have grown (or dropped its oldest) meanwhile
            let done = max(0, start + batch.count - s.head)
            s.head += done
            if s.head > 1024 && s.head * 2 > s.queue.count {
                s.queue.removeFirst(s.head)
                s.removed += s.head
                s.head = 0
            } else if s.head == s.queue.count {
                s.queue.removeAll(keepingCapacity: s.queue.count < 4096)
                s.removed += s.head
                s.head = 0
            }
            s.health.backlog = s.queue.count - s.head
            guard s.health.failingSince != nil, let since = s.failingSinceInstant else { return nil }
            s.health.failingSince = nil
            s.failingSinceInstant = nil
            s.loggedAt = nil
            return (ContinuousClock.now - since, batch.count)
        }
        backlogGauge.record(state.withLock { $0.health.backlog })
        let unsent = batch.filter { !$0.broadcast }.map(\.change)
        if !unsent.isEmpty { broadcast(unsent) }
        if let recovered {
            failingGauge.record(0)
            logger.notice(
                "event store writes again: \(recovered.count) waiting changes written after \(TextFormat.duration(milliseconds: recovered.waited.milliseconds)) of failures")
        }
        return state.withLock { $0.queue.count == $0.head } ? .empty : .more
    }

    private func failed(_ batch: [Queued], start: Int, _ error: any Error) {
        failures.increment()
        let instant = ContinuousClock.now
        let (log, health, dropped) = state.withLock { s -> (Bool, StoreWriteHealth, Int) in
            // mark what is still queued as broadcast (delivery goes on from memory)
            var i = max(start, s.head)
            while i < min(start + batch.count, s.queue.count) {
                s.queue[i].broadcast = true
                i += 1
            }
            if s.health.failingSince == nil {
                s.health.failingSince = Int64(Date().timeIntervalSince1970 * 1000)
                s.failingSinceInstant = instant
            }
            s.health.lastError = "\(error)"
            let log = s.loggedAt.map { instant - $0 >= configuration.logInterval } ?? true
            if log { s.loggedAt = instant }
            let dropped = s.droppedSinceLog
            if log { s.droppedSinceLog = 0 }
            return (log, s.health, dropped)
        }
        failingGauge.record(1)
        backlogGauge.record(health.backlog)
        let unsent = batch.filter { !$0.broadcast }.map(\.change)
        if !unsent.isEmpty { broadcast(unsent) }
        if log {
            logger.error(
                "event store writes failing: \(health.backlog) changes wait in memory and are written when it accepts writes again; notifications go on",
                metadata: [
                    "store.backlog": "\(health.backlog)", "store.dropped": "\(dropped)", "error": "\(error)",
                ])
        }
    }

    private func logUnsaved(_ change: EventChange, _ why: String) {
        let e = change.event
        logger.critical(
            "event not stored: \(why)",
            metadata: [
                "crowd.event": "\(e.id)", "crowd.kind": "\(change.kind.rawValue)",
                "crowd.camera": "\(e.camera)", "crowd.zone": "\(e.zone)",
                "crowd.started_at": "\(e.startedAt)", "crowd.fired_at": "\(e.firedAt)",
                "crowd.ended_at": "\(e.endedAt.map(String.init) ?? "-")", "crowd.peak": "\(e.peak)",
            ])
    }
}
