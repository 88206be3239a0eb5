import CrowdKitCore
import Foundation

/// How the web routes behave: access control and page settings.
public struct CrowdWebConfiguration: Sendable {
    /// Who may read the page and the API.
    public var access: Access
    /// The page title.
    public var title: String
    /// Events per page on `/` and the default `limit` of `/api/events` (1...1000). Default 50.
    public var pageSize: Int
    /// Interval of the comment lines that keep a server-sent event stream open. Default 15 s.
    public var streamHeartbeat: Duration
    /// Whether `/readyz` requires the message source to be connected. Default true.
    public var readinessRequiresConnectedSource: Bool

    public init(
        access: Access = .open, title: String = "CrowdKit", pageSize: Int = 50,
        streamHeartbeat: Duration = .seconds(15), readinessRequiresConnectedSource: Bool = true
    ) {
        self.access = access
        self.title = title
        self.pageSize = min(max(pageSize, 1), 1000)
        self.streamHeartbeat = streamHeartbeat
        self.readinessRequiresConnectedSource = readinessRequiresConnectedSource
    }

    /// Access control for every route except `/healthz`.
    public enum Access: Sendable, Hashable, CustomStringConvertible {
        /// No authentication (bind to a loopback address only; see ``CrowdWebConfiguration/checkBind(host:access:allowUnauthenticatedRemote:)``).
        case open
        /// `Authorization: Bearer <token>`; browsers may also sign in with HTTP basic auth using
        /// any user name and the token as password.
        case token(String)
        /// Several named tokens (`name → token`): `Authorization: Bearer <token>`, basic auth
        /// with a token as password, or the login form; the audit names the token.
        case tokens([String: String])
        /// HTTP basic auth with this user name and password.
        case basic(user: String, password: String)

        public var requiresAuthentication: Bool { self != .open }

        /// Never prints the secret.
        public var description: String {
            switch self {
            case .open: "open"
            case .token: "token(redacted)"
            case .tokens(let t): "tokens(\(t.keys.sorted().joined(separator: ", ")): redacted)"
            case .basic(let user, _): "basic(user: \(user), password: redacted)"
            }
        }
    }

    /// Refuses to serve the page without authentication on an address other hosts can reach.
    ///
    /// Passes for a loopback host (`127.0.0.1`, `::1`, `localhost`, `127.x.y.z`), for any host when
    /// `access` requires authentication, and when `allowUnauthenticatedRemote` is set explicitly.
    /// - Throws: ``CrowdWebError`` `.unsafeBind`.
    public static func checkBind(host: String, access: Access, allowUnauthenticatedRemote: Bool = false) throws {
        if access.requiresAuthentication || allowUnauthenticatedRemote || isLoopback(host) { return }
        throw CrowdWebError(
            .unsafeBind,
            "refusing to serve the web page on \(host) without authentication: set an HTTP token, bind to 127.0.0.1, or explicitly allow unauthenticated remote access"
        )
    }

    /// Whether `host` names the loopback interface.
    public static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if h == "localhost" || h == "::1" || h == "0:0:0:0:0:0:0:1" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}

/// The error of the web module.
public struct CrowdWebError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable { case unsafeBind, badRequest }
        fileprivate let value: Value
        /// A non-loopback bind without authentication.
        public static let unsafeBind = Code(value: .unsafeBind)
        /// A query parameter could not be understood (the message names it).
        public static let badRequest = Code(value: .badRequest)
        public var description: String { "\(value)" }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
