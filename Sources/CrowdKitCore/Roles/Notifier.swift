/// Tells someone about a crowd event (Webex, a webhook, the log, or your own channel).
///
/// ## Implementation requirements
/// - ``name`` is stable across restarts: delivery records are keyed by it.
/// - ``send(_:)`` sends exactly one message for the notification, or throws. Returning means it
///   was accepted by the remote side. The delivery service calls it again for the same
///   notification only after a throw or an interruption (at-least-once delivery), so include
///   ``CrowdNotification/deliveryID`` as an idempotency key where the remote side supports one.
/// - Throw ``NotificationError`` with `.permanent` for failures that retrying cannot fix (bad
///   recipient, 401/403/404) and `.transient` otherwise (optionally with `retryAfter`); any other
///   error is treated as transient.
/// - Bounded in time: use timeouts; never block the calling thread.
/// - Never put a secret (token, key) into an error or a log line.
public protocol Notifier: Sendable {
    /// A stable, unique name such as `webex`, `webhook` or `log`.
    var name: String { get }

    /// Sends one notification.
    func send(_ notification: CrowdNotification) async throws -> NotificationReceipt
}

/// What a notifier is asked to send: the event (enriched) and why.
public struct CrowdNotification: Hashable, Sendable {
    public var kind: NotificationKind
    public var event: CrowdEvent
    /// The reminder number for `.reminder`, 0 otherwise.
    public var sequence: Int
    /// The delivery record's id: stable across retries, usable as an idempotency key.
    public var deliveryID: String
    /// 1 for the first attempt.
    public var attempt: Int
    /// How long ago the notification was raised (its outbox record written), in milliseconds,
    /// when this attempt started: 0 for a notification sent at once. Formatters say "raised
    /// 14 min ago" past ``CrowdNotification/lateAfterMilliseconds`` (see ``lateNote``).
    public var delayMilliseconds: Int64

    /// A notification sent this much after it was raised says so (one minute).
    public static let lateAfterMilliseconds: Int64 = 60_000

    /// "raised 14 min ago" when the notification is late, `nil` otherwise.
    public var lateNote: String? {
        guard delayMilliseconds >= Self.lateAfterMilliseconds else { return nil }
        return "raised \(TextFormat.age(milliseconds: delayMilliseconds)) ago"
    }

    public init(
        kind: NotificationKind, event: CrowdEvent, sequence: Int = 0, deliveryID: String? = nil, attempt: Int = 1,
        delayMilliseconds: Int64 = 0
    ) {
        self.kind = kind
        self.event = event
        self.sequence = sequence
        self.deliveryID =
            deliveryID
            ?? Delivery.makeID(eventID: event.id, notifier: "-", kind: kind, sequence: sequence)
        self.attempt = attempt
        self.delayMilliseconds = max(0, delayMilliseconds)
    }
}

/// What the remote side said when it accepted a notification.
public struct NotificationReceipt: Hashable, Sendable {
    /// The remote message id, when there is one (Webex message id).
    public var remoteID: String?

    public init(remoteID: String? = nil) { self.remoteID = remoteID }
}

/// A notification that could not be sent.
public struct NotificationError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable { case permanent, transient }
        fileprivate let value: Value
        /// Retrying cannot help (bad request, unauthorised, unknown recipient).
        public static let permanent = Code(value: .permanent)
        /// It may work later (timeouts, 429, 5xx, connection refused).
        public static let transient = Code(value: .transient)
        public var description: String { "\(value)" }
    }

    public var code: Code
    /// What went wrong, in words; never a secret.
    public var message: String
    /// How long the remote side asked us to wait before retrying.
    public var retryAfter: Duration?

    public init(_ code: Code, _ message: String, retryAfter: Duration? = nil) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { message }
}
