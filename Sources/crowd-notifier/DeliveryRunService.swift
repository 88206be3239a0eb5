import CrowdKitCore
import Logging
import ServiceLifecycle

/// Runs the ``DeliveryService`` in the service group: it works off the store's outbox, woken by
/// the monitor's changes. On graceful shutdown (after the monitor, which is shut down first, has
/// written its last changes) it keeps sending for up to `drain` while deliveries are pending,
/// then stops; what is still pending stays in the store.
struct DeliveryRunService: Service {
    let delivery: DeliveryService
    let changes: AsyncStream<EventChange>
    let drain: Duration
    let logger: Logger

    func run() async throws {
        let delivery = self.delivery
        let changes = self.changes
        let task = Task { await delivery.run(changes: changes) }
        try? await gracefulShutdown()
        await delivery.drain(within: drain)
        task.cancel()
        await task.value
    }
}

/// Runs a notifier's background work (``NotifierSetup/background``) with the opened store until
/// graceful shutdown.
struct NotifierBackgroundService: Service {
    let store: any EventStore
    let work: @Sendable (any EventStore) async -> Void

    func run() async throws {
        let store = self.store
        let work = self.work
        await cancelWhenGracefulShutdown { await work(store) }
    }
}
