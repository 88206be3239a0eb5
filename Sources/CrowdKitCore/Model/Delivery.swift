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
    /// Given up after retries or rejected permanently; `reason` says why (never a secret).
    case failed(reason: String)

    /// `pending`, `sent` or `failed`.
    public var name: String {
        switch self {
        case .pending: "pending"
        case .sent: "sent"
        case .failed: "failed"
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

    public init(
        eventID: CrowdEventID, notifier: String, kind: NotificationKind, sequence: Int = 0,
        status: DeliveryStatus = .pending, attempts: Int = 0, createdAt: Int64, updatedAt: Int64? = nil
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
