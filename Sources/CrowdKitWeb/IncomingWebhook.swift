import Foundation

/// A webhook the app receives (Webex button presses): the raw body and the signature header go
/// to `receive`, which checks the signature itself and returns the status to answer with, at
/// once (the work is queued).
public struct IncomingWebhook: Sendable {
    /// Where Webex posts: `POST /webhooks/webex`.
    public static let webexPath = "/webhooks/webex"

    /// The header holding the signature (`X-Spark-Signature`).
    public var signatureHeader: String
    /// Larger bodies are answered 413 without being read further (default 1 MiB).
    public var maxBodyBytes: Int
    /// Checks and queues one delivery: the raw body and the signature header (if any); returns
    /// the HTTP status (2xx, 401).
    public var receive: @Sendable (Data, String?) async -> Int

    public init(signatureHeader: String = "X-Spark-Signature", maxBodyBytes: Int = 1 << 20, receive: @escaping @Sendable (Data, String?) async -> Int) {
        self.signatureHeader = signatureHeader
        self.maxBodyBytes = maxBodyBytes
        self.receive = receive
    }
}
