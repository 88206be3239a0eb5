import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Why an HTTP request failed. Carries the method, the redacted URL, the status and a redacted
/// excerpt of the answer; never a header value, token or key.
public struct HTTPError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: String, Hashable, Sendable {
            case status, timedOut, connectionFailed, tooManyRedirects, redirectRefused, invalidResponse, cancelled
            case deadlineExceeded
        }
        fileprivate let value: Value
        /// The server answered with a status the caller does not accept (see ``HTTPError/status``).
        public static let status = Code(value: .status)
        /// No answer in time.
        public static let timedOut = Code(value: .timedOut)
        /// No connection (refused, reset, DNS, TLS).
        public static let connectionFailed = Code(value: .connectionFailed)
        /// More redirects than allowed.
        public static let tooManyRedirects = Code(value: .tooManyRedirects)
        /// A redirect to a place the client will not follow (bad `Location`, another scheme).
        public static let redirectRefused = Code(value: .redirectRefused)
        /// The answer could not be understood.
        public static let invalidResponse = Code(value: .invalidResponse)
        /// The calling task was cancelled.
        public static let cancelled = Code(value: .cancelled)
        /// The retry policy's total time ran out before the next attempt could start.
        public static let deadlineExceeded = Code(value: .deadlineExceeded)
        public var description: String { value.rawValue }
    }

    public var code: Code
    public var method: String
    /// The request URL with secrets removed (query values of token-like keys, user info).
    public var url: String
    /// The HTTP status, when the server answered.
    public var status: Int?
    /// What went wrong, in words: redacted, at most a few hundred characters of the answer.
    public var message: String
    /// Attempts made (1 when not retried).
    public var attempts: Int
    /// What the server asked for in `Retry-After`, when it did.
    public var retryAfter: Duration?
    /// `X-Request-Id` (Meraki) or `TrackingID` (Webex) of the last answer, when present.
    public var requestID: String?

    public init(
        _ code: Code, method: String, url: URL, status: Int? = nil, message: String, attempts: Int = 1,
        retryAfter: Duration? = nil, requestID: String? = nil
    ) {
        self.code = code
        self.method = method
        self.url = Redactor.redact(url: url)
        self.status = status
        self.message = message
        self.attempts = attempts
        self.retryAfter = retryAfter
        self.requestID = requestID
    }

    /// Whether trying again may help: timeouts, connection failures, 408, 423, 425, 429 and 5xx.
    public var isTransient: Bool {
        switch code.value {
        case .timedOut, .connectionFailed, .deadlineExceeded: return true
        case .status: return status.map(RetryPolicy.isRetryableStatus) ?? false
        default: return false
        }
    }

    public var description: String {
        var s = "\(method) \(url) failed"
        if let status { s += " with HTTP \(status)" } else { s += " (\(code))" }
        if !message.isEmpty { s += ": \(message)" }
        if attempts > 1 { s += " after \(attempts) attempts" }
        if let requestID { s += " [request id \(requestID)]" }
        return s
    }

    static func from(transportError error: any Error, method: String, url: URL) -> HTTPError {
        if error is CancellationError {
            return HTTPError(.cancelled, method: method, url: url, message: "cancelled")
        }
        if let urlError = error as? URLError {
            switch urlError.code {
            case .timedOut:
                return HTTPError(.timedOut, method: method, url: url, message: "timed out")
            case .cancelled:
                return HTTPError(.cancelled, method: method, url: url, message: "cancelled")
            case .badServerResponse, .cannotParseResponse:
                return HTTPError(.invalidResponse, method: method, url: url, message: "bad server response")
            default:
                return HTTPError(
                    .connectionFailed, method: method, url: url, message: "connection failed (URLError \(urlError.code.rawValue))")
            }
        }
        let ns = error as NSError
        return HTTPError(.connectionFailed, method: method, url: url, message: "connection failed (\(ns.domain) \(ns.code))")
    }
}
