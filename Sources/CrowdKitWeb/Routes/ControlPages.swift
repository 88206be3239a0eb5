import CrowdKitCore
import Foundation
import Hummingbird

/// The page's side of live control: `GET /settings` and the forms it posts (each needs the CSRF
/// token of the browser's cookie; a refused form comes back with its errors next to the fields),
/// plus the one-button forms of the events page (mute, unmute, pause, resume).
///
/// - `POST /settings/detection`: `scope` `defaults` or `override` (with `selector`), `version`, the
///   parameters by their configuration names (empty: not set).
/// - `POST /settings/overrides/remove`: `selector`, `version`.
/// - `POST /settings/document`: `document` (the JSON of `GET /api/settings`), `version`.
/// - `POST /mutes`: `selector`, `minutes`, `reason`, `next`; `POST /mutes/{id}/end`: `next`.
/// - `POST /detection/pause`, `POST /detection/resume`: `next`.
extension CrowdWeb {
    func addControlPages<Context: RequestContext>(_ routes: RouteCollection<Context>, _ control: SettingsControl) {
        routes.get("/settings") { request, _ in await self.settingsPage(request, control) }
        routes.post("/settings/detection") { request, _ in
            await self.form(request) { fields, who in await self.saveParameters(fields, request, by: who, control) }
        }
        routes.post("/settings/overrides/remove") { request, _ in
            await self.form(request) { fields, who in await self.removeOverride(fields, request, by: who, control) }
        }
        routes.post("/settings/document") { request, _ in
            await self.form(request) { fields, who in await self.saveDocument(fields, request, by: who, control) }
        }
        routes.post("/mutes") { request, _ in
            await self.form(request) { fields, who in await self.muteForm(fields, request, by: who, control) }
        }
        routes.post("/mutes/{id}/end") { request, context in
            let id = context.parameters.get("id") ?? ""
            return await self.form(request) { fields, who in
                do {
                    _ = try await control.unmute(id: id, by: who)
                    return Self.redirect(Self.safeNext(fields["next"]))
                } catch {
                    return self.storeUnavailablePage(error)
                }
            }
        }
        for (path, paused) in [("/detection/pause", true), ("/detection/resume", false)] {
            routes.post(RouterPath(path)) { request, _ in
                await self.form(request) { fields, who in
                    do {
                        _ = try await control.setPaused(paused, by: who)
                        return Self.redirect(Self.safeNext(fields["next"]))
                    } catch {
                        return self.storeUnavailablePage(error)
                    }
                }
            }
        }
    }

    /// Reads a form post and checks its CSRF token before `body` runs.
    func form(_ request: Request, _ body: (FormFields, String) async -> Response) async -> Response {
        let fields: FormFields
        do {
            fields = try await FormFields.read(request)
        } catch {
            return Self.text("form too large\n", status: .contentTooLarge)
        }
        guard auth.validCSRF(fields[WebAuth.csrfField], request) else {
            return Self.text("The form expired or did not come from this page: reload the page and try again.\n", status: .forbidden)
        }
        return await body(fields, actor(request))
    }

    /// The context of a page for `request` (nonce, CSRF token, who), and the CSRF cookie to set.
    func pageContext(_ request: Request) -> (PageContext, String?) {
        let (cookie, setCookie) = auth.csrfCookie(for: request)
        let context = PageContext(
            title: configuration.title, nonce: Self.makeNonce(), csrf: auth.csrfToken(cookie: cookie), principal: auth.principal(request),
            hasSession: WebAuth.cookie(WebAuth.sessionCookie, in: request) != nil && auth.access.requiresAuthentication,
            controls: settings != nil, charts: store is any OccupancyHistoryStore)
        return (context, setCookie)
    }

    // MARK: - The settings page

    func settingsPage(
        _ request: Request, _ control: SettingsControl, status: HTTPResponse.Status = .ok, notice: String? = nil, alert: String? = nil,
        errors: [String: String] = [:], submitted: [String: String] = [:], documentText: String? = nil, editing: ZoneSelector? = nil
    ) async -> Response {
        let (context, setCookie) = pageContext(request)
        do {
            async let mutes = control.store.mutes(activeAt: control.now())
            async let audit = control.store.audit(limit: 50)
            let settings = try await control.current()
            var notice = notice
            if notice == nil, let saved = request.uri.queryParameters.get("saved") {
                notice = "Saved: settings version \(saved) is in effect."
            }
            let edit = editing ?? request.uri.queryParameters.get("edit").flatMap { ZoneSelector(parsing: String($0)) }
            let view = SettingsPageView(
                context: context, settings: settings, mutes: try await mutes, audit: try await audit, now: control.now(), notice: notice,
                alert: alert, errors: errors, submitted: submitted, editing: edit.flatMap { settings.overrides[$0] == nil ? nil : $0 },
                documentText: documentText)
            return Self.html(view.render(), nonce: context.nonce, status: status, setCookie: setCookie)
        } catch {
            return storeUnavailablePage(error)
        }
    }

    func storeUnavailablePage(_ error: any Error) -> Response {
        logger.error("settings store failed", metadata: ["error": "\(error)"])
        return Self.text("The settings store is not available right now; nothing was changed.\n", status: .serviceUnavailable)
    }

    func saveParameters(_ fields: FormFields, _ request: Request, by who: String, _ control: SettingsControl) async -> Response {
        let isOverride = fields["scope"] == "override"
        var errors: [String: String] = [:]
        var submitted: [String: String] = [:]
        var selector: ZoneSelector?
        var prefix = "detection.defaults"
        if isOverride {
            let text = fields.trimmed("selector") ?? ""
            submitted["override.selector"] = text
            prefix = SettingsPageView.overridePrefix(text)
            if let s = ZoneSelector(parsing: text), s != .all {
                selector = s
            } else {
                errors["override.selector"] = "expected \"<camera>/<zone>\" or \"<camera>/*\""
            }
        }
        var set = ParameterSet()
        for p in SettingsParameter.allCases {
            let key = "\(prefix).\(p.rawValue)"
            guard let text = fields.trimmed(p.rawValue) else { continue }
            submitted[key] = text
            if let v = Double(text), p.accepts(v) { set[p] = v } else { errors[key] = "must be \(p.expected)" }
        }
        guard let version = fields["version"].flatMap({ Int($0) }) else {
            return await settingsPage(request, control, status: .badRequest, alert: "The form has no settings version: reload the page.")
        }
        guard errors.isEmpty else {
            return await settingsPage(
                request, control, status: .unprocessableContent, alert: "Nothing was saved: correct the fields marked below.", errors: errors,
                submitted: submitted)
        }
        return await change(request, control, version: version, by: who, submitted: submitted) { s in
            if let selector {
                if set.isEmpty { s.overrides[selector] = nil } else { s.overrides[selector] = set }
            } else {
                s.defaults = set
            }
        }
    }

    func removeOverride(_ fields: FormFields, _ request: Request, by who: String, _ control: SettingsControl) async -> Response {
        guard let version = fields["version"].flatMap({ Int($0) }), let selector = fields["selector"].flatMap(ZoneSelector.init(parsing:)) else {
            return await settingsPage(request, control, status: .badRequest, alert: "The form is incomplete: reload the page.")
        }
        return await change(request, control, version: version, by: who, submitted: [:]) { $0.overrides[selector] = nil }
    }

    /// Applies `edit` to the settings of `version`, validates the result as a whole document and
    /// saves it; a conflict or a refused field comes back as the page with the message.
    func change(
        _ request: Request, _ control: SettingsControl, version: Int, by who: String, submitted: [String: String],
        _ edit: (inout RuntimeSettings) -> Void
    ) async -> Response {
        var s: RuntimeSettings
        do {
            s = try await control.current()
            guard s.version == version else {
                return await settingsPage(
                    request, control, status: .conflict,
                    alert: "The settings changed meanwhile (now version \(s.version), your form was for \(version)); nothing was saved. Check them and save again.",
                    submitted: submitted)
            }
            edit(&s)
            do {
                s = try SettingsDocument.decode(SettingsDocument.encode(s))
            } catch {
                var errors: [String: String] = [:]
                for p in error.problems { errors[p.field] = p.message }
                return await settingsPage(
                    request, control, status: .unprocessableContent, alert: "Nothing was saved: correct the fields marked below.", errors: errors,
                    submitted: submitted)
            }
        } catch {
            return storeUnavailablePage(error)
        }
        return await save(s, request, control, version: version, by: who, submitted: submitted)
    }

    /// Saves `settings` over `version`, then shows them; a conflict comes back as the page with
    /// what was submitted (`submitted` fields, or the whole document's text).
    func save(
        _ settings: RuntimeSettings, _ request: Request, _ control: SettingsControl, version: Int, by who: String,
        submitted: [String: String] = [:], documentText: String? = nil
    ) async -> Response {
        do {
            let saved = try await control.replace(settings, expectedVersion: version, by: who)
            return Self.redirect("/settings?saved=\(saved.version)")
        } catch SettingsStoreError.versionConflict(let current) {
            return await settingsPage(
                request, control, status: .conflict,
                alert: "The settings changed meanwhile (now version \(current)); nothing was saved. Check them and save again.",
                submitted: submitted, documentText: documentText)
        } catch {
            return storeUnavailablePage(error)
        }
    }

    func saveDocument(_ fields: FormFields, _ request: Request, by who: String, _ control: SettingsControl) async -> Response {
        let text = fields["document"] ?? ""
        guard let version = fields["version"].flatMap({ Int($0) }) else {
            return await settingsPage(request, control, status: .badRequest, alert: "The form has no settings version: reload the page.")
        }
        let settings: RuntimeSettings
        do {
            settings = try SettingsDocument.decode(Data(text.utf8))
        } catch {
            var errors: [String: String] = [:]
            for p in error.problems { errors[p.field.isEmpty ? "document" : "document:" + p.field] = p.message }
            return await settingsPage(
                request, control, status: .unprocessableContent, alert: "Nothing was saved: the document has errors (listed with it).", errors: errors,
                documentText: text)
        }
        return await save(settings, request, control, version: version, by: who, documentText: text)
    }

    func muteForm(_ fields: FormFields, _ request: Request, by who: String, _ control: SettingsControl) async -> Response {
        var errors: [String: String] = [:]
        let selectorText = fields.trimmed("selector") ?? ""
        let minutesText = fields.trimmed("minutes") ?? ""
        let reason = fields.trimmed("reason") ?? ""
        let selector = ZoneSelector(parsing: selectorText)
        if selector == nil { errors["mute.selector"] = "expected \"<camera>/<zone>\", \"<camera>/*\" or \"*\"" }
        let minutes = Int(minutesText).flatMap { (1...525_600).contains($0) ? $0 : nil }
        if minutes == nil { errors["mute.minutes"] = "expected a whole number of minutes from 1 to 525600" }
        if reason.utf8.count > 1000 { errors["mute.reason"] = "at most 1000 bytes" }
        guard errors.isEmpty, let selector, let minutes else {
            return await settingsPage(
                request, control, status: .unprocessableContent, alert: "Nothing was muted: correct the fields marked below.", errors: errors,
                submitted: ["mute.selector": selectorText, "mute.minutes": minutesText, "mute.reason": reason])
        }
        do {
            _ = try await control.mute(selector, until: control.now() + Int64(minutes) * 60_000, reason: reason, by: who)
            return Self.redirect(Self.safeNext(fields["next"]))
        } catch {
            return storeUnavailablePage(error)
        }
    }
}
