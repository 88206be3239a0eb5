import Foundation
import Logging
import Metrics

/// Works off the store's outbox: sends every pending ``Delivery`` with its ``Notifier`` and records
/// the outcome, so that no fired event is ever dropped.
///
/// - Wakes up on ``wake()`` (or each element of the sequence given to ``run(wakingOn:)``), on each
///   change given to ``run(changes:)`` (the monitor's `changes()`), on a periodic poll, and when a
///   retry is due.
/// - Keeps the deliveries it knows to be pending in memory: those of the ``EventChange``s it is
///   woken with (stored before they are broadcast, or waiting in the monitor's memory queue while
///   the store fails) and those of its outbox reads. It reads the outbox when it starts, on every
///   poll (deliveries written by another process, or changes it missed) and after ``wake()``, so
///   a burst of notifications costs no store read per delivery.
/// - Loads the event (or takes it from the change that announced the delivery), enriches it once
///   (what the enricher added is saved with ``EventStore/enrich(_:)``, and remembered for the
///   event's later notifications), and calls the named notifier with a ``CrowdNotification``
///   (whose `delayMilliseconds` lets the message say "raised 14 min ago" when it is late).
/// - Retries are this service's alone (notifiers should not retry on their own): a transient
///   error leaves the delivery `.pending` with its attempt count and last error, and puts its
///   notifier in an *outage*: it is then probed with one notification at a time, at waits that
///   double up to ``DeliveryConfiguration/maxProbeInterval`` (or the server's `Retry-After`), and
///   its first success releases every waiting notification at once. A storm of 503 answers
///   costs a few requests, not one per notification and attempt.
/// - A delivery ends `.sent(remoteID:)`, `.failed(reason:)` on a permanent error (or after
///   ``DeliveryConfiguration/maxAttempts`` when set), or `.expired(reason:)` once older than
///   its maximum age (``DeliveryConfiguration/maxAge(for:)``), never sent. Every update sets
///   `attempts` and `updatedAt`.
/// - A status the store cannot take (a failing disk) is kept in memory and written again on
///   every poll; until then the outbox still lists the delivery as pending, and this service
///   never sends it again.
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
    /// Notifiers answering with transient errors: probed one notification at a time.
    private var outages: [String: Outage] = [:]
    /// Final statuses the store could not take yet, by delivery id: written again on every poll;
    /// their deliveries are never sent again by this process.
    private var unrecorded: [String: Delivery] = [:]
    /// Enrichments the store could not take yet (its event may still wait in the monitor's
    /// memory queue), by event: saved again with the statuses.
    private var unsavedEnrichments: [CrowdEventID: CrowdEvent] = [:]
    private var unrecordedLoggedAt: ContinuousClock.Instant?
    private var flushing = false
    /// When deliveries last finished (sent, failed, interrupted): an outbox read that started
    /// before may still list them as pending (claims interleave at the read's suspension point),
    /// and must not send them again.
    private var finishedAt: [String: ContinuousClock.Instant] = [:]
    private var finishedPrunedAt = ContinuousClock.now
    /// Start instants of outbox reads under way (their rows may be stale).
    private var readsUnderWay: [ContinuousClock.Instant] = []
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
    private var lastExpiryScan = ContinuousClock.now - .seconds(2)
    /// When ``claimDue()`` last looked at what is due.
    private var lastClaimAt = ContinuousClock.now
    private let unrecordedGauge = Gauge(label: "crowdkit_delivery_unrecorded")

    private struct Known: Sendable {
        var delivery: Delivery
        /// The event as last seen (from the change, or the store).
        var event: CrowdEvent?
        /// Whether `event` is the newest version (it came with the change just now): no read.
        var fresh: Bool
        var addedAt: ContinuousClock.Instant
    }

    private struct Outage: Sendable {
        /// Failed probes in a row (the attempts in flight when the outage began count as one).
        var failures: Int
        /// No probe before this.
        var until: ContinuousClock.Instant
    }

    /// What one attempt came to.
    private enum Outcome: Sendable {
        /// Sent, or refused for good (the notifier answered): the outage, if any, is over.
        case answered
        /// Recorded as failed or expired without the notifier's answer, or interrupted.
        case done
        /// A transient error: try the delivery again after `backoff`, the notifier after `wait`.
        case retry(attempts: Int, lastError: String, retryAfter: Duration?)
    }

    /// - Parameters:
    ///   - notifiers: the notifiers by their ``Notifier/name``; a delivery for a name not listed
    ///     is marked failed.
    ///   - now: host time in epoch milliseconds (for `updatedAt` and the age of deliveries).
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

    /// Statuses of finished deliveries that the store has not taken yet (a failing store).
    public var unrecordedStatuses: Int { unrecorded.count }

    /// The graceful end of delivery, while ``run(changes:)`` (or another `run`) still runs: keeps
    /// sending until no notification is pending in the store or under way, or `limit` has passed,
    /// and returns how many are still pending (they stay in the store for the next start). Stop
    /// the monitor first, so that its last changes are in the store; cancel the run afterwards.
    @discardableResult
    public func drain(within limit: Duration) async -> Int {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline, !Task.isCancelled {
            let pending = (try? await store.pendingDeliveries(limit: 1)) ?? []
            if pending.isEmpty && inFlight.isEmpty { return 0 }
            wake()
            try? await Task.sleep(for: .milliseconds(50))
        }
        let left = (try? await store.pendingDeliveries(limit: 10_000).count) ?? 0
        if left > 0 {
            logger.warning("Delivery stopped draining with notifications still pending", metadata: ["delivery.pending": "\(left)"])
        }
        return left
    }

    /// Takes note of the deliveries of a change (no store read needed).
    private func offer(_ change: EventChange) {
        guard !change.deliveries.isEmpty else { return }
        let instant = ContinuousClock.now
        for d in change.deliveries where d.status == .pending {
            guard known[d.id] == nil, finishedAt[d.id] == nil, unrecorded[d.id] == nil else { continue }
            known[d.id] = Known(delivery: d, event: change.event, fresh: true, addedAt: instant)
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

    /// Runs until the task is cancelled; each element of `wakeUps` makes it look at the outbox
    /// at once (as ``wake()`` does).
    public func run<WakeUps: AsyncSequence & Sendable>(wakingOn wakeUps: WakeUps) async where WakeUps.Element == Void {
        await runLoop { service, signal in
            do {
                for try await _ in wakeUps {
                    await service.requestOutboxRead()
                    signal()
                }
            } catch {}
        }
    }

    /// Runs until the task is cancelled, taking the deliveries of each change (for example the
    /// monitor's `changes()`): they are sent without an outbox read, and even while the store
    /// cannot be written (the change then waits in the monitor's memory queue).
    public func run<Changes: AsyncSequence & Sendable>(changes: Changes) async where Changes.Element == EventChange {
        await runLoop { service, signal in
            do {
                for try await change in changes {
                    await service.offer(change)
                    signal()
                }
            } catch {}
        }
    }

    private func runLoop(feed: @escaping @Sendable (DeliveryService, @Sendable () -> Void) async -> Void) async {
        let (signals, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        signal = continuation
        continuation.yield()
        let pollInterval = configuration.pollInterval
        logger.info(
            "Delivery started",
            metadata: ["delivery.notifiers": "\(notifiers.keys.sorted().joined(separator: ","))"])

        // A discarding group: finished sends leave nothing behind (a plain task group keeps every
        // child's result until it is awaited, which grew memory with every notification).
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: pollInterval) } catch { break }
                    await self.requestOutboxRead()
                    continuation.yield()
                }
            }
            group.addTask {
                await feed(self) { continuation.yield() }
            }
            for await _ in signals {
                if Task.isCancelled { break }
                let batch = await claimDue()
                for claim in batch {
                    group.addTask {
                        await self.process(claim)
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
        await flushUnrecorded()
        if !unrecorded.isEmpty {
            logger.critical(
                "Delivery stopped with statuses the event store did not take: these notifications were handled (sent, failed or expired) but are still pending in the store, and may be sent again after a restart",
                metadata: [
                    "delivery.unrecorded": "\(unrecorded.count)",
                    "delivery.ids": "\(unrecorded.keys.sorted().prefix(100).joined(separator: ","))",
                ])
        }
        logger.info("Delivery stopped", metadata: ["delivery.interrupted": "\(inFlight.count)"])
    }

    // MARK: Scheduling (actor-isolated, no I/O but the outbox read)

    private static func key(_ d: Delivery) -> String { "\(d.eventID.rawValue)/\(d.notifier)" }

    /// Reads the outbox into `known` (deliveries written elsewhere, missed changes, a restart).
    private func readOutbox() async {
        outboxReadDue = false
        await flushUnrecorded()
        let limit = min(configuration.batchSize + known.count, 10_000)
        let readStart = ContinuousClock.now
        readsUnderWay.append(readStart)
        defer { if let i = readsUnderWay.firstIndex(of: readStart) { readsUnderWay.remove(at: i) } }
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
            // Those that came with a change may not be stored yet (a failing store): kept.
            for (id, k) in known
            where !ids.contains(id) && !inFlight.contains(id) && k.addedAt < readStart && k.event == nil {
                known[id] = nil
                notBefore[id] = nil
            }
        }
        let instant = ContinuousClock.now
        for d in pending where known[d.id] == nil && unrecorded[d.id] == nil {
            if let done = finishedAt[d.id], done >= readStart { continue }  // stale row: finished meanwhile
            known[d.id] = Known(delivery: d, event: nil, fresh: false, addedAt: instant)
            knownOrder.append(d.id)
        }
    }

    /// A claimed delivery: what to send, and whether it probes a notifier in an outage.
    private struct Claim: Sendable {
        var delivery: Delivery
        var event: CrowdEvent?
        var fresh: Bool
        var probe: Bool
    }

    private func claimDue() async -> [Claim] {
        if outboxReadDue { await readOutbox() }
        let instant = ContinuousClock.now
        lastClaimAt = instant
        let nowMs = now()
        if instant - finishedPrunedAt >= .seconds(2) {
            // Entries older than any read still under way are of no use (reads take milliseconds);
            // ten seconds also cover a change announced twice. Kept short: at a thousand
            // notifications a second this map is most of delivery's memory.
            var cutoff = instant - .seconds(10)
            if let oldest = readsUnderWay.min(), oldest < cutoff { cutoff = oldest }
            finishedAt = finishedAt.filter { $0.value >= cutoff }
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
        var claimed: [Claim] = []
        var expired: [Delivery] = []
        // too old to send: at most once a second, over everything known (not in flight)
        if instant - lastExpiryScan >= .seconds(1) {
            lastExpiryScan = instant
            for id in knownOrder[knownOrderStart...] where !inFlight.contains(id) {
                guard let d = known[id]?.delivery else { continue }
                if nowMs - d.createdAt > configuration.maxAge(for: d.kind).milliseconds { expired.append(d) }
            }
            for d in expired {
                known[d.id] = nil
                notBefore[d.id] = nil
                finishedAt[d.id] = instant
            }
        }
        for id in knownOrder[knownOrderStart...] {
            // every notifier busy (saturated, or waiting for its probe): nothing further down can go now
            if !notifiers.isEmpty && saturated.count >= notifiers.count { break }
            guard let k = known[id] else { continue }
            let d = k.delivery
            let key = Self.key(d)
            if inFlight.contains(d.id) || busyKeys.contains(key) || blocked.contains(key) {
                blocked.insert(key)
                continue
            }
            if saturated.contains(d.notifier) {
                blocked.insert(key)
                continue
            }
            let outage = outages[d.notifier]
            if let outage, outage.until > instant || perNotifier[d.notifier, default: 0] > 0 {
                // the notifier is down: wait for its next probe (one at a time)
                blocked.insert(key)
                saturated.insert(d.notifier)
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
                continue
            }
            notBefore[d.id] = nil
            inFlight.insert(d.id)
            busyKeys.insert(key)
            perNotifier[d.notifier, default: 0] += 1
            blocked.insert(key)
            claimed.append(Claim(delivery: d, event: k.event, fresh: k.fresh, probe: outage != nil))
            if outage != nil { saturated.insert(d.notifier) }
        }
        if !expired.isEmpty {
            let batch = expired
            Task { await self.expire(batch) }
        }
        return claimed
    }

    /// Records deliveries that got too old as expired.
    private nonisolated func expire(_ deliveries: [Delivery]) async {
        for d in deliveries {
            var logger = self.logger
            logger[metadataKey: "delivery.id"] = "\(d.id)"
            logger[metadataKey: "delivery.notifier"] = "\(d.notifier)"
            let age = TextFormat.duration(milliseconds: now() - d.createdAt)
            let limit = TextFormat.duration(milliseconds: configuration.maxAge(for: d.kind).milliseconds)
            var reason = "not sent within \(limit) (raised \(age) ago, \(d.attempts) attempt\(d.attempts == 1 ? "" : "s"))"
            if let error = d.lastError { reason += "; last error: \(error)" }
            await record(d, status: .expired(reason: reason), attempts: d.attempts, lastError: d.lastError, logger)
        }
    }

    /// The next back-off or probe that ends after the last claim looked (those due by then were
    /// claimed, or wait for a slot whose release wakes the loop anyway). Measured from that
    /// look, not from now: one that fell due between the two would otherwise get no timer and
    /// wait for the next poll.
    private func earliestRetry() -> ContinuousClock.Instant? {
        let now = lastClaimAt
        let deliveries = notBefore.values.filter { $0 > now }.min()
        let probes = outages.values.map(\.until).filter { $0 > now }.min()
        switch (deliveries, probes) {
        case (let a?, let b?): return min(a, b)
        case (let a, let b): return a ?? b
        }
    }

    private func timerFired(_ due: ContinuousClock.Instant) {
        if timerDue == due { timerDue = nil }
    }

    private func finished(_ claim: Claim, _ outcome: Outcome) {
        let d = claim.delivery
        inFlight.remove(d.id)
        busyKeys.remove(Self.key(d))
        perNotifier[d.notifier, default: 1] -= 1
        let instant = ContinuousClock.now
        switch outcome {
        case .answered, .done:
            notBefore[d.id] = nil
            known[d.id] = nil
            if case .answered = outcome, outages.removeValue(forKey: d.notifier) != nil {
                // the notifier is back: what waited for it goes now, not at its own back-off
                for (id, k) in known where k.delivery.notifier == d.notifier { notBefore[id] = nil }
                logger.notice("Notifier answers again; sending what waited", metadata: ["delivery.notifier": "\(d.notifier)"])
            }
        case .retry(let attempts, let lastError, let retryAfter):
            notBefore[d.id] = instant + configuration.backoff(afterAttempts: attempts)
            if var k = known[d.id] {
                k.delivery.attempts = attempts
                k.delivery.lastError = lastError
                k.fresh = false  // read the newest version for the next attempt
                known[d.id] = k
            }
            var outage = outages[d.notifier] ?? Outage(failures: 0, until: instant)
            // sends that were under way when the outage began count once
            if claim.probe || outage.failures == 0 {
                outage.failures += 1
                var wait = configuration.probeInterval(afterFailures: outage.failures)
                if let retryAfter, retryAfter > wait { wait = retryAfter }
                outage.until = instant + wait
                if outage.failures == 1 {
                    logger.warning(
                        "Notifier failing; trying one notification at a time until it answers",
                        metadata: ["delivery.notifier": "\(d.notifier)", "error": "\(lastError)"])
                }
            }
            outages[d.notifier] = outage
        }
        finishedAt[d.id] = instant
    }

    // MARK: Sending (off the actor)

    private nonisolated func process(_ claim: Claim) async {
        let outcome = await attempt(claim)
        await finished(claim, outcome)
    }

    /// Sends one delivery and records the outcome.
    private nonisolated func attempt(_ claim: Claim) async -> Outcome {
        let d = claim.delivery
        var logger = self.logger
        logger[metadataKey: "delivery.id"] = "\(d.id)"
        logger[metadataKey: "delivery.notifier"] = "\(d.notifier)"
        guard let notifier = notifiers[d.notifier] else {
            await record(d, status: .failed(reason: "no notifier named \(d.notifier) is configured"), attempts: d.attempts, logger)
            return .done
        }
        var event = claim.event
        if !claim.fresh || event == nil {
            do {
                if let stored = try await store.record(id: d.eventID) {
                    event = stored.event
                } else if event == nil {
                    await record(d, status: .failed(reason: "event \(d.eventID) is not in the store"), attempts: d.attempts, logger)
                    return .done
                }
                // not stored yet but known from its change: it waits in the monitor's queue
            } catch {
                if event == nil {
                    logger.error("Cannot load the event of a delivery", metadata: ["error": "\(error)"])
                    return .retry(attempts: d.attempts, lastError: "cannot load the event: \(error)", retryAfter: nil)
                }
            }
        }
        guard let loaded = event else { return .done }
        let enrichedEvent = await enriched(loaded, kind: d.kind)
        if Task.isCancelled { return .done }

        let attempts = d.attempts + 1
        let notification = CrowdNotification(
            kind: d.kind, event: enrichedEvent, sequence: d.sequence, deliveryID: d.id, attempt: attempts,
            delayMilliseconds: now() - d.createdAt)
        do {
            let receipt = try await notifier.send(notification)
            await record(d, status: .sent(remoteID: receipt.remoteID), attempts: attempts, lastError: d.lastError, logger)
            return .answered
        } catch {
            if Task.isCancelled || error is CancellationError {
                logger.info("Delivery interrupted; it stays pending")
                return .done
            }
            let failure = error as? NotificationError
            let reason = failure?.message ?? "\(error)"
            if failure?.code == .permanent {
                await record(d, status: .failed(reason: reason), attempts: attempts, lastError: reason, logger)
                return .answered
            }
            if let max = configuration.maxAttempts, attempts >= max {
                await record(
                    d, status: .failed(reason: "gave up after \(attempts) attempts: \(reason)"), attempts: attempts,
                    lastError: reason, logger)
                return .done
            }
            logger.warning(
                "Notification not sent; will retry",
                metadata: [
                    "delivery.attempts": "\(attempts)", "delivery.retry.wait": "\(configuration.backoff(afterAttempts: attempts))",
                    "error": "\(reason)",
                ])
            await record(d, status: .pending, attempts: attempts, lastError: reason, logger)
            return .retry(attempts: attempts, lastError: reason, retryAfter: failure?.retryAfter)
        }
    }

    private nonisolated func record(
        _ d: Delivery, status: DeliveryStatus, attempts: Int, lastError: String? = nil, _ logger: Logger
    ) async {
        var updated = d
        updated.status = status
        updated.attempts = attempts
        updated.updatedAt = now()
        updated.lastError = lastError ?? d.lastError
        switch status {
        case .sent:
            logger.debug("Notification sent", metadata: ["delivery.attempts": "\(attempts)"])
            // from the outbox record (written when the crowd fired) to the remote side's answer
            Timer(label: "crowdkit_delivery_latency_seconds", dimensions: [("notifier", d.notifier)])
                .recordMilliseconds(max(updated.updatedAt - d.createdAt, 0))
        case .failed(let reason):
            logger.error("Notification failed", metadata: ["delivery.attempts": "\(attempts)", "error": "\(reason)"])
        case .expired(let reason):
            logger.error("Notification expired, not sent", metadata: ["delivery.attempts": "\(attempts)", "error": "\(reason)"])
        case .pending:
            break
        }
        Counter(label: "crowdkit_deliveries_total", dimensions: [("notifier", d.notifier), ("status", status.name)]).increment()
        do {
            try await store.updateDelivery(updated)
        } catch {
            if status.isFinal {
                await keepUnrecorded(updated, error)
            } else {
                logger.warning("Cannot record a delivery's attempt", metadata: ["error": "\(error)"])
            }
        }
    }

    // MARK: Statuses the store did not take

    private func keepUnrecorded(_ d: Delivery, _ error: any Error) {
        unrecorded[d.id] = d
        unrecordedGauge.record(unrecorded.count)
        let instant = ContinuousClock.now
        if unrecordedLoggedAt.map({ instant - $0 >= .seconds(60) }) ?? true {
            unrecordedLoggedAt = instant
            logger.error(
                "Cannot record delivery statuses; kept in memory and written again every poll (these notifications are not sent again)",
                metadata: ["delivery.unrecorded": "\(unrecorded.count)", "error": "\(error)"])
        }
    }

    /// Writes the statuses the store did not take before (one pass, not reentrant).
    private func flushUnrecorded() async {
        guard !unrecorded.isEmpty || !unsavedEnrichments.isEmpty, !flushing else { return }
        flushing = true
        defer { flushing = false }
        for (id, event) in unsavedEnrichments {
            if (try? await store.enrich(event)) != nil { unsavedEnrichments[id] = nil }
        }
        guard !unrecorded.isEmpty else { return }
        for (id, d) in unrecorded.sorted(by: { $0.key < $1.key }) {
            do {
                try await store.updateDelivery(d)
                unrecorded[id] = nil
                finishedAt[id] = ContinuousClock.now
            } catch {
                // not stored yet (its event waits in the monitor's queue), or the store still fails
                continue
            }
        }
        unrecordedGauge.record(unrecorded.count)
        if unrecorded.isEmpty {
            unrecordedLoggedAt = nil
            logger.notice("Delivery statuses recorded again")
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
            // kept (bounded) and saved again with the unrecorded statuses
            if unsavedEnrichments.count < configuration.enrichmentCacheSize { unsavedEnrichments[enriched.id] = enriched }
            logger.warning(
                "Cannot save the enriched event yet; will try again", metadata: ["crowd.event": "\(enriched.id)", "error": "\(error)"])
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
