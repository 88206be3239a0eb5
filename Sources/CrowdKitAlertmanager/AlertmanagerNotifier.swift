import CrowdKitCore
import CrowdKitHTTP
import Foundation
import Logging

/// The ``CrowdKitCore/Notifier`` that raises crowds as alerts in Prometheus Alertmanager.
///
/// Each notification posts the event's ``AlertmanagerAlert`` to `URL/api/v2/alerts` of every
/// configured instance. While the crowd lasts the alert is firing with `endsAt` a few resend
/// intervals ahead, and ``run()`` posts it again every
/// ``AlertmanagerConfiguration/resendInterval``; the `ended` notification (or, without one, the
/// next resend that finds the event ended through its `currentEvent` lookup) posts `endsAt` =
/// the end, and
/// the alert resolves. An alert CrowdKit stops re-posting (the process stopped) resolves by itself
/// at its `endsAt`. Open alerts are kept in memory: after a restart an open crowd's alert is
/// re-posted from its next notification on (or resolves by itself).
///
/// A notification succeeds when at least one instance accepted it (the others get the alert with
/// the next resend); it fails when all refused, `.permanent` only when every refusal was
/// permanent (400, 401, 403, 404). The delivery service retries failures like any notifier's.
///
/// The labels of an event's alert are those of its first post (names learnt later would make it
/// another alert); the annotations follow the event.
public final class AlertmanagerNotifier: Notifier, Sendable {
    /// Looks up the current state of an event (the event store's record), for alerts whose
    /// `ended` notification is not sent; `nil` when unknown.
    public typealias EventLookup = @Sendable (CrowdEventID) async -> CrowdEvent?

    public let name: String
    public let configuration: AlertmanagerConfiguration
    private let client: HTTPClient
    private let logger: Logger
    /// The open alerts by event: the event as last seen and the labels first posted.
    private let open = LockedBox<[CrowdEventID: OpenAlert]>([:])

    private struct OpenAlert: Sendable {
        var event: CrowdEvent
        var labels: [String: String]
    }

    /// - Parameter name: the notifier's stable name (delivery records are keyed by it).
    public init(
        name: String = "alertmanager", configuration: AlertmanagerConfiguration, transport: any HTTPTransport = URLSessionTransport.shared,
        logger: Logger
    ) {
        self.name = name
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "notifier"] = "\(name)"
        self.logger = logger
        self.client = HTTPClient(transport: transport, configuration: configuration.http, logger: logger)
    }

    /// The events whose alerts are open (posted firing, not yet resolved).
    public var openAlerts: [CrowdEventID] { open.withLock { Array($0.keys) }.sorted() }

    public func send(_ notification: CrowdNotification) async throws -> NotificationReceipt {
        let event = notification.event
        let labels = open.withLock { $0[event.id]?.labels } ?? AlertmanagerAlert.labels(for: event)
        let alert = makeAlert(event, labels: labels)
        try await post([alert], context: "\(notification.kind) \(event.id)")
        open.withLock { alerts in
            if event.endedAt == nil {
                alerts[event.id] = OpenAlert(event: event, labels: labels)
            } else {
                alerts[event.id] = nil
            }
        }
        return NotificationReceipt()
    }

    /// Posts the open alerts again every ``AlertmanagerConfiguration/resendInterval`` until the
    /// task is cancelled (run it as a service).
    /// - Parameter currentEvent: the event store's view of an event: resolves alerts whose
    ///   `ended` notification is not part of the notification plan, and keeps annotations current.
    public func run(currentEvent: EventLookup? = nil) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: configuration.resendInterval) } catch { return }
            await resendOpenAlerts(currentEvent: currentEvent)
        }
    }

    /// One resend round: each open alert is posted again, with the event's current state when
    /// `currentEvent` knows it (an ended event's alert is posted resolved and closed). Failures
    /// are logged; the alert stays open for the next round.
    public func resendOpenAlerts(currentEvent: EventLookup? = nil) async {
        let snapshot = open.withLock { $0 }
        guard !snapshot.isEmpty else { return }
        var alerts: [AlertmanagerAlert] = []
        var ended: [CrowdEventID] = []
        for (id, entry) in snapshot.sorted(by: { $0.key < $1.key }) {
            var event = entry.event
            if let current = await currentEvent?(id) {
                event = current.keepingEnrichment(of: entry.event)
            }
            if event.endedAt != nil { ended.append(id) }
            alerts.append(makeAlert(event, labels: entry.labels))
            open.withLock { if $0[id] != nil { $0[id]?.event = event } }
        }
        do {
            try await post(alerts, context: "resend")
            open.withLock { alerts in for id in ended { alerts[id] = nil } }
        } catch {
            logger.warning("Cannot re-post open alerts to Alertmanager", metadata: ["alertmanager.alerts": "\(alerts.count)", "error": "\(error)"])
        }
    }

    private func makeAlert(_ event: CrowdEvent, labels: [String: String]) -> AlertmanagerAlert {
        let lifetime = configuration.resendInterval * AlertmanagerConfiguration.openAlertLifetimeFactor
        let openUntil = Int64(Date().timeIntervalSince1970 * 1000) + lifetime.milliseconds
        var alert = AlertmanagerAlert(event: event, openUntil: openUntil, pageURL: configuration.pageURL)
        alert.labels = labels
        return alert
    }

    /// The exact body posted for `alerts`.
    public static func body(for alerts: [AlertmanagerAlert]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(alerts)
    }

    /// Posts to every instance at once; succeeds when one accepted.
    private func post(_ alerts: [AlertmanagerAlert], context: String) async throws(NotificationError) {
        let body: Data
        do { body = try Self.body(for: alerts) } catch {
            throw NotificationError(.permanent, "alertmanager: cannot encode the alerts: \(error)")
        }
        guard !configuration.urls.isEmpty else { throw NotificationError(.permanent, "alertmanager: no URL configured") }
        let client = self.client
        let failures: [NotificationError] = await withTaskGroup(of: NotificationError?.self) { group in
            for base in configuration.urls {
                group.addTask {
                    let request = HTTPRequest(
                        method: "POST", url: base.appendingPathComponent("api/v2/alerts"), headers: ["Content-Type": "application/json"], body: body)
                    do throws(HTTPError) {
                        _ = try await client.send(request)
                        return nil
                    } catch {
                        return error.notificationError
                    }
                }
            }
            var failures: [NotificationError] = []
            for await failure in group { if let failure { failures.append(failure) } }
            return failures
        }
        if failures.isEmpty { return }
        if failures.count < configuration.urls.count {
            logger.warning(
                "An Alertmanager did not take the alerts; the others did (it gets them with the next resend)",
                metadata: ["alertmanager.failed": "\(failures.count)", "crowd.notification": "\(context)", "error": "\(failures[0])"])
            return
        }
        let transient = failures.filter { $0.code == .transient }
        let message = "alertmanager: " + failures.map(\.message).joined(separator: "; ")
        if transient.isEmpty { throw NotificationError(.permanent, message) }
        throw NotificationError(.transient, message, retryAfter: transient.compactMap(\.retryAfter).max())
    }
}
