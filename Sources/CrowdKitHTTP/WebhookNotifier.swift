import CrowdKitCore
import Foundation
import Logging

/// A ``Notifier`` that POSTs each notification as JSON to a URL (an integrator's endpoint, or a
/// chat tool's incoming webhook).
///
/// Body (`Content-Type: application/json`):
/// `{"kind": "fired", "deliveryId": "...", "attempt": 1, "sequence": 0, "event": {CrowdEvent}}`.
/// Headers: `X-CrowdKit-Delivery` (the delivery id, stable across retries: use it to
/// de-duplicate), `X-CrowdKit-Event` (the kind) and, with a shared secret,
/// `X-CrowdKit-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>`.
/// Any 2xx is success; 4xx other than 408/423/425/429 is permanent.
public struct WebhookNotifier: Notifier {
    public struct Configuration: Sendable {
        public var url: URL
        /// Shared secret for the signature header; `nil` sends no signature.
        public var secret: String?
        /// Extra headers (for example an API key the receiver wants); values are never logged.
        public var headers: HTTPHeaders
        public var http: HTTPClientConfiguration

        public init(url: URL, secret: String? = nil, headers: HTTPHeaders = [:], http: HTTPClientConfiguration = .init()) {
            self.url = url
            self.secret = secret
            self.headers = headers
            self.http = http
        }
    }

    public static let signatureHeader = "X-CrowdKit-Signature"
    public static let deliveryHeader = "X-CrowdKit-Delivery"

    public let name: String
    private let configuration: Configuration
    private let client: HTTPClient

    public init(
        name: String = "webhook", configuration: Configuration, transport: any HTTPTransport = URLSessionTransport.shared,
        logger: Logger
    ) {
        self.name = name
        self.configuration = configuration
        var http = configuration.http
        var secrets = http.redactor.secrets
        if let secret = configuration.secret { secrets.append(secret) }
        secrets += configuration.headers.map(\.value)
        http.redactor = Redactor(secrets: secrets)
        var logger = logger
        logger[metadataKey: "notifier"] = "\(name)"
        self.client = HTTPClient(transport: transport, configuration: http, logger: logger)
    }

    struct Payload: Encodable {
        var kind: NotificationKind
        var deliveryId: String
        var attempt: Int
        var sequence: Int
        var event: CrowdEvent
    }

    /// The exact JSON body sent for `notification`.
    public static func body(for notification: CrowdNotification) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(
            Payload(
                kind: notification.kind, deliveryId: notification.deliveryID, attempt: notification.attempt,
                sequence: notification.sequence, event: notification.event))
    }

    public func send(_ notification: CrowdNotification) async throws -> NotificationReceipt {
        let body: Data
        do { body = try Self.body(for: notification) } catch {
            throw NotificationError(.permanent, "webhook: cannot encode the event: \(error)")
        }
        var headers = configuration.headers
        headers["Content-Type"] = "application/json"
        headers[Self.deliveryHeader] = notification.deliveryID
        headers["X-CrowdKit-Event"] = notification.kind.rawValue
        if let secret = configuration.secret {
            headers[Self.signatureHeader] = "sha256=" + HMACSHA256.hex(for: body, key: Array(secret.utf8))
        }
        do {
            let response = try await client.send(HTTPRequest(method: "POST", url: configuration.url, headers: headers, body: body))
            return NotificationReceipt(remoteID: response.headers["X-Request-Id"])
        } catch {
            throw error.notificationError
        }
    }
}
