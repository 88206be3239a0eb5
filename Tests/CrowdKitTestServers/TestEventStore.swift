import CrowdKitCore

/// The real ``CrowdKitCore/InMemoryEventStore`` with a few conveniences for tests: it remembers
/// which events were written (so tests can list every delivery) and counts the writes that carry
/// no new deliveries (enrichment saves).
public actor TestEventStore: EventStore {
    public let base = InMemoryEventStore()
    private var eventOrder: [CrowdEventID] = []
    public private(set) var applied: [EventChange] = []
    /// Calls of `record(id:)`, and of `pendingDeliveries(limit:)` and `claimDeliveries(_:)` (the delivery service's reads).
    public private(set) var eventReads = 0
    public private(set) var outboxReads = 0

    public init() {}

    public func apply(_ change: EventChange) async throws {
        try await base.apply(change)
        applied.append(change)
        if !eventOrder.contains(change.event.id) { eventOrder.append(change.event.id) }
    }

    public func record(id: CrowdEventID) async throws -> EventRecord? {
        eventReads += 1
        return try await base.record(id: id)
    }
    public func events(_ query: EventQuery) async throws -> EventPage { try await base.events(query) }
    public func pendingDeliveries(limit: Int) async throws -> [Delivery] {
        outboxReads += 1
        return try await base.pendingDeliveries(limit: limit)
    }
    public func claimDeliveries(_ claim: DeliveryClaim) async throws -> [Delivery] {
        outboxReads += 1
        return try await base.claimDeliveries(claim)
    }
    public func updateDelivery(_ delivery: Delivery) async throws { try await base.updateDelivery(delivery) }
    public func prune(startedBefore cameraTime: Int64) async throws -> Int { try await base.prune(startedBefore: cameraTime) }

    /// Every delivery, by event in the order the events were first written.
    public var allDeliveries: [Delivery] {
        get async {
            var out: [Delivery] = []
            for id in eventOrder {
                if let r = try? await base.record(id: id) { out += r.deliveries }  // not counted
            }
            return out
        }
    }

    public func delivery(_ id: String) async -> Delivery? { await allDeliveries.first { $0.id == id } }

    /// Writes without new deliveries (the delivery service saving an enriched event).
    public var enrichmentWrites: Int { applied.filter { $0.deliveries.isEmpty }.count }
}
