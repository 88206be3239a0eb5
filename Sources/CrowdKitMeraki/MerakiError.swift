import CrowdKitHTTP

/// Why a Meraki Dashboard API call failed. Never carries the API key.
public struct MerakiError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: String, Hashable, Sendable { case http, decoding, snapshotNotReady, invalidRequest }
        fileprivate let value: Value
        /// The HTTP call failed (see ``MerakiError/http``).
        public static let http = Code(value: .http)
        /// The answer was not what the API documents.
        public static let decoding = Code(value: .decoding)
        /// The snapshot image was still not ready after the configured polls.
        public static let snapshotNotReady = Code(value: .snapshotNotReady)
        /// The request could not be built (bad serial, base URL).
        public static let invalidRequest = Code(value: .invalidRequest)
        public var description: String { value.rawValue }
    }

    public var code: Code
    /// What went wrong, in words (with the API's `errors` text when it sent one).
    public var message: String
    /// The underlying HTTP failure, when there was one.
    public var http: HTTPError?

    public init(_ code: Code, _ message: String, http: HTTPError? = nil) {
        self.code = code
        self.message = message
        self.http = http
    }

    /// The HTTP status, when the API answered.
    public var status: Int? { http?.status }

    public var description: String {
        if let http { return "Meraki: \(message) (\(http))" }
        return "Meraki: \(message)"
    }
}
