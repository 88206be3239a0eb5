import ArgumentParser
import CrowdKitAlertmanager
import CrowdKitCore
import CrowdKitHTTP
import CrowdKitMeraki
import CrowdKitWebex
import Foundation
import Logging

/// The notifier flags of `run` (keys of ConfigCatalog). They go through ``configFlags`` into the
/// ``ConfigLoader`` like the detection flags, so a flag wins over the environment
/// (`BOT_ACCESS_TOKEN`, `MERAKI_API_KEY`, `NETWORK_ID`) and the file. Secrets are best given in
/// the environment or a token file: flags are visible in the process list.
struct NotifierOptions: ParsableArguments {
    @Option(name: .customLong("webex-token"), help: "Webex bot access token (or env BOT_ACCESS_TOKEN; prefer the variable).")
    var webexToken: String?
    @Option(name: .customLong("webex-token-file"), help: "File holding the Webex bot token.")
    var webexTokenFile: String?
    @Option(name: .customLong("webex-base-url"), help: "Webex API base URL (default https://webexapis.com/v1).")
    var webexBaseURL: String?
    @Option(name: .customLong("webex-room-id"), help: "Send to this Webex room (exactly one destination).")
    var webexRoomID: String?
    @Option(name: .customLong("webex-to-person-email"), help: "Send to this person's e-mail (exactly one destination).")
    var webexToPersonEmail: String?
    @Option(name: .customLong("webex-to-person-id"), help: "Send to this person id (exactly one destination).")
    var webexToPersonID: String?

    @Option(name: .customLong("meraki-api-key"), help: "Meraki Dashboard API key (or env MERAKI_API_KEY; prefer the variable).")
    var merakiAPIKey: String?
    @Option(name: .customLong("meraki-base-url"), help: "Meraki API base URL (default https://api.meraki.com/api/v1).")
    var merakiBaseURL: String?
    @Option(name: .customLong("meraki-network-id"), help: "Meraki network id, for camera names (or env NETWORK_ID).")
    var merakiNetworkID: String?
    @Option(name: .customLong("meraki-organization-id"), help: "Meraki organization id, for area and line names (default: the network's).")
    var merakiOrganizationID: String?

    @Option(name: .customLong("webhook-url"), help: "POST each notification as JSON to this URL.")
    var webhookURL: String?
    @Option(name: .customLong("webhook-secret"), help: "Sign webhook bodies with HMAC-SHA256 (prefer the config file or environment).")
    var webhookSecret: String?

    @Option(
        name: .customLong("alertmanager-url"),
        help: "Raise crowds as alerts in this Prometheus Alertmanager (base URL); repeat for several (alertmanager.urls).")
    var alertmanagerURLs: [String] = []

    @Option(
        name: .customLong("meraki-rate"),
        help: "Meraki requests per second, shared by all calls (default 10, Meraki's per-organisation limit; raise only for a test sink).")
    var merakiRate: Int = 10
    @Option(name: .customLong("meraki-snapshot"), help: "Snapshots: ready (wait until the image exists; default), link, or off.")
    var merakiSnapshot: String = "ready"

    func validate() throws {
        guard merakiRate >= 1 else { throw ValidationError("--meraki-rate must be an integer >= 1 (got \(merakiRate))") }
        guard snapshotMode != nil else {
            throw ValidationError("--meraki-snapshot must be ready, link or off (got \"\(merakiSnapshot)\")")
        }
    }

    var snapshotMode: MerakiEnricher.SnapshotMode? {
        switch merakiSnapshot.lowercased() {
        case "ready": .ready
        case "link": .link
        case "off": .off
        default: nil
        }
    }

    /// The options given, as configuration keys (they override the environment and the file).
    var configFlags: [String: String] {
        var f: [String: String] = [:]
        func put(_ key: String, _ v: String?) { if let v { f[key] = v } }
        put("webex.token", webexToken)
        put("webex.tokenFile", webexTokenFile)
        put("webex.baseURL", webexBaseURL)
        put("webex.roomId", webexRoomID)
        put("webex.toPersonEmail", webexToPersonEmail)
        put("webex.toPersonId", webexToPersonID)
        put("meraki.apiKey", merakiAPIKey)
        put("meraki.baseURL", merakiBaseURL)
        put("meraki.networkId", merakiNetworkID)
        put("meraki.organizationId", merakiOrganizationID)
        put("webhook.url", webhookURL)
        put("webhook.secret", webhookSecret)
        if !alertmanagerURLs.isEmpty { f["alertmanager.urls"] = alertmanagerURLs.joined(separator: ",") }
        return f
    }
}

/// What `run` needs for delivery: the notifiers, the enricher, the monitor's plan, and the line
/// to log once at start.
struct NotifierSetup: Sendable {
    var notifiers: [any Notifier]
    var enricher: any EventEnricher
    var plan: NotificationPlan
    /// Said once at start; never contains a secret.
    var summary: String
    /// Whether only the log notifier is configured.
    var logOnly: Bool
    /// Work of the notifiers beside sending (the Alertmanager resend loop), given the opened
    /// store; runs until cancelled.
    var background: [@Sendable (any EventStore) async -> Void] = []
    /// Makes the receiver of `POST /webhooks/webex` (Webex button presses) once the store is
    /// open; `nil` without `webex.webhookSecret`.
    var webexWebhook: (@Sendable (WebexCardActionPerformer) -> WebexWebhookReceiver)? = nil
    /// The event store, once open, for notifiers that read it while sending (a thread's root).
    var storeLink = StoreLink()
    /// A link to an event's Webex thread for the page (threads in a room only).
    var conversationLink: (@Sendable (EventRecord) -> String?)? = nil
    /// The Meraki client, when configured: several instances share its request budget.
    var meraki: MerakiClient? = nil
}

extension AppSettings {
    /// Builds the Webex and webhook notifiers (or the log notifier when neither is configured),
    /// the Meraki enricher (or none) and the notification plan from the settings.
    ///
    /// - Parameters:
    ///   - merakiRequestsPerSecond: the client-side Meraki rate limit (Meraki allows 10/s per
    ///     organisation; raise it only against a test sink).
    ///   - snapshot: how the enricher gets snapshots (`.ready` waits until the image exists).
    func notifierSetup(
        transport: any HTTPTransport = URLSessionTransport.shared, merakiRequestsPerSecond: Int = 10,
        snapshot: MerakiEnricher.SnapshotMode = .ready, logger: Logger
    ) throws -> NotifierSetup {
        func url(_ text: String, key: String) throws -> URL {
            guard let u = URL(string: text), let s = u.scheme?.lowercased(), s == "https" || s == "http", u.host != nil else {
                throw ConfigurationError(key: key, expected: "an http(s) URL", got: text)
            }
            return u
        }
        var notifiers: [any Notifier] = []
        var parts: [String] = []
        var webexWebhook: (@Sendable (WebexCardActionPerformer) -> WebexWebhookReceiver)?
        var conversationLink: (@Sendable (EventRecord) -> String?)?
        let storeLink = StoreLink()
        // the snapshot image the enricher downloads to see that it is ready is the one uploaded
        let images = SnapshotImages()

        if let webex {
            let destination: WebexDestination
            switch webex.destination {
            case .room(let id): destination = .room(id: id)
            case .personEmail(let email): destination = .personEmail(email)
            case .personID(let id): destination = .person(id: id)
            }
            let base = try url(webex.baseURL, key: "webex.baseURL")
            // Retries are the delivery service's alone (one layer, one budget): one HTTP attempt
            // per delivery attempt.
            let client = WebexClient(
                configuration: WebexConfiguration(
                    baseURL: base, token: webex.token, destination: destination,
                    retry: RetryPolicy(maxAttempts: 1, defaultRetryAfter: .seconds(15))),
                transport: transport, logger: logger)
            var threads: WebexNotifier.Threads?
            if webex.threads, case .room(id: let room) = destination {
                // the root message id is the fired notification's remote id in the outbox
                let templates = webex.templates
                threads = .init(roomID: room, makeCard: { templates.card(for: $0) }) { id in
                    guard let record = try? await storeLink.store?.record(id: id) else { return nil }
                    for d in record.deliveries where d.notifier == "webex" && d.kind == .fired {
                        if case .sent(let remoteID?) = d.status { return remoteID }
                    }
                    return nil
                }
                conversationLink = { record in
                    for d in record.deliveries where d.notifier == "webex" && d.kind == .fired {
                        if case .sent(let remoteID?) = d.status { return WebexLinks.message(remoteID, inRoom: room) }
                    }
                    return nil
                }
            }
            let webexNotifier = WebexNotifier(
                client: client, template: webex.templates.messages, transport: transport, images: images, threads: threads, logger: logger)
            let templates = webex.templates
            notifiers.append(webexNotifier)
            if let secret = webex.webhookSecret {
                let receiverConfiguration = WebexWebhookReceiver.Configuration(secret: secret, allowedActors: webex.allowedActors)
                // its own client: fetching a pressed button's action may retry (nothing else does)
                let actionsClient = WebexClient(
                    configuration: WebexConfiguration(baseURL: base, token: webex.token, destination: destination), transport: transport,
                    logger: logger)
                webexWebhook = { performer in
                    WebexWebhookReceiver(configuration: receiverConfiguration, client: actionsClient, logger: logger) { action in
                        let outcome = try await performer.perform(action)
                        // the thread's root says who acted (threads only; an edit that fails is logged)
                        if outcome == .done, let event = try await performer.events.record(id: action.eventID)?.event {
                            do {
                                if case .ack = action.kind {
                                    try await webexNotifier.annotateThread(of: event, markdown: templates.acknowledgement(of: event, by: action.actor))
                                } else {
                                    try await webexNotifier.annotateThread(of: event, note: action.note)
                                }
                            } catch {
                                logger.warning("The thread's root was not edited", metadata: ["crowd.event": "\(event.id)", "error": "\(error)"])
                            }
                        }
                        return outcome
                    }
                }
            }
            parts.append("Webex (\(destination.field.name), \(Redactor.redact(url: base)))")
        }
        if let webhook {
            let u = try url(webhook.url, key: "webhook.url")
            notifiers.append(
                WebhookNotifier(
                    configuration: .init(url: u, secret: webhook.secret, http: HTTPClientConfiguration(retry: .none)),
                    transport: transport, logger: logger))
            parts.append("webhook (\(Redactor.redact(url: u))\(webhook.secret == nil ? "" : ", signed"))")
        }

        var background: [@Sendable (any EventStore) async -> Void] = []
        if let alertmanager {
            let urls = try alertmanager.urls.map { try url($0, key: "alertmanager.urls") }
            let notifier = AlertmanagerNotifier(
                configuration: AlertmanagerConfiguration(
                    urls: urls, resendInterval: alertmanager.resendInterval, pageURL: alertmanager.pageURL.flatMap(URL.init(string:)),
                    http: HTTPClientConfiguration(retry: .none)),
                transport: transport, logger: logger)
            notifiers.append(notifier)
            // re-posts open alerts; resolves those whose `ended` notification the plan leaves out
            background.append { store in
                await notifier.run(currentEvent: { id in try? await store.record(id: id)?.event })
            }
            parts.append("Alertmanager (\(urls.map { Redactor.redact(url: $0) }.joined(separator: ", ")))")
        }

        var enricher: any EventEnricher = NoEnrichment()
        var merakiClient: MerakiClient?
        if let meraki {
            let base = try url(meraki.baseURL, key: "meraki.baseURL")
            let configuration = MerakiConfiguration(
                baseURL: base, apiKey: meraki.apiKey, networkID: meraki.networkID, requestsPerSecond: max(1, merakiRequestsPerSecond),
                organizationID: meraki.organizationID)
            let client = MerakiClient(configuration: configuration, transport: transport, logger: logger)
            merakiClient = client
            enricher = MerakiEnricher(
                client: client,
                options: .init(snapshot: snapshot), images: images, logger: logger)
            parts.append(
                "Meraki video links, snapshots and names (\(Redactor.redact(url: base))"
                    + (meraki.networkID == nil ? "; no network id, so no camera names" : "") + ")")
        }

        let logOnly = notifiers.isEmpty
        if logOnly { notifiers.append(LogNotifier(logger: logger)) }
        let plan = NotificationPlan(notifiers: notifiers.map(\.name), kinds: detection.kinds)
        let kinds = NotificationKind.allCases.filter(detection.kinds.contains).map(\.rawValue).joined(separator: ", ")
        let summary =
            logOnly
            ? "no Webex token, webhook or Alertmanager URL configured: notifications (\(kinds)) go to the log"
                + (parts.isEmpty ? "" : "; " + parts.joined(separator: ", "))
            : "notifications (\(kinds)) go to " + parts.joined(separator: ", ")
        return NotifierSetup(
            notifiers: notifiers, enricher: enricher, plan: plan, summary: summary, logOnly: logOnly, background: background,
            webexWebhook: webexWebhook, storeLink: storeLink, conversationLink: conversationLink, meraki: merakiClient)
    }
}

/// The event store, known once the app has opened it (notifiers are built before).
final class StoreLink: Sendable {
    private let box = LockedBox<(any EventStore)?>(nil)
    var store: (any EventStore)? { box.withLock { $0 } }
    func attach(_ store: any EventStore) { box.withLock { $0 = store } }
}
