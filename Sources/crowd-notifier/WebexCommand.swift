import ArgumentParser
import CrowdKitCore
import CrowdKitHTTP
import CrowdKitWebex
import Foundation
import Logging

/// `crowd-notifier webex webhook --target-url URL` and `crowd-notifier webex check`.
struct WebexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webex",
        abstract: "Manage the Webex webhook that brings card button presses to POST /webhooks/webex.",
        subcommands: [Webhook.self, Check.self]
    )

    /// The configured Webex client and webhook secret (exit 78 when either is missing).
    static func client(_ notifiers: NotifierOptions, _ detection: DetectionOptions, _ storeWeb: WebOptions) async throws
        -> (client: WebexClient, secret: String, settings: AppSettings)
    {
        let flags = detection.configFlags.merging(notifiers.configFlags) { a, _ in a }.merging(storeWeb.configFlags) { a, _ in a }
        let settings = try await loadSettings(flags: flags, configFile: detection.config)
        guard let webex = settings.webex, let base = URL(string: webex.baseURL) else {
            printError("crowd-notifier: no Webex token configured (webex.token, webex.tokenFile or BOT_ACCESS_TOKEN)")
            throw ExitCode(78)
        }
        guard let secret = webex.webhookSecret else {
            printError("crowd-notifier: no webex.webhookSecret configured: Webex must sign what it sends")
            throw ExitCode(78)
        }
        let destination: WebexDestination
        switch webex.destination {
        case .room(let id): destination = .room(id: id)
        case .personEmail(let e): destination = .personEmail(e)
        case .personID(let id): destination = .person(id: id)
        }
        var logger = Logger(label: "crowd-notifier.webex")
        logger.logLevel = .critical
        let configuration = WebexConfiguration(baseURL: base, token: webex.token, destination: destination, retry: RetryPolicy(maxAttempts: 2))
        return (WebexClient(configuration: configuration, logger: logger), secret, settings)
    }

    struct Webhook: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "webhook",
            abstract: "Create the attachmentActions webhook with the secret, or update the one CrowdKit made (by name).")

        @OptionGroup var detection: DetectionOptions
        @OptionGroup var notifiers: NotifierOptions
        @OptionGroup var storeWeb: WebOptions
        @Option(name: .customLong("target-url"), help: "Where Webex posts: this app's https://host/webhooks/webex.")
        var targetURL: String

        func run() async throws {
            guard let url = URL(string: targetURL), let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http", url.host != nil else {
                throw ValidationError("--target-url must be an http(s) URL (got \"\(targetURL)\")")
            }
            let (client, secret, _) = try await WebexCommand.client(notifiers, detection, storeWeb)
            do {
                let id = try await client.ensureWebhook(targetURL: url, secret: secret)
                print("webex webhook \(WebexClient.webhookName) (\(id)) posts button presses to \(Redactor.redact(url: url))")
            } catch {
                printError("crowd-notifier: \(error)")
                throw ExitCode(1)
            }
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Report whether the webhook exists and, with --target-url, whether it points there.",
            discussion: "Exit status: 0 when it does, 1 when it is missing or points elsewhere or the call fails, 78 for an invalid configuration.")

        @OptionGroup var detection: DetectionOptions
        @OptionGroup var notifiers: NotifierOptions
        @OptionGroup var storeWeb: WebOptions
        @Option(name: .customLong("target-url"), help: "The URL the webhook should post to.")
        var targetURL: String?

        func run() async throws {
            let (client, _, _) = try await WebexCommand.client(notifiers, detection, storeWeb)
            let expected = targetURL
            do {
                guard let hook = try await client.webhook() else {
                    print("webex webhook \(WebexClient.webhookName): missing (create it with: crowd-notifier webex webhook --target-url URL)")
                    throw ExitCode(1)
                }
                print("webex webhook \(hook.name) (\(hook.id)): \(hook.resource)/\(hook.event) to \(hook.targetURL)")
                if let expected, expected != hook.targetURL {
                    print("webex webhook: points elsewhere than \(expected)")
                    throw ExitCode(1)
                }
            } catch let error as WebexError {
                printError("crowd-notifier: \(error)")
                throw ExitCode(1)
            }
        }
    }
}
