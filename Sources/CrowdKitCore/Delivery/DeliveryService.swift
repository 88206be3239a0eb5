import Foundation
import Logging
import Metrics

/// Works off the store's outbox: claims due deliveries, enriches their events, sends them with
/// their ``Notifier`` and records the outcome, so that no fired event is ever dropped.
///
/// - **The store is the only truth about deliveries.** Each pass claims what is due with
///   ``EventStore/claimDeliveries(_:)`` under ``DeliveryConfiguration/workerName`` and a lease of
///   ``DeliveryConfiguration/lease``; a claimed delivery is sent by this worker only, and every
///   outcome is written back with ``EventStore/updateDelivery(_:)`` (which ends the lease).
///   Several services (in one process or several, on a shared store) share one outbox; the
///   deliveries of a worker that died are claimed again when its lease ends (at once by the same
///   worker name after a restart).
/// - Wakes up on ``wake()`` (or each element of the sequence given to ``run(wakingOn:)``), on each
///   change given to ``run(changes:)`` (the monitor's `changes()`), on a periodic poll, and when a
///   retry is due. The events of those changes are kept briefly so that sending them needs no
///   store read; and while the store refuses writes (a full disk, when even a claim fails), the
///   deliveries of those changes (waiting in the monitor's memory queue) are sent from them.
/// - Enriches each event once (what the enricher added is saved with ``EventStore/enrich(_:)``
///   and remembered for the event's later notifications), and calls the named notifier with a
///   ``CrowdNotification`` (whose `delayMilliseconds` lets the message say "raised 14 min ago").
/// - Retries are this service's alone (notifiers should not retry on their own): a transient
///   error leaves the delivery `.pending` with its attempt count, last error and back-off
///   (``Delivery/retryAt``), and puts its notifier in an *outage*: it is then probed with one
///   notification at a time, at waits that double up to ``DeliveryConfiguration/maxProbeInterval``
///   (or the server's `Retry-After`), and its first success releases every waiting notification
///   at once. A storm of 503 answers costs a few requests, not one per notification and attempt.
/// - A delivery ends `.sent(remoteID:)`, `.failed(reason:)` on a permanent error (or after
///   ``DeliveryConfiguration/maxAttempts`` when set), or `.expired(reason:)` once older than
///   its maximum age (``DeliveryConfiguration/maxAge(for:)``), never sent.
/// - A final status the store cannot take (a failing disk) is kept in memory and written again on
///   every poll; until then the outbox still lists the delivery as pending, and when it is
///   claimed again the kept status is written instead of sending it again.
/// - Sends concurrently (bounded in all and per notifier); the deliveries of one event for one
///   notifier go out in order, one at a time (the store's claim rule). A slow notifier or zone
///   never holds up the others, and detection never waits on delivery.
/// - On cancellation (graceful shutdown) it stops; interrupted sends stay `.pending` in the
///   store and are sent after the restart. ``drain(within:)`` is the graceful end.
public actor DeliveryService {
    private let store: any EventStore
    private let notifiers: [String: any Notifier]
    private let enricher: any EventEnricher
    private let configuration: DeliveryConfiguration
    private let logger: Logger
    private let now: @Sendable () -> Int64

    private var signal: AsyncStream<Void>.Continuation?
    /// Deliveries being sent by this worker, and how many per notifier.
    private var inFlight: Set<String> = []
    private var perNotifier: [String: Int] = [:]
    /// Notifiers answering with transient errors: probed one notification at a time.
    private var outages: [String: Outage] = [:]
    /// Notifiers that answered again after an outage: their waiting deliveries are claimed
    /// regardless of their back-off until a claim finds no more of them.
    private var released: Set<String> = []
    /// When this worker's own back-offs end (the store holds them; this only sets the timer).
    private var retryInstants: [String: ContinuousClock.Instant] = [:]
    /// Final statuses the store could not take yet, by delivery id: written again on every poll
    /// and instead of sending when the delivery is claimed again.
    private var unrecorded: [String: Delivery] = [:]
    /// Enrichments the store could not take yet (its event may still wait in the monitor's
    /// memory queue), by event: saved again with the statuses.
    private var unsavedEnrichments: [CrowdEventID: CrowdEvent] = [:]
    private var unrecordedLoggedAt: ContinuousClock.Instant?
    private var flushing = false
    private var claimFailureLoggedAt: ContinuousClock.Instant?
    private var lastFlush = ContinuousClock.now
    private var timerDue: ContinuousClock.Instant?
    private var enrichments: [CrowdEventID: EventEnrichment] = [:]
    private var enrichmentOrder: [CrowdEventID] = []
    private var enrichTasks: [CrowdEventID: Task<EventEnrichment, Never>] = [:]
    /// Deliveries announced by changes, with their event: no store read to send them, and what
    /// is sent while the store refuses claims. Dropped once finished, or after a minute once the
    /// store answers claims again (another worker may have taken them).
    private var offered: [String: Offered] = [:]
    /// Whether the next pass must ask the store: something may have become due (a change, a
    /// wake-up, the poll, a timer, a finished delivery that may have held back the next of its
    /// event, or a claim that took all it could).
    private var claimNeeded = true
    /// Announced deliveries the store does not hold (their change waits in the monitor's queue):
    /// sent from their announcement (see ``unstoredAnnounced``).
    private var unstoredIDs: Set<String> = []
    private var lastClaimFull = false
    private var lastClaimStart: ContinuousClock.Instant?
    /// The next claim is the poll's (it also takes deliveries of notifiers this worker lacks).
    private var pollPass = true
    private var lastOfferedScan = ContinuousClock.now
    private var lastUnstoredScan = ContinuousClock.now
    private let unrecordedGauge = Gauge(label: "crowdkit_delivery_unrecorded")

    private struct Offered: Sendable {
        var delivery: Delivery
        var event: CrowdEvent
        var addedAt: ContinuousClock.Instant
        /// When the store was last asked whether it holds the delivery.
        var checkedAt: ContinuousClock.Instant?
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
        /// A transient error: the delivery is due again after `backOff` (as stored in its
        /// `retryAt`), the notifier is probed after its own wait (at least `retryAfter`).
        case retry(attempts: Int, lastError: String, retryAfter: Duration?, backOff: Duration)
    }

    /// - Parameters:
    ///   - notifiers: the notifiers by their ``Notifier/name``; a delivery for a name not listed
    ///     is marked failed.
    ///   - now: host time in epoch milliseconds (for `updatedAt`, leases and the age of deliveries).
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

    /// Asks the running service to claim and send what is due now (cheap; safe from any task).
    public func wake() {
        claimNeeded = true
        signal?.yield()
    }

    private func requestClaim() { claimNeeded = true }

    private func pollTick() {
        claimNeeded = true
        pollPass = true
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

    /// Keeps the event of a change's deliveries (no store read to send them).
    private func offer(_ change: EventChange) {
        let instant = ContinuousClock.now
        claimNeeded = true
        for d in change.deliveries where d.status == .pending && offered[d.id] == nil && unrecorded[d.id] == nil {
            offered[d.id] = Offered(delivery: d, event: change.event, addedAt: instant)
        }
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
                    await service.requestClaim()
                    signal()
                }
            } catch {}
        }
    }

    /// Runs until the task is cancelled, taking the events of each change (for example the
    /// monitor's `changes()`) so that their deliveries are sent without a store read, and even
    /// while the store cannot be written (the change then waits in the monitor's memory queue).
    public func run<Changes: AsyncSequence & Sendable>(changes: Changes) async where Changes.Element == EventChange {
        await runLoop { service, signal in
            do {
                for try await change in changes where !change.deliveries.isEmpty {
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
            metadata: [
                "delivery.notifiers": "\(notifiers.keys.sorted().joined(separator: ","))",
                "delivery.worker": "\(configuration.workerName)",
            ])

        // A discarding group: finished sends leave nothing behind (a plain task group keeps every
        // child's result until it is awaited, which grew memory with every notification).
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: pollInterval) } catch { break }
                    await self.pollTick()
                    continuation.yield()
                }
            }
            group.addTask {
                await feed(self) { continuation.yield() }
            }
            for await _ in signals {
                if Task.isCancelled { break }
                // a burst of announcements is claimed together: at most one claim per interval
                if let last = lastClaimStart, ContinuousClock.now - last < configuration.claimInterval {
                    try? await Task.sleep(until: last + configuration.claimInterval, clock: .continuous)
                    if Task.isCancelled { break }
                }
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

    // MARK: Claiming

    /// A claimed delivery: what to send, the event when known, and whether it probes a notifier
    /// in an outage.
    private struct Claim: Sendable {
        var delivery: Delivery
        var event: CrowdEvent?
        var probe: Bool
    }

    /// What this worker can take now: free slots per notifier (one probe for a notifier in an
    /// outage once its wait is over, none before), the rest for unknown notifiers.
    private func claimRequest(instant: ContinuousClock.Instant, nowMs: Int64) -> DeliveryClaim? {
        let free = configuration.maxConcurrent - inFlight.count
        guard free > 0 else { return nil }
        var slots: [String: Int] = [:]
        for name in notifiers.keys {
            let busy = perNotifier[name, default: 0]
            if let outage = outages[name] {
                slots[name] = outage.until <= instant && busy == 0 ? 1 : 0
            } else {
                slots[name] = max(0, configuration.maxConcurrentPerNotifier - busy)
            }
        }
        // deliveries for notifiers this worker does not have (to be recorded as failed): looked
        // for on the poll only, so that a busy notifier's claims stop at its own slots
        let others = pollPass ? min(free, 8) : 0
        guard slots.values.contains(where: { $0 > 0 }) || others > 0 else { return nil }
        return DeliveryClaim(
            owner: configuration.workerName, now: nowMs, leaseUntil: nowMs + configuration.lease.milliseconds,
            limit: min(free, configuration.batchSize), perNotifier: slots, otherNotifiers: others,
            ignoringBackOff: released, excluding: inFlight)
    }

    private func claimDue() async -> [Claim] {
        let instant = ContinuousClock.now
        if instant - lastFlush >= configuration.pollInterval {
            lastFlush = instant
            await flushUnrecorded()
        }
        // announced deliveries another worker took (or that were pruned): forgotten after a minute,
        // unless the store does not hold them (they are sent from here); looked at once a second
        if instant - lastOfferedScan >= .seconds(1) {
            lastOfferedScan = instant
            offered = offered.filter { instant - $0.value.addedAt < .seconds(60) || unstoredIDs.contains($0.key) || inFlight.contains($0.key) }
        }
        let nowMs = now()
        guard claimNeeded || !unstoredIDs.isEmpty else { return [] }
        guard let request = claimRequest(instant: instant, nowMs: nowMs) else { return [] }
        lastClaimStart = instant
        claimNeeded = false
        pollPass = false
        var taken: [Delivery]
        var fromStore = true
        do {
            taken = try await store.claimDeliveries(request)
            claimFailureLoggedAt = nil
            // announcements the store may not hold: looked for once a second, and only when the
            // claim left room (so the store had nothing more that is due)
            if taken.count < request.limit, !offered.isEmpty, instant - lastUnstoredScan >= .seconds(1) {
                lastUnstoredScan = instant
                taken += await unstoredAnnounced(request, claimed: taken, instant: instant)
            } else if !unstoredIDs.isEmpty {
                taken += await unstoredAnnounced(request, claimed: taken, instant: instant, checking: false)
            }
        } catch {
            // The store refuses even a claim: send what the changes announced, under the same
            // rules, without a lease (nothing can be written now anyway).
            fromStore = false
            if claimFailureLoggedAt.map({ instant - $0 >= .seconds(60) }) ?? true {
                claimFailureLoggedAt = instant
                logger.error(
                    "Cannot claim deliveries from the event store; sending those announced by recent changes",
                    metadata: ["error": "\(error)", "delivery.announced": "\(offered.count)"])
            }
            let local = offered.values.map(\.delivery).filter { unrecorded[$0.id] == nil }.sorted(by: Delivery.outboxOrder)
            taken = request.select(from: local)
        }
        lastClaimFull = taken.count >= request.capacity
        // the claim's request was made before the store's suspension point: re-check in-flight
        taken.removeAll { inFlight.contains($0.id) }
        if fromStore {
            for name in released where !taken.contains(where: { $0.notifier == name }) { released.remove(name) }
        }
        var claims: [Claim] = []
        var expired: [Delivery] = []
        var kept: [Delivery] = []
        for d in taken {
            retryInstants[d.id] = nil
            if let status = unrecorded[d.id] {
                kept.append(status)
                continue
            }
            if nowMs - d.createdAt > configuration.maxAge(for: d.kind).milliseconds {
                expired.append(d)
                continue
            }
            inFlight.insert(d.id)
            perNotifier[d.notifier, default: 0] += 1
            claims.append(Claim(delivery: d, event: offered[d.id]?.event, probe: outages[d.notifier] != nil))
        }
        if !expired.isEmpty || !kept.isEmpty {
            let batch = expired
            Task {
                await self.expire(batch)
                await self.writeKept(kept)
                self.wake()
            }
        }
        return claims
    }

    /// Announced deliveries the store does not hold (their change waits in the monitor's memory
    /// queue while the store refuses writes, yet claims still work: a full disk lets SQLite read):
    /// a claim never returns them, so they are taken from their announcement, within what the
    /// claim left free. The store is asked (one event read, at most once a second per delivery)
    /// only about deliveries announced more than a second ago that this claim did not return
    /// although their notifier had room.
    private func unstoredAnnounced(
        _ request: DeliveryClaim, claimed: [Delivery], instant: ContinuousClock.Instant, checking: Bool = true
    ) async -> [Delivery] {
        guard !offered.isEmpty else { return [] }
        var claimedPer: [String: Int] = [:]
        for d in claimed { claimedPer[d.notifier, default: 0] += 1 }
        let claimedIDs = Set(claimed.map(\.id))
        let hadRoom = { (n: String) in claimedPer[n, default: 0] < request.perNotifier[n, default: request.otherNotifiers] }
        var toCheck: [String] = []
        for (id, o) in offered where checking && !unstoredIDs.contains(id) && !inFlight.contains(id) && !claimedIDs.contains(id) && unrecorded[id] == nil {
            guard instant - o.addedAt >= .seconds(1), o.checkedAt.map({ instant - $0 >= .seconds(1) }) ?? true, hadRoom(o.delivery.notifier)
            else { continue }
            toCheck.append(id)
            if toCheck.count >= 32 { break }
        }
        for id in toCheck {
            guard let o = offered[id] else { continue }
            offered[id]?.checkedAt = instant
            do {
                let record = try await store.record(id: o.delivery.eventID)
                if record?.deliveries.contains(where: { $0.id == id }) != true { unstoredIDs.insert(id) }
            } catch {
                continue  // cannot tell now
            }
        }
        var unstored: [Delivery] = []
        for id in unstoredIDs where !inFlight.contains(id) && !claimedIDs.contains(id) && unrecorded[id] == nil {
            if let o = offered[id] { unstored.append(o.delivery) } else { unstoredIDs.remove(id) }
        }
        guard !unstored.isEmpty else { return [] }
        var rest = request
        rest.limit = max(0, request.limit - claimed.count)
        for (n, c) in claimedPer { rest.perNotifier[n] = max(0, request.perNotifier[n, default: 0] - c) }
        return rest.select(from: unstored.sorted(by: Delivery.outboxOrder))
    }

    /// A status handled before (and not written then) for a delivery claimed again: written now
    /// instead of sending it again.
    private func writeKept(_ statuses: [Delivery]) async {
        for d in statuses {
            do {
                try await store.updateDelivery(d)
                unrecorded[d.id] = nil
            } catch {
                continue  // still kept; written on the next poll
            }
        }
        unrecordedGauge.record(unrecorded.count)
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

    /// When the next probe of a notifier in an outage, or the next back-off of this worker's
    /// own deliveries, ends (later than now; those due now were just claimed, or wait for a slot
    /// whose release wakes the loop anyway).
    private func earliestRetry() -> ContinuousClock.Instant? {
        let instant = ContinuousClock.now
        let deliveries = retryInstants.values.filter { $0 > instant }.min()
        let probes = outages.values.map(\.until).filter { $0 > instant }.min()
        switch (deliveries, probes) {
        case (let a?, let b?): return min(a, b)
        case (let a, let b): return a ?? b
        }
    }

    private func timerFired(_ due: ContinuousClock.Instant) {
        if timerDue == due { timerDue = nil }
        claimNeeded = true
    }

    private func finished(_ claim: Claim, _ outcome: Outcome) {
        let d = claim.delivery
        inFlight.remove(d.id)
        // a slot is free: ask the store again when the last claim filled every slot, when
        // announced deliveries wait (perhaps behind this one), or when the notifier's state changed
        if lastClaimFull || offered.count > inFlight.count || (claim.event == nil && d.kind != .ended) || outages[d.notifier] != nil {
            claimNeeded = true
        }
        perNotifier[d.notifier, default: 1] -= 1
        let instant = ContinuousClock.now
        switch outcome {
        case .answered, .done:
            offered[d.id] = nil
            unstoredIDs.remove(d.id)
            retryInstants[d.id] = nil
            if case .answered = outcome, outages.removeValue(forKey: d.notifier) != nil {
                // the notifier is back: what waited for it goes now, not at its own back-off
                released.insert(d.notifier)
                logger.notice("Notifier answers again; sending what waited", metadata: ["delivery.notifier": "\(d.notifier)"])
            }
        case .retry(_, let lastError, let retryAfter, let backOff):
            retryInstants[d.id] = instant + backOff
            released.remove(d.notifier)
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
        if event == nil {
            do {
                guard let stored = try await store.record(id: d.eventID) else {
                    await record(d, status: .failed(reason: "event \(d.eventID) is not in the store"), attempts: d.attempts, logger)
                    return .done
                }
                event = stored.event
            } catch {
                logger.error("Cannot load the event of a delivery", metadata: ["error": "\(error)"])
                let reason = "cannot load the event: \(error)"
                let backOff = configuration.backoff(afterAttempts: max(d.attempts, 1))
                await record(d, status: .pending, attempts: d.attempts, lastError: reason, retryAt: now() + backOff.milliseconds, logger)
                return .retry(attempts: d.attempts, lastError: reason, retryAfter: nil, backOff: backOff)
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
            var backOff = configuration.backoff(afterAttempts: attempts)
            if let retryAfter = failure?.retryAfter, retryAfter > backOff { backOff = retryAfter }
            logger.warning(
                "Notification not sent; will retry",
                metadata: ["delivery.attempts": "\(attempts)", "delivery.retry.wait": "\(backOff)", "error": "\(reason)"])
            await record(d, status: .pending, attempts: attempts, lastError: reason, retryAt: now() + backOff.milliseconds, logger)
            return .retry(attempts: attempts, lastError: reason, retryAfter: failure?.retryAfter, backOff: backOff)
        }
    }

    private nonisolated func record(
        _ d: Delivery, status: DeliveryStatus, attempts: Int, lastError: String? = nil, retryAt: Int64? = nil, _ logger: Logger
    ) async {
        var updated = d
        updated.status = status
        updated.attempts = attempts
        updated.updatedAt = now()
        updated.lastError = lastError ?? d.lastError
        updated.retryAt = status == .pending ? retryAt : nil
        updated.lease = nil
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
        case .suppressed(let reason):
            logger.info("Notification suppressed, not sent", metadata: ["reason": "\(reason)"])
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

    private func enriched(_ event: CrowdEvent, kind: NotificationKind) async -> CrowdEvent {
        if let known = enrichments[event.id] {
            let merged = known.applied(to: event)
            if merged != event { await save(merged) }
            return merged
        }
        if event.isEnriched {  // enriched before a restart
            remember(event.enrichment, for: event.id)
            return event
        }
        let task: Task<EventEnrichment, Never>
        if let running = enrichTasks[event.id] {
            task = running
        } else {
            let enricher = self.enricher
            task = Task { await enricher.enrich(event).enrichment }
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

    private func remember(_ enrichment: EventEnrichment, for id: CrowdEventID) {
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
