import CrowdKitCore
import Foundation

extension AppSettings {
    /// `alertmanager.urls`, `alertmanager.resendSeconds` and the page's address for links.
    struct Alertmanager: Sendable, Hashable {
        var urls: [String]
        var resendInterval: Duration
        /// `http.publicURL`, or the address the page binds to.
        var pageURL: String?
    }

    static func loadAlertmanager(_ c: ConfigLoader, http: HTTP) throws(ConfigurationError) -> Alertmanager? {
        let urls = (try c.list("alertmanager.urls") ?? []).filter { !$0.isEmpty }
        let resend = try c.seconds("alertmanager.resendSeconds", positive: true) ?? .seconds(60)
        guard !urls.isEmpty else { return nil }
        for u in urls {
            guard let parsed = URL(string: u), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https", parsed.host != nil else {
                throw ConfigurationError(key: "alertmanager.urls", source: try c.value("alertmanager.urls")?.source.description, expected: "http(s) URLs", got: u)
            }
        }
        var page = try url(c, "http.publicURL")
        if page == nil {
            let wildcard = ["0.0.0.0", "::", ""].contains(http.host)
            let host = wildcard ? ProcessInfo.processInfo.hostName : http.host
            page = "http://\(host.contains(":") ? "[\(host)]" : host):\(http.port)"
        }
        return Alertmanager(urls: urls, resendInterval: resend, pageURL: page)
    }
}
