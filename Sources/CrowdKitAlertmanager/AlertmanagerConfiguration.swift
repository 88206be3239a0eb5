import CrowdKitHTTP
import Foundation

/// Settings of an ``AlertmanagerNotifier``.
public struct AlertmanagerConfiguration: Sendable, Hashable {
    /// The Alertmanager instances (base URLs such as `http://alertmanager:9093`): each alert is
    /// posted to `URL/api/v2/alerts` of every one of them.
    public var urls: [URL]
    /// How often open alerts are posted again (Alertmanager resolves an alert it has not heard
    /// of by its `endsAt`). Default 60 s.
    public var resendInterval: Duration
    /// The events page (`http://host:5001`): `generatorURL` of each alert points at the event on
    /// it. `nil` sends no `generatorURL`.
    public var pageURL: URL?
    /// Timeouts and retries of one post. The delivery service retries failed notifications, so
    /// the app uses one attempt (``RetryPolicy/none``).
    public var http: HTTPClientConfiguration

    public init(urls: [URL], resendInterval: Duration = .seconds(60), pageURL: URL? = nil, http: HTTPClientConfiguration = .init()) {
        self.urls = urls
        self.resendInterval = max(resendInterval, .milliseconds(100))
        self.pageURL = pageURL
        self.http = http
    }

    /// An open alert's `endsAt`: this many resend intervals ahead, so that Alertmanager resolves
    /// it by itself when CrowdKit stops re-posting it (Prometheus uses the same factor).
    public static let openAlertLifetimeFactor = 4
}
