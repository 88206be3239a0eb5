import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Performs one HTTP exchange. The seam that tests and integrators replace.
///
/// ## Implementation requirements
/// - One request, one response: no retries and no redirects (a 3xx is returned as it is);
///   ``HTTPClient`` decides about both.
/// - Honour ``HTTPRequest/timeout`` (or a sensible default) and task cancellation.
/// - Throw ``HTTPError`` (`.timedOut`, `.connectionFailed`, `.cancelled`) for failures without
///   a response; never put request headers into the error.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
}

/// The default transport: `URLSession` from FoundationNetworking (libcurl on Linux).
public final class URLSessionTransport: HTTPTransport {
    private let session: URLSession
    private let defaultTimeout: Duration

    /// A shared transport with an ephemeral session (no cookies, no cache).
    public static let shared = URLSessionTransport()

    public init(defaultTimeout: Duration = .seconds(30)) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.httpMaximumConnectionsPerHost = 16
        self.session = URLSession(configuration: configuration)
        self.defaultTimeout = defaultTimeout
    }

    deinit { session.finishTasksAndInvalidate() }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let timeout = request.timeout ?? defaultTimeout
        var urlRequest = URLRequest(url: request.url)
        urlRequest.httpMethod = request.method
        urlRequest.timeoutInterval = timeout.seconds
        urlRequest.httpShouldHandleCookies = false
        for field in request.headers {
            urlRequest.addValue(field.value, forHTTPHeaderField: field.name)
        }
        urlRequest.httpBody = request.body
        let session = self.session
        let finalRequest = urlRequest
        let method = request.method
        let url = request.url

        return try await withThrowingTaskGroup(of: HTTPResponse?.self) { group in
            group.addTask {
                do {
                    let (data, response) = try await session.data(for: finalRequest, delegate: NoRedirects())
                    guard let http = response as? HTTPURLResponse else {
                        throw HTTPError(.invalidResponse, method: method, url: url, message: "not an HTTP response")
                    }
                    var headers = HTTPHeaders()
                    for (key, value) in http.allHeaderFields {
                        headers.add("\(key)", "\(value)")
                    }
                    return HTTPResponse(status: http.statusCode, headers: headers, body: data, url: http.url ?? url)
                } catch let error as HTTPError {
                    throw error
                } catch {
                    throw HTTPError.from(transportError: error, method: method, url: url)
                }
            }
            group.addTask {
                // The watchdog: libcurl's own timeout is the first line, this one also covers
                // DNS and connection setup stalls.
                try await Task.sleep(for: timeout + .milliseconds(250))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else {
                throw HTTPError(.cancelled, method: method, url: url, message: "cancelled")
            }
            guard let response = first else {
                throw HTTPError(.timedOut, method: method, url: url, message: "no response within \(timeout)")
            }
            return response
        }
    }
}

/// Refuses every redirect so that the 3xx reaches ``HTTPClient``, which follows it itself and
/// decides whether the credentials may go along.
private final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    public var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}
