import CrowdKitCore

/// A minimal `EventStore` for tests only (the real `InMemoryEventStore` lives in Core on main;
/// switch to it once merged).
public actor TestEventStore: EventStore {
    public init() {}

    public private(set) var events: [CrowdEventID: CrowdEvent] = [:]
    public private(set) var deliveries: [String: Delivery] = [:]
    private var order: [String] = []
    public private(set) var applied: [EventChange] = []

    public func apply(_ change: EventChange) async throws {
        applied.append(change)
        events[change.event.id] = change.event
        for d in change.deliveries where deliveries[d.id] == nil {
            deliveries[d.id] = d
            order.append(d.id)
        }
    }

    public func record(id: CrowdEventID) async throws -> EventRecord? {
        guard let e = events[id] else { return nil }
        return EventRecord(event: e, deliveries: order.compactMap { deliveries[$0] }.filter { $0.eventID == id })
    }

    public func events(_ query: EventQuery) async throws -> EventPage {
        let list = events.values.filter(query.matches).sorted { ($0.startedAt, $0.id) > ($1.startedAt, $1.id) }
        return EventPage(records: list.map { EventRecord(event: $0, deliveries: []) }, nextCursor: nil)
    }

    public func pendingDeliveries(limit: Int) async throws -> [Delivery] {
        Array(order.compactMap { deliveries[$0] }.filter { $0.status == .pending }.prefix(limit))
    }

    public func updateDelivery(_ delivery: Delivery) async throws {
        guard deliveries[delivery.id] != nil else { throw EventStoreError(.notFound, "no delivery \(delivery.id)") }
        deliveries[delivery.id] = delivery
    }

    public func prune(startedBefore cameraTime: Int64) async throws -> Int { 0 }

    public func delivery(_ id: String) -> Delivery? { deliveries[id] }
    public var allDeliveries: [Delivery] { order.compactMap { deliveries[$0] } }
    public var enrichmentWrites: Int { applied.filter { $0.deliveries.isEmpty }.count }
}
