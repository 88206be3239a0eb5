import CrowdKitCore
import Foundation
import Hummingbird

/// Adds the security headers every response carries: a strict Content-Security-Policy (the page
/// replaces it with one that allows its own nonce), `nosniff`, no framing, no referrer.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    static var defaultPolicy: String { "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        Self.apply(to: &response.headers)
        return response
    }

    static func apply(to headers: inout HTTPFields) {
        if headers[.contentSecurityPolicy] == nil { headers[.contentSecurityPolicy] = defaultPolicy }
        headers[.xContentTypeOptions] = "nosniff"
        headers[HeaderField.Name("X-Frame-Options")!] = "DENY"
        headers[HeaderField.Name("Referrer-Policy")!] = "no-referrer"
        headers[HeaderField.Name("Cross-Origin-Opener-Policy")!] = "same-origin"
        headers[HeaderField.Name("Cross-Origin-Resource-Policy")!] = "same-origin"
        headers[HeaderField.Name("Permissions-Policy")!] = "camera=(), microphone=(), geolocation=()"
    }
}

/// Requires the configured credentials on every route but `/healthz` and `POST /webhooks/webex`
/// (Webex cannot send the page's token: that route checks the webhook's signature).
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let access: CrowdWebConfiguration.Access

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard access.requiresAuthentication, request.uri.path != "/healthz",
            !(request.method == .post && request.uri.path == IncomingWebhook.webexPath)
        else {
            return try await next(request, context)
        }
        if Self.authorized(request.headers[.authorization], access: access) {
            return try await next(request, context)
        }
        var headers = HTTPFields()
        if case .token = access { headers.append(HeaderField(name: .wwwAuthenticate, value: "Bearer realm=\"CrowdKit\"")) }
        headers.append(HeaderField(name: .wwwAuthenticate, value: "Basic realm=\"CrowdKit\", charset=\"UTF-8\""))
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(
            status: .unauthorized, headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: "authentication required\n")))
    }

    static func authorized(_ header: String?, access: CrowdWebConfiguration.Access) -> Bool {
        guard let header else { return false }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return false }
        let scheme = parts[0].lowercased()
        let value = parts[1].trimmingCharacters(in: .whitespaces)
        switch access {
        case .open:
            return true
        case .token(let token):
            if scheme == "bearer" { return constantTimeEqual(value, token) }
            if scheme == "basic", let (_, password) = basic(value) { return constantTimeEqual(password, token) }
            return false
        case .basic(let user, let password):
            guard scheme == "basic", let (u, p) = basic(value) else { return false }
            // Evaluate both comparisons so timing does not tell which one failed.
            let userOK = constantTimeEqual(u, user)
            let passwordOK = constantTimeEqual(p, password)
            return userOK && passwordOK
        }
    }

    static func basic(_ encoded: String) -> (String, String)? {
        guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8),
            let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0xff)
        }
        return diff == 0
    }
}

/// `HTTPField` (Hummingbird re-exports `HTTPFields`, not its element type by name).
typealias HeaderField = HTTPFields.Element
