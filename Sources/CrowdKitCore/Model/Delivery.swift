/// Why a notification is sent.
public enum NotificationKind: String, Hashable, Sendable, Codable, CaseIterable {
    /// The crowd was just detected.
    case fired
    /// The crowd is still there (`detection.repeatSeconds`).
    case reminder
    /// The crowd has gone.
    case ended
}

/// The state of one notification of one event by one notifier (an outbox record).
public enum DeliveryStatus: Hashable, Sendable, Codable {
    /// Not sent yet (or interrupted): the delivery service will send it.
    case pending
    /// Sent; `remoteID` is the id the remote side gave the message, when it gives one.
    case sent(remoteID: String?)
    /// Rejected permanently (400, 401, 403, 404, no such notifier) or given up after
    /// ``DeliveryConfiguration/maxAttempts``; `reason` says why (never a secret).
    case failed(reason: String)
    /// Not sent before it became too old to matter (``DeliveryConfiguration/maxAge``); `reason`
    /// says how old it was and the last error.
    case expired(reason: String)
    /// Never sent: its zone was muted or in quiet hours when it became due (SEMANTICS.md §7);
    /// `reason` is `mute <id>` or `quiet hours <name>`. It stays unsent when the mute ends.
    case suppressed(reason: String)

    /// `pending`, `sent`, `failed`, `expired` or `suppressed`.
    public var name: String {
        switch self {
        case .pending: "pending"
        case .sent: "sent"
        case .failed: "failed"
        case .expired: "expired"
        case .suppressed: "suppressed"
        }
    }

    /// Whether the delivery is finished (sent, failed, expired or suppressed).
    public var isFinal: Bool { self != .pending }

    /// The reason of a failed, expired or suppressed delivery.
    public var reason: String? {
        switch self {
        case .failed(let r), .expired(let r), .suppressed(let r): r
        case .pending, .sent: nil
        }
    }
}

/// One notification of one event by one notifier: created in the same store write as the event
/// change that made it due, then worked off by the delivery service.
public struct Delivery: Hashable, Sendable, Codable, Identifiable {
    /// Deterministic: `<event id>/<notifier>/<kind>[/<reminder number>]`, so re-processing the same
    /// feed never enqueues the same notification twice.
    public var id: String
    public var eventID: CrowdEventID
    /// The ``Notifier/name`` of the notifier that must send it.
    public var notifier: String
    public var kind: NotificationKind
    /// 0 for `fired` and `ended`, the reminder's number (1, 2, ...) for reminders.
    public var sequence: Int
    public var status: DeliveryStatus
    /// Send attempts made so far.
    public var attempts: Int
    /// Host time the record was created, epoch milliseconds (for latency metrics and the page).
    public var createdAt: Int64
    /// Host time of the last status change, epoch milliseconds.
    public var updatedAt: Int64
    /// The error of the last failed attempt while the delivery is retried (shown on the page and
    /// in the reason when it expires); `nil` before any failure.
    public var lastError: String?
    /// The delivery worker sending it now, and until when (see ``EventStore/claimDeliveries(_:)``);
    /// `nil` while nobody does. Recording a new status ends the lease.
    public var lease: DeliveryLease?
    /// Host time (epoch milliseconds) before which it is not claimed again: the back-off after a
    /// transient failure. `nil`: due at once.
    public var retryAt: Int64?

    public init(
        eventID: CrowdEventID, notifier: String, kind: NotificationKind, sequence: Int = 0,
        status: DeliveryStatus = .pending, attempts: Int = 0, createdAt: Int64, updatedAt: Int64? = nil,
        lastError: String? = nil, lease: DeliveryLease? = nil, retryAt: Int64? = nil
    ) {
        self.id = Delivery.makeID(eventID: eventID, notifier: notifier, kind: kind, sequence: sequence)
        self.eventID = eventID
        self.notifier = notifier
        self.kind = kind
        self.sequence = sequence
        self.status = status
        self.attempts = attempts
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.lastError = lastError
        self.lease = lease
        self.retryAt = retryAt
    }

    /// Where the delivery stands among those of its event for its notifier: they are sent in this
    /// order (fired, then reminders by number, then ended), one at a time.
    public var position: Int {
        switch kind {
        case .fired: 0
        case .reminder: sequence
        case .ended: Int(Int32.max)
        }
    }

    public static func makeID(eventID: CrowdEventID, notifier: String, kind: NotificationKind, sequence: Int) -> String {
        kind == .reminder
            ? "\(eventID.rawValue)/\(notifier)/\(kind.rawValue)/\(sequence)"
            : "\(eventID.rawValue)/\(notifier)/\(kind.rawValue)"
    }
}

/// One change to the event log, written atomically: the event (inserted or updated by id) and the
/// outbox records it makes due.
public struct EventChange: Hashable, Sendable {
    public var kind: NotificationKind
    public var event: CrowdEvent
    /// Deliveries to create with the change. A store ignores those whose id it already has.
    public var deliveries: [Delivery]

    public init(kind: NotificationKind, event: CrowdEvent, deliveries: [Delivery] = []) {
        self.kind = kind
        self.event = event
        self.deliveries = deliveries
    }
}

/// Who sends a claimed delivery, and until when the claim holds.
public struct DeliveryLease: Hashable, Sendable, Codable {
    /// The claiming worker (unique per process and worker, e.g. `host/pid/uuid`).
    public var owner: String
    /// Host time (epoch milliseconds) when the lease ends: after it, another worker may claim the
    /// delivery (its worker is taken to have died).
    public var until: Int64

    public init(owner: String, until: Int64) {
        self.owner = owner
        self.until = until
    }
}

/// What a delivery worker asks the outbox for (``EventStore/claimDeliveries(_:)``).
public struct DeliveryClaim: Hashable, Sendable {
    /// The claiming worker. Deliveries leased to this same name are its own (it restarted after
    /// dying while sending them): they are claimable again at once, unless in ``excluding``.
    /// Workers that run at the same time need names of their own.
    public var owner: String
    /// Host time now, epoch milliseconds: leases that ended and back-offs that passed by then are due.
    public var now: Int64
    /// The end of the lease given to what is claimed.
    public var leaseUntil: Int64
    /// At most this many deliveries.
    public var limit: Int
    /// At most this many for each named notifier (0: none of its deliveries).
    public var perNotifier: [String: Int]
    /// At most this many in all for notifiers not in ``perNotifier`` (0 by default: only the named
    /// notifiers' deliveries are claimed).
    public var otherNotifiers: Int
    /// Notifiers whose deliveries are due regardless of their back-off (``Delivery/retryAt``): the
    /// notifier answered again, so what waited for it goes now.
    public var ignoringBackOff: Set<String>
    /// Deliveries the worker is sending now: never returned (they still hold back the later
    /// deliveries of their event and notifier).
    public var excluding: Set<String>

    public init(
        owner: String, now: Int64, leaseUntil: Int64, limit: Int, perNotifier: [String: Int],
        otherNotifiers: Int = 0, ignoringBackOff: Set<String> = [], excluding: Set<String> = []
    ) {
        self.owner = owner
        self.now = now
        self.leaseUntil = leaseUntil
        self.limit = limit
        self.perNotifier = perNotifier
        self.otherNotifiers = otherNotifiers
        self.ignoringBackOff = ignoringBackOff
        self.excluding = excluding
    }

    /// At most this many can be taken: the limit, or the sum of the per-notifier limits and the
    /// other notifiers' limit when smaller.
    public var capacity: Int { min(limit, perNotifier.values.reduce(otherNotifiers) { $0 + max($1, 0) }) }

    /// The deliveries this claim takes from `pending` (every pending delivery of the store, in
    /// outbox order: ``Delivery/outboxOrder``), for stores that select in memory: a delivery is
    /// due when its lease (if any) ended or is the claimant's own, its back-off (if any) passed,
    /// it is not excluded, and no delivery before it of the same event and notifier is still
    /// pending.
    public func select(from pending: some Sequence<Delivery>) -> [Delivery] {
        var selection = Selection(self)
        for d in pending {
            if selection.isFull { break }
            selection.offer(d)
        }
        return selection.taken
    }

    /// ``select(from:)`` one delivery at a time, for stores that read the outbox with a cursor:
    /// offer each pending delivery in outbox order until ``isFull``.
    public struct Selection: Sendable {
        public let claim: DeliveryClaim
        /// The deliveries claimed so far, with their lease.
        public private(set) var taken: [Delivery] = []
        private var perNotifierTaken: [String: Int] = [:]
        private var others = 0
        private var earlierPending = Set<DeliverySeries>()

        public init(_ claim: DeliveryClaim) { self.claim = claim }

        /// Whether nothing more can be taken (``DeliveryClaim/capacity`` is reached).
        public var isFull: Bool { taken.count >= claim.capacity }

        /// Takes `d` when it is due and within the limits.
        public mutating func offer(_ d: Delivery) {
            guard d.status == .pending, !isFull else { return }
            let series = DeliverySeries(eventID: d.eventID, notifier: d.notifier)
            guard earlierPending.insert(series).inserted else { return }
            if claim.excluding.contains(d.id) { return }
            if let lease = d.lease, lease.until > claim.now, lease.owner != claim.owner { return }
            if let retryAt = d.retryAt, retryAt > claim.now, !claim.ignoringBackOff.contains(d.notifier) { return }
            if let max = claim.perNotifier[d.notifier] {
                guard perNotifierTaken[d.notifier, default: 0] < max else { return }
                perNotifierTaken[d.notifier, default: 0] += 1
            } else {
                guard others < claim.otherNotifiers else { return }
                others += 1
            }
            var claimed = d
            claimed.lease = DeliveryLease(owner: claim.owner, until: claim.leaseUntil)
            taken.append(claimed)
        }
    }
}

/// The deliveries of one event for one notifier: sent in ``Delivery/position`` order.
public struct DeliverySeries: Hashable, Sendable {
    public var eventID: CrowdEventID
    public var notifier: String

    public init(eventID: CrowdEventID, notifier: String) {
        self.eventID = eventID
        self.notifier = notifier
    }
}

extension Delivery {
    /// The outbox's order: oldest first (`createdAt`), then ``position``, then id. Within one
    /// event and notifier it is the sending order.
    public static func outboxOrder(_ a: Delivery, _ b: Delivery) -> Bool {
        (a.createdAt, a.position, a.id) < (b.createdAt, b.position, b.id)
    }
}
