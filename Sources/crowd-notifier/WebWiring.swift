import ArgumentParser
import CrowdKitCore
import CrowdKitPostgres
import CrowdKitSQLite
import CrowdKitWeb
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// Wiring of the event store and the web page for `crowd-notifier run`, from the settings the
/// configuration loader produced (`store.path`/`--store`, `store.retentionDays`, `http.host`/
/// `--http-host`, `http.port`/`--http-port`, `http.token`/`--http-token`,
/// `http.allowUnauthenticatedRemote`).
///
/// ```swift
/// let store = try WebWiring.openStore(settings, logger: logger)
/// let monitor = CrowdMonitor(source: source, policy: policy, filter: settings.filter, store: store, ...)
/// let web = try WebWiring.makeApplication(
///     settings.http, store: store, logger: logger,
///     liveStatus: { LiveStatus(zones: monitor.zones, feed: monitor.sourceStatus,
///                              messagesPerSecond: monitor.messagesPerSecond) },
///     changes: { monitor.changes() })
/// // ServiceGroup: monitor, delivery, store (retention: `try await store.run()`), web (if non-nil)
/// ```
enum WebWiring {
    /// Opens the store: the PostgreSQL store of `store.url` (it connects and migrates in
    /// ``OpenedStore/run``) or the SQLite file at `settings.storePath` (created and migrated now).
    static func openStore(_ settings: AppSettings, logger: Logger) throws -> OpenedStore {
        if let postgres = settings.postgres {
            let store = try PostgresEventStore(configuration: postgres, logger: logger)
            return OpenedStore(
                store: store, name: postgres.redactedURL, needsRun: true, membership: store, isConnected: { store.isReady },
                zoneSnapshots: store
            ) { try await store.run() }
        }
        let store = try SQLiteEventStore(
            configuration: .init(path: settings.storePath, retentionDays: settings.retentionDays), logger: logger)
        return OpenedStore(store: store, name: settings.storePath, needsRun: false) { try await store.run() }
    }

    /// The access control `http` asks for: named tokens (`http.tokens`, with `http.token` as
    /// `token`), a single token, or open.
    static func access(_ http: AppSettings.HTTP) -> CrowdWebConfiguration.Access {
        var tokens = http.tokens
        if let token = http.token, !token.isEmpty {
            if tokens.isEmpty { return .token(token) }
            tokens["token"] = token
        }
        return tokens.isEmpty ? .open : .tokens(tokens)
    }

    /// Refuses a non-loopback `http.host` without `http.token` unless
    /// `http.allowUnauthenticatedRemote` is set.
    static func checkBind(_ http: AppSettings.HTTP) throws(ConfigurationError) {
        guard http.port != 0 else { return }
        do {
            try CrowdWebConfiguration.checkBind(
                host: http.host, access: access(http), allowUnauthenticatedRemote: http.allowUnauthenticatedRemote)
        } catch {
            throw ConfigurationError(
                key: "http.host", expected: "a loopback address (127.0.0.1, ::1) unless http.token is set or http.allowUnauthenticatedRemote is true",
                got: http.host)
        }
    }

    /// The web application (a swift-service-lifecycle `Service`: add it to the `ServiceGroup`),
    /// or `nil` when `http.port` is 0.
    static func makeApplication(
        _ http: AppSettings.HTTP, store: any EventStore, logger: Logger,
        liveStatus: @escaping @Sendable () async -> LiveStatus,
        changes: @escaping @Sendable () -> AsyncStream<EventChange>,
        metrics: (@Sendable () async -> String)? = nil,
        settings: SettingsControl? = nil,
        extraRoutes: (@Sendable (Router<BasicRequestContext>) -> Void)? = nil,
        webexWebhook: IncomingWebhook? = nil, feedback: (any EventFeedbackStore)? = nil,
        conversationLink: (@Sendable (EventRecord) -> String?)? = nil
    ) throws(ConfigurationError) -> Application<RouterResponder<BasicRequestContext>>? {
        guard http.port != 0 else { return nil }
        try checkBind(http)
        let web = CrowdWeb(
            store: store, configuration: CrowdWebConfiguration(access: access(http)), logger: logger,
            liveStatus: liveStatus, changes: changes, metrics: metrics, settings: settings, webexWebhook: webexWebhook,
            feedback: feedback, conversationLink: conversationLink)
        let router = Router()
        web.addRoutes(to: router)
        extraRoutes?(router)
        return Application(
            router: router,
            configuration: .init(address: .hostname(http.host, port: http.port), serverName: "crowd-notifier"),
            logger: logger)
    }
}

/// The event store the app runs on, SQLite or PostgreSQL, and its loop.
struct OpenedStore: Sendable {
    let store: any EventStore & ZoneStateStore & SettingsStore & EventFeedbackStore
    /// The file, or the URL with its password redacted: safe to log.
    let name: String
    /// Whether the store works only while ``run`` runs (PostgreSQL's pool).
    let needsRun: Bool
    /// Where instances sharing the store register (PostgreSQL); `nil` for a single instance.
    var membership: (any ClusterMembership)? = nil
    /// Whether the store has connected (PostgreSQL connects on its own, retrying, after start).
    var isConnected: @Sendable () -> Bool = { true }
    /// Where instances sharing the store share their live zone rows (PostgreSQL).
    var zoneSnapshots: (any ZoneSnapshotStore)? = nil
    /// The store's loop (retention; PostgreSQL: also the pool, connecting and migrating), until
    /// cancelled.
    let run: @Sendable () async throws -> Void

    /// `body` with the store usable: for a store that needs its loop, the loop runs meanwhile.
    func whileOpen<T: Sendable>(_ body: @Sendable (any EventStore & ZoneStateStore & SettingsStore & EventFeedbackStore) async throws -> T) async throws -> T {
        guard needsRun else { return try await body(store) }
        let run = self.run
        let store = self.store
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await run()
                return nil
            }
            defer { group.cancelAll() }
            return try await body(store)
        }
    }
}
