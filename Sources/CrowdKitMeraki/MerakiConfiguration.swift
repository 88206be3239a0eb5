import CrowdKitHTTP
import Foundation

/// Settings of a ``MerakiClient``.
public struct MerakiConfiguration: Sendable {
    /// `https://api.meraki.com/api/v1` by default; regional hosts: `api.meraki.ca`,
    /// `api.meraki.cn`, `api.meraki.in`, `api.gov-meraki.com`.
    public var baseURL: URL
    /// The Dashboard API key (sent as `Authorization: Bearer`; never logged).
    public var apiKey: String
    /// The network whose devices give camera names; `nil` leaves camera names unknown.
    public var networkID: String?
    /// The organization whose camera boundaries (Areas & Lines) name areas and lines; `nil`: the
    /// network's organization (one lookup), or none without a network.
    public var organizationID: String?
    /// Client-side rate limit shared by every call of the client (Meraki allows 10/s per org).
    public var requestsPerSecond: Int
    /// Time limit of one HTTP attempt.
    public var timeout: Duration
    public var retry: RetryPolicy
    /// Hosts (besides the base URL's) that may receive the key after a redirect.
    public var credentialDomains: [String]
    /// Wait after `generateSnapshot` before the first look at the image.
    public var snapshotInitialDelay: Duration
    /// Wait between looks at the image while it answers 404.
    public var snapshotPollInterval: Duration
    /// Looks at the image before giving up.
    public var snapshotMaxPolls: Int
    /// How long camera names and zone labels are kept before they are fetched again.
    public var namesRefreshInterval: Duration
    /// After a failed names fetch, wait this long before trying again (no fetch per message).
    public var namesRetryInterval: Duration

    public static let defaultBaseURL = URL(string: "https://api.meraki.com/api/v1")!
    public static let merakiDomains = ["meraki.com", "meraki.ca", "meraki.cn", "meraki.in", "gov-meraki.com"]

    public init(
        baseURL: URL = MerakiConfiguration.defaultBaseURL, apiKey: String, networkID: String? = nil,
        requestsPerSecond: Int = 10, timeout: Duration = .seconds(10),
        retry: RetryPolicy = RetryPolicy(maxAttempts: 4, maxTotalTime: .seconds(60), maxBackoff: .seconds(60)),
        credentialDomains: [String] = MerakiConfiguration.merakiDomains,
        snapshotInitialDelay: Duration = .seconds(5), snapshotPollInterval: Duration = .seconds(2), snapshotMaxPolls: Int = 10,
        namesRefreshInterval: Duration = .seconds(900), namesRetryInterval: Duration = .seconds(60),
        organizationID: String? = nil
    ) {
        self.organizationID = organizationID
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.networkID = networkID
        self.requestsPerSecond = requestsPerSecond
        self.timeout = timeout
        self.retry = retry
        self.credentialDomains = credentialDomains
        self.snapshotInitialDelay = snapshotInitialDelay
        self.snapshotPollInterval = snapshotPollInterval
        self.snapshotMaxPolls = snapshotMaxPolls
        self.namesRefreshInterval = namesRefreshInterval
        self.namesRetryInterval = namesRetryInterval
    }
}
