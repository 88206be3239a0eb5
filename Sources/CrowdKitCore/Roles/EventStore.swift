/// Keeps crowd events and the outbox of their notifications.
///
/// ``InMemoryEventStore`` is built in; `CrowdKitSQLite` provides the durable default.
///
/// ## Implementation requirements
/// - Safe to call from many tasks at once (`Sendable`; an actor or a database pool).
/// - ``apply(_:)`` is atomic and idempotent: it inserts the event or replaces the stored one with
///   the same id, and inserts the change's deliveries whose ids are not stored yet, all or nothing.
///   Enrichment is kept: where the incoming event has no camera or zone name, video link, vision
///   link or snapshot, the stored value stays (detection rewrites events without them; see
///   ``CrowdEvent/keepingEnrichment(of:)``).
///   Applying the same change twice leaves the store as applying it once. A delivery that exists
///   keeps its status.
/// - ``events(_:)`` lists newest first by `(startedAt, id)` descending, applies every filter of
///   ``EventQuery``, returns at most ``EventQuery/effectiveLimit`` records and a cursor when more
///   follow; paging with the cursors visits every matching event exactly once, even while events
///   are being added.
/// - ``pendingDeliveries(limit:)`` returns deliveries with status `.pending`, oldest first; after
///   a restart a durable store returns those that were pending (or in flight) when it stopped.
/// - ``claimDeliveries(_:)`` is atomic: it selects as ``DeliveryClaim/select(from:)`` says (due
///   pending deliveries in ``Delivery/outboxOrder``, within the claim's limits, none after a
///   pending delivery of the same event and notifier) and gives each the claim's lease in the
///   same transaction, so that two claims at once (two workers, two processes) never return the
///   same delivery while its lease holds. A lease that ended can be claimed again.
/// - ``updateDelivery(_:)`` replaces the stored delivery with the same id (status, attempts,
///   `updatedAt`, last error, ``Delivery/retryAt``) and ends its lease; it throws
///   ``EventStoreError`` `.notFound` for an unknown id.
/// - Errors thrown are the store's failures (disk, database); they never contain secrets.
public protocol EventStore: Sendable {
    /// Records one change to the event log and its new deliveries, atomically.
    func apply(_ change: EventChange) async throws

    /// Records several changes in order, all or nothing (one transaction where the store has
    /// them). The default applies them one by one; stores override it to write a burst at once.
    func apply(contentsOf changes: [EventChange]) async throws

    /// The event with `id` and its deliveries, if stored.
    func record(id: CrowdEventID) async throws -> EventRecord?

    /// Adds what an enricher found to the stored event with `enriched.id`: camera and zone names,
    /// links and snapshot where the stored event has none, and the notes when it has no
    /// enrichment yet. Counts and times stay as the monitor last wrote them. Throws
    /// ``EventStoreError`` `.notFound` for an unknown event. The default reads the event and
    /// applies it back; stores override it with a single update.
    func enrich(_ enriched: CrowdEvent) async throws

    /// One page of events, newest first.
    func events(_ query: EventQuery) async throws -> EventPage

    /// Deliveries still to be sent, oldest first.
    func pendingDeliveries(limit: Int) async throws -> [Delivery]

    /// Claims due deliveries for one worker with a lease (the outbox's only way to hand out
    /// work). Returns them with ``Delivery/lease`` set, in outbox order.
    func claimDeliveries(_ claim: DeliveryClaim) async throws -> [Delivery]

    /// Stores a delivery's new status (and back-off) and ends its lease.
    func updateDelivery(_ delivery: Delivery) async throws

    /// Deletes events (and their deliveries) that started before `cameraTime` (epoch ms).
    /// Returns how many events were deleted.
    func prune(startedBefore cameraTime: Int64) async throws -> Int
}

extension EventStore {
    public func apply(contentsOf changes: [EventChange]) async throws {
        for change in changes { try await apply(change) }
    }

    public func enrich(_ enriched: CrowdEvent) async throws {
        guard let stored = try await record(id: enriched.id)?.event else {
            throw EventStoreError(.notFound, "no event \(enriched.id)")
        }
        let merged = stored.addingEnrichment(of: enriched)
        if merged != stored { try await apply(EventChange(kind: .fired, event: merged, deliveries: [])) }
    }
}

/// The error an ``EventStore`` throws for a request it cannot satisfy.
public struct EventStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable { case notFound, unavailable, invalid }
        fileprivate let value: Value
        /// The referenced event or delivery does not exist.
        public static let notFound = Code(value: .notFound)
        /// The store cannot be used (closed, disk failure).
        public static let unavailable = Code(value: .unavailable)
        /// The request was malformed.
        public static let invalid = Code(value: .invalid)
        public var description: String { "\(value)" }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "event store: \(message)" }
}
