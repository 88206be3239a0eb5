import ArgumentParser
import CrowdKitCore
import CrowdKitHTTP
import CrowdKitMeraki
import CrowdKitWebex
import Foundation
import Logging

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the configuration and test the credentials, without sending a message.",
        discussion: """
            Loads the configuration (flags > environment > file > defaults) and reports what it \
            would do. When a Meraki API key is set it calls GET /organizations (and the network's \
            devices when a network id is set); when a Webex token is set it calls GET /people/me. \
            Exit status: 0 when everything configured works, 1 when a call fails, 78 for an invalid \
            configuration. Secrets are never printed.
            """
    )

    @OptionGroup var broker: BrokerOptions
    @OptionGroup var topic: TopicOptions
    @OptionGroup var detection: DetectionOptions
    @OptionGroup var notifiers: NotifierOptions
    @OptionGroup var storeWeb: WebOptions

    @Option(name: .long, help: "Seconds each remote call may take (default 10).")
    var timeout: Double = 10

    func run() async throws {
        let flags = detection.configFlags.merging(broker.configFlags) { a, _ in a }.merging(topic.configFlags) { a, _ in a }
            .merging(notifiers.configFlags) { a, _ in a }.merging(storeWeb.configFlags) { a, _ in a }
        let settings = try await loadSettings(flags: flags, configFile: detection.config)
        var logger = Logger(label: "crowd-notifier.check")
        logger.logLevel = .critical
        var out: [String] = ["configuration: valid"]
        let m = settings.mqtt
        out.append("  broker: \(m.tls ? "mqtts" : "mqtt")://\(m.host):\(m.port) topics \(m.topics.joined(separator: " "))\(m.username.map { " user \($0)" } ?? "")")
        out.append("  detection: \(settings.detection.policy.name), notify on \(NotificationKind.allCases.filter(settings.detection.kinds.contains).map(\.rawValue).joined(separator: ", "))")
        out.append("  cameras: \(settings.filter.cameras.text), zones: \(settings.filter.zones.text)")
        out.append("  store: \(settings.postgres.map { "\($0.redactedURL) (TLS \($0.tls))" } ?? settings.storePath) (\(settings.retentionDays) days); page: http://\(settings.http.host):\(settings.http.port)/\(settings.http.token == nil && settings.http.tokens.isEmpty ? "" : " (token required\(settings.http.tokens.isEmpty ? "" : ": " + settings.http.tokens.keys.sorted().joined(separator: ", ")))")")
        var failures = 0
        let transport = URLSessionTransport.shared
        let limit = Duration.milliseconds(Int64(timeout * 1000))

        if let meraki = settings.meraki {
            guard let base = URL(string: meraki.baseURL) else { throw ExitCode(78) }
            var configuration = MerakiConfiguration(baseURL: base, apiKey: meraki.apiKey, networkID: meraki.networkID)
            configuration.timeout = limit
            configuration.retry = RetryPolicy(maxAttempts: 1)
            let client = MerakiClient(configuration: configuration, transport: transport, logger: logger)
            do {
                let orgs = try await client.organizations()
                out.append("meraki: ok, the API key sees \(orgs.count) organization\(orgs.count == 1 ? "" : "s") (\(orgs.prefix(3).joined(separator: ", ")))")
                if let network = meraki.networkID {
                    let devices = try await client.networkDevices(networkID: network)
                    let cameras = devices.filter { $0.model?.uppercased().hasPrefix("MV") ?? false }
                    out.append("meraki: ok, network \(network) has \(devices.count) devices, \(cameras.count) cameras")
                } else {
                    out.append("meraki: no network id (meraki.networkId / NETWORK_ID): camera names will not be shown")
                }
            } catch {
                failures += 1
                out.append("meraki: FAILED: \(error)")
            }
        } else {
            out.append("meraki: not configured (no video links, snapshots or names)")
        }

        if let webex = settings.webex {
            guard let base = URL(string: webex.baseURL) else { throw ExitCode(78) }
            let destination: WebexDestination
            switch webex.destination {
            case .room(let id): destination = .room(id: id)
            case .personEmail(let e): destination = .personEmail(e)
            case .personID(let id): destination = .person(id: id)
            }
            var configuration = WebexConfiguration(baseURL: base, token: webex.token, destination: destination)
            configuration.timeout = limit
            configuration.retry = RetryPolicy(maxAttempts: 1)
            let client = WebexClient(configuration: configuration, transport: transport, logger: logger)
            do {
                let name = try await client.me()
                out.append("webex: ok, the token belongs to \(name.isEmpty ? "a bot" : "\"\(name)\""); messages go to \(destination.field.name)")
            } catch {
                failures += 1
                out.append("webex: FAILED: \(error)")
            }
        } else {
            out.append("webex: not configured (notifications go to the log\(settings.webhook == nil ? "" : " and the webhook"))")
        }
        if let webhook = settings.webhook {
            out.append("webhook: \(Redactor.redact(url: URL(string: webhook.url)!))\(webhook.secret == nil ? "" : ", signed") (not called by check)")
        }
        print(out.joined(separator: "\n"))
        if failures > 0 { throw ExitCode(1) }
    }
}
