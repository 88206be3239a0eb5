import CrowdKitCore
import Foundation
import Hummingbird

/// `GET /login`, `POST /login` (sets the signed session cookie, `HttpOnly`, `SameSite=Strict`)
/// and `POST /logout`. On an open server (no credentials configured) `/login` sends you home.
extension CrowdWeb {
    func addLoginRoutes<Context: RequestContext>(_ routes: RouteCollection<Context>) {
        routes.get("/login") { request, _ in
            guard self.auth.access.requiresAuthentication else { return Self.redirect("/") }
            return self.loginPage(request, next: Self.safeNext(request.uri.queryParameters.get("next").map { String($0) }))
        }
        routes.post("/login") { request, _ in await self.login(request) }
        routes.post("/logout") { request, _ in
            await self.form(request) { _, _ in
                Self.redirect(
                    self.auth.access.requiresAuthentication ? "/login" : "/",
                    setCookies: ["\(WebAuth.sessionCookie)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"])
            }
        }
    }

    func loginPage(_ request: Request, next: String, error: String? = nil, user: String = "") -> Response {
        let (context, setCookie) = pageContext(request)
        var w = ByteWriter(capacity: 8 * 1024)
        PageChrome.begin(context, pageTitle: "Sign in", subtitle: "Crowd events from Meraki MV Sense people counts", current: .login, into: &w)
        w.raw("<section class=\"card login\" aria-labelledby=\"login-h\"><h2 id=\"login-h\">Sign in</h2>")
        w.raw("<form method=\"post\" action=\"/login\" id=\"login-form\">")
        PageChrome.csrfField(context, into: &w)
        w.raw("<input type=\"hidden\" name=\"next\" value=\"")
        w.html(next)
        w.raw("\">")
        if case .basic = auth.access {
            w.raw("<div class=\"field\"><label for=\"l-user\">User</label><input id=\"l-user\" name=\"user\" autocomplete=\"username\" value=\"")
            w.html(user)
            w.raw("\"></div>")
        }
        let secretLabel: StaticString = if case .basic = auth.access { "Password" } else { "Access token" }
        w.raw(error == nil ? "<div class=\"field\">" : "<div class=\"field invalid\">")
        w.raw("<label for=\"l-secret\">")
        w.raw(secretLabel)
        w.raw("</label><input id=\"l-secret\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required")
        if error != nil { w.raw(" aria-invalid=\"true\" aria-describedby=\"l-error\"") }
        w.raw(">")
        if let error {
            w.raw("<p class=\"error\" id=\"l-error\">")
            w.html(error)
            w.raw("</p>")
        }
        w.raw("</div><p><button type=\"submit\">Sign in</button></p></form></section>\n")
        PageChrome.end(context, script: PageChrome.script, into: &w)
        return Self.html(w.bytes, nonce: context.nonce, status: error == nil ? .ok : .unauthorized, setCookie: setCookie)
    }

    func login(_ request: Request) async -> Response {
        guard auth.access.requiresAuthentication else { return Self.redirect("/") }
        let fields: FormFields
        do {
            fields = try await FormFields.read(request)
        } catch {
            return Self.text("form too large\n", status: .contentTooLarge)
        }
        let next = Self.safeNext(fields["next"])
        guard auth.validCSRF(fields[WebAuth.csrfField], request) else {
            return loginPage(request, next: next, error: "The form expired: sign in again.")
        }
        let user = fields["user"] ?? ""
        guard let name = auth.login(user: user, password: fields["password"] ?? "") else {
            logger.notice("web sign-in refused", metadata: ["user": "\(user.prefix(64))"])
            return loginPage(request, next: next, error: "Wrong credentials.", user: user)
        }
        logger.info("web sign-in", metadata: ["by": "\(name)"])
        let session = auth.issueSession(name)
        return Self.redirect(
            next, setCookies: ["\(WebAuth.sessionCookie)=\(session); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(WebAuth.sessionLifetimeSeconds)"])
    }
}
