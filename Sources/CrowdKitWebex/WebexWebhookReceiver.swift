import CrowdKitCore
import CrowdKitHTTP
import Foundation
import Logging

/// Receives Webex webhooks (`POST /webhooks/webex`): button presses on crowd cards.
///
/// ``receive(body:signature:)`` answers at once: it checks `X-Spark-Signature` (hex HMAC-SHA1
/// of the raw body keyed with the webhook secret, compared in constant time) and queues the
/// attachment action; ``run()`` works the queue: it fetches `GET /v1/attachment/actions/{id}`,
/// reads the card inputs (``WebexCardAction``), looks the person up (`GET /v1/people/{id}`) to
/// check ``Configuration/allowedActors``, and hands the action to `perform`.
///
/// Anything that is not a signed `attachmentActions`/`created` webhook with an action id is
/// answered 2xx (Webex retries other answers) and logged once; a bad or missing signature is
/// 401. The same action id is queued once (the last ``Configuration/rememberedActions`` ids are
/// kept in memory); ``WebexCardActionPerformer`` also claims each id in the store, so that a
/// repeat after a restart or on another instance does nothing. Secrets never reach a log line
/// or an error.
public final class WebexWebhookReceiver: Sendable {
    public struct Configuration: Sendable {
        /// The webhook's `secret` (`webex.webhookSecret`).
        public var secret: String
        /// Who may press the buttons: e-mail addresses or `@domain`; empty admits anyone who can
        /// post in the room.
        public var allowedActors: [String]
        /// Webhooks waiting to be worked; more are answered 2xx and dropped (logged).
        public var queueCapacity: Int
        /// Action ids remembered for de-duplication.
        public var rememberedActions: Int

        public init(secret: String, allowedActors: [String] = [], queueCapacity: Int = 1000, rememberedActions: Int = 10_000) {
            self.secret = secret
            self.allowedActors = allowedActors.map { $0.lowercased().trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            self.queueCapacity = max(1, queueCapacity)
            self.rememberedActions = max(1, rememberedActions)
        }

        /// Whether an address is admitted.
        public func admits(email: String) -> Bool {
            guard !allowedActors.isEmpty else { return true }
            let e = email.lowercased()
            return allowedActors.contains { $0.hasPrefix("@") ? e.hasSuffix($0) : e == $0 }
        }
    }

    /// The answer to one webhook delivery.
    public enum Answer: Hashable, Sendable {
        /// Queued (200).
        case accepted
        /// Nothing to do (200; logged once): not JSON, another resource or event, a repeat.
        case ignored(String)
        /// Signature missing or wrong (401).
        case unauthorized

        /// The HTTP status to answer with.
        public var status: Int { self == .unauthorized ? 401 : 200 }
    }

    public typealias Perform = @Sendable (WebexCardAction) async throws -> WebexCardActionPerformer.Outcome

    /// The header Webex signs with.
    public static let signatureHeader = "X-Spark-Signature"
    /// Bodies larger than this are refused (413) by the route.
    public static let maxBodyBytes = 1 << 20

    public let configuration: Configuration
    private let client: WebexClient
    private let perform: Perform
    private let logger: Logger
    private let queue: AsyncStream<String>
    private let input: AsyncStream<String>.Continuation
    private let seen = LockedBox<(ids: Set<String>, order: [String])>(([], []))
    private let handled = LockedBox<Int>(0)

    public init(configuration: Configuration, client: WebexClient, logger: Logger, perform: @escaping Perform) {
        self.configuration = configuration
        self.client = client
        self.perform = perform
        var logger = logger
        logger[metadataKey: "webhook"] = "webex"
        self.logger = logger
        let (queue, input) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingOldest(configuration.queueCapacity))
        self.queue = queue
        self.input = input
    }

    /// Webhooks worked off by ``run()`` so far (whatever came of them).
    public var processedCount: Int { handled.withLock { $0 } }

    /// Checks and queues one delivery; never waits.
    public func receive(body: Data, signature: String?) -> Answer {
        guard let signature, !configuration.secret.isEmpty,
            HMACSHA1.isValid(signature: signature, for: body, key: Array(configuration.secret.utf8))
        else {
            logger.warning("Webex webhook refused: \(signature == nil ? "no" : "wrong") signature")
            return .unauthorized
        }
        struct Envelope: Decodable {
            struct DataPart: Decodable { var id: String? }
            var resource: String?
            var event: String?
            var data: DataPart?
        }
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: body) else {
            return ignored("the body is not a webhook's JSON")
        }
        guard envelope.resource == "attachmentActions" else { return ignored("resource \(envelope.resource ?? "none")") }
        guard envelope.event == "created" else { return ignored("event \(envelope.event ?? "none")") }
        guard let id = envelope.data?.id, !id.isEmpty, id.count <= 512 else { return ignored("no action id") }
        let fresh = seen.withLock { seen -> Bool in
            guard seen.ids.insert(id).inserted else { return false }
            seen.order.append(id)
            if seen.order.count > configuration.rememberedActions {
                seen.ids.remove(seen.order.removeFirst())
            }
            return true
        }
        guard fresh else { return ignored("action \(id) already received") }
        if case .dropped = input.yield(id) {
            logger.warning("Webex webhook dropped: the queue is full", metadata: ["webex.action.id": "\(id)"])
        }
        return .accepted
    }

    private func ignored(_ reason: String) -> Answer {
        logger.notice("Webex webhook ignored: \(reason)")
        return .ignored(reason)
    }

    /// Works the queue until the task is cancelled.
    public func run() async {
        await withTaskCancellationHandler {
            for await id in queue {
                await process(actionID: id)
                handled.withLock { $0 += 1 }
            }
        } onCancel: {
            input.finish()
        }
    }

    private func process(actionID id: String) async {
        let metadata: Logger.Metadata = ["webex.action.id": "\(id)"]
        struct Fetched: Decodable {
            var personId: String?
            var roomId: String?
            var messageId: String?
        }
        let data: Data
        do {
            data = try await client.get("attachment/actions/\(id)")
        } catch {
            logger.warning("Cannot fetch the Webex card action", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return
        }
        let fetched = try? JSONDecoder().decode(Fetched.self, from: data)
        let inputs = ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["inputs"] as? [String: Any] ?? [:]
        guard let personID = fetched?.personId, let parsed = WebexCardAction.parse(inputs: inputs) else {
            logger.notice("Webex card action ignored: not one of the card's buttons", metadata: metadata)
            return
        }
        let (kind, eventID) = parsed
        var email: String?
        do {
            struct Person: Decodable { var emails: [String]? }
            email = try JSONDecoder().decode(Person.self, from: try await client.get("people/\(personID)")).emails?.first
        } catch {
            // the e-mail is needed only to check allowedActors; the audit then names the person id
            if !configuration.allowedActors.isEmpty {
                logger.warning("Webex card action refused: cannot look the person up", metadata: metadata.merging(["error": "\(error)"]) { $1 })
                return
            }
        }
        guard configuration.allowedActors.isEmpty || email.map(configuration.admits(email:)) == true else {
            logger.notice("Webex card action refused: the person is not in webex.allowedActors", metadata: metadata)
            return
        }
        let action = WebexCardAction(
            id: id, kind: kind, eventID: eventID, personID: personID, personEmail: email, messageID: fetched?.messageId, roomID: fetched?.roomId)
        do {
            let outcome = try await perform(action)
            logger.info(
                "Webex card action: \(outcome)",
                metadata: metadata.merging(["crowd.event": "\(eventID)", "webex.action": "\(kind)", "webex.actor": "\(action.actor)"]) { $1 })
        } catch {
            logger.error("Webex card action failed", metadata: metadata.merging(["crowd.event": "\(eventID)", "error": "\(error)"]) { $1 })
        }
    }
}
