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

    /// `pending`, `sent`, `failed` or `expired`.
    public var name: String {
        switch self {
        case .pending: "pending"
        case .sent: "sent"
        case .failed: "failed"
        case .expired: "expired"
        }
    }

    /// Whether the delivery is finished (sent, failed or expired).
    public var isFinal: Bool { self != .pending }

    /// The reason of a failed or expired delivery.
    public var reason: String? {
        switch self {
        case .failed(let r), .expired(let r): r
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

    public init(
        eventID: CrowdEventID, notifier: String, kind: NotificationKind, sequence: Int = 0,
        status: DeliveryStatus = .pending, attempts: Int = 0, createdAt: Int64, updatedAt: Int64? = nil,
        lastError: String? = nil
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
