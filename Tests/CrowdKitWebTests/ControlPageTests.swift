import CrowdKitCore
import CrowdKitSQLite
import CrowdKitWeb
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// A browser as the tests play it: keeps cookies, reads the CSRF token of the last page, posts
/// forms.
struct FormBrowser {
    var cookies: [String: String] = [:]
    var csrf: String?

    var cookieHeader: String { cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }

    mutating func take(_ r: TestResponse) {
        for c in r.headers[values: .setCookie] {
            let first = c.split(separator: ";")[0]
            let kv = first.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            cookies[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
            if c.contains("Max-Age=0") { cookies[String(kv[0])] = nil }
        }
        if let range = r.text.range(of: "name=\"csrf\" value=\"") {
            csrf = String(r.text[range.upperBound...].prefix { $0 != "\"" })
        }
    }

    mutating func get(_ client: some TestClientProtocol, _ uri: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        var h = headers
        if !cookies.isEmpty { h[.cookie] = cookieHeader }
        let r = try await client.execute(uri: uri, method: .get, headers: h)
        take(r)
        return r
    }

    mutating func post(
        _ client: some TestClientProtocol, _ uri: String, _ fields: [(String, String)], csrf: String? = nil, headers: HTTPFields = [:]
    ) async throws -> TestResponse {
        var h = headers
        h[.contentType] = "application/x-www-form-urlencoded"
        if !cookies.isEmpty { h[.cookie] = cookieHeader }
        let all = [("csrf", csrf ?? self.csrf ?? "")] + fields
        let body = all.map { Self.encode($0.0) + "=" + Self.encode($0.1) }.joined(separator: "&")
        let r = try await client.execute(uri: uri, method: .post, headers: h, body: ByteBuffer(string: body))
        take(r)
        return r
    }

    static func encode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}

/// The page's forms for live control (no JavaScript needed) and who may use them.
@Suite("Settings page, forms, sign-in and CSRF")
struct ControlPageTests {
    typealias Harness = SettingsAPITests.Harness

    @Test("the settings page shows the document as forms; saving a threshold applies it, audited as local")
    func saveThreshold() async throws {
        let h = try await Harness.make()
        try await h.app().test(.router) { client in
            var b = FormBrowser()
            let page = try await b.get(client, "/settings")
            #expect(page.status == .ok)
            #expect(page.text.contains("id=\"d-minPeople\" name=\"minPeople\" value=\"3\""))
            #expect(page.text.contains("id=\"d-dwellSeconds\" name=\"dwellSeconds\" value=\"60\""))
            #expect(b.cookies["crowdkit_csrf"] != nil, "a CSRF cookie is set with the page")
            #expect(page.headers[values: .setCookie].first?.contains("SameSite=Strict") == true)
            let csrf = try #require(b.csrf)
            #expect(csrf.count == 64)
            let saved = try await b.post(
                client, "/settings/detection", [("scope", "defaults"), ("version", "1"), ("minPeople", "7"), ("dwellSeconds", "45")])
            #expect(saved.status == .seeOther)
            #expect(saved.headers[.location] == "/settings?saved=2")
            let after = try await b.get(client, "/settings?saved=2")
            #expect(after.text.contains("Saved: settings version 2 is in effect."))
            #expect(after.text.contains("id=\"d-minPeople\" name=\"minPeople\" value=\"7\""))
            #expect(after.text.contains("<td>local</td><td>settings</td>"), "the audit list names who")
        }
        #expect(h.live.snapshot.settings.defaults == ParameterSet([.minPeople: 7, .dwellSeconds: 45]))
        #expect(try await h.store.audit(limit: 1).first?.by == "local")
    }

    @Test("a bad value comes back with the error next to its field and nothing is applied")
    func invalidField() async throws {
        let h = try await Harness.make()
        try await h.app().test(.router) { client in
            var b = FormBrowser()
            _ = try await b.get(client, "/settings")
            let r = try await b.post(client, "/settings/detection", [("scope", "defaults"), ("version", "1"), ("minPeople", "2.5"), ("dwellSeconds", "abc")])
            #expect(r.status == .unprocessableContent)
            #expect(r.text.contains("<div class=\"field invalid\"><label for=\"d-minPeople\">"))
            #expect(r.text.contains("id=\"d-minPeople-error\">must be a whole number &gt;= 1</p>"))
            #expect(r.text.contains("id=\"d-dwellSeconds-error\">must be a number of seconds &gt;= 0</p>"))
            #expect(r.text.contains("value=\"2.5\""), "the submitted text is kept")
            let override = try await b.post(client, "/settings/detection", [("scope", "override"), ("version", "1"), ("selector", "no slash"), ("minPeople", "4")])
            #expect(override.status == .unprocessableContent)
            #expect(override.text.contains("id=\"o-selector-error\">"))
        }
        #expect(h.live.snapshot.settings.version == 1)
        #expect(h.live.snapshot.settings.defaults == ParameterSet([.minPeople: 3, .dwellSeconds: 60]))
    }

    @Test("overrides: add, edit, remove; a stale version is a conflict that applies nothing")
    func overrides() async throws {
        let h = try await Harness.make()
        try await h.app().test(.router) { client in
            var b = FormBrowser()
            _ = try await b.get(client, "/settings")
            let add = try await b.post(
                client, "/settings/detection", [("scope", "override"), ("version", "1"), ("selector", "Q2MV-AAAA-0001/5843"), ("minPeople", "8")])
            #expect(add.status == .seeOther)
            let edit = try await b.get(client, "/settings?edit=Q2MV-AAAA-0001%2F5843")
            #expect(edit.text.contains("id=\"o-selector\" name=\"selector\" value=\"Q2MV-AAAA-0001/5843\""))
            #expect(edit.text.contains("id=\"o-minPeople\" name=\"minPeople\" value=\"8\""))
            let stale = try await b.post(
                client, "/settings/detection", [("scope", "override"), ("version", "1"), ("selector", "Q2MV-AAAA-0001/*"), ("minPeople", "2")])
            #expect(stale.status == .conflict)
            #expect(stale.text.contains("changed meanwhile"))
            let remove = try await b.post(client, "/settings/overrides/remove", [("selector", "Q2MV-AAAA-0001/5843"), ("version", "2")])
            #expect(remove.status == .seeOther)
        }
        let s = h.live.snapshot.settings
        #expect(s.version == 3)
        #expect(s.overrides.isEmpty)
        let audit = try await h.store.audit(limit: 10)
        #expect(audit.count == 3, "seed, add, remove: the conflict changed nothing")
    }

    @Test("the whole document: errors listed by field, nothing applied; a valid one is saved")
    func document() async throws {
        let h = try await Harness.make()
        try await h.app().test(.router) { client in
            var b = FormBrowser()
            _ = try await b.get(client, "/settings")
            let bad = try await b.post(
                client, "/settings/document",
                [("version", "1"), ("document", #"{"detection": {"defaults": {"minPeople": 0}}, "quietHours": [{"name": "n", "selector": "*", "timeZone": "Mars/Base", "windows": []}]}"#)])
            #expect(bad.status == .unprocessableContent)
            #expect(bad.text.contains("<code>detection.defaults.minPeople</code>"))
            #expect(bad.text.contains("<code>quietHours[0].timeZone</code>"))
            #expect(bad.text.contains("Mars/Base"), "the submitted text is kept in the textarea")
            let good = try await b.post(
                client, "/settings/document",
                [("version", "1"), ("document", #"{"detection": {"defaults": {"minPeople": 4}}, "quietHours": [{"name": "night", "selector": "*", "timeZone": "Europe/Zurich", "windows": [{"days": ["mon"], "from": "22:00", "to": "06:00"}]}]}"#)])
            #expect(good.status == .seeOther)
            let page = try await b.get(client, "/settings")
            #expect(page.text.contains("<td>quiet hours</td><td>night</td><td>*</td><td>mon 22:00–06:00 (Europe/Zurich)</td>"))
        }
        #expect(h.live.snapshot.settings.defaults[.minPeople] == 4)
        #expect(h.live.snapshot.settings.quietHours.count == 1)
    }

    @Test("mute, unmute, pause and resume from the forms; each is audited")
    func muteAndPause() async throws {
        let h = try await Harness.make()
        try await h.app().test(.router) { client in
            var b = FormBrowser()
            _ = try await b.get(client, "/")
            let mute = try await b.post(client, "/mutes", [("selector", "Q2MV-AAAA-0001/5843"), ("minutes", "60"), ("reason", "cleaning"), ("next", "/")])
            #expect(mute.status == .seeOther)
            #expect(mute.headers[.location] == "/")
            let muted = try await h.store.mutes(activeAt: h.control.now())
            #expect(muted.map(\.selector.description) == ["Q2MV-AAAA-0001/5843"])
            let id = try #require(muted.first?.id)
            let settings = try await b.get(client, "/settings")
            #expect(settings.text.contains("data-mute=\"\(id)\""))
            let badMinutes = try await b.post(client, "/mutes", [("selector", "*"), ("minutes", "0"), ("next", "/")])
            #expect(badMinutes.status == .unprocessableContent)
            #expect(badMinutes.text.contains("id=\"m-minutes-error\">expected a whole number of minutes from 1 to 525600</p>"))
            let evil = try await b.post(client, "/mutes/\(id)/end", [("next", "//evil.example/")])
            #expect(evil.status == .seeOther)
            #expect(evil.headers[.location] == "/", "only local redirects")
            #expect(try await h.store.mutes(activeAt: h.control.now()).isEmpty)
            let pause = try await b.post(client, "/detection/pause", [("next", "/settings")])
            #expect(pause.status == .seeOther)
            #expect(h.live.snapshot.settings.paused)
            let page = try await b.get(client, "/")
            #expect(page.text.contains("detection paused"))
            _ = try await b.post(client, "/detection/resume", [("next", "/")])
            #expect(!h.live.snapshot.settings.paused)
        }
        let actions = try await h.store.audit(limit: 10).map(\.action)
        #expect(actions == ["resume", "pause", "unmute", "mute", "settings"])
    }

    @Test("the events page holds one mute form for all its zones; a zone's button posts it with the zone's selector")
    func sharedZoneMuteForm() async throws {
        let h = try await SettingsAPITests.Harness.make()
        var status = LiveStatus()
        for i in 0..<40 {
            status.zones.append(ZoneSnapshot(camera: "Q2MV-MUTE-\(i)", zone: "0", people: 0, vehicles: 0, lastTs: 1, phase: .idle))
        }
        let live = status
        let web = CrowdWeb(store: h.store, logger: quietLogger, liveStatus: { live }, settings: h.control)
        try await WebFixture.app(web).test(.router) { client in
            var b = FormBrowser()
            let html = try await b.get(client, "/").text
            #expect(html.components(separatedBy: "id=\"zone-mute\"").count == 2, "one shared form")
            #expect(html.components(separatedBy: "<form").count - 1 < 10, "not a form per zone")
            let button = "<button type=\"submit\" class=\"small\" form=\"zone-mute\" name=\"selector\" value=\"Q2MV-MUTE-7/0\">Mute 1 h</button>"
            #expect(html.contains(button))
            #expect(html.components(separatedBy: "form=\"zone-mute\"").count - 1 == 40, "every zone has its button")
            // what a browser posts for that button: the shared form's fields and the button's value
            let start = try #require(html.range(of: "id=\"zone-mute\""))
            let end = try #require(html.range(of: "</form>", range: start.upperBound..<html.endIndex))
            var hidden: [(String, String)] = []
            for input in html[start.upperBound..<end.lowerBound].components(separatedBy: "<input type=\"hidden\" name=\"").dropFirst() {
                let name = String(input.prefix { $0 != "\"" })
                let value = try #require(input.range(of: "value=\"")).upperBound
                hidden.append((name, String(input[value...].prefix { $0 != "\"" })))
            }
            #expect(hidden.map(\.0) == ["csrf", "minutes", "reason", "next"])
            let token = try #require(hidden.first { $0.0 == "csrf" }).1
            let fields = hidden.filter { $0.0 != "csrf" } + [("selector", "Q2MV-MUTE-7/0")]
            let posted = try await b.post(client, "/mutes", fields, csrf: token)
            #expect(posted.status == .seeOther)
            #expect(posted.headers[.location] == "/")
        }
        let muted = try await h.store.mutes(activeAt: h.control.now())
        #expect(muted.map(\.selector.description) == ["Q2MV-MUTE-7/0"])
        #expect(muted.first.map { $0.until - $0.from } == 3_600_000)
        #expect(muted.first?.reason == "muted from the page")
    }

    @Test("a form without the token of this browser's cookie is refused, and so is a write from another site")
    func csrf() async throws {
        let h = try await Harness.make()
        try await h.app().test(.router) { client in
            var b = FormBrowser()
            _ = try await b.get(client, "/settings")
            let token = try #require(b.csrf)
            let none = try await b.post(client, "/detection/pause", [("next", "/")], csrf: "")
            #expect(none.status == .forbidden)
            var other = FormBrowser()
            _ = try await other.get(client, "/settings")
            let foreign = try await other.post(client, "/detection/pause", [("next", "/")], csrf: token)
            #expect(foreign.status == .forbidden, "a token from another browser's cookie")
            var cookieless = FormBrowser()
            let noCookie = try await cookieless.post(client, "/detection/pause", [("next", "/")], csrf: token)
            #expect(noCookie.status == .forbidden)
            let crossSite = try await b.post(client, "/detection/pause", [("next", "/")], headers: [HTTPFields.Element.Name("Sec-Fetch-Site")!: "cross-site"])
            #expect(crossSite.status == .forbidden)
            let api = try await client.execute(
                uri: "/api/detection/pause", method: .post, headers: [HTTPFields.Element.Name("Origin")!: "http://evil.example"])
            #expect(api.status == .forbidden)
            // the test router's requests are for http://localhost
            let sameOrigin = try await client.execute(
                uri: "/api/detection/pause", method: .post, headers: [HTTPFields.Element.Name("Origin")!: "http://localhost"])
            #expect(sameOrigin.status == .ok)
        }
        #expect(try await h.store.audit(limit: 10).map(\.action) == ["pause", "settings"], "only the same-origin pause")
    }

    @Test("named tokens: the audit says which; a browser signs in with the form and gets a signed HttpOnly SameSite=Strict cookie")
    func namedTokensAndSessions() async throws {
        let h = try await Harness.make()
        let access = CrowdWebConfiguration.Access.tokens(["alice": "alice-secret-0123456789", "bob": "bob-secret-0123456789"])
        try await h.app(access: access).test(.router) { client in
            let pause = try await client.execute(uri: "/api/detection/pause", method: .post, headers: [.authorization: "Bearer bob-secret-0123456789"])
            #expect(pause.status == .ok)
            #expect(try await client.execute(uri: "/api/detection/resume", method: .post, headers: [.authorization: "Bearer carol"]).status == .unauthorized)
            // a browser without credentials is sent to the form; an API client gets 401
            let redirect = try await client.execute(uri: "/settings", method: .get, headers: [.accept: "text/html,application/xhtml+xml"])
            #expect(redirect.status == .seeOther)
            #expect(redirect.headers[.location] == "/login?next=%2Fsettings")
            #expect(try await client.execute(uri: "/settings", method: .get).status == .unauthorized)
            var b = FormBrowser()
            let form = try await b.get(client, "/login?next=/settings")
            #expect(form.status == .ok)
            #expect(form.text.contains("type=\"password\""))
            let wrong = try await b.post(client, "/login", [("password", "alice-secret"), ("next", "/settings")])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.text.contains("Wrong credentials."))
            #expect(!wrong.text.contains("alice-secret"), "the typed secret is not echoed")
            let ok = try await b.post(client, "/login", [("password", "alice-secret-0123456789"), ("next", "/settings")])
            #expect(ok.status == .seeOther)
            #expect(ok.headers[.location] == "/settings")
            let setCookie = try #require(ok.headers[values: .setCookie].first { $0.hasPrefix("crowdkit_session=") })
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
            let session = try #require(b.cookies["crowdkit_session"])
            #expect(!session.contains("alice-secret"))
            let page = try await b.get(client, "/settings")
            #expect(page.status == .ok)
            #expect(page.text.contains("<span class=\"muted who\">alice</span>"))
            let resume = try await b.post(client, "/detection/resume", [("next", "/")])
            #expect(resume.status == .seeOther)
            // a tampered session is no session
            var forged = b
            var parts = session.split(separator: ".").map(String.init)
            parts[0] = "Ym9i"  // "bob", with alice's expiry and signature
            forged.cookies["crowdkit_session"] = parts.joined(separator: ".")
            #expect(try await forged.get(client, "/settings").status == .unauthorized)
            _ = try await b.post(client, "/logout", [])
            #expect(b.cookies["crowdkit_session"] == nil)
            #expect(try await b.get(client, "/settings").status == .unauthorized)
        }
        let audit = try await h.store.audit(limit: 10)
        #expect(audit.map(\.by) == ["alice", "bob", "configuration"])
    }
}
