import ArgumentParser
import CrowdKitCore
import CrowdKitMeraki
import CrowdKitSQLite
import CrowdKitWeb
import CrowdKitWebex
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The whole notifier as one swift-service-lifecycle `ServiceGroup`: the store (SQLite with
/// retention, or PostgreSQL with its pool, connection retries, migrations and retention), delivery (outbox → enricher → notifiers), the web page, and the monitor over a
/// source. Services start in that order and stop in reverse on SIGTERM/SIGINT: the feed stops
/// first, in-flight notifications finish or go back to pending in the store, the store closes last.
struct NotifierApp<Policy: DetectionPolicy, Source: MessageSource> {
    var policy: Policy
    var source: Source
    var settings: AppSettings
    var setup: NotifierSetup
    var logger: Logger
    /// Called when the source stops (close the MQTT connection).
    var close: @Sendable () async -> Void = {}
    /// Camera and zone names for the live panel, when known up front (demo).
    var names: (cameras: [String: String], zones: [ZoneKey: String]) = ([:], [:])
    /// Extra routes (the demo's stand-in video page).
    var extraRoutes: (@Sendable (Router<BasicRequestContext>) -> Void)?
    /// Print a status line (processed messages, events, source counters) this often (`--stats-interval`).
    var statusInterval: Duration?
    /// Messages processed so far, for the status line (default: the monitor's count).
    var processed: (@Sendable () -> Int)?
    /// Replaces the feed's topic subscriptions, when the source can (MQTT with the default
    /// `/merakimv/#`): with several instances and a camera list, each subscribes only to its
    /// own cameras (``CameraSubscriptionService``).
    var followTopics: (@Sendable ([String]) async throws -> Void)?

    /// Runs until the source ends or a signal arrives. Returns the monitor's counters.
    func run() async throws -> EngineCounters {
        let opened: OpenedStore
        do {
            opened = try WebWiring.openStore(settings, logger: logger)
        } catch {
            printError("crowd-notifier: cannot open the event store \(settings.postgres?.redactedURL ?? settings.storePath): \(error)")
            throw ExitCode(1)
        }
        let store = opened.store
        setup.storeLink.attach(store)
        let reliability = settings.reliability
        // Live control (SEMANTICS.md §7): the stored run-time settings and mutes, seeded from the
        // configuration at the very first start. A file store is read before detection starts;
        // PostgreSQL once its pool is up (the settings service), detection meanwhile running on
        // the configuration.
        let live = LiveSettings(settings: RuntimeSettingsSeed.settings(for: settings.detection))
        let control = SettingsControl(store: store, live: live, logger: logger)
        let seed = live.snapshot.settings
        if !opened.needsRun {
            do {
                try await control.start(seed: seed)
            } catch {
                logger.error("cannot read the run-time settings; detection runs on the configuration", metadata: ["error": "\(error)"])
            }
        }
        // Several instances on one PostgreSQL store share the cameras out (Operations, "Several
        // instances"); the coordinator heartbeats from the start and leaves after the monitor stopped.
        let cluster = settings.cluster.flatMap { c in
            opened.membership.map { ClusterCoordinator(name: c.name, lease: c.lease, membership: $0, logger: logger) }
        }
        let monitor = CrowdMonitor(
            source: source, policy: policy, filter: settings.filter, store: store, notifiers: setup.plan,
            storeWrites: reliability.storeWrites, zoneStates: reliability.saveZoneStates ? store : nil,
            areas: settings.detection.areas, objectTypes: settings.detection.objectTypes, settings: live,
            history: settings.historyDays > 0 ? store as? any OccupancyHistoryStore : nil, cluster: cluster, logger: logger)
        let delivery = DeliveryService(
            store: store, notifiers: setup.notifiers, enricher: setup.enricher, configuration: reliability.delivery, logger: logger)
        // Delivery learns of new deliveries from these changes (no store read each); a burst
        // larger than the buffer is still found by its outbox poll, only later.
        let wakeUps = monitor.changes(buffer: 16_384)
        // several instances: the page of any instance shows every instance's cameras
        let sharedZones = cluster.flatMap { c in
            opened.zoneSnapshots.map { ZoneSnapshotService(store: $0, coordinator: c, zones: { monitor.zones }, logger: logger) }
        }
        let names = self.names
        let metrics = AppMetrics.shared
        // What people say about events from Webex cards (acks, labels) and the button presses
        // handled: kept in the store, shared by the instances of a PostgreSQL store.
        let feedback: any EventFeedbackStore = store
        var webexReceiver: WebexWebhookReceiver?
        if let makeReceiver = setup.webexWebhook {
            // a snooze is a mute in the store: the settings service puts it in effect within 2 s
            webexReceiver = makeReceiver(WebexCardActionPerformer(events: store, settings: store, feedback: feedback))
        }
        let webhook = webexReceiver.map { receiver in
            IncomingWebhook(signatureHeader: WebexWebhookReceiver.signatureHeader, maxBodyBytes: WebexWebhookReceiver.maxBodyBytes) {
                receiver.receive(body: $0, signature: $1).status
            }
        }
        let web: Application<RouterResponder<BasicRequestContext>>?
        do {
            web = try WebWiring.makeApplication(
                settings.http, store: store, logger: logger,
                liveStatus: {
                    // several instances: this one's zones merged with the others' (through the store)
                    let zones = monitor.zones
                    return LiveStatus(
                        zones: sharedZones?.merged(own: zones) ?? zones, feed: monitor.sourceStatus, messagesPerSecond: monitor.messagesPerSecond,
                        cameraNames: names.cameras, zoneNames: names.zones, storeWrites: monitor.storeHealth,
                        areas: monitor.areaStates, lines: monitor.lines, cluster: cluster?.status,
                        storeConnected: opened.isConnected(), detectionStarted: monitor.hasStarted)
                },
                changes: { monitor.changes() }, metrics: metrics.map { m in { @Sendable in m.text() } },
                settings: control, extraRoutes: extraRoutes, webexWebhook: webhook, feedback: feedback,
                conversationLink: setup.conversationLink)
        } catch {
            printError("error: \(error)")
            throw ExitCode(78)
        }

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: StoreRetentionService(store: opened), serviceName: "store"),
            .init(
                service: DeliveryRunService(
                    delivery: delivery, changes: wakeUps, drain: reliability.shutdownTimeout * 0.4, logger: logger),
                serviceName: "delivery"),
        ]
        if settings.historyDays > 0, let history = store as? any OccupancyHistoryStore {
            services.append(.init(service: HistoryRetentionService(store: history, days: settings.historyDays, logger: logger), serviceName: "history"))
        }
        services.append(
            .init(service: SettingsService(control: control, seed: opened.needsRun ? seed : nil, logger: logger), serviceName: "settings"))
        if let cluster { services.append(.init(service: ClusterService(coordinator: cluster), serviceName: "cluster")) }
        if let sharedZones { services.append(.init(service: sharedZones, serviceName: "zones")) }
        if let cluster, let meraki = setup.meraki {
            // one Meraki budget for the organisation: this instance's share of it
            let total = meraki.configuration.requestsPerSecond
            services.append(
                .init(
                    service: NotifierBackgroundService(
                        store: store, work: { _ in await MerakiBudget.follow(cluster, total: total, limiter: meraki.rateLimiter, logger: logger) }),
                    serviceName: "meraki-budget"))
        }
        if let cluster, let followTopics {
            // the camera list: the configuration's, or else the Meraki network's (every 15 min)
            var service: CameraSubscriptionService?
            if case .only(let cameras) = settings.filter.cameras {
                let list = Array(cameras)
                service = CameraSubscriptionService(coordinator: cluster, cameras: { list }, follow: followTopics, logger: logger)
            } else if let meraki = setup.meraki, let network = meraki.configuration.networkID {
                service = CameraSubscriptionService(
                    coordinator: cluster, cameras: CameraSubscriptionService.merakiCameras(meraki, network: network, logger: logger),
                    listRefresh: meraki.configuration.namesRefreshInterval, follow: followTopics, logger: logger)
            }
            if let service { services.append(.init(service: service, serviceName: "subscriptions")) }
        }
        if let webexReceiver, web != nil {
            services.append(.init(service: NotifierBackgroundService(store: store, work: { _ in await webexReceiver.run() }), serviceName: "webex-webhook"))
        }
        for (index, work) in setup.background.enumerated() {
            services.append(.init(service: NotifierBackgroundService(store: store, work: work), serviceName: "notifier-\(index + 1)"))
        }
        if let web { services.append(.init(service: web, serviceName: "web")) }
        if let statusInterval {
            let processed = self.processed ?? { monitor.processedMessages }
            let status = StatusLineService(
                interval: statusInterval, processed: processed, events: { monitor.statistics.fired },
                status: { monitor.sourceStatus },
                cluster: cluster.map { c in
                    { @Sendable in
                        let s = c.status
                        return "members=\(s.members.count) owned=\(s.ownedCameras) observations=\(monitor.statistics.observations)"
                    }
                })
            services.append(.init(service: status, serviceName: "stats"))
        }
        // Last: shut down first, so detection stops before delivery and the store.
        services.append(
            .init(service: MonitorService(monitor: monitor, close: close), successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "monitor"))
        logger.notice("\(setup.summary)")
        if web != nil {
            logger.notice("web page: http://\(settings.http.host.contains(":") ? "[\(settings.http.host)]" : settings.http.host):\(settings.http.port)/")
        }
        // The services keep to their shares of the limit (the monitor's last writes, delivery's
        // drain); near it the group cancels them, and a watchdog ends the process a second after
        // it whatever still runs: a hung disk or API never holds a shutdown.
        services.insert(
            .init(service: ShutdownWatchdog(limit: reliability.shutdownTimeout, logger: logger), successTerminationBehavior: .ignore,
                serviceName: "watchdog"), at: 0)
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = reliability.shutdownTimeout * 0.9
        let group = ServiceGroup(configuration: configuration)
        try await group.run()
        return monitor.statistics
    }
}
