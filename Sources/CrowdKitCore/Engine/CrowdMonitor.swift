import Foundation
import Synchronization
import Logging
import Metrics

/// Which notifiers get an outbox record for which kinds of event change.
public struct NotificationPlan: Hashable, Sendable {
    /// ``Notifier/name``s; one ``Delivery`` per notifier and due change.
    public var notifiers: [String]
    /// Which changes notify (default: only `fired`).
    public var kinds: Set<NotificationKind>

    public init(notifiers: [String] = [], kinds: Set<NotificationKind> = [.fired]) {
        self.notifiers = notifiers
        self.kinds = kinds
    }

    /// A plan for these notifiers (their ``Notifier/name``s): give the same list to
    /// ``DeliveryService``.
    public init(notifying notifiers: [any Notifier], kinds: Set<NotificationKind> = [.fired]) {
        self.init(notifiers: notifiers.map(\.name), kinds: kinds)
    }

    /// The deliveries a change makes due.
    public func deliveries(for change: EventChange, now: Int64) -> [Delivery] {
        guard kinds.contains(change.kind) else { return [] }
        let seq = change.kind == .reminder ? change.event.reminders : 0
        return notifiers.map {
            Delivery(eventID: change.event.id, notifier: $0, kind: change.kind, sequence: seq, createdAt: now)
        }
    }
}

/// Runs detection on a live feed: consumes a ``MessageSource``, keeps per-zone state in a
/// ``DetectionEngine`` owned by its own task, writes every event change (with the deliveries the
/// ``NotificationPlan`` makes due) to the ``EventStore``, and broadcasts the changes to listeners.
///
/// Shape of a swift-service-lifecycle `Service` (`run()`); an app conforms it with
/// `extension CrowdMonitor: Service {}`.
public final class CrowdMonitor<Policy: DetectionPolicy, Source: MessageSource>: Sendable {
    public let source: Source
    public let policy: Policy
    public let filter: ZoneFilter
    /// Areas counted from line crossings (SEMANTICS.md §8).
    public let areas: AreaSetup
    /// Which count of each zone the policy sees.
    public let objectTypes: ObjectTypeSelection
    public let store: any EventStore
    public let plan: NotificationPlan
    private let logger: Logger
    private let shared = LockedBox(Shared())
    private let subscribers = LockedBox(Subscribers())
    /// How changes reach the store, and what happens while it fails.
    public let storeWrites: StoreWriteConfiguration
    /// Where each zone's detection state is saved (SEMANTICS.md §7), if anywhere.
    public let zoneStates: (any ZoneStateStore)?
    /// Run-time settings, mutes, quiet hours and pause (SEMANTICS.md §7), if any.
    public let settings: LiveSettings?
    /// Where each zone's occupancy per minute is kept (the charts), if anywhere.
    public let history: (any OccupancyHistoryStore)?
    /// The cluster this instance shares the cameras with, if any: then only the cameras it owns
    /// are processed, and a camera that moves here resumes from the state its previous owner
    /// saved in ``zoneStates``.
    public let cluster: ClusterCoordinator?
    private let writer: ChangeWriter
    private let processed = Atomic<Int>(0)
    private let started = Atomic<Bool>(false)

    private struct Shared: Sendable {
        var zones: [ZoneSnapshot] = []
        var areas: [AreaSnapshot] = []
        var lines: [LineSnapshot] = []
        var counters = EngineCounters()
        var messagesPerSecond = 0.0
        /// When `zones` was last taken.
        var zonesTakenAt: ContinuousClock.Instant?
    }

    private struct Subscribers: Sendable {
        var next = 0
        var continuations: [Int: AsyncStream<EventChange>.Continuation] = [:]
    }

    public init(
        source: Source, policy: Policy, filter: ZoneFilter = .all, store: any EventStore,
        notifiers: NotificationPlan = NotificationPlan(), storeWrites: StoreWriteConfiguration = .init(),
        zoneStates: (any ZoneStateStore)? = nil, areas: AreaSetup = .none, objectTypes: ObjectTypeSelection = .person,
        settings: LiveSettings? = nil, history: (any OccupancyHistoryStore)? = nil, cluster: ClusterCoordinator? = nil, logger: Logger
    ) {
        self.zoneStates = zoneStates
        self.settings = settings
        self.history = history
        self.cluster = cluster
        self.areas = areas
        self.objectTypes = objectTypes
        self.source = source
        self.policy = policy
        self.filter = filter
        self.store = store
        self.plan = notifiers
        self.logger = logger
        self.storeWrites = storeWrites
        let subscribers = self.subscribers
        self.writer = ChangeWriter(store: store, configuration: storeWrites, logger: logger) { changes in
            for c in subscribers.withLock({ Array($0.continuations.values) }) {
                for change in changes { c.yield(change) }
            }
        }
    }

    /// Whether the store takes the monitor's writes, and how many changes wait in memory.
    public var storeHealth: StoreWriteHealth { writer.health }

    /// Live state of every zone seen (refreshed at least every 100 ms while messages flow).
    public var zones: [ZoneSnapshot] { shared.withLock { $0.zones } }

    /// Live state of every configured area (refreshed with ``zones``).
    public var areaStates: [AreaSnapshot] { shared.withLock { $0.areas } }

    /// Every line seen or configured, with its crossings today (refreshed with ``zones``).
    public var lines: [LineSnapshot] { shared.withLock { $0.lines } }

    /// Counters so far (refreshed with ``zones``).
    public var statistics: EngineCounters { shared.withLock { $0.counters } }

    /// Messages per second over the last refresh interval.
    public var messagesPerSecond: Double { shared.withLock { $0.messagesPerSecond } }

    /// Whether ``run()`` has restored the saved zone states (when it has a ``ZoneStateStore``) and
    /// takes messages: before that, `/readyz` says detection is starting.
    public var hasStarted: Bool { started.load(ordering: .acquiring) }

    /// Messages processed so far, exact at any moment (``statistics`` is published every 100 ms).
    public var processedMessages: Int { processed.load(ordering: .relaxed) }

    /// The feed's health.
    public var sourceStatus: SourceStatus { source.status }

    /// A stream of every event change from now on, each once: when the store has it, or as soon as
    /// its first write failed (it then waits in memory; see ``storeHealth``). Slow listeners lose
    /// the oldest changes beyond `buffer`, never block detection.
    public func changes(buffer: Int = 1024) -> AsyncStream<EventChange> {
        let (stream, continuation) = AsyncStream<EventChange>.makeStream(bufferingPolicy: .bufferingNewest(buffer))
        let id = subscribers.withLock { s in
            s.next += 1
            s.continuations[s.next] = continuation
            return s.next
        }
        continuation.onTermination = { [subscribers] _ in
            subscribers.withLock { _ = $0.continuations.removeValue(forKey: id) }
        }
        return stream
    }

    /// Consumes the source until it ends or the task is cancelled. Throws only when the source
    /// cannot start or fails for good.
    public func run() async throws {
        var engine = DetectionEngine(policy: policy, filter: filter, areas: areas, objectTypes: objectTypes)
        var pending: [EventChange] = []
        var rejectLog = RejectLogLimiter()
        let metrics = MonitorMetrics()
        var published = EngineCounters()
        var lastPublish = ContinuousClock.now
        var messagesAtPublish = 0
        // Run-time settings: taken before the first message and whenever they change (checked
        // before each batch, so each zone's next observation has them: one lock per batch)
        let live = self.settings
        var settingsGeneration = 0
        func takeSettings() {
            guard let live else { return }
            let generation = live.generation
            guard generation != settingsGeneration else { return }
            let snapshot = live.snapshot
            settingsGeneration = snapshot.generation
            if engine.isPaused != snapshot.settings.paused {
                logger.notice(snapshot.settings.paused ? "detection paused" : "detection resumed")
            }
            engine.apply(settings: snapshot.settings)
        }
        takeSettings()
        // Occupancy history: finished minutes handed to their writer about once a second
        var occupancyWriter: OccupancyWriter?
        var occupancyTask: Task<Void, Never>?
        var lastOccupancy = ContinuousClock.now
        if let history {
            engine.trackOccupancy()
            let w = OccupancyWriter(store: history, logger: logger)
            occupancyWriter = w
            occupancyTask = Task { await w.run() }
        }
        /// The minutes so far (the current ones too) written, waiting at most 2 s for the store.
        func stopOccupancy() async {
            guard let occupancyWriter, let occupancyTask else { return }
            occupancyWriter.offer(engine.takeOccupancy(includingCurrent: true))
            occupancyWriter.finish()
            if await !occupancyTask.finished(within: .seconds(2)) {
                logger.warning("occupancy history not written at shutdown: the store does not answer")
            }
        }
        logger.info("monitor started", metadata: ["crowd.policy": "\(policy.name)", "crowd.source": "\(source.status.description)"])
        // Store writes happen on their own task so detection never waits for the disk: changes are
        // handed over in order, written as batches (a failing store keeps them in a bounded memory
        // queue and is retried), and broadcast. The writer is an unstructured task so that
        // cancelling the monitor does not cancel pending writes; at the end run() gives it
        // `storeWrites.shutdownTimeout` to write what waits, and returns after at most a second
        // more even if the store hangs.
        let writer = self.writer
        let writerTask = Task { await writer.run() }
        // Persisted zone state: restored before the first message, then every zone that changed
        // is saved about once a second (after the events it emitted), and at the end.
        var persister: ZoneStatePersister?
        var persisterTask: Task<Void, Never>?
        if let zoneStates {
            await restore(&engine, from: zoneStates)
            engine.trackChanges()
            // the engine encodes a zone when it changes; the encoded states are taken after every
            // batch or message (a take hands over a buffer), so that the last changes before the
            // feed goes quiet are never left in the engine, and saved together every 850 ms (a
            // save rewrites the blocks of the zones that changed: fewer saves, fewer block
            // writes), so a change is in the store within a second
            let p = ZoneStatePersister(store: zoneStates, interval: .milliseconds(850), logger: logger) { writer.written }
            persister = p
            persisterTask = Task { await p.run() }
        }
        func takeStates() {
            guard let p = persister else { return }
            if let states = engine.takeChangedStates() {
                p.offer(states, mark: writer.queued)
            } else {
                logger.warning(
                    "the \(policy.name) policy cannot save its zone state: after a restart its zones start fresh",
                    metadata: ["crowd.policy": "\(policy.name)"])
                persister = nil
                p.finish(within: .zero)
            }
        }
        // Cameras shared out: wait for the first heartbeat (at most 10 s, then alone), and follow
        // the ownership every 100 ms, before the messages that follow.
        var ownershipVersion = -1
        var lastOwnershipCheck = ContinuousClock.now
        if let cluster {
            if await !cluster.waitForOwnership(within: .seconds(10)) {
                logger.warning(
                    "cluster: no heartbeat reached the store in 10 s; processing every camera until one does",
                    metadata: ["cluster.name": "\(cluster.name)"])
                engine.setOwnership(.alone(cluster.name))
            }
        }
        func followOwnership() async {
            guard let cluster else { return }
            lastOwnershipCheck = ContinuousClock.now
            guard let current = cluster.ownership, current.version != ownershipVersion else { return }
            ownershipVersion = current.version
            // the latest states of the cameras that move away go to the store first
            takeStates()
            await apply(current.ownership, to: &engine, cluster: cluster)
        }
        defer {
            // finish outside the lock: finishing calls onTermination, which takes the lock
            let all = subscribers.withLock { s in
                defer { s.continuations.removeAll() }
                return Array(s.continuations.values)
            }
            for c in all { c.finish() }
        }
        await followOwnership()
        started.store(true, ordering: .releasing)
        // Hands the changes and the zone states of the last message(s) to the writer and the
        // persister, and publishes the counters and zone states every 100 ms.
        // `light`: the batch was small (the feed is not busy): its counters are published at once.
        func handOver(light: Bool = true) {
            if !pending.isEmpty {
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                for i in pending.indices {
                    pending[i].deliveries = plan.deliveries(for: pending[i], now: now)
                    if let live, !pending[i].deliveries.isEmpty { suppress(&pending[i], live) }
                    logChange(pending[i])
                }
                writer.enqueue(pending)
                pending.removeAll(keepingCapacity: true)
            }
            if let occupancyWriter, ContinuousClock.now - lastOccupancy >= .seconds(1) {
                lastOccupancy = ContinuousClock.now
                occupancyWriter.offer(engine.takeOccupancy())
            }
            takeStates()
            if ContinuousClock.now - lastPublish >= .milliseconds(100) {
                publish(engine, &published, metrics, &lastPublish, &messagesAtPublish)
            } else if light {
                // a quiet feed's last batch: its counters are readable at once (the full publish,
                // zones and metrics, waits for the next batch)
                let counters = engine.statistics
                shared.withLock { $0.counters = counters }
            }
        }
        do {
            // A source that hands over many messages at once in one byte buffer: no allocation
            // and no async step per message.
            if var reader = try await source.batchReader() {
                var batch = RawMessageBatch()
                while try await reader.next(into: &batch) {
                    takeSettings()
                    if cluster != nil && ContinuousClock.now - lastOwnershipCheck >= .milliseconds(100) { await followOwnership() }
                    engine.process(batch, emit: { pending.append($0) }) { index, reason in
                        rejectLog.note(.raw(batch.message(at: index)), reason, logger: logger)
                    }
                    processed.wrappingAdd(batch.count, ordering: .relaxed)
                    handOver(light: batch.count < 64)
                    batch.removeAll(keepingCapacity: true)
                }
            } else {
                let messages = try await source.messages()
                // a message after a pause is "light" (the feed is slow): its counters are readable
                // at once
                var lastMessage = ContinuousClock.now
                for try await message in messages {
                    let now = ContinuousClock.now
                    let afterPause = now - lastMessage >= .milliseconds(50)
                    lastMessage = now
                    takeSettings()
                    if cluster != nil && ContinuousClock.now - lastOwnershipCheck >= .milliseconds(100) { await followOwnership() }
                    let outcome = engine.process(message) { pending.append($0) }
                    if case .rejected(let reason) = outcome {
                        rejectLog.note(message, reason, logger: logger)
                    }
                    processed.wrappingAdd(1, ordering: .relaxed)
                    handOver(light: afterPause)
                }
            }
        } catch is CancellationError {
        } catch {
            handOver()
            takeStates()
            await stopWriter(writerTask)
            await stopPersister(persister, persisterTask)
            await stopOccupancy()
            throw error
        }
        handOver()
        takeStates()
        await stopWriter(writerTask)
        await stopPersister(persister, persisterTask)
        await stopOccupancy()
        publish(engine, &published, metrics, &lastPublish, &messagesAtPublish)
        logger.info(
            "monitor stopped",
            metadata: [
                "crowd.messages": "\(engine.counters.messages)", "crowd.fired": "\(engine.counters.fired)",
                "crowd.observations": "\(engine.counters.observations)", "crowd.not_owned": "\(engine.counters.notOwned)",
            ])
    }

    /// Makes `engine` process the cameras `ownership` gives this instance; the cameras that moved
    /// here resume from the states their previous owner saved (loaded before the next message).
    private func apply(_ ownership: CameraOwnership, to engine: inout DetectionEngine<Policy>, cluster: ClusterCoordinator) async {
        let old = engine.ownership
        let gained = engine.setOwnership(ownership)
        var restored = 0
        if let old, let zoneStates {
            // also cameras this engine has not seen yet: their state may be saved
            let moved = { (camera: String) in camera != AreaDefinition.camera && ownership.owns(camera) && !old.owns(camera) }
            engine.resetZones(ofCameras: gained)
            do {
                // with a camera list, only the zones of the cameras that moved are read
                let saved: [SavedZoneState]
                if case .only(let cameras) = filter.cameras {
                    saved = try await zoneStates.loadZoneStates(cameras: cameras.filter(moved))
                } else {
                    saved = try await zoneStates.loadZoneStates().filter { moved($0.zone.camera) }
                }
                let skipped = engine.restore(saved)
                restored = saved.count - skipped.count
                for s in skipped.prefix(20) {
                    logger.warning(
                        "saved state of camera \(s.zone.camera) zone \(s.zone.zone) not used; the zone starts fresh: \(s.reason)",
                        metadata: ["crowd.camera": "\(s.zone.camera)", "crowd.zone": "\(s.zone.zone)"])
                }
            } catch {
                logger.error(
                    "cluster: cannot load the saved states of the cameras that moved here; their zones start fresh",
                    metadata: ["error": "\(error)"])
            }
        }
        let owned = engine.ownedCameras
        cluster.reportOwnedCameras(owned.count)
        let takenOver = gained.isEmpty && restored == 0 ? "" : ", \(restored) zone states taken over"
        logger.notice(
            "cluster: \(ownership.members.count) live members; this instance processes \(owned.count) of the cameras seen\(takenOver)",
            metadata: [
                "cluster.name": "\(cluster.name)", "cluster.members": "\(ownership.members.joined(separator: ","))",
                "cluster.owned_cameras": "\(owned.count)", "cluster.restored_zones": "\(restored)",
            ])
    }

    /// Gives the writer `storeWrites.shutdownTimeout` to write what waits (it logs what it could
    /// not), and stops waiting for it a second later whatever the store does.
    private func stopWriter(_ task: Task<Void, Never>) async {
        let timeout = storeWrites.shutdownTimeout
        writer.finish(within: timeout)
        if await !task.finished(within: timeout + .seconds(1)) {
            logger.critical("event store does not answer; stopping without waiting for it", metadata: ["store.backlog": "\(writer.health.backlog)"])
        }
    }

    /// Marks the change's deliveries `suppressed` when its zone is muted or in quiet hours at the
    /// change's time (SEMANTICS.md §7): `firedAt` for fired, the reminder's time for reminders,
    /// the end for ended.
    private func suppress(_ change: inout EventChange, _ live: LiveSettings) {
        let e = change.event
        let ts: Int64
        switch change.kind {
        case .fired: ts = e.firedAt
        case .reminder: ts = e.lastNotifiedAt
        case .ended: ts = e.endedAt ?? e.lastNotifiedAt
        }
        guard let reason = live.suppression(for: e.key, at: ts) else { return }
        for i in change.deliveries.indices { change.deliveries[i].status = .suppressed(reason: reason) }
        logger.info(
            "notification suppressed: \(reason)",
            metadata: ["crowd.camera": "\(e.camera)", "crowd.zone": "\(e.zone)", "crowd.kind": "\(change.kind.rawValue)"])
    }

    /// Restores the saved zone states into `engine`; unusable ones are logged with their zone.
    private func restore(_ engine: inout DetectionEngine<Policy>, from store: any ZoneStateStore) async {
        let saved: [SavedZoneState]
        do {
            saved = try await store.loadZoneStates()
        } catch {
            logger.error("cannot load the saved zone states; every zone starts fresh", metadata: ["error": "\(error)"])
            return
        }
        guard !saved.isEmpty else { return }
        let skipped = engine.restore(saved)
        for s in skipped.prefix(100) {
            logger.warning(
                "saved state of camera \(s.zone.camera) zone \(s.zone.zone) not used; the zone starts fresh: \(s.reason)",
                metadata: ["crowd.camera": "\(s.zone.camera)", "crowd.zone": "\(s.zone.zone)"])
        }
        if skipped.count > 100 {
            logger.warning("\(skipped.count - 100) more saved zone states not used", metadata: ["crowd.skipped": "\(skipped.count)"])
        }
        logger.info(
            "zone states restored", metadata: ["crowd.zones": "\(saved.count - skipped.count)", "crowd.skipped": "\(skipped.count)"])
    }

    /// Gives the persister a quarter of the writer's share of the shutdown limit for its last save
    /// (it is one write; when the store fails, the events' writes failed already).
    private func stopPersister(_ persister: ZoneStatePersister?, _ task: Task<Void, Never>?) async {
        guard let persister, let task else { return }
        let budget = storeWrites.shutdownTimeout / 4
        persister.finish(within: budget)
        if await !task.finished(within: budget + .seconds(1)) {
            logger.critical("zone states: the store does not answer; stopping without waiting for it")
        }
    }

    private func logChange(_ change: EventChange) {
        let e = change.event
        let meta: Logger.Metadata = [
            "crowd.event": "\(e.id)", "crowd.camera": "\(e.camera)", "crowd.zone": "\(e.zone)",
            "crowd.peak": "\(e.peak)", "crowd.started_at": "\(e.startedAt)",
        ]
        switch change.kind {
        case .fired:
            logger.notice(
                "crowd fired: camera \(e.camera) zone \(e.zone) peak \(e.peak) people (started \(TextFormat.iso8601(e.startedAt)))",
                metadata: meta)
        case .reminder:
            logger.info("crowd still there: camera \(e.camera) zone \(e.zone) \(e.lastCount) people", metadata: meta)
        case .ended:
            logger.info(
                "crowd ended: camera \(e.camera) zone \(e.zone) peak \(e.peak) people after \(TextFormat.duration(milliseconds: e.durationMilliseconds))",
                metadata: meta)
        }
    }

    private func publish(
        _ engine: DetectionEngine<Policy>, _ published: inout EngineCounters, _ metrics: MonitorMetrics,
        _ lastPublish: inout ContinuousClock.Instant, _ messagesAtPublish: inout Int
    ) {
        let now = ContinuousClock.now
        let counters = engine.statistics
        let elapsed = (now - lastPublish).secondsValue
        let rate = elapsed > 0 ? Double(counters.messages - messagesAtPublish) / elapsed : 0
        metrics.record(counters, since: published)
        published = counters
        // the live view of every zone: every 100 ms, but once a second beyond 10,000 zones (a
        // snapshot of 100,000 zones ten times a second would cost detection a good part of its task)
        let lastZones = shared.withLock { $0.zonesTakenAt }
        let zonesDue = engine.zoneCount <= 10_000 || lastZones.map { now - $0 >= .seconds(1) } ?? true
        let zones = zonesDue ? engine.snapshot() : nil
        let areas = engine.areaSnapshot()
        let lines = engine.lineSnapshot()
        metrics.lines.record(lines)
        if let cluster, let zones { cluster.reportOwnedCameras(Set(zones.lazy.map(\.camera)).count) }
        shared.withLock {
            if let zones {
                $0.zones = zones
                $0.zonesTakenAt = now
            }
            $0.areas = areas
            $0.lines = lines
            $0.counters = counters
            $0.messagesPerSecond = rate
        }
        lastPublish = now
        messagesAtPublish = counters.messages
    }
}

/// swift-metrics instruments of the monitor, fed in batches (never per message).
struct MonitorMetrics {
    let messages = Counter(label: "crowdkit_messages_total")
    let observations = Counter(label: "crowdkit_observations_total")
    let nonCount = Counter(label: "crowdkit_messages_skipped_total", dimensions: [("reason", "non_count")])
    let filtered = Counter(label: "crowdkit_messages_skipped_total", dimensions: [("reason", "filtered")])
    let notOwned = Counter(label: "crowdkit_messages_skipped_total", dimensions: [("reason", "not_owned")])
    let outOfOrder = Counter(label: "crowdkit_messages_dropped_total", dimensions: [("reason", "out_of_order")])
    let fired = Counter(label: "crowdkit_events_total", dimensions: [("kind", "fired")])
    let reminders = Counter(label: "crowdkit_events_total", dimensions: [("kind", "reminder")])
    let ended = Counter(label: "crowdkit_events_total", dimensions: [("kind", "ended")])
    /// Crossings per line and direction (`crowdkit_line_crossings_total{camera,line,direction}`).
    let lines = LineMetrics()
    let crossingsIgnored = Counter(label: "crowdkit_crossings_ignored_total")
    let crossingsLate = Counter(label: "crowdkit_crossings_late_total")
    let crossingsClamped = Counter(label: "crowdkit_crossings_clamped_total")
    let rejected: [RejectReason: Counter] = Dictionary(
        uniqueKeysWithValues: RejectReason.allCases.map {
            ($0, Counter(label: "crowdkit_messages_rejected_total", dimensions: [("reason", $0.rawValue)]))
        })

    func record(_ c: EngineCounters, since p: EngineCounters) {
        func add(_ counter: Counter, _ a: Int, _ b: Int) { if a > b { counter.increment(by: a - b) } }
        add(messages, c.messages, p.messages)
        add(observations, c.observations, p.observations)
        add(nonCount, c.nonCount, p.nonCount)
        add(filtered, c.filtered, p.filtered)
        add(notOwned, c.notOwned, p.notOwned)
        add(outOfOrder, c.outOfOrder, p.outOfOrder)
        add(fired, c.fired, p.fired)
        add(reminders, c.reminders, p.reminders)
        add(ended, c.ended, p.ended)
        add(crossingsIgnored, c.crossings.ignored, p.crossings.ignored)
        add(crossingsLate, c.crossings.late, p.crossings.late)
        add(crossingsClamped, c.crossings.clamped, p.crossings.clamped)
        for (r, counter) in rejected { add(counter, c.rejectedByReason[r] ?? 0, p.rejectedByReason[r] ?? 0) }
    }
}

/// `crowdkit_line_crossings_total{camera, line, direction}`, fed from line snapshots (one
/// counter pair per line, created when the line is first seen). Used by the monitor's task only.
final class LineMetrics {
    private var counters: [LineKey: (into: Counter, out: Counter, inTotal: Int, outTotal: Int)] = [:]

    func record(_ lines: [LineSnapshot]) {
        for l in lines {
            let key = LineKey(camera: l.camera, line: l.line)
            var c = counters[key] ?? (
                Counter(label: "crowdkit_line_crossings_total", dimensions: [("camera", l.camera), ("line", l.line), ("direction", "in")]),
                Counter(label: "crowdkit_line_crossings_total", dimensions: [("camera", l.camera), ("line", l.line), ("direction", "out")]),
                0, 0)
            if l.inTotal > c.inTotal { c.into.increment(by: l.inTotal - c.inTotal) }
            if l.outTotal > c.outTotal { c.out.increment(by: l.outTotal - c.outTotal) }
            c.inTotal = l.inTotal
            c.outTotal = l.outTotal
            counters[key] = c
        }
    }
}

/// Logs a rejected message at most once per topic per minute (SEMANTICS.md §1).
struct RejectLogLimiter {
    private var last: [String: ContinuousClock.Instant] = [:]

    mutating func note(_ message: SourceMessage, _ reason: RejectReason, logger: Logger) {
        let topic: String
        switch message {
        case .raw(let r): topic = r.topic
        case .observation(let o): topic = "\(o.camera)/\(o.zone)"
        }
        let now = ContinuousClock.now
        if let t = last[topic], now - t < .seconds(60) { return }
        if last.count > 10_000 { last.removeAll() }
        last[topic] = now
        logger.warning(
            "message rejected: \(reason)", metadata: ["mqtt.topic": "\(topic)", "crowd.reason": "\(reason.rawValue)"])
    }
}
