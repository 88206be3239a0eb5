import CrowdKitCore
import CrowdKitHTTP
import Foundation
import Logging

/// A Meraki Dashboard API v1 client: video links, snapshots, camera names and zone labels.
///
/// Every call goes through one ``RateLimiter`` (``MerakiConfiguration/requestsPerSecond``),
/// authenticates with `Authorization: Bearer <key>`, follows redirects itself (the key goes only
/// to the base URL's host and Meraki domains), retries 429/5xx per ``MerakiConfiguration/retry``
/// and never logs the key. Logs `X-Request-Id` of failed calls.
public struct MerakiClient: Sendable {
    public let configuration: MerakiConfiguration
    private let api: HTTPClient
    /// The limiter every Dashboard API call goes through (``MerakiConfiguration/requestsPerSecond``);
    /// several instances share the budget through it (``MerakiBudget``).
    public let rateLimiter: RateLimiter
    /// For the snapshot image: no credentials, no rate limit (it is not a Dashboard API call).
    private let images: HTTPClient
    private let logger: Logger

    public init(configuration: MerakiConfiguration, transport: any HTTPTransport = URLSessionTransport.shared, logger: Logger) {
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "meraki.base.url"] = "\(Redactor.redact(url: configuration.baseURL))"
        self.logger = logger
        var hosts: Set<String> = []
        if let host = configuration.baseURL.host { hosts.insert(host) }
        let redactor = Redactor(secrets: [configuration.apiKey])
        let http = HTTPClientConfiguration(
            timeout: configuration.timeout, retry: configuration.retry,
            credentialHosts: CredentialHosts(hosts: hosts, domains: configuration.credentialDomains),
            redactor: redactor, userAgent: "CrowdKit/1 CrowdKitMeraki")
        let limiter = RateLimiter(limit: configuration.requestsPerSecond, per: .seconds(1))
        self.rateLimiter = limiter
        self.api = HTTPClient(transport: transport, configuration: http, rateLimiter: limiter, logger: logger)
        var imageHTTP = http
        imageHTTP.credentialHosts = .sameHostOnly
        imageHTTP.retry = RetryPolicy(maxAttempts: 2, maxTotalTime: .seconds(20))
        self.images = HTTPClient(transport: transport, configuration: imageHTTP, logger: logger)
    }

    // MARK: Video link

    /// `GET /devices/{serial}/camera/videoLink?timestamp=<ISO 8601>`: links to the video at `time`
    /// (the episode start), or at "now" when `time` is `nil`.
    public func videoLink(serial: String, at time: Date?) async throws(MerakiError) -> MerakiVideoLink {
        var query: [URLQueryItem] = []
        if let time { query.append(URLQueryItem(name: "timestamp", value: Self.iso8601(time))) }
        let response = try await call("GET", ["devices", serial, "camera", "videoLink"], query: query)
        return try decode(MerakiVideoLink.self, from: response, what: "video link")
    }

    // MARK: Snapshot

    /// `POST /devices/{serial}/camera/generateSnapshot` with `{"timestamp": ...}` (or `{}` for now).
    /// A `400` "No video for specified timestamp" is retried once without a timestamp.
    public func generateSnapshot(serial: String, at time: Date?) async throws(MerakiError) -> MerakiSnapshot {
        var body: [String: String] = [:]
        if let time { body["timestamp"] = Self.iso8601(time) }
        do {
            return try await generateSnapshot(serial: serial, body: body, fallback: false)
        } catch let error where time != nil && error.status == 400
            && (error.http?.message.lowercased().contains("no video") ?? false)
        {
            logger.info(
                "Meraki has no video at the snapshot time; taking a snapshot of now",
                metadata: ["crowd.camera": "\(serial)"])
            return try await generateSnapshot(serial: serial, body: [:], fallback: true)
        }
    }

    private func generateSnapshot(serial: String, body: [String: String], fallback: Bool) async throws(MerakiError)
        -> MerakiSnapshot
    {
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data("{}".utf8)
        let response = try await call("POST", ["devices", serial, "camera", "generateSnapshot"], body: data)
        struct Answer: Decodable {
            var url: String?
            var expiry: String?
        }
        let answer = try decode(Answer.self, from: response, what: "snapshot")
        guard let text = answer.url, let url = URL(string: text), url.scheme != nil else {
            throw MerakiError(.decoding, "the snapshot answer has no image url")
        }
        return MerakiSnapshot(url: url, expiry: answer.expiry, usedFallbackToNow: fallback)
    }

    /// Waits until the snapshot image is ready (it answers 404 until then: first look after
    /// ``MerakiConfiguration/snapshotInitialDelay``, then every
    /// ``MerakiConfiguration/snapshotPollInterval``, at most ``MerakiConfiguration/snapshotMaxPolls``
    /// looks) and downloads it.
    public func downloadSnapshot(_ snapshot: MerakiSnapshot) async throws(MerakiError) -> MerakiSnapshotImage {
        do {
            try await Task.sleep(for: configuration.snapshotInitialDelay)
        } catch {
            throw MerakiError(.http, "cancelled")
        }
        var polls = 0
        while true {
            polls += 1
            let response: HTTPResponse
            do {
                response = try await images.send(
                    HTTPRequest(method: "GET", url: snapshot.url, headers: ["Accept": "image/*"]),
                    accept: { (200..<300).contains($0) || $0 == 404 })
            } catch {
                throw MerakiError(.http, "cannot download the snapshot image", http: error)
            }
            if response.status != 404 {
                return MerakiSnapshotImage(
                    snapshot: snapshot, data: response.body, contentType: response.headers["Content-Type"] ?? "image/jpeg")
            }
            if polls >= configuration.snapshotMaxPolls {
                throw MerakiError(.snapshotNotReady, "the snapshot image was not ready after \(polls) looks")
            }
            logger.trace("Snapshot image not ready yet", metadata: ["meraki.snapshot.polls": "\(polls)"])
            do {
                try await Task.sleep(for: configuration.snapshotPollInterval)
            } catch {
                throw MerakiError(.http, "cancelled")
            }
        }
    }

    /// Generates a snapshot at `time` (falling back to now), waits until it is ready and downloads it.
    public func snapshotImage(serial: String, at time: Date?) async throws(MerakiError) -> MerakiSnapshotImage {
        let snapshot = try await generateSnapshot(serial: serial, at: time)
        return try await downloadSnapshot(snapshot)
    }

    // MARK: Names

    /// `GET /networks/{networkId}/devices`.
    public func networkDevices(networkID: String) async throws(MerakiError) -> [MerakiDevice] {
        let response = try await call("GET", ["networks", networkID, "devices"])
        return try decode([MerakiDevice].self, from: response, what: "network devices")
    }

    /// `GET /organizations`: the organizations the API key can see (names), to check a key.
    public func organizations() async throws(MerakiError) -> [String] {
        let response = try await call("GET", ["organizations"])
        struct Organization: Decodable { var id: String?; var name: String? }
        return try decode([Organization].self, from: response, what: "organizations").map { $0.name ?? $0.id ?? "?" }
    }

    /// `GET /networks/{networkId}`: the organization the network belongs to.
    public func organizationID(networkID: String) async throws(MerakiError) -> String {
        let response = try await call("GET", ["networks", networkID])
        struct Network: Decodable { var organizationId: String? }
        guard let id = try decode(Network.self, from: response, what: "network").organizationId, !id.isEmpty else {
            throw MerakiError(.decoding, "network \(networkID) has no organizationId")
        }
        return id
    }

    /// `GET /organizations/{organizationId}/camera/boundaries/{areas|lines}/byDevice?serials[]=…`:
    /// the areas or lines drawn on the cameras (Areas & Lines), with their names.
    public func boundaries(_ kind: MerakiBoundaryKind, organizationID: String, serials: [String]) async throws(MerakiError)
        -> [MerakiDeviceBoundaries]
    {
        let response = try await call(
            "GET", ["organizations", organizationID, "camera", "boundaries", kind.rawValue, "byDevice"],
            query: serials.map { URLQueryItem(name: "serials[]", value: $0) })
        return try decode([MerakiDeviceBoundaries].self, from: response, what: "camera boundaries (\(kind.rawValue))")
    }

    /// `GET /devices/{serial}/camera/analytics/zones` (deprecated by Meraki in March 2024; the
    /// name directory uses it only when the boundaries give no name).
    public func cameraZones(serial: String) async throws(MerakiError) -> [MerakiCameraZone] {
        let response = try await call("GET", ["devices", serial, "camera", "analytics", "zones"])
        return try decode([MerakiCameraZone].self, from: response, what: "camera zones")
    }

    // MARK: Plumbing

    func url(_ segments: [String], query: [URLQueryItem] = []) throws(MerakiError) -> URL {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove("/")
        var text = configuration.baseURL.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        for segment in segments {
            guard !segment.isEmpty, let encoded = segment.addingPercentEncoding(withAllowedCharacters: allowed) else {
                throw MerakiError(.invalidRequest, "empty or invalid path segment")
            }
            text += "/" + encoded
        }
        guard var components = URLComponents(string: text) else {
            throw MerakiError(.invalidRequest, "invalid base URL")
        }
        if !query.isEmpty {
            components.queryItems = query
            // `+` in an ISO 8601 offset must not become a space.
            components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        }
        guard let url = components.url else { throw MerakiError(.invalidRequest, "invalid URL") }
        return url
    }

    private func call(_ method: String, _ segments: [String], query: [URLQueryItem] = [], body: Data? = nil)
        async throws(MerakiError) -> HTTPResponse
    {
        let url = try url(segments, query: query)
        var headers: HTTPHeaders = ["Authorization": "Bearer \(configuration.apiKey)", "Accept": "application/json"]
        if body != nil { headers["Content-Type"] = "application/json" }
        do {
            return try await api.send(HTTPRequest(method: method, url: url, headers: headers, body: body))
        } catch {
            let apiText = Self.apiErrors(error.message)
            let what = "\(method) \(segments.first ?? "")/… failed" + (apiText.map { ": \($0)" } ?? "")
            if (error.status ?? 0) >= 500 || error.status == nil {
                logger.warning(
                    "Meraki API call failed",
                    metadata: [
                        "http.status": "\(error.status.map(String.init) ?? "-")",
                        "http.request.id": "\(error.requestID ?? "-")", "error": "\(error)",
                    ])
            }
            throw MerakiError(.http, what, http: error)
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, from response: HTTPResponse, what: String) throws(MerakiError) -> T {
        do {
            return try JSONDecoder().decode(type, from: response.body)
        } catch {
            throw MerakiError(.decoding, "unexpected \(what) answer")
        }
    }

    /// The `errors` list of a Meraki error body (`{"errors": ["..."]}`), joined.
    static func apiErrors(_ excerpt: String) -> String? {
        guard let data = excerpt.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let errors = object["errors"] as? [String], !errors.isEmpty
        else { return nil }
        return errors.joined(separator: "; ")
    }

    /// `2024-05-02T07:10:00Z` (UTC, second precision).
    /// Computed directly (an `ISO8601DateFormatter` costs more than the rest of the request).
    public static func iso8601(_ date: Date) -> String {
        TextFormat.iso8601(Int64((date.timeIntervalSince1970 * 1000).rounded(.down)), milliseconds: false)
    }
}
