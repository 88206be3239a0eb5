import Foundation
import Logging
import Metrics

/// Works off the store's outbox: sends every pending ``Delivery`` with its ``Notifier`` and records
/// the outcome, so that no fired event is ever dropped.
///
/// - Wakes up on ``wake()`` (or each element of the sequence given to ``run(wakingOn:)``, such as
///   the monitor's `changes()`), on a periodic poll, and when a retry is due.
/// - Keeps the deliveries it knows to be pending in memory: those of the ``EventChange``s it is
///   woken with (stored before they are broadcast) and those of its outbox reads. It reads the
///   outbox when it starts, on every poll (deliveries written by another process, or changes it
///   missed) and after ``wake()``, so a burst of notifications costs no store read per delivery.
/// - Loads the event (or takes it from the change that announced the delivery), enriches it once
///   (what the enricher added is saved with ``EventStore/enrich(_:)``, and remembered for the
///   event's later notifications), and calls the named notifier with a ``CrowdNotification``.
/// - Marks the delivery `.sent(remoteID:)`, or `.failed(reason:)` after a permanent error or
///   ``DeliveryConfiguration/maxAttempts`` attempts; in between it stays `.pending` with its
///   attempt count, and is retried after a back-off. Every update sets `attempts` and `updatedAt`.
/// - Sends concurrently (bounded in all and per notifier); the deliveries of one event for one
///   notifier go out in order (fired before reminders before ended). A slow notifier or zone
///   never holds up the others, and detection never waits on delivery.
/// - On cancellation (graceful shutdown) it stops; interrupted sends stay `.pending` in the
///   store and are sent after the restart.
public actor DeliveryService {
    private let store: any EventStore
    private let notifiers: [String: any Notifier]
    private let enricher: any EventEnricher
    private let configuration: DeliveryConfiguration
    private let logger: Logger
    private let now: @Sendable () -> Int64

    private var signal: AsyncStream<Void>.Continuation?
    private var inFlight: Set<String> = []
    private var busyKeys: Set<String> = []
    private var perNotifier: [String: Int] = [:]
    private var notBefore: [String: ContinuousClock.Instant] = [:]
    /// When deliveries last finished (sent, failed, interrupted): an outbox read that started
    /// before may still list them as pending (claims interleave at the read's suspension point),
    /// and must not send them again.
    private var finishedAt: [String: ContinuousClock.Instant] = [:]
    private var finishedPrunedAt = ContinuousClock.now
    private var timerDue: ContinuousClock.Instant?
    private var enrichments: [CrowdEventID: Enrichment] = [:]
    private var enrichmentOrder: [CrowdEventID] = []
    private var enrichTasks: [CrowdEventID: Task<Enrichment, Never>] = [:]
    /// Deliveries known to be pending (in flight, waiting for a back-off, or not claimed yet), by
    /// id, with the event when it came with them; `knownOrder` keeps their arrival order.
    private var known: [String: Known] = [:]
    private var knownOrder: [String] = []
    private var knownOrderStart = 0
    private var outboxReadDue = true

    private struct Known: Sendable {
        var delivery: Delivery
        var event: CrowdEvent?
        var addedAt: ContinuousClock.Instant
    }

    /// - Parameters:
    ///   - notifiers: the notifiers by their ``Notifier/name``; a delivery for a name not listed
    ///     is marked failed.
    ///   - now: host time in epoch milliseconds (for `updatedAt`).
    public init(
        store: any EventStore, notifiers: [any Notifier], enricher: any EventEnricher = NoEnrichment(),
        configuration: DeliveryConfiguration = .init(), logger: Logger,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.store = store
        var byName: [String: any Notifier] = [:]
        for n in notifiers { byName[n.name] = n }
        self.notifiers = byName
        self.enricher = enricher
        self.configuration = configuration
        self.logger = logger
        self.now = now
    }

    /// Asks the running service to read the outbox and send what is due now (cheap; safe from
    /// any task).
    public func wake() {
        outboxReadDue = true
        signal?.yield()
    }

    /// Takes note of the deliveries of a change the store has written (no store read needed).
    private func offer(_ change: EventChange) {
        guard !change.deliveries.isEmpty else { return }
        let instant = ContinuousClock.now
        for d in change.deliveries where d.status == .pending {
            guard known[d.id] == nil, finishedAt[d.id] == nil else { continue }
            known[d.id] = Known(delivery: d, event: change.event, addedAt: instant)
            knownOrder.append(d.id)
        }
    }

    private func requestOutboxRead() {
        outboxReadDue = true
    }

    /// Runs until the task is cancelled, polling the outbox periodically.
    public func run() async {
        await run(wakingOn: AsyncStream<Void> { $0.finish() })
    }

    /// Runs until the task is cancelled; each element of `wakeUps` (for example the monitor's
    /// `changes()`) makes it look at the outbox at once.
    public func run<WakeUps: AsyncSequence & Sendable>(wakingOn wakeUps: WakeUps) async {
        let (signals, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        signal = continuation
        continuation.yield()
        let pollInterval = configuration.pollInterval
        logger.info(
            "Delivery started",
            metadata: ["delivery.notifiers": "\(notifiers.keys.sorted().joined(separator: ","))"])

        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: pollInterval) } catch { break }
                    await self.requestOutboxRead()
                    continuation.yield()
                }
            }
            group.addTask {
                do {
                    for try await element in wakeUps {
                        if let change = element as? EventChange {
                            await self.offer(change)
                        } else {
                            await self.requestOutboxRead()
                        }
                        continuation.yield()
                    }
                } catch {}
            }
            for await _ in signals {
                if Task.isCancelled { break }
                let batch = await claimDue()
                for (delivery, event) in batch {
                    group.addTask {
                        await self.process(delivery, event: event)
                        continuation.yield()
                    }
                }
                if let due = earliestRetry(), timerDue.map({ due < $0 }) ?? true {
                    timerDue = due
                    group.addTask {
                        try? await Task.sleep(until: due, clock: .continuous)
                        await self.timerFired(due)
                        continuation.yield()
                    }
                }
            }
            group.cancelAll()
        }
        signal = nil
        continuation.finish()
        logger.info("Delivery stopped", metadata: ["delivery.interrupted": "\(inFlight.count)"])
    }

    // MARK: Scheduling (actor-isolated, no I/O but the outbox read)

    private static func key(_ d: Delivery) -> String { "\(d.eventID.rawValue)/\(d.notifier)" }

    /// Reads the outbox into `known` (deliveries written elsewhere, missed changes, a restart).
    private func readOutbox() async {
        outboxReadDue = false
        let limit = min(configuration.batchSize + known.count, 10_000)
        let readStart = ContinuousClock.now
        let pending: [Delivery]
        do {
            pending = try await store.pendingDeliveries(limit: limit)
        } catch {
            logger.error("Cannot read the outbox", metadata: ["error": "\(error)"])
            return
        }
        let ids = Set(pending.map(\.id))
        if pending.count < limit {
            // The whole outbox was read: forget deliveries no longer pending (pruned, or updated
            // elsewhere) that were known before the read began, so that no timer waits for them.
            for (id, k) in known where !ids.contains(id) && !inFlight.contains(id) && k.addedAt < readStart {
                known[id] = nil
                notBefore[id] = nil
            }
        }
        let instant = ContinuousClock.now
        for d in pending where known[d.id] == nil {
            if let done = finishedAt[d.id], done >= readStart { continue }  // stale row: finished meanwhile
            known[d.id] = Known(delivery: d, event: nil, addedAt: instant)
            knownOrder.append(d.id)
        }
    }

    private func claimDue() async -> [(Delivery, CrowdEvent?)] {
        if outboxReadDue { await readOutbox() }
        if inFlight.count >= configuration.maxConcurrent { return [] }
        let instant = ContinuousClock.now
        if instant - finishedPrunedAt >= .seconds(10) {
            // entries older than any read still under way are of no use (reads take milliseconds)
            finishedAt = finishedAt.filter { instant - $0.value < .seconds(60) }
            finishedPrunedAt = instant
        }
        // forget the ids of finished deliveries at the front of the arrival order
        while knownOrderStart < knownOrder.count, known[knownOrder[knownOrderStart]] == nil { knownOrderStart += 1 }
        if knownOrderStart > 1024 && knownOrderStart * 2 > knownOrder.count {
            knownOrder.removeFirst(knownOrderStart)
            knownOrderStart = 0
        }
        var blocked = Set<String>()
        var saturated = Set<String>()
        var claimed: [(Delivery, CrowdEvent?)] = []
        for id in knownOrder[knownOrderStart...] {
            guard let k = known[id] else { continue }
            let d = k.delivery
            let key = Self.key(d)
            if inFlight.contains(d.id) || busyKeys.contains(key) || blocked.contains(key) {
                blocked.insert(key)
                continue
            }
            if let due = notBefore[d.id], due > instant {
                blocked.insert(key)
                continue
            }
            if inFlight.count >= configuration.maxConcurrent { break }
            if perNotifier[d.notifier, default: 0] >= configuration.maxConcurrentPerNotifier {
                blocked.insert(key)
                saturated.insert(d.notifier)
                // every notifier is busy: nothing further down can be claimed now
                if saturated.count >= notifiers.count { break }
                continue
            }
            notBefore[d.id] = nil
            inFlight.insert(d.id)
            busyKeys.insert(key)
            perNotifier[d.notifier, default: 0] += 1
            blocked.insert(key)
            claimed.append((d, k.event))
        }
        return claimed
    }

    /// The next back-off that ends in the future (past-due ones are claimed, or wait for a slot
    /// whose release wakes the loop anyway).
    private func earliestRetry() -> ContinuousClock.Instant? {
        let now = ContinuousClock.now
        return notBefore.values.filter { $0 > now }.min()
    }

    private func timerFired(_ due: ContinuousClock.Instant) {
        if timerDue == due { timerDue = nil }
    }

    private func finished(_ d: Delivery, retry: Retry?) {
        inFlight.remove(d.id)
        busyKeys.remove(Self.key(d))
        perNotifier[d.notifier, default: 1] -= 1
        if let retry {
            notBefore[d.id] = retry.at
            if var k = known[d.id] {
                k.delivery.attempts = retry.attempts
                k.event = nil  // read the newest version for the next attempt
                known[d.id] = k
            }
        } else {
            notBefore[d.id] = nil
            known[d.id] = nil
        }
        finishedAt[d.id] = ContinuousClock.now
    }

    /// When to try a delivery again, and how many attempts it has had.
    private struct Retry: Sendable {
        var at: ContinuousClock.Instant
        var attempts: Int
    }

    // MARK: Sending (off the actor)

    private nonisolated func process(_ delivery: Delivery, event: CrowdEvent?) async {
        let retry = await attempt(delivery, event: event)
        await finished(delivery, retry: retry)
    }

    /// Sends one delivery and records the outcome; returns when to try again, if it must be.
    private nonisolated func attempt(_ d: Delivery, event known: CrowdEvent?) async -> Retry? {
        var logger = self.logger
        logger[metadataKey: "delivery.id"] = "\(d.id)"
        logger[metadataKey: "delivery.notifier"] = "\(d.notifier)"
        guard let notifier = notifiers[d.notifier] else {
            await record(d, status: .failed(reason: "no notifier named \(d.notifier) is configured"), attempts: d.attempts, logger)
            return nil
        }
        let event: CrowdEvent
        if let known {
            event = await enriched(known, kind: d.kind)
        } else {
            do {
                guard let stored = try await store.record(id: d.eventID) else {
                    await record(d, status: .failed(reason: "event \(d.eventID) is not in the store"), attempts: d.attempts, logger)
                    return nil
                }
                event = await enriched(stored.event, kind: d.kind)
            } catch {
                logger.error("Cannot load the event of a delivery", metadata: ["error": "\(error)"])
                return Retry(at: ContinuousClock.now + configuration.backoff(afterAttempts: max(1, d.attempts)), attempts: d.attempts)
            }
        }
        if Task.isCancelled { return nil }

        let notification = CrowdNotification(
            kind: d.kind, event: event, sequence: d.sequence, deliveryID: d.id, attempt: d.attempts + 1)
        let attempts = d.attempts + 1
        do {
            let receipt = try await notifier.send(notification)
            await record(d, status: .sent(remoteID: receipt.remoteID), attempts: attempts, logger)
            return nil
        } catch {
            if Task.isCancelled || error is CancellationError {
                logger.info("Delivery interrupted; it stays pending")
                return nil
            }
            let failure = error as? NotificationError
            let reason = failure?.message ?? "\(error)"
            if failure?.code == .permanent {
                await record(d, status: .failed(reason: reason), attempts: attempts, logger)
                return nil
            }
            if attempts >= configuration.maxAttempts {
                await record(d, status: .failed(reason: "gave up after \(attempts) attempts: \(reason)"), attempts: attempts, logger)
                return nil
            }
            var wait = configuration.backoff(afterAttempts: attempts)
            if let asked = failure?.retryAfter, asked > wait { wait = asked }
            logger.warning(
                "Notification not sent; will retry",
                metadata: ["delivery.attempts": "\(attempts)", "delivery.retry.wait": "\(wait)", "error": "\(reason)"])
            await record(d, status: .pending, attempts: attempts, logger)
            return Retry(at: ContinuousClock.now + wait, attempts: attempts)
        }
    }

    private nonisolated func record(_ d: Delivery, status: DeliveryStatus, attempts: Int, _ logger: Logger) async {
        var updated = d
        updated.status = status
        updated.attempts = attempts
        updated.updatedAt = now()
        switch status {
        case .sent:
            logger.debug("Notification sent", metadata: ["delivery.attempts": "\(attempts)"])
            // from the outbox record (written when the crowd fired) to the remote side's answer
            Timer(label: "crowdkit_delivery_latency_seconds", dimensions: [("notifier", d.notifier)])
                .recordMilliseconds(max(updated.updatedAt - d.createdAt, 0))
        case .failed(let reason):
            logger.error("Notification failed", metadata: ["delivery.attempts": "\(attempts)", "error": "\(reason)"])
        case .pending:
            break
        }
        Counter(label: "crowdkit_deliveries_total", dimensions: [("notifier", d.notifier), ("status", status.name)]).increment()
        do {
            try await store.updateDelivery(updated)
        } catch {
            logger.error("Cannot record a delivery's status", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Enrichment, once per event

    /// What an enricher adds to an event.
    struct Enrichment: Sendable, Hashable {
        var cameraName: String?
        var zoneName: String?
        var videoURL: String?
        var visionURL: String?
        var snapshotURL: String?
        var notes: [String]

        init(_ e: CrowdEvent) {
            cameraName = e.cameraName
            zoneName = e.zoneName
            videoURL = e.videoURL
            visionURL = e.visionURL
            snapshotURL = e.snapshotURL
            notes = e.enrichmentNotes
        }

        /// `event` with the fields it lacks filled in.
        func applied(to event: CrowdEvent) -> CrowdEvent {
            var e = event
            e.cameraName = e.cameraName ?? cameraName
            e.zoneName = e.zoneName ?? zoneName
            e.videoURL = e.videoURL ?? videoURL
            e.visionURL = e.visionURL ?? visionURL
            e.snapshotURL = e.snapshotURL ?? snapshotURL
            if e.enrichmentNotes.isEmpty { e.enrichmentNotes = notes }
            return e
        }
    }

    /// Whether a stored event was enriched already (before a restart): only enrichers set these.
    private static func looksEnriched(_ e: CrowdEvent) -> Bool {
        e.videoURL != nil || e.snapshotURL != nil || !e.enrichmentNotes.isEmpty
    }

    private func enriched(_ event: CrowdEvent, kind: NotificationKind) async -> CrowdEvent {
        if let known = enrichments[event.id] {
            let merged = known.applied(to: event)
            if merged != event { await save(merged) }
            return merged
        }
        if Self.looksEnriched(event) {
            remember(Enrichment(event), for: event.id)
            return event
        }
        let task: Task<Enrichment, Never>
        if let running = enrichTasks[event.id] {
            task = running
        } else {
            let enricher = self.enricher
            task = Task { Enrichment(await enricher.enrich(event)) }
            enrichTasks[event.id] = task
        }
        let enrichment = await task.value
        if enrichTasks[event.id] != nil {
            enrichTasks[event.id] = nil
            remember(enrichment, for: event.id)
            // nothing added (no enricher, or every part failed without a note): nothing to save
            let merged = enrichment.applied(to: event)
            if merged == event { return event }
            // only the enrichment columns: the monitor may have updated the event meanwhile
            await save(merged)
            return merged
        }
        return enrichment.applied(to: event)
    }

    private func save(_ enriched: CrowdEvent) async {
        do {
            try await store.enrich(enriched)
        } catch {
            logger.error("Cannot save the enriched event", metadata: ["crowd.event": "\(enriched.id)", "error": "\(error)"])
        }
    }

    private func remember(_ enrichment: Enrichment, for id: CrowdEventID) {
        if enrichments.updateValue(enrichment, forKey: id) == nil {
            enrichmentOrder.append(id)
            if enrichmentOrder.count > configuration.enrichmentCacheSize {
                let drop = enrichmentOrder.count - configuration.enrichmentCacheSize
                for old in enrichmentOrder.prefix(drop) { enrichments[old] = nil }
                enrichmentOrder.removeFirst(drop)
            }
        }
    }
}
