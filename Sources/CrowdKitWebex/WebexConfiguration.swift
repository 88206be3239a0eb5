import CrowdKitCore
import CrowdKitHTTP
import Foundation

/// Where a Webex message goes: exactly one of a room, a person id or a person e-mail.
public enum WebexDestination: Sendable, Hashable {
    case room(id: String)
    case person(id: String)
    case personEmail(String)

    /// Builds the destination from the three optional settings; exactly one must be set
    /// (non-empty), otherwise it throws a ``CrowdKitCore/ConfigurationError``.
    public init(roomID: String?, toPersonID: String?, toPersonEmail: String?) throws {
        func clean(_ s: String?) -> String? {
            guard let t = s?.trimmingCharacters(in: .whitespacesAndNewlines), !t.isEmpty else { return nil }
            return t
        }
        let set = [clean(roomID).map(Self.room(id:)), clean(toPersonID).map(Self.person(id:)), clean(toPersonEmail).map(Self.personEmail)]
            .compactMap { $0 }
        guard set.count == 1, let only = set.first else {
            throw ConfigurationError(
                key: "webex.roomId|webex.toPersonId|webex.toPersonEmail",
                expected: "exactly one of a room id, a person id or a person e-mail",
                got: set.isEmpty ? "none" : "\(set.count) destinations")
        }
        self = only
    }

    /// The message field name (`roomId`, `toPersonId`, `toPersonEmail`) and its value.
    public var field: (name: String, value: String) {
        switch self {
        case .room(let id): ("roomId", id)
        case .person(let id): ("toPersonId", id)
        case .personEmail(let email): ("toPersonEmail", email)
        }
    }
}

/// Settings of a ``WebexClient``.
public struct WebexConfiguration: Sendable {
    /// `https://webexapis.com/v1` by default.
    public var baseURL: URL
    /// The bot's access token (`Authorization: Bearer`; never logged).
    public var token: String
    public var destination: WebexDestination
    /// Time limit of one HTTP attempt.
    public var timeout: Duration
    /// Retries of 429/423 (with `Retry-After`, 15 s when missing) and 5xx; never 400/401/403/404.
    /// One attempt by default: behind a `DeliveryService` (the usual case) retries are the
    /// delivery service's alone, one layer with one budget, so that an outage costs one request
    /// per delivery attempt (not four inside each). Set more attempts when you use the client on
    /// its own.
    public var retry: RetryPolicy

    public static let defaultBaseURL = URL(string: "https://webexapis.com/v1")!

    public init(
        baseURL: URL = WebexConfiguration.defaultBaseURL, token: String, destination: WebexDestination,
        timeout: Duration = .seconds(15),
        retry: RetryPolicy = RetryPolicy(maxAttempts: 1, defaultRetryAfter: .seconds(15))
    ) {
        self.baseURL = baseURL
        self.token = token
        self.destination = destination
        self.timeout = timeout
        self.retry = retry
    }
}
