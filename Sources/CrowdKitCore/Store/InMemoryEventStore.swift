/// An ``EventStore`` in memory: for tests, replay, and apps that do not need events to survive a
/// restart. Optionally bounded: beyond `capacity` events, the oldest are evicted with their
/// deliveries.
public actor InMemoryEventStore: EventStore, ZoneStateStore, SettingsStore, OccupancyHistoryStore {
    private var events: [CrowdEventID: CrowdEvent] = [:]
    private var zoneStates: [ZoneKey: SavedZoneState] = [:]
    private var occupancyMinutes: [ZoneKey: [Int64: OccupancyMinute]] = [:]
    private var settings: RuntimeSettings?
    private var mutesByID: [String: Mute] = [:]
    private var auditLog: [AuditEntry] = []
    private var deliveries: [String: Delivery] = [:]
    private var deliveriesByEvent: [CrowdEventID: [String]] = [:]
    private var pendingOrder: [String] = []
    /// Maximum number of events kept; `nil` keeps everything.
    public let capacity: Int?

    public init(capacity: Int? = nil) {
        self.capacity = capacity
    }

    public func apply(_ change: EventChange) async throws {
        events[change.event.id] = change.event.keepingEnrichment(of: events[change.event.id])
        for d in change.deliveries where deliveries[d.id] == nil {
            deliveries[d.id] = d
            deliveriesByEvent[d.eventID, default: []].append(d.id)
            if d.status == .pending { pendingOrder.append(d.id) }
        }
        if let capacity, events.count > capacity { evictOldest(events.count - capacity) }
    }

    public func record(id: CrowdEventID) async throws -> EventRecord? {
        guard let e = events[id] else { return nil }
        return EventRecord(event: e, deliveries: deliveryList(for: id))
    }

    public func events(_ query: EventQuery) async throws -> EventPage {
        let limit = query.effectiveLimit
        let sorted = events.values.filter { e in
            query.matches(e) && (query.cursor.map { $0.precedes(e) } ?? true)
        }.sorted { ($0.startedAt, $0.id) > ($1.startedAt, $1.id) }
        let page = sorted.prefix(limit)
        let next = sorted.count > limit ? page.last.map { EventCursor(startedAt: $0.startedAt, id: $0.id) } : nil
        return EventPage(records: page.map { EventRecord(event: $0, deliveries: deliveryList(for: $0.id)) }, nextCursor: next)
    }

    public func pendingDeliveries(limit: Int) async throws -> [Delivery] {
        prunePendingOrder()
        return pendingOrder.prefix(max(limit, 0)).compactMap { deliveries[$0] }
    }

    public func claimDeliveries(_ claim: DeliveryClaim) async throws -> [Delivery] {
        prunePendingOrder()
        let pending = pendingOrder.compactMap { deliveries[$0] }.sorted(by: Delivery.outboxOrder)
        let claimed = claim.select(from: pending)
        for d in claimed { deliveries[d.id]?.lease = d.lease }
        return claimed
    }

    public func updateDelivery(_ delivery: Delivery) async throws {
        guard let old = deliveries[delivery.id] else {
            throw EventStoreError(.notFound, "no delivery \(delivery.id)")
        }
        var delivery = delivery
        delivery.lease = nil
        deliveries[delivery.id] = delivery
        if delivery.status == .pending && old.status != .pending { pendingOrder.append(delivery.id) }
    }

    public func prune(startedBefore cameraTime: Int64) async throws -> Int {
        let old = events.values.filter { $0.startedAt < cameraTime }.map(\.id)
        for id in old { remove(id) }
        return old.count
    }

    /// Drops finished (and deleted) deliveries from the arrival order of pending ones.
    private func prunePendingOrder() {
        pendingOrder.removeAll { deliveries[$0]?.status != .pending }
    }

    /// Number of stored events.
    public var count: Int { events.count }

    private func deliveryList(for id: CrowdEventID) -> [Delivery] {
        (deliveriesByEvent[id] ?? []).compactMap { deliveries[$0] }
    }

    private func evictOldest(_ n: Int) {
        for e in events.values.sorted(by: { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }).prefix(n) {
            remove(e.id)
        }
    }

    private func remove(_ id: CrowdEventID) {
        events[id] = nil
        for d in deliveriesByEvent.removeValue(forKey: id) ?? [] { deliveries[d] = nil }
    }

    // MARK: ZoneStateStore

    public func saveZoneStates(_ batch: ZoneStateBatch) async throws {
        for i in 0..<batch.count {
            let state = batch.state(at: i)
            zoneStates[state.zone] = state
        }
    }

    public func loadZoneStates() async throws -> [SavedZoneState] {
        zoneStates.values.sorted { ($0.zone.camera, $0.zone.zone) < ($1.zone.camera, $1.zone.zone) }
    }

    // MARK: OccupancyHistoryStore

    public func appendOccupancy(_ minutes: [OccupancyMinute]) async throws {
        for m in minutes { occupancyMinutes[m.zone, default: [:]][m.minute] = m }
    }

    public func occupancy(of zone: ZoneKey, from: Int64, to: Int64) async throws -> [OccupancyMinute] {
        (occupancyMinutes[zone] ?? [:]).values.filter { $0.minute >= from && $0.minute < to }.sorted { $0.minute < $1.minute }
    }

    public func pruneOccupancy(before: Int64) async throws -> Int {
        var removed = 0
        for key in Array(occupancyMinutes.keys) {
            let before0 = occupancyMinutes[key]?.count ?? 0
            occupancyMinutes[key] = occupancyMinutes[key]?.filter { $0.key >= before }
            removed += before0 - (occupancyMinutes[key]?.count ?? 0)
        }
        return removed
    }

    // MARK: SettingsStore

    public func loadSettings() async throws -> RuntimeSettings? { settings }

    public func saveSettings(_ new: RuntimeSettings, expectedVersion: Int, audit: AuditEntry) async throws -> RuntimeSettings {
        let current = settings?.version ?? 0
        guard current == expectedVersion else { throw SettingsStoreError.versionConflict(current: current) }
        var stored = new
        stored.version = expectedVersion + 1
        settings = stored
        auditLog.append(audit)
        return stored
    }

    public func addMute(_ mute: Mute, audit: AuditEntry) async throws {
        guard mutesByID[mute.id] == nil else { throw EventStoreError(.invalid, "mute \(mute.id) exists") }
        mutesByID[mute.id] = mute
        auditLog.append(audit)
    }

    public func removeMute(id: String, audit: AuditEntry) async throws -> Bool {
        guard mutesByID.removeValue(forKey: id) != nil else { return false }
        auditLog.append(audit)
        return true
    }

    public func mutes(activeAt ms: Int64) async throws -> [Mute] {
        mutesByID.values.filter { ms >= $0.from && ms < $0.until }.sorted { ($0.from, $0.id) < ($1.from, $1.id) }
    }

    public func appendAudit(_ entry: AuditEntry) async throws { auditLog.append(entry) }

    public func audit(limit: Int) async throws -> [AuditEntry] { Array(auditLog.suffix(max(limit, 0)).reversed()) }
}
