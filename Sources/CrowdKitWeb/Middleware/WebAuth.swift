import CrowdKitHTTP
import Foundation
import Hummingbird

/// Who makes a request, browser sessions and the CSRF tokens of the page's forms.
///
/// - Requests authenticate with `Authorization: Bearer <token>` (the token's name is who), HTTP
///   basic auth (the user; with tokens, any user and a token as password), or the session cookie
///   that `POST /login` sets (`HttpOnly`, `SameSite=Strict`, 12 hours). Without authentication
///   (``CrowdWebConfiguration/Access/open``, loopback only) everyone is `local`.
/// - Every form carries a CSRF token bound to the browser's `crowdkit_csrf` cookie (an HMAC of it);
///   a form post without the matching token is refused. Cookies and basic auth are sent by the
///   browser on their own, so they never authorize a write alone.
/// - Writes (any method but GET/HEAD) from another site are refused whatever the credentials:
///   `Sec-Fetch-Site: cross-site|same-site`, or an `Origin` whose host is not the request's `Host`
///   (`Origin: null`, sent with our `no-referrer` policy, decides nothing).
///
/// Session cookies are signed with a key derived from the configured secrets: every instance with
/// the same configuration accepts them, a restart keeps them, and changing a token ends them.
struct WebAuth: Sendable {
    let access: CrowdWebConfiguration.Access
    private let key: [UInt8]

    static let sessionCookie = "crowdkit_session"
    static let csrfCookie = "crowdkit_csrf"
    static let csrfField = "csrf"
    static let sessionLifetimeSeconds: Int64 = 12 * 3600

    init(access: CrowdWebConfiguration.Access) {
        self.access = access
        switch access {
        case .open:
            var generator = SystemRandomNumberGenerator()
            key = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        case .token(let token):
            key = SHA256.hash(Array("crowdkit-session\u{0}token\u{0}\(token)".utf8))
        case .tokens(let tokens):
            let material = tokens.sorted { $0.key < $1.key }.map { "\($0.key)\u{0}\($0.value)" }.joined(separator: "\u{0}")
            key = SHA256.hash(Array("crowdkit-session\u{0}tokens\u{0}\(material)".utf8))
        case .basic(let user, let password):
            key = SHA256.hash(Array("crowdkit-session\u{0}basic\u{0}\(user)\u{0}\(password)".utf8))
        }
    }

    // MARK: - Who

    /// The name a request acts as, or `nil` when it is not authenticated.
    func principal(_ request: Request, now: Int64 = Self.nowMilliseconds()) -> String? {
        if case .open = access { return "local" }
        if let header = request.headers[.authorization], let name = authorizationPrincipal(header) { return name }
        if let cookie = Self.cookie(Self.sessionCookie, in: request), let name = session(cookie, now: now) { return name }
        return nil
    }

    /// Whether the request authenticated with a header a browser does not add by itself (a
    /// bearer token): such a write needs no CSRF token.
    func hasBearer(_ request: Request) -> Bool {
        guard let header = request.headers[.authorization] else { return false }
        return header.lowercased().hasPrefix("bearer ") && authorizationPrincipal(header) != nil
    }

    /// The name an `Authorization` header authenticates, or `nil`.
    func authorizationPrincipal(_ header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let scheme = parts[0].lowercased()
        let value = parts[1].trimmingCharacters(in: .whitespaces)
        switch access {
        case .open:
            return "local"
        case .token, .tokens:
            if scheme == "bearer" { return tokenName(value) }
            if scheme == "basic", let (_, password) = Self.basic(value) { return tokenName(password) }
            return nil
        case .basic(let user, let password):
            guard scheme == "basic", let (u, p) = Self.basic(value) else { return nil }
            // Evaluate both comparisons so timing does not tell which one failed.
            let userOK = Self.constantTimeEqual(u, user)
            let passwordOK = Self.constantTimeEqual(p, password)
            return userOK && passwordOK ? user : nil
        }
    }

    /// The name of the token `secret` (`token` for the single ``CrowdWebConfiguration/Access/token(_:)``).
    /// Every configured token is compared, so timing does not tell which one nearly matched.
    func tokenName(_ secret: String) -> String? {
        switch access {
        case .token(let token): return Self.constantTimeEqual(secret, token) ? "token" : nil
        case .tokens(let tokens):
            var found: String?
            for (name, token) in tokens.sorted(by: { $0.key < $1.key }) where Self.constantTimeEqual(secret, token) {
                found = found ?? name
            }
            return found
        default: return nil
        }
    }

    /// The name the login form's fields sign in as, or `nil`.
    func login(user: String, password: String) -> String? {
        switch access {
        case .open: return "local"
        case .token, .tokens: return tokenName(password)
        case .basic(let u, let p):
            let userOK = Self.constantTimeEqual(user, u)
            let passwordOK = Self.constantTimeEqual(password, p)
            return userOK && passwordOK ? u : nil
        }
    }

    // MARK: - Sessions

    /// A signed session cookie value for `name`: `<name, base64url>.<expiry ms>.<hmac>`.
    func issueSession(_ name: String, now: Int64 = Self.nowMilliseconds()) -> String {
        let encoded = Data(name.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let payload = "\(encoded).\(now + Self.sessionLifetimeSeconds * 1000)"
        return payload + "." + HMACSHA256.hex(for: Array(("session|" + payload).utf8), key: key)
    }

    /// The name of a valid, unexpired session cookie value.
    func session(_ value: String, now: Int64) -> String? {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let expiry = Int64(parts[1]), expiry > now else { return nil }
        let payload = "\(parts[0]).\(parts[1])"
        guard Self.constantTimeEqual(String(parts[2]), HMACSHA256.hex(for: Array(("session|" + payload).utf8), key: key)) else {
            return nil
        }
        var b64 = parts[0].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b64.count % 4 != 0 { b64 += "=" }
        return Data(base64Encoded: b64).flatMap { String(data: $0, encoding: .utf8) }
    }

    // MARK: - CSRF

    /// The form token for the browser's CSRF cookie value.
    func csrfToken(cookie: String) -> String {
        HMACSHA256.hex(for: Array(("csrf|" + cookie).utf8), key: key)
    }

    /// Whether `token` (a form field or `X-CSRF-Token`) belongs to the request's CSRF cookie.
    func validCSRF(_ token: String?, _ request: Request) -> Bool {
        guard let token, let cookie = Self.cookie(Self.csrfCookie, in: request), !cookie.isEmpty else { return false }
        return Self.constantTimeEqual(token, csrfToken(cookie: cookie))
    }

    /// The request's CSRF cookie, or a new one (with the `Set-Cookie` value to send) when it has none.
    func csrfCookie(for request: Request) -> (value: String, setCookie: String?) {
        if let existing = Self.cookie(Self.csrfCookie, in: request), existing.count >= 16, existing.count <= 128 {
            return (existing, nil)
        }
        var generator = SystemRandomNumberGenerator()
        let value = (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        return (value, "\(Self.csrfCookie)=\(value); Path=/; HttpOnly; SameSite=Strict")
    }

    /// Whether a write comes from another site (refused whatever its credentials).
    static func isCrossSite(_ request: Request) -> Bool {
        if let site = request.headers[HeaderField.Name("Sec-Fetch-Site")!]?.lowercased(), site == "cross-site" || site == "same-site" {
            return true
        }
        // `Origin: null` is what a browser sends for a form post from a page with
        // `Referrer-Policy: no-referrer` (ours): unknown, so `Sec-Fetch-Site` decides.
        guard let origin = request.headers[HeaderField.Name("Origin")!], origin != "null" else { return false }
        guard let host = request.head.authority ?? request.headers[HeaderField.Name("Host")!],
            let originHost = URLComponents(string: origin).map({ c in (c.host ?? "") + (c.port.map { ":\($0)" } ?? "") })
        else { return true }
        return originHost.lowercased() != host.lowercased()
    }

    // MARK: - Helpers

    static func cookie(_ name: String, in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let p = pair.trimmingCharacters(in: .whitespaces)
                guard let eq = p.firstIndex(of: "="), p[..<eq] == name else { continue }
                return String(p[p.index(after: eq)...])
            }
        }
        return nil
    }

    static func basic(_ encoded: String) -> (String, String)? {
        guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8),
            let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool { CrowdKitHTTP.constantTimeEqual(Array(a.utf8), Array(b.utf8)) }

    static func nowMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
