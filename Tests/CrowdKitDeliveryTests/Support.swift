import CrowdKitCore
import Foundation
import Logging
import CrowdKitTestServers
import Synchronization

func makeEvent(camera: String = "Q2GV-ABCD-1234", zone: String = "0", startedAt: Int64 = 1_714_632_600_000) -> CrowdEvent {
    CrowdEvent(
        camera: camera, zone: zone, startedAt: startedAt, firedAt: startedAt + 60_000, peak: 7,
        policy: PolicyDescription(name: "dwell", parameters: ["minPeople": 3, "dwellSeconds": 60]))
}

func change(_ event: CrowdEvent, kind: NotificationKind = .fired, notifiers: [String]) -> EventChange {
    EventChange(
        kind: kind, event: event,
        deliveries: notifiers.map { Delivery(eventID: event.id, notifier: $0, kind: kind, createdAt: nowMilliseconds()) })
}

/// A notifier whose behaviour each test scripts; it records every call.
final class ScriptedNotifier: Notifier {
    let name: String
    private let calls = Mutex<[CrowdNotification]>([])
    private let behaviour: @Sendable (CrowdNotification) async throws -> NotificationReceipt

    init(name: String, behaviour: @escaping @Sendable (CrowdNotification) async throws -> NotificationReceipt = { _ in
        NotificationReceipt(remoteID: "m-1")
    }) {
        self.name = name
        self.behaviour = behaviour
    }

    func send(_ notification: CrowdNotification) async throws -> NotificationReceipt {
        calls.withLock { $0.append(notification) }
        return try await behaviour(notification)
    }

    var received: [CrowdNotification] { calls.withLock { $0 } }
}

/// An enricher that counts its calls and adds a video link.
final class CountingEnricher: EventEnricher {
    private let count = Mutex(0)
    func enrich(_ event: CrowdEvent) async -> CrowdEvent {
        count.withLock { $0 += 1 }
        try? await Task.sleep(for: .milliseconds(50))
        var e = event
        e.videoURL = "https://video.example/\(event.camera)"
        e.cameraName = "Front Desk"
        return e
    }
    var calls: Int { count.withLock { $0 } }
}

func quietLogger() -> Logger {
    var l = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    l.logLevel = .critical
    return l
}

/// Host time now, epoch milliseconds (deliveries older than their maximum age expire).
func nowMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
