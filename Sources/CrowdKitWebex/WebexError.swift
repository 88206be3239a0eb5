import CrowdKitCore
import CrowdKitHTTP

/// Why a Webex call failed. Carries the status, Webex's message and `trackingId`; never the token.
public struct WebexError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: String, Hashable, Sendable { case http, decoding, invalidMessage, invalidTemplate }
        fileprivate let value: Value
        /// The HTTP call failed (see ``WebexError/http``).
        public static let http = Code(value: .http)
        /// The answer was not what the API documents.
        public static let decoding = Code(value: .decoding)
        /// The message cannot be sent (empty, bad file).
        public static let invalidMessage = Code(value: .invalidMessage)
        /// A replacement template (a message text or the card) cannot be used; the message says why.
        public static let invalidTemplate = Code(value: .invalidTemplate)
        public var description: String { value.rawValue }
    }

    public var code: Code
    public var message: String
    /// Webex's `trackingId` (body) or `TrackingID` header, for Webex support.
    public var trackingID: String?
    public var http: HTTPError?

    public init(_ code: Code, _ message: String, trackingID: String? = nil, http: HTTPError? = nil) {
        self.code = code
        self.message = message
        self.trackingID = trackingID
        self.http = http
    }

    public var status: Int? { http?.status }

    public var description: String {
        var s = "Webex: \(message)"
        if let status { s += " (HTTP \(status))" } else if let http { s += " (\(http.code))" }
        if let trackingID { s += " [trackingId \(trackingID)]" }
        return s
    }

    /// The notifier-level view: transient for 429/423/5xx/timeouts, permanent otherwise.
    public var notificationError: NotificationError {
        NotificationError(http?.isTransient == true ? .transient : .permanent, description, retryAfter: http?.retryAfter)
    }
}
