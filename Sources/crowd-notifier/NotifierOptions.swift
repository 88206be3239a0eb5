import ArgumentParser
import CrowdKitCore
import CrowdKitHTTP
import CrowdKitMeraki
import CrowdKitWebex
import Foundation
import Logging

/// Who is told about crowds, and what Meraki adds to each event (for `run`).
///
/// Secrets are best given in the environment (`BOT_ACCESS_TOKEN`, `MERAKI_API_KEY`,
/// `WEBHOOK_SECRET`): flags are visible in the process list. A flag wins over its variable.
/// With no Webex token and no webhook URL, notifications go to the log (said once at start).
struct NotifierOptions: ParsableArguments {
    @Option(name: .customLong("webex-token"), help: "Webex bot access token (or env BOT_ACCESS_TOKEN; prefer the variable).")
    var webexToken: String?
    @Option(name: .customLong("webex-base-url"), help: "Webex API base URL (default https://webexapis.com/v1).")
    var webexBaseURL: String?
    @Option(name: .customLong("webex-room-id"), help: "Send to this Webex room (exactly one destination).")
    var webexRoomID: String?
    @Option(name: .customLong("webex-to-person-email"), help: "Send to this person's e-mail (exactly one destination).")
    var webexToPersonEmail: String?
    @Option(name: .customLong("webex-to-person-id"), help: "Send to this person id (exactly one destination).")
    var webexToPersonID: String?
    @Option(name: .customLong("webex-attach"), help: "Snapshot in Webex messages: upload (default), link or none.")
    var webexAttach: String = "upload"

    @Option(name: .customLong("meraki-api-key"), help: "Meraki Dashboard API key (or env MERAKI_API_KEY; prefer the variable).")
    var merakiAPIKey: String?
    @Option(name: .customLong("meraki-base-url"), help: "Meraki API base URL (default https://api.meraki.com/api/v1).")
    var merakiBaseURL: String?
    @Option(name: .customLong("meraki-network-id"), help: "Meraki network id, for camera names (or env NETWORK_ID).")
    var merakiNetworkID: String?
    @Option(name: .customLong("meraki-snapshot"), help: "Snapshots: ready (wait until the image exists; default), link or off.")
    var merakiSnapshot: String = "ready"
    @Option(name: .customLong("meraki-rate"), help: "Meraki requests per second, shared by all calls (default 10).")
    var merakiRate: Int = 10

    @Option(name: .customLong("webhook-url"), help: "POST each notification as JSON to this URL.")
    var webhookURL: String?
    @Option(name: .customLong("webhook-secret"), help: "Sign webhook bodies with HMAC-SHA256 (or env WEBHOOK_SECRET).")
    var webhookSecret: String?

    @Option(name: .customLong("notify-on"), help: "Which changes notify: a comma-separated list of fired, reminder, ended (default fired).")
    var notifyOn: String = "fired"

    /// What `run` needs: the notifiers, the enricher, the plan for the monitor, and a one-line summary.
    struct Setup: Sendable {
        var notifiers: [any Notifier]
        var enricher: any EventEnricher
        var plan: NotificationPlan
        /// Said once at start (never contains a secret).
        var summary: String
        /// Whether only the log notifier is configured.
        var logOnly: Bool
    }

    func validate() throws {
        _ = try kinds()
        guard ["upload", "link", "none"].contains(webexAttach) else {
            throw ValidationError("--webex-attach must be upload, link or none (got \"\(webexAttach)\")")
        }
        guard ["ready", "link", "off"].contains(merakiSnapshot) else {
            throw ValidationError("--meraki-snapshot must be ready, link or off (got \"\(merakiSnapshot)\")")
        }
        guard merakiRate >= 1 else { throw ValidationError("--meraki-rate must be an integer >= 1 (got \(merakiRate))") }
    }

    func kinds() throws -> Set<NotificationKind> {
        var out = Set<NotificationKind>()
        for part in notifyOn.split(separator: ",") {
            let name = part.trimmingCharacters(in: .whitespaces).lowercased()
            guard let kind = NotificationKind(rawValue: name) else {
                throw ValidationError("--notify-on takes fired, reminder, ended (got \"\(part)\")")
            }
            out.insert(kind)
        }
        guard !out.isEmpty else { throw ValidationError("--notify-on needs at least one of fired, reminder, ended") }
        return out
    }

    /// Builds the notifiers and the enricher from the flags and `environment`.
    func makeSetup(
        environment: [String: String] = ProcessInfo.processInfo.environment, transport: any HTTPTransport = URLSessionTransport.shared,
        logger: Logger
    ) throws -> Setup {
        func value(_ flag: String?, _ variable: String?) -> String? {
            let v = flag ?? variable.flatMap { environment[$0] }
            guard let t = v?.trimmingCharacters(in: .whitespacesAndNewlines), !t.isEmpty else { return nil }
            return t
        }
        func url(_ text: String?, key: String, flag: String) throws -> URL? {
            guard let text else { return nil }
            guard let u = URL(string: text), let scheme = u.scheme?.lowercased(), scheme == "https" || scheme == "http", u.host != nil
            else {
                throw ConfigurationError(key: key, source: "flag \(flag)", expected: "an http(s) URL", got: text)
            }
            return u
        }

        var notifiers: [any Notifier] = []
        var parts: [String] = []

        let token = value(webexToken, "BOT_ACCESS_TOKEN")
        let anyDestination = [webexRoomID, webexToPersonEmail, webexToPersonID].contains { $0 != nil }
        if let token {
            let destination: WebexDestination
            do {
                destination = try WebexDestination(roomID: webexRoomID, toPersonID: webexToPersonID, toPersonEmail: webexToPersonEmail)
            } catch let error as ConfigurationError {
                throw error.from("flags --webex-room-id / --webex-to-person-email / --webex-to-person-id")
            }
            let base = try url(webexBaseURL, key: "webex.baseURL", flag: "--webex-base-url") ?? WebexConfiguration.defaultBaseURL
            let client = WebexClient(
                configuration: WebexConfiguration(baseURL: base, token: token, destination: destination), transport: transport,
                logger: logger)
            let attachment: WebexNotifier.Attachment = webexAttach == "none" ? .none : webexAttach == "link" ? .link : .upload
            notifiers.append(WebexNotifier(client: client, attachment: attachment, transport: transport, logger: logger))
            parts.append("Webex (\(destination.field.name), \(Redactor.redact(url: base)))")
        } else if anyDestination {
            throw ConfigurationError(
                key: "webex.token", source: "flag --webex-token or env BOT_ACCESS_TOKEN",
                expected: "a bot token when a Webex destination is given", got: nil)
        }

        if let hook = try url(value(webhookURL, "WEBHOOK_URL"), key: "webhook.url", flag: "--webhook-url") {
            let secret = value(webhookSecret, "WEBHOOK_SECRET")
            notifiers.append(
                WebhookNotifier(configuration: .init(url: hook, secret: secret), transport: transport, logger: logger))
            parts.append("webhook (\(Redactor.redact(url: hook))\(secret == nil ? "" : ", signed"))")
        }

        var enricher: any EventEnricher = NoEnrichment()
        if let key = value(merakiAPIKey, "MERAKI_API_KEY") {
            let base = try url(merakiBaseURL, key: "meraki.baseURL", flag: "--meraki-base-url") ?? MerakiConfiguration.defaultBaseURL
            let configuration = MerakiConfiguration(
                baseURL: base, apiKey: key, networkID: value(merakiNetworkID, "NETWORK_ID"), requestsPerSecond: merakiRate)
            let client = MerakiClient(configuration: configuration, transport: transport, logger: logger)
            let snapshot: MerakiEnricher.SnapshotMode = merakiSnapshot == "off" ? .off : merakiSnapshot == "link" ? .link : .ready
            enricher = MerakiEnricher(client: client, options: .init(snapshot: snapshot), logger: logger)
            parts.append(
                "Meraki enrichment (\(Redactor.redact(url: base))"
                    + (configuration.networkID == nil ? ", no network id: no camera names" : "") + ")")
        }

        var logOnly = false
        if notifiers.isEmpty {
            notifiers.append(LogNotifier(logger: logger))
            logOnly = true
        }
        let plan = NotificationPlan(notifiers: notifiers.map(\.name), kinds: try kinds())
        let summary =
            logOnly
            ? "no Webex token or webhook URL configured: notifications go to the log"
                + (parts.isEmpty ? "" : "; " + parts.joined(separator: ", "))
            : "notifications: " + parts.joined(separator: ", ")
        return Setup(notifiers: notifiers, enricher: enricher, plan: plan, summary: summary, logOnly: logOnly)
    }
}
