import CrowdKitCore
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The crowd events page, its JSON/CSV API and live updates, as Hummingbird routes an app mounts.
///
/// ```swift
/// let web = CrowdWeb(store: store, configuration: .init(access: .token(token)), logger: logger,
///                    liveStatus: { LiveStatus(zones: monitor.zones, feed: source.status) },
///                    changes: { monitor.changes() })
/// let router = Router()
/// web.addRoutes(to: router)
/// ```
///
/// Routes:
/// - `GET /`: the page (filters `camera`, `zone`, `from`, `to`; `cursor`; `limit`).
/// - `GET /api/events`: the same listing as JSON (times in epoch ms with ISO 8601 beside them).
/// - `GET /api/events.csv`: every filtered event as CSV, streamed.
/// - `GET /api/zones`: live zone states and the feed status.
/// - `GET /api/areas`: areas with their occupancy and state, lines with their crossings today.
/// - `GET /api/zones/{camera}/{zone}/history?from=&to=&step=` (epoch ms or ISO-8601; step in
///   seconds, default 60; default range the last 24 h): `{"points": [{"t", "max", "mean",
///   "last"}], "minPeople", "events": [{"id", "startedAt", "endedAt"}]}` when the store keeps
///   occupancy history.
/// - `GET /api/events/stream`: server-sent events `fired`, `updated` (reminders) and `ended`,
///   with the event's JSON as data; filters `camera` and `zone`.
/// - `GET /healthz` (always 200, never authenticated), `GET /readyz` (store readable, the
///   monitor's writes reaching it (``LiveStatus/storeWrites``) and, by default, the source
///   connected; 503 otherwise, with `store` `unavailable` or `failing` and the backlog).
/// - `GET /metrics`: only when a `metrics` closure is given (Prometheus text from the app's
///   registry).
/// - With a ``SettingsControl`` (live control, SEMANTICS.md §7): `GET /api/settings` (with
///   `ETag: "<version>"`), `PUT /api/settings` (the whole document with `If-Match: "<version>"`:
///   200, 412 on another version, 428 without `If-Match`, 422 with `{"errors": [{"field",
///   "message"}]}`), `GET`/`POST /api/mutes`, `DELETE /api/mutes/{id}`, `POST
///   /api/detection/pause` and `/resume`, `GET /api/audit?limit=N`.
/// - `GET /api/labels`: the event labels as JSON Lines (SEMANTICS.md §9), when a `labels`
///   closure or a `feedback` store is given.
/// - With a `feedback` store, each event of the page and of `/api/events` shows its
///   acknowledgement ("acknowledged by X at T"; JSON `acknowledgedBy`, `acknowledgedAt`) and its
///   labels (JSON `labels`), read for the listed page in one query; with a `conversationLink`,
///   a link to the event's conversation (the Webex thread's root message; JSON `conversationUrl`).
/// - `POST /webhooks/webex`: only when an ``IncomingWebhook`` is given; authenticated by the
///   webhook's own signature, not the page's credentials. Bodies over
///   ``IncomingWebhook/maxBodyBytes`` are refused with 413.
///
/// Every response carries security headers; every route but `/healthz` and `POST /webhooks/webex`
/// requires the configured credentials. Use ``CrowdWebConfiguration/checkBind(host:access:allowUnauthenticatedRemote:)``
/// before binding.
public struct CrowdWeb: Sendable {
    public var store: any EventStore
    public var configuration: CrowdWebConfiguration {
        didSet { auth = WebAuth(access: configuration.access) }
    }
    /// Credentials, sessions and CSRF tokens of ``configuration``'s access.
    private(set) var auth: WebAuth
    public var logger: Logger
    /// Live zone states and feed health, read on each page view and `/api/zones` request.
    public var liveStatus: @Sendable () async -> LiveStatus
    /// A new stream of event changes for each live-update subscriber (e.g.
    /// `{ monitor.changes() }`); the stream ends when the subscriber goes away or the app stops.
    public var changes: @Sendable () -> AsyncStream<EventChange>
    /// Prometheus text exposition for `/metrics`; `nil` leaves `/metrics` to the app.
    public var metrics: (@Sendable () async -> String)?
    /// Live control (run-time settings, mutes, pause, audit); `nil` leaves those routes out.
    public var settings: SettingsControl?
    /// The Webex webhook (`POST /webhooks/webex`); `nil`: no such route.
    public var webexWebhook: IncomingWebhook?
    /// The labels as JSON Lines for `GET /api/labels`; `nil`: the `feedback` store's, or no
    /// such route without one.
    public var labels: (@Sendable () async throws -> String)?
    /// Acknowledgements and labels shown with each listed event; `nil`: none shown.
    public var feedback: (any EventFeedbackStore)?
    /// A link to an event's conversation (the root message of its Webex thread), from its record;
    /// `nil` (or a `nil` answer): no link.
    public var conversationLink: (@Sendable (EventRecord) -> String?)?

    public init(
        store: any EventStore, configuration: CrowdWebConfiguration = CrowdWebConfiguration(), logger: Logger,
        liveStatus: @escaping @Sendable () async -> LiveStatus = { LiveStatus() },
        changes: @escaping @Sendable () -> AsyncStream<EventChange> = { AsyncStream { $0.finish() } },
        metrics: (@Sendable () async -> String)? = nil, settings: SettingsControl? = nil, webexWebhook: IncomingWebhook? = nil,
        labels: (@Sendable () async throws -> String)? = nil, feedback: (any EventFeedbackStore)? = nil,
        conversationLink: (@Sendable (EventRecord) -> String?)? = nil
    ) {
        self.feedback = feedback
        self.conversationLink = conversationLink
        self.settings = settings
        self.webexWebhook = webexWebhook
        self.labels = labels
        self.store = store
        self.configuration = configuration
        self.auth = WebAuth(access: configuration.access)
        self.logger = logger
        self.liveStatus = liveStatus
        self.changes = changes
        self.metrics = metrics
    }

    /// Adds every route, with the security and authentication middleware, to `router`.
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.addRoutes(routes(context: Context.self))
    }

    /// The routes as a collection, for `router.addRoutes(_:atPath:)`.
    public func routes<Context: RequestContext>(context: Context.Type = BasicRequestContext.self) -> RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.add(middleware: SecurityHeadersMiddleware<Context>())
        routes.add(middleware: AuthMiddleware<Context>(auth: auth))
        routes.get("/") { request, _ in await self.page(request) }
        routes.get("/api/events") { request, _ in await self.eventsJSON(request) }
        routes.get("/api/events.csv") { request, _ in await self.eventsCSV(request) }
        routes.get("/api/events/stream") { request, _ in self.eventStream(request) }
        routes.get("/api/zones") { _, _ in await self.zonesJSON() }
        routes.get("/api/zones/{camera}/{zone}/history") { request, context in
            await self.history(request, camera: context.parameters.get("camera") ?? "", zone: context.parameters.get("zone") ?? "")
        }
        routes.get("/api/areas") { _, _ in Self.json(bytes: JSONView.areas(await self.liveStatus())) }
        routes.get("/healthz") { _, _ in Self.text("ok\n") }
        routes.get("/readyz") { _, _ in await self.readiness() }
        addLoginRoutes(routes)
        if let settings {
            addSettingsRoutes(routes, settings)
            addControlPages(routes, settings)
        }
        if let history = store as? any OccupancyHistoryStore { addChartPages(routes, history) }
        if let webexWebhook {
            routes.post("/webhooks/webex") { request, _ in await self.webhook(request, webexWebhook) }
        }
        var labels = self.labels
        if labels == nil, let store = feedback { labels = { try await store.labelLines() } }
        if let labels {
            routes.get("/api/labels") { _, _ -> Response in
                do {
                    return Self.text(try await labels(), contentType: "application/x-ndjson; charset=utf-8")
                } catch {
                    self.logger.error("labels read failed", metadata: ["error": "\(error)"])
                    return Self.json(JSONView.error("labels unavailable"), status: .serviceUnavailable)
                }
            }
        }
        if let metrics {
            routes.get("/metrics") { _, _ in
                Self.text(await metrics(), contentType: "text/plain; version=0.0.4; charset=utf-8")
            }
        }
        return routes
    }

    // MARK: - Webhooks

    func webhook(_ request: Request, _ hook: IncomingWebhook) async -> Response {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > hook.maxBodyBytes {
            return Self.text("body too large\n", status: .contentTooLarge)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: hook.maxBodyBytes)
        } catch {
            return Self.text("body too large\n", status: .contentTooLarge)
        }
        let signature = HTTPFields.Element.Name(hook.signatureHeader).flatMap { request.headers[$0] }
        let status = await hook.receive(Data(body.readableBytesView), signature)
        return Self.text(status == 401 ? "unauthorized\n" : "ok\n", status: HTTPResponse.Status(code: status))
    }

    // MARK: - Page

    func page(_ request: Request) async -> Response {
        let (context, setCookie) = pageContext(request)
        async let live = liveStatus()
        var status = HTTPResponse.Status.ok
        var message: String?
        var filter = EventFilter(defaultLimit: configuration.pageSize)
        var page: EventPage?
        var mutes: [Mute] = []
        do {
            filter = try EventFilter(query: request.uri.query, defaultLimit: configuration.pageSize)
            page = try await store.events(filter.eventQuery)
        } catch let e as CrowdWebError {
            status = .badRequest
            message = e.message
        } catch {
            logger.error("event store read failed", metadata: ["error": "\(error)"])
            status = .serviceUnavailable
            message = "The event store is not available right now."
        }
        if let settings {
            // the mutes in effect (taken from the store every refresh interval)
            mutes = settings.live.snapshot.mutes.filter { $0.until > settings.now() }
        }
        let view = PageView(
            title: configuration.title, nonce: context.nonce, context: context, mutes: mutes,
            paused: settings.map { $0.live.snapshot.settings.paused }, filter: filter, defaultLimit: configuration.pageSize, page: page,
            live: await live, now: Date(), error: message, extras: await extras(for: page))
        return Self.html(view.render(), nonce: context.nonce, status: status, setCookie: setCookie)
    }

    /// The feedback on the listed events (one store read) and their conversation links; `nil`
    /// without a feedback store or link. A failed read is logged and the page shows no feedback.
    func extras(for page: EventPage?) async -> [CrowdEventID: JSONView.Extras]? {
        guard feedback != nil || conversationLink != nil else { return nil }
        let records = page?.records ?? []
        var found: [CrowdEventID: [EventFeedback]] = [:]
        if let feedback, !records.isEmpty {
            do {
                found = try await feedback.feedback(for: records.map(\.event.id))
            } catch {
                logger.error("feedback read failed", metadata: ["error": "\(error)"])
            }
        }
        var extras: [CrowdEventID: JSONView.Extras] = [:]
        for r in records {
            let link = conversationLink?(r)
            let entries = found[r.event.id] ?? []
            if link != nil || !entries.isEmpty { extras[r.event.id] = JSONView.Extras(feedback: entries, conversationURL: link) }
        }
        return extras
    }

    // MARK: - JSON and CSV

    func eventsJSON(_ request: Request) async -> Response {
        do {
            let filter = try EventFilter(query: request.uri.query, defaultLimit: configuration.pageSize)
            let page = try await store.events(filter.eventQuery)
            let next = page.nextCursor.map {
                "/api/events?" + filter.queryString(cursor: $0, includeLimit: true, defaultLimit: configuration.pageSize)
            }
            return Self.json(bytes: JSONView.page(page, next: next, extras: await extras(for: page)))
        } catch let e as CrowdWebError {
            return Self.json(JSONView.error(e.message), status: .badRequest)
        } catch {
            logger.error("event store read failed", metadata: ["error": "\(error)"])
            return Self.json(JSONView.error("event store unavailable"), status: .serviceUnavailable)
        }
    }

    func eventsCSV(_ request: Request) async -> Response {
        let first: EventPage
        var query: EventQuery
        do {
            let filter = try EventFilter(query: request.uri.query, defaultLimit: configuration.pageSize)
            query = filter.eventQuery
            query.cursor = nil
            query.limit = 1000
            first = try await store.events(query)
        } catch let e as CrowdWebError {
            return Self.text(e.message + "\n", status: .badRequest)
        } catch {
            logger.error("event store read failed", metadata: ["error": "\(error)"])
            return Self.text("event store unavailable\n", status: .serviceUnavailable)
        }
        let store = self.store
        let startQuery = query
        let body = ResponseBody { writer in
            var chunk = CSVView.header
            var page = first
            var query = startQuery
            while true {
                for record in page.records { chunk += CSVView.row(record) }
                try await writer.write(ByteBuffer(string: chunk))
                chunk = ""
                guard let next = page.nextCursor else { break }
                query.cursor = next
                page = try await store.events(query)
            }
            try await writer.finish(nil)
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8; header=present"
        headers[.contentDisposition] = "attachment; filename=\"crowd-events.csv\""
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: body)
    }

    func zonesJSON() async -> Response {
        Self.json(bytes: JSONView.zones(await liveStatus(), now: Date()))
    }

    // MARK: - Live updates

    func eventStream(_ request: Request) -> Response {
        let params = QueryParameters(request.uri.query)
        func list(_ name: String) -> Set<String> {
            Set(params.all(name).flatMap { $0.split(separator: ",") }.map(String.init).filter { !$0.isEmpty })
        }
        let filter = EventQuery(cameras: list("camera"), zones: list("zone"))
        let changes = self.changes
        let heartbeat = configuration.streamHeartbeat
        let body = ResponseBody { writer in
            let (merged, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(512))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await change in changes() where filter.matches(change.event) {
                        continuation.yield(Self.serverSentEvent(change))
                    }
                    continuation.finish()
                }
                group.addTask {
                    while true {
                        try await Task.sleep(for: heartbeat)
                        continuation.yield(": keep-alive\n\n")
                    }
                }
                try await writer.write(ByteBuffer(string: "retry: 3000\n: connected\n\n"))
                // The stream ends when the changes end, the client goes away (a write throws) or
                // the server shuts down gracefully (so that an open page never holds it up).
                try await withGracefulShutdownHandler {
                    for await text in merged {
                        try await writer.write(ByteBuffer(string: text))
                    }
                } onGracefulShutdown: {
                    continuation.finish()
                }
                group.cancelAll()
            }
            try await writer.finish(nil)
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[HeaderField.Name("X-Accel-Buffering")!] = "no"
        return Response(status: .ok, headers: headers, body: body)
    }

    static func serverSentEvent(_ change: EventChange) -> String {
        let name =
            switch change.kind {
            case .fired: "fired"
            case .reminder: "updated"
            case .ended: "ended"
            }
        // The JSON has no raw line breaks (they are escaped), so it is one `data:` line.
        return "event: \(name)\nid: \(change.event.id.rawValue)-\(name)\ndata: "
            + JSONView.event(change.event, deliveries: change.deliveries) + "\n\n"
    }

    // MARK: - Health

    func readiness() async -> Response {
        let live = await liveStatus()
        // a store that has not connected yet is unavailable: said at once (a probe must not wait
        // for the store's own connection timeout)
        var storeOK = live.storeConnected
        if storeOK {
            do {
                _ = try await store.events(EventQuery(limit: 1))
            } catch {
                storeOK = false
                logger.warning("readiness: event store unavailable", metadata: ["error": "\(error)"])
            }
        }
        let feed = live.feed
        let writes = live.storeWrites
        let sourceOK = !configuration.readinessRequiresConnectedSource || feed.state == .connected
        let ready = storeOK && writes.isHealthy && sourceOK && live.detectionStarted
        let storeState = !storeOK ? "unavailable" : (writes.isHealthy ? "ok" : "failing")
        var body =
            "{\"ready\":\(ready),\"store\":" + Format.json(storeState) + ",\"source\":" + Format.json(feed.state.rawValue)
        body += ",\"detection\":" + Format.json(live.detectionStarted ? "running" : "starting")
        body += ",\"storeBacklog\":\(writes.backlog),\"storeDropped\":\(writes.dropped)"
        if let error = writes.lastError, !writes.isHealthy { body += ",\"storeError\":" + Format.json(error) }
        if let cluster = live.cluster {
            body += ",\"cluster\":{\"name\":" + Format.json(cluster.name) + ",\"members\":\(cluster.members.count)"
            body += ",\"ownedCameras\":\(cluster.ownedCameras),\"heartbeating\":\(cluster.heartbeating)}"
        }
        body += "}"
        return Self.json(body, status: ready ? .ok : .serviceUnavailable)
    }

    // MARK: - Helpers

    static func makeNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString()
    }

    static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func json(bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func text(_ text: String, status: HTTPResponse.Status = .ok, contentType: String = "text/plain; charset=utf-8")
        -> Response
    {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
