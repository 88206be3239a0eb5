import CrowdKitCore
import CrowdKitTesting
import FileNotifier
import Foundation
import Logging
import Testing

@Suite("Example: FileNotifier")
struct FileNotifierTests {
    static func tempPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("crowdkit-file-\(UUID().uuidString).jsonl").path
    }

    @Test("writes one JSON line per notification with the event and the message")
    func writesLines() async throws {
        let path = Self.tempPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let notifier = FileNotifier(path: path)
        var event = CrowdEvent(
            camera: "Q2GV-ABCD-1234", zone: "0", startedAt: 1_714_632_600_123, firedAt: 1_714_632_660_200, peak: 7,
            policy: DwellPolicy().description(for: ZoneKey(camera: "Q2GV-ABCD-1234", zone: "0")))
        event.videoURL = "https://example.invalid/v"
        _ = try await notifier.send(CrowdNotification(kind: .fired, event: event, deliveryID: "d1"))
        event.endedAt = 1_714_632_700_000
        _ = try await notifier.send(CrowdNotification(kind: .ended, event: event, deliveryID: "d2"))
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let first = try JSONDecoder().decode(FileNotifier.Line.self, from: Data(lines[0].utf8))
        #expect(first.deliveryID == "d1")
        #expect(first.event.camera == "Q2GV-ABCD-1234")
        #expect(first.text.contains("7 people"))
        #expect(first.text.contains("https://example.invalid/v"))
        let second = try JSONDecoder().decode(FileNotifier.Line.self, from: Data(lines[1].utf8))
        #expect(second.kind == .ended)
    }

    @Test("a path that can never be written is a permanent error")
    func permanentError() async throws {
        let notifier = FileNotifier(path: NSTemporaryDirectory())
        let event = CrowdEvent(camera: "C", zone: "0", startedAt: 0, firedAt: 1, peak: 3, policy: PolicyDescription(name: "dwell", parameters: [:]))
        await #expect(throws: NotificationError.self) {
            _ = try await notifier.send(CrowdNotification(kind: .fired, event: event))
        }
        do {
            _ = try await notifier.send(CrowdNotification(kind: .fired, event: event))
        } catch let e as NotificationError {
            #expect(e.code == .permanent)
        }
    }

    @Test("plugged into a monitor and DeliveryService, every fired event reaches the file once and is recorded as sent")
    func endToEnd() async throws {
        let path = Self.tempPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let notifiers: [any Notifier] = [FileNotifier(path: path)]
        let store = InMemoryEventStore()
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let source = ScriptedSource(camera: "Q2", zone: "0", readings: (0...20).map { (Int64($0) * 1000, $0 < 10 ? 4 : 0) })
        let monitor = CrowdMonitor(
            source: source, policy: DwellPolicy(DwellParameters(dwell: .seconds(5), gap: .zero)), store: store,
            notifiers: NotificationPlan(notifying: notifiers), logger: logger)
        let delivery = DeliveryService(store: store, notifiers: notifiers, logger: logger)
        let changes = monitor.changes()
        let delivering = Task { await delivery.run(changes: changes) }
        try await monitor.run()
        #expect(await delivery.drain(within: .seconds(30)) == 0)
        delivering.cancel()
        await delivering.value
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.split(separator: "\n").count == 1)
        #expect(text.contains(#""camera":"Q2""#))
        let deliveries = try await store.events(EventQuery(limit: 10)).records.flatMap(\.deliveries)
        #expect(deliveries.count == 1)
        if case .sent = deliveries.first?.status {} else { Issue.record("recorded as \(String(describing: deliveries.first?.status)), not sent") }
    }

    @Test("the example passes the Notifier conformance suite")
    func conforms() async throws {
        let path = Self.tempPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await NotifierConformance.run(
            makeNotifier: { FileNotifier(path: path) },
            accepted: { ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").count },
            makeFailing: { FileNotifier(path: NSTemporaryDirectory()) })
    }
}
