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
///
/// It uses a session delegate (not the async convenience API) because only the delegate path
/// lets it refuse redirects on Linux, so that ``HTTPClient`` decides where credentials go.
public final class URLSessionTransport: HTTPTransport {
    private let session: URLSession
    private let delegate: SessionDelegate
    private let defaultTimeout: Duration

    /// A shared transport with an ephemeral session (no cookies, no cache).
    public static let shared = URLSessionTransport()

    /// - Parameters:
    ///   - defaultTimeout: for requests that set no ``HTTPRequest/timeout``.
    ///   - maxConnectionsPerHost: open connections to one host and port; further requests wait for
    ///     a kept-alive one. The default of 4 is enough for a notifier (the APIs limit the rate
    ///     anyway) and never opens more connections at once than a server with a small listen
    ///     backlog accepts: an overflowing backlog drops the connection silently and costs a TCP
    ///     retransmission (200 ms or more) per dropped connection.
    public init(defaultTimeout: Duration = .seconds(30), maxConnectionsPerHost: Int = 4) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.httpMaximumConnectionsPerHost = max(1, maxConnectionsPerHost)
        let delegate = SessionDelegate()
        self.delegate = delegate
        self.session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
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
        let method = request.method
        let url = request.url
        let task = session.dataTask(with: urlRequest)
        let delegate = self.delegate

        return try await withThrowingTaskGroup(of: HTTPResponse?.self) { group in
            group.addTask {
                try await withTaskCancellationHandler {
                    let (data, response, error): (Data, URLResponse?, (any Error)?) = await withCheckedContinuation { continuation in
                        delegate.register(task, continuation)
                        task.resume()
                    }
                    if let error { throw HTTPError.from(transportError: error, method: method, url: url) }
                    guard let http = response as? HTTPURLResponse else {
                        throw HTTPError(.invalidResponse, method: method, url: url, message: "not an HTTP response")
                    }
                    var headers = HTTPHeaders()
                    for (key, value) in http.allHeaderFields {
                        headers.add("\(key)", "\(value)")
                    }
                    return HTTPResponse(status: http.statusCode, headers: headers, body: data, url: http.url ?? url)
                } onCancel: {
                    task.cancel()
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

/// Collects each task's answer and refuses every redirect, so that the 3xx reaches
/// ``HTTPClient``, which follows it itself and decides whether the credentials may go along.
///
/// `@unchecked Sendable` is safe: the only mutable state, `tasks`, is reached only under `lock`.
private final class SessionDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    typealias Completion = CheckedContinuation<(Data, URLResponse?, (any Error)?), Never>
    private struct Pending {
        var continuation: Completion
        var data = Data()
    }
    private let lock = NSLock()
    private var tasks: [Int: Pending] = [:]

    func register(_ task: URLSessionTask, _ continuation: Completion) {
        lock.lock()
        tasks[task.taskIdentifier] = Pending(continuation: continuation)
        lock.unlock()
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        lock.lock()
        tasks[dataTask.taskIdentifier]?.data.append(data)
        lock.unlock()
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        completionHandler(.allow)
    }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        lock.lock()
        let pending = tasks.removeValue(forKey: task.taskIdentifier)
        lock.unlock()
        pending?.continuation.resume(returning: (pending?.data ?? Data(), task.response, error))
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    public var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}
