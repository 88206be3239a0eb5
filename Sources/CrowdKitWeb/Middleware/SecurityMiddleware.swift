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

/// Requires the configured credentials on every route but `/healthz`, the login form and
/// `POST /webhooks/webex` (Webex cannot send the page's token: that route checks the webhook's
/// signature); refuses writes from other sites (see ``WebAuth``). A browser (`Accept: text/html`)
/// asking for a page without credentials is sent to the login form; other clients get 401.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let auth: WebAuth

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let path = request.uri.path
        let isWebhook = request.method == .post && path == IncomingWebhook.webexPath
        if request.method != .get, request.method != .head, !isWebhook, WebAuth.isCrossSite(request) {
            return Self.plain(.forbidden, "cross-site request refused\n")
        }
        guard auth.access.requiresAuthentication, path != "/healthz", path != "/login", !isWebhook else {
            return try await next(request, context)
        }
        if auth.principal(request) != nil {
            return try await next(request, context)
        }
        if request.method == .get, !path.hasPrefix("/api/"), path != "/metrics", path != "/readyz",
            request.headers[.accept]?.contains("text/html") == true
        {
            var headers = HTTPFields()
            headers[.location] = "/login?next=" + Format.query(request.uri.description)
            headers[.cacheControl] = "no-store"
            return Response(status: .seeOther, headers: headers)
        }
        var response = Self.plain(.unauthorized, "authentication required\n")
        if case .basic = auth.access {} else {
            response.headers.append(HeaderField(name: .wwwAuthenticate, value: "Bearer realm=\"CrowdKit\""))
        }
        response.headers.append(HeaderField(name: .wwwAuthenticate, value: "Basic realm=\"CrowdKit\", charset=\"UTF-8\""))
        return response
    }

    static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}

/// `HTTPField` (Hummingbird re-exports `HTTPFields`, not its element type by name).
typealias HeaderField = HTTPFields.Element
