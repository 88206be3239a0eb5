import CrowdKitCore
import CrowdKitSQLite
import CrowdKitTesting
import CrowdKitWeb
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging

let quietLogger = Logger(label: "test.web") { _ in SwiftLogNoOpLogHandler() }

/// A temporary directory removed when the value goes away.
final class TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "crowdkit-web-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A real SQLite store on a temporary file, filled with a few known events.
struct WebFixture: Sendable {
    let directory: TemporaryDirectory
    let store: SQLiteEventStore

    static let t0: Int64 = 1_714_632_600_123  // 2024-05-02T06:50:00.123Z
    static let lobby = "Q2GV-AAAA-0001"
    static let yard = "Q2GV-BBBB-0002"
    static let evilZone = "584342051651321858"
    static let evilLabel = "<script>alert(1)</script>"

    /// ended: Lobby / Full frame, video and snapshot, webex sent, log failed.
    static var ended: EventChange {
        var e = CrowdEvent(
            camera: lobby, zone: "0", startedAt: t0, firedAt: t0 + 60_000, endedAt: t0 + 185_000, peak: 7,
            policy: PolicyDescription(name: "dwell", parameters: ["minPeople": 3, "dwellSeconds": 60]),
            cameraName: "Lobby \"North\" & Co", zoneName: nil)
        e.videoURL = "https://video.example.invalid/lobby?t=\(t0)&x=1"
        e.snapshotURL = "https://snap.example.invalid/lobby.jpg"
        var sent = Delivery(eventID: e.id, notifier: "webex", kind: .fired, createdAt: t0 + 60_100)
        sent.status = .sent(remoteID: "msg-1")
        var failed = Delivery(eventID: e.id, notifier: "log", kind: .fired, createdAt: t0 + 60_100)
        failed.status = .failed(reason: "disk <full>")
        return EventChange(kind: .ended, event: e, deliveries: [sent, failed])
    }

    /// ongoing: the yard, zone labelled with a script tag, a `javascript:` video link, pending.
    static var ongoing: EventChange {
        var e = CrowdEvent(
            camera: yard, zone: evilZone, startedAt: t0 + 3_600_000, firedAt: t0 + 3_660_000, peak: 12,
            policy: PolicyDescription(name: "dwell", parameters: ["minPeople": 3]), cameraName: nil, zoneName: evilLabel)
        e.videoURL = "javascript:alert(2)"
        return EventChange(
            kind: .fired, event: e,
            deliveries: [Delivery(eventID: e.id, notifier: "webex", kind: .fired, createdAt: t0 + 3_660_100)])
    }

    /// older: Lobby zone 11, a formula-looking camera name for the CSV.
    static var formula: EventChange {
        var e = CrowdEvent(
            camera: lobby, zone: "11", startedAt: t0 - 86_400_000, firedAt: t0 - 86_340_000,
            endedAt: t0 - 86_000_000, peak: 4, policy: PolicyDescription(name: "messageCount", parameters: [:]),
            cameraName: "=HYPERLINK(\"http://evil\",\"x\")", zoneName: "Door, \"east\"\nside")
        e.videoURL = "https://video.example.invalid/door"
        return EventChange(kind: .ended, event: e)
    }

    static func make(_ changes: [EventChange] = [ended, ongoing, formula]) async throws -> WebFixture {
        let dir = try TemporaryDirectory()
        let store = try SQLiteEventStore(path: dir.path + "/events.sqlite", logger: quietLogger)
        try await store.apply(contentsOf: changes)
        return WebFixture(directory: dir, store: store)
    }

    static func live(connected: Bool = true) -> LiveStatus {
        LiveStatus(
            zones: [
                ZoneSnapshot(camera: lobby, zone: "0", people: 2, vehicles: 0, lastTs: t0 + 9_000_000, phase: .idle),
                ZoneSnapshot(
                    camera: yard, zone: evilZone, people: 9, vehicles: 1, lastTs: t0 + 3_700_000,
                    phase: .crowd(since: t0 + 3_600_000, firedAt: t0 + 3_660_000)),
                ZoneSnapshot(
                    camera: lobby, zone: "11", people: 4, vehicles: 0, lastTs: t0 + 9_000_000,
                    phase: .pending(since: t0 + 8_958_000)),
            ],
            feed: SourceStatus(
                state: connected ? .connected : .disconnected, description: "mqtt://127.0.0.1:1883",
                lastMessageAt: Date().addingTimeInterval(-3), received: 1234, dropped: 0),
            messagesPerSecond: 12.5,
            zoneNames: [ZoneKey(camera: yard, zone: evilZone): evilLabel])
    }

    func web(
        access: CrowdWebConfiguration.Access = .open, connected: Bool = true, pageSize: Int = 50,
        changes: [EventChange] = [], metrics: (@Sendable () async -> String)? = nil,
        storeWrites: StoreWriteHealth = .init(), storeConnected: Bool = true, detectionStarted: Bool = true
    ) -> CrowdWeb {
        var live = Self.live(connected: connected)
        live.storeWrites = storeWrites
        live.storeConnected = storeConnected
        live.detectionStarted = detectionStarted
        let status = live
        return CrowdWeb(
            store: store, configuration: CrowdWebConfiguration(access: access, pageSize: pageSize), logger: quietLogger,
            liveStatus: { status },
            changes: {
                AsyncStream { continuation in
                    for c in changes { continuation.yield(c) }
                    continuation.finish()
                }
            }, metrics: metrics)
    }

    static func app(_ web: CrowdWeb) -> some ApplicationProtocol {
        let router = Router()
        web.addRoutes(to: router)
        return Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: quietLogger)
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }
}
