import Foundation
import Logging

/// Hosts that may receive the credentials (`Authorization`) after a redirect to another host.
public struct CredentialHosts: Sendable, Hashable {
    /// Exact host names.
    public var hosts: Set<String>
    /// Domain suffixes: `meraki.com` admits `meraki.com` and `n123.meraki.com`.
    public var domains: [String]

    public init(hosts: Set<String> = [], domains: [String] = []) {
        self.hosts = Set(hosts.map { $0.lowercased() })
        self.domains = domains.map { $0.lowercased() }
    }

    /// Only the host the request was first sent to.
    public static let sameHostOnly = CredentialHosts()

    public func allows(_ host: String) -> Bool {
        let h = host.lowercased()
        if hosts.contains(h) { return true }
        return domains.contains { h == $0 || h.hasSuffix("." + $0) }
    }
}

/// Settings of an ``HTTPClient``.
public struct HTTPClientConfiguration: Sendable, Hashable {
    /// Time limit of one attempt.
    public var timeout: Duration
    public var retry: RetryPolicy
    /// Redirects followed per attempt (the client follows them itself).
    public var maxRedirects: Int
    /// Where `Authorization` may go after a cross-host redirect (it is dropped elsewhere).
    public var credentialHosts: CredentialHosts
    /// Masks secrets in log lines and errors; put the token or key in ``Redactor/secrets``.
    public var redactor: Redactor
    public var userAgent: String

    public init(
        timeout: Duration = .seconds(10), retry: RetryPolicy = .default, maxRedirects: Int = 5,
        credentialHosts: CredentialHosts = .sameHostOnly, redactor: Redactor = Redactor(),
        userAgent: String = "CrowdKit/1"
    ) {
        self.timeout = timeout
        self.retry = retry
        self.maxRedirects = maxRedirects
        self.credentialHosts = credentialHosts
        self.redactor = redactor
        self.userAgent = userAgent
    }
}

/// The HTTP client used by the Meraki and Webex clients and the webhook notifier: timeouts,
/// retries with back-off that honour `Retry-After`, redirects followed by hand (credentials kept
/// only for ``CredentialHosts``), an optional shared ``RateLimiter``, and logs without secrets.
///
/// Logging: `trace` for each attempt, `debug` for each answer, `warning` before a retry and when
/// giving up on a transient failure. Metadata keys: `http.method`, `http.url` (redacted),
/// `http.status`, `http.attempt`, `http.retry.wait`, `http.request.id`. Header values are never logged.
public struct HTTPClient: Sendable {
    public var transport: any HTTPTransport
    public var configuration: HTTPClientConfiguration
    public var rateLimiter: RateLimiter?
    public var logger: Logger

    public init(
        transport: any HTTPTransport = URLSessionTransport.shared, configuration: HTTPClientConfiguration = .init(),
        rateLimiter: RateLimiter? = nil, logger: Logger
    ) {
        self.transport = transport
        self.configuration = configuration
        self.rateLimiter = rateLimiter
        self.logger = logger
    }

    /// Sends `request`, retrying per `retry` (default: the configuration's policy), and returns
    /// the answer when `accept(status)` holds (default: 2xx). Throws ``HTTPError`` otherwise.
    public func send(
        _ request: HTTPRequest, retry: RetryPolicy? = nil, accept: @Sendable (Int) -> Bool = { (200..<300).contains($0) }
    ) async throws(HTTPError) -> HTTPResponse {
        let policy = retry ?? configuration.retry
        let redactor = configuration.redactor
        let started = ContinuousClock.now
        var request = request
        if request.timeout == nil { request.timeout = configuration.timeout }
        if request.headers["User-Agent"] == nil { request.headers["User-Agent"] = configuration.userAgent }
        var logger = self.logger
        logger[metadataKey: "http.method"] = "\(request.method)"
        logger[metadataKey: "http.url"] = "\(redactor.redact(url: request.url))"

        var attempt = 0
        while true {
            attempt += 1
            if Task.isCancelled {
                throw HTTPError(.cancelled, method: request.method, url: request.url, message: "cancelled", attempts: attempt - 1)
            }
            logger.trace("HTTP request", metadata: ["http.attempt": "\(attempt)"])
            var failure: HTTPError
            do {
                let response = try await sendFollowingRedirects(request)
                let requestID = response.headers["X-Request-Id"] ?? response.headers["TrackingID"]
                if accept(response.status) {
                    logger.debug(
                        "HTTP response",
                        metadata: [
                            "http.status": "\(response.status)", "http.attempt": "\(attempt)",
                            "http.request.id": "\(requestID ?? "-")",
                        ])
                    return response
                }
                failure = HTTPError(
                    .status, method: request.method, url: request.url, status: response.status,
                    message: redactor.redact(Self.excerpt(response.body)), attempts: attempt,
                    retryAfter: RetryPolicy.parseRetryAfter(response.headers["Retry-After"]), requestID: requestID)
                logger.debug(
                    "HTTP response not accepted",
                    metadata: [
                        "http.status": "\(response.status)", "http.attempt": "\(attempt)",
                        "http.request.id": "\(requestID ?? "-")",
                    ])
            } catch {
                failure = error
                failure.attempts = attempt
                failure.message = redactor.redact(failure.message)
                if failure.code == .cancelled || Task.isCancelled {
                    failure.code = .cancelled
                    throw failure
                }
                logger.debug("HTTP attempt failed", metadata: ["http.attempt": "\(attempt)", "error": "\(failure.code)"])
            }

            guard failure.isTransient else { throw failure }
            guard attempt < policy.maxAttempts else {
                logger.warning("HTTP request failed, no attempts left", metadata: ["error": "\(failure)"])
                throw failure
            }
            var wait = policy.backoff(afterAttempt: attempt)
            if let asked = failure.retryAfter {
                if asked > policy.maxRetryAfter {
                    logger.warning(
                        "HTTP request failed; server asks to wait longer than allowed",
                        metadata: ["error": "\(failure)", "http.retry.wait": "\(asked)"])
                    throw failure
                }
                wait = asked
            } else if failure.status == 429 || failure.status == 423, let fallback = policy.defaultRetryAfter {
                wait = max(wait, fallback)
            }
            let elapsed = ContinuousClock.now - started
            if elapsed + wait > policy.maxTotalTime {
                logger.warning(
                    "HTTP request failed; retry time exhausted",
                    metadata: ["error": "\(failure)", "http.retry.wait": "\(wait)"])
                throw failure
            }
            logger.warning(
                "HTTP request failed; retrying",
                metadata: [
                    "http.status": "\(failure.status.map(String.init) ?? "-")", "http.attempt": "\(attempt)",
                    "http.retry.wait": "\(wait)", "http.request.id": "\(failure.requestID ?? "-")",
                    "error": "\(failure.code)",
                ])
            do {
                try await Task.sleep(for: wait)
            } catch {
                throw HTTPError(.cancelled, method: request.method, url: request.url, message: "cancelled", attempts: attempt)
            }
        }
    }

    /// One attempt: the request and the redirects it leads to.
    private func sendFollowingRedirects(_ original: HTTPRequest) async throws(HTTPError) -> HTTPResponse {
        var current = original
        let originalHost = original.url.host?.lowercased()
        var hops = 0
        while true {
            if let rateLimiter {
                do { try await rateLimiter.acquire() } catch {
                    throw HTTPError(.cancelled, method: current.method, url: current.url, message: "cancelled")
                }
            }
            let response: HTTPResponse
            do {
                response = try await transport.send(current)
            } catch let error as HTTPError {
                throw error
            } catch {
                throw HTTPError.from(transportError: error, method: current.method, url: current.url)
            }
            guard response.isRedirect, let location = response.headers["Location"] else { return response }
            guard let next = URL(string: location, relativeTo: current.url)?.absoluteURL,
                let scheme = next.scheme?.lowercased(), scheme == "https" || scheme == "http", let host = next.host
            else {
                throw HTTPError(
                    .redirectRefused, method: current.method, url: current.url, status: response.status,
                    message: "redirect to an unusable location")
            }
            // Never downgrade from https to http.
            if current.url.scheme?.lowercased() == "https" && scheme == "http" {
                throw HTTPError(
                    .redirectRefused, method: current.method, url: current.url, status: response.status,
                    message: "redirect from https to http refused")
            }
            hops += 1
            if hops > configuration.maxRedirects {
                throw HTTPError(
                    .tooManyRedirects, method: original.method, url: original.url, status: response.status,
                    message: "more than \(configuration.maxRedirects) redirects")
            }
            if response.status == 303 || ((response.status == 301 || response.status == 302) && current.method == "POST") {
                current.method = "GET"
                current.body = nil
                current.headers.remove("Content-Type")
                current.headers.remove("Content-Length")
            }
            if host.lowercased() != originalHost && !configuration.credentialHosts.allows(host) {
                current.headers.remove("Authorization")
            }
            logger.debug(
                "HTTP redirect",
                metadata: [
                    "http.status": "\(response.status)", "http.url": "\(configuration.redactor.redact(url: current.url))",
                    "http.location": "\(configuration.redactor.redact(url: next))",
                    "http.credentials.kept": "\(current.headers["Authorization"] != nil)",
                ])
            current.url = next
        }
    }

    static func excerpt(_ body: Data, limit: Int = 300) -> String {
        let text = String(decoding: body.prefix(limit * 4), as: UTF8.self)
            .replacingOccurrences(of: "\n", with: " ")
        return text.count > limit ? String(text.prefix(limit)) + "…" : text
    }
}
