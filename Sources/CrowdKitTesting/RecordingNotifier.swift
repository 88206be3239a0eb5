import CrowdKitCore

/// A ``Notifier`` that records every notification it is asked to send, and can be told to fail
/// (permanently or transiently) a number of times first.
public final class RecordingNotifier: Notifier {
    public let name: String
    private let state: LockedBox<State>

    struct State: Sendable {
        var sent: [CrowdNotification] = []
        var attempts: [CrowdNotification] = []
        var failuresLeft: Int
        var failure: NotificationError?
    }

    /// - Parameters:
    ///   - failFirst: how many attempts throw `failure` before sends succeed.
    public init(name: String = "recording", failFirst: Int = 0, failure: NotificationError? = nil) {
        self.name = name
        state = LockedBox(
            State(failuresLeft: failFirst, failure: failure ?? NotificationError(.transient, "scripted failure")))
    }

    public func send(_ notification: CrowdNotification) async throws -> NotificationReceipt {
        try state.withLock { s in
            s.attempts.append(notification)
            if s.failuresLeft > 0, let f = s.failure {
                s.failuresLeft -= 1
                throw f
            }
            s.sent.append(notification)
        }
        return NotificationReceipt(remoteID: "\(name)-\(notification.deliveryID)")
    }

    /// Notifications sent successfully, in order.
    public var sent: [CrowdNotification] { state.withLock { $0.sent } }
    /// Every attempt, including failed ones.
    public var attempts: [CrowdNotification] { state.withLock { $0.attempts } }
}
