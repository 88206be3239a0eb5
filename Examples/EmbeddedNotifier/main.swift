// A complete crowd notifier in one file: an MQTT source, a monitor, a store, delivery through a
// notifier of your own, and a graceful shutdown on SIGINT/SIGTERM. Documentation/Embedding.md
// shows this file; a test builds it and runs it against a real mosquitto.
import CrowdKitCore
import CrowdKitMQTT
import Dispatch
import Foundation
import Logging

/// Your notifier: here, one line per notification on standard output.
struct PrintNotifier: Notifier {
    let name = "print"

    func send(_ notification: CrowdNotification) async throws -> NotificationReceipt {
        let e = notification.event
        let line = "\(notification.kind.rawValue): \(e.camera)/\(e.zone), \(e.peak) people since \(TextFormat.iso8601(e.startedAt))\n"
        try FileHandle.standardOutput.write(contentsOf: Data(line.utf8))
        return NotificationReceipt()
    }
}

/// Waits for SIGINT or SIGTERM (their default handlers are replaced).
func shutdownSignal() async {
    let (signals, continuation) = AsyncStream<Void>.makeStream()
    let sources = [SIGINT, SIGTERM].map { number in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number)
        source.setEventHandler { continuation.yield() }
        source.resume()
        return source
    }
    for await _ in signals { break }
    sources.forEach { $0.cancel() }
}

let logger = Logger(label: "embedded-notifier")
let port = Int(ProcessInfo.processInfo.environment["MQTT_PORT"] ?? "") ?? 1883
let source = try MQTTMessageSource(
    configuration: .init(mqtt: .init(host: "127.0.0.1", port: port), topics: ["/merakimv/#"]), logger: logger)
let store = InMemoryEventStore()  // or SQLiteEventStore(path:logger:) from CrowdKitSQLite
let notifiers: [any Notifier] = [PrintNotifier()]
let monitor = CrowdMonitor(
    source: source, policy: DwellPolicy(DwellParameters(minPeople: 3, dwell: .seconds(10))), store: store,
    notifiers: NotificationPlan(notifying: notifiers, kinds: [.fired, .ended]), logger: logger)
let delivery = DeliveryService(store: store, notifiers: notifiers, logger: logger)
let changes = monitor.changes()

let monitoring = Task { try await monitor.run() }
let delivering = Task { await delivery.run(changes: changes) }
await shutdownSignal()
// Graceful: the monitor stops taking messages and writes what it detected, delivery sends what
// is due (for up to 5 s), then everything stops.
monitoring.cancel()
try? await monitoring.value
await delivery.drain(within: .seconds(5))
delivering.cancel()
await delivering.value
await source.shutdown()
logger.info("stopped")
