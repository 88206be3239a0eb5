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

/// Sends each notification through several notifiers; succeeds when all succeed, otherwise
/// throws the first error (permanent only if every failure was permanent). Prefer one delivery
/// record per notifier (the delivery service does that); use this to treat several channels as one.
public struct MultiplexNotifier: Notifier {
    public let name: String
    public let notifiers: [any Notifier]

    public init(name: String = "multiplex", _ notifiers: [any Notifier]) {
        self.name = name
        self.notifiers = notifiers
    }

    public func send(_ notification: CrowdNotification) async throws -> NotificationReceipt {
        let results = await withTaskGroup(of: (Int, Result<NotificationReceipt, any Error>).self) { group in
            for (i, n) in notifiers.enumerated() {
                group.addTask {
                    do { return (i, .success(try await n.send(notification))) } catch { return (i, .failure(error)) }
                }
            }
            var out = [Result<NotificationReceipt, any Error>?](repeating: nil, count: notifiers.count)
            for await (i, r) in group { out[i] = r }
            return out.compactMap { $0 }
        }
        var errors: [any Error] = []
        var ids: [String] = []
        for r in results {
            switch r {
            case .success(let receipt): if let id = receipt.remoteID { ids.append(id) }
            case .failure(let e): errors.append(e)
            }
        }
        if let first = errors.first {
            let allPermanent = errors.allSatisfy { ($0 as? NotificationError)?.code == .permanent }
            let message = errors.map { "\($0)" }.joined(separator: "; ")
            if errors.count == 1, first is NotificationError { throw first }
            throw NotificationError(allPermanent ? .permanent : .transient, message)
        }
        return NotificationReceipt(remoteID: ids.isEmpty ? nil : ids.joined(separator: ","))
    }
}
