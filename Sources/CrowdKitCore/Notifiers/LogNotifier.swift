import Logging

/// A ``Notifier`` that writes each notification as one log line (and the message text it would
/// send). The notifier used when no other is configured, and a template for your own.
public struct LogNotifier: Notifier {
    public let name: String
    private let logger: Logger
    private let level: Logger.Level
    private let format: @Sendable (CrowdNotification) -> String

    /// - Parameter format: the text to log; defaults to ``CrowdMessageFormatter/plainText(_:)``.
    public init(
        name: String = "log", logger: Logger, level: Logger.Level = .notice,
        format: @escaping @Sendable (CrowdNotification) -> String = { CrowdMessageFormatter.plainText($0) }
    ) {
        self.name = name
        self.logger = logger
        self.level = level
        self.format = format
    }

    public func send(_ notification: CrowdNotification) async throws -> NotificationReceipt {
        let e = notification.event
        logger.log(
            level: level, "\(format(notification))",
            metadata: [
                "crowd.event": "\(e.id)", "crowd.kind": "\(notification.kind.rawValue)", "crowd.camera": "\(e.camera)",
                "crowd.zone": "\(e.zone)", "crowd.peak": "\(e.peak)",
            ])
        return NotificationReceipt(remoteID: nil)
    }
}
