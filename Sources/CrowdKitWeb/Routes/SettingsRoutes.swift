import CrowdKitCore
import Foundation
import Hummingbird

/// `/api/settings`, `/api/mutes`, `/api/detection/pause|resume`, `/api/audit` (the contract of
/// live control; see ``CrowdWeb``).
extension CrowdWeb {
    func addSettingsRoutes<Context: RequestContext>(_ routes: RouteCollection<Context>, _ control: SettingsControl) {
        routes.get("/api/settings") { _, _ in await self.getSettings(control) }
        routes.put("/api/settings") { request, _ in await self.putSettings(request, control) }
        routes.get("/api/mutes") { _, _ in await self.listMutes(control) }
        routes.post("/api/mutes") { request, _ in await self.addMute(request, control) }
        routes.delete("/api/mutes/{id}") { request, context in
            await self.deleteMute(context.parameters.get("id") ?? "", by: self.actor(request), control)
        }
        routes.post("/api/detection/pause") { request, _ in await self.pause(true, by: self.actor(request), control) }
        routes.post("/api/detection/resume") { request, _ in await self.pause(false, by: self.actor(request), control) }
        routes.get("/api/audit") { request, _ in await self.audit(request, control) }
    }

    /// Who makes a change, for the audit: the token's name (`token` for the single
    /// `http.token`), the basic-auth or signed-in user, or `local` (an open server only listens
    /// on loopback).
    func actor(_ request: Request) -> String { auth.principal(request) ?? "unknown" }

    func getSettings(_ control: SettingsControl) async -> Response {
        do {
            return Self.settingsResponse(try await control.current())
        } catch {
            return storeUnavailable(error)
        }
    }

    static func settingsResponse(_ s: RuntimeSettings) -> Response {
        var r = json(bytes: Array(SettingsDocument.encode(s)))
        r.headers[.eTag] = "\"\(s.version)\""
        return r
    }

    func putSettings(_ request: Request, _ control: SettingsControl) async -> Response {
        guard let ifMatch = request.headers[.ifMatch] else {
            return Self.errors(.preconditionRequired, [("If-Match", "required: the version read with GET, as \"<version>\"")])
        }
        guard let expected = Self.version(ifMatch: ifMatch) else {
            return Self.errors(.badRequest, [("If-Match", "expected \"<version>\" as in the ETag of GET /api/settings")])
        }
        let body: Data
        do {
            body = try await Self.body(of: request)
        } catch {
            return Self.errors(.contentTooLarge, [("", "the document is over 1 MiB")])
        }
        let settings: RuntimeSettings
        do {
            settings = try SettingsDocument.decode(body)
        } catch {
            return Self.errors(.unprocessableContent, error.problems.map { ($0.field, $0.message) })
        }
        do {
            return Self.settingsResponse(try await control.replace(settings, expectedVersion: expected, by: actor(request)))
        } catch SettingsStoreError.versionConflict(let current) {
            return Self.errors(.preconditionFailed, [("If-Match", "the settings are at version \(current), not \(expected): read them again")])
        } catch {
            return storeUnavailable(error)
        }
    }

    func listMutes(_ control: SettingsControl) async -> Response {
        do {
            let mutes = try await control.store.mutes(activeAt: control.now())
            return Self.jsonObject(mutes.map(Self.muteObject))
        } catch {
            return storeUnavailable(error)
        }
    }

    func addMute(_ request: Request, _ control: SettingsControl) async -> Response {
        let body: Data
        do {
            body = try await Self.body(of: request)
        } catch {
            return Self.errors(.contentTooLarge, [("", "the body is over 1 MiB")])
        }
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            return Self.errors(.badRequest, [("", "expected a JSON object {\"selector\", \"minutes\" or \"until\", \"reason\"}")])
        }
        var problems: [(String, String)] = []
        for key in object.keys.sorted() where !["selector", "minutes", "until", "reason"].contains(key) {
            problems.append((key, "unknown field"))
        }
        let selector = (object["selector"] as? String).flatMap(ZoneSelector.init(parsing:))
        if selector == nil { problems.append(("selector", "expected \"<camera>/<zone>\", \"<camera>/*\" or \"*\"")) }
        let now = control.now()
        var until: Int64?
        switch (object["minutes"], object["until"]) {
        case (_?, nil):
            // JSONDecoder: a whole number only (not true, not 1.5, not "60")
            struct Minutes: Decodable { var minutes: Int }
            if let minutes = (try? JSONDecoder().decode(Minutes.self, from: body))?.minutes, (1...525_600).contains(minutes) {
                until = now + Int64(minutes) * 60_000
            } else {
                problems.append(("minutes", "expected a whole number of minutes from 1 to 525600"))
            }
        case (nil, let u?):
            if let text = u as? String, let date = try? Date(text, strategy: .iso8601), Int64(date.timeIntervalSince1970 * 1000) > now {
                until = Int64(date.timeIntervalSince1970 * 1000)
            } else {
                problems.append(("until", "expected an ISO-8601 time in the future, e.g. 2026-12-02T18:00:00Z"))
            }
        default:
            problems.append(("minutes", "give either minutes (1 to 525600) or until (ISO-8601)"))
        }
        var reason = ""
        if let r = object["reason"] {
            if let text = r as? String, text.utf8.count <= 1000 { reason = text } else { problems.append(("reason", "expected a text of at most 1000 bytes")) }
        }
        guard problems.isEmpty, let selector, let until else { return Self.errors(.unprocessableContent, problems) }
        do {
            let mute = try await control.mute(selector, until: until, reason: reason, by: actor(request))
            return Self.jsonObject(Self.muteObject(mute), status: .created)
        } catch {
            return storeUnavailable(error)
        }
    }

    func deleteMute(_ id: String, by actor: String, _ control: SettingsControl) async -> Response {
        do {
            guard try await control.unmute(id: id, by: actor) else { return Self.errors(.notFound, [("id", "no mute \(id)")]) }
            return Response(status: .noContent)
        } catch {
            return storeUnavailable(error)
        }
    }

    func pause(_ paused: Bool, by actor: String, _ control: SettingsControl) async -> Response {
        do {
            let s = try await control.setPaused(paused, by: actor)
            return Self.jsonObject(["paused": s.paused])
        } catch {
            return storeUnavailable(error)
        }
    }

    func audit(_ request: Request, _ control: SettingsControl) async -> Response {
        var limit = 100
        if let text = request.uri.queryParameters.get("limit") {
            guard let n = Int(text), (1...10_000).contains(n) else { return Self.errors(.badRequest, [("limit", "expected 1 to 10000")]) }
            limit = n
        }
        do {
            let entries = try await control.store.audit(limit: limit)
            return Self.jsonObject(entries.map { ["at": Format.iso($0.at), "by": $0.by, "action": $0.action, "summary": $0.summary] })
        } catch {
            return storeUnavailable(error)
        }
    }

    // MARK: helpers

    static func muteObject(_ m: Mute) -> [String: Any] {
        ["id": m.id, "selector": m.selector.description, "from": Format.iso(m.from), "until": Format.iso(m.until), "reason": m.reason, "by": m.by]
    }

    /// `"7"`, `W/"7"` or `7`.
    static func version(ifMatch: String) -> Int? {
        var v = Substring(ifMatch.trimmingCharacters(in: .whitespaces))
        if v.hasPrefix("W/") { v = v.dropFirst(2) }
        if v.hasPrefix("\""), v.hasSuffix("\""), v.count >= 2 { v = v.dropFirst().dropLast() }
        return Int(v).flatMap { $0 >= 0 ? $0 : nil }
    }

    static func body(of request: Request) async throws -> Data {
        var request = request
        let buffer = try await request.collectBody(upTo: SettingsDocument.maximumSize)
        return Data(buffer.readableBytesView)
    }

    static func errors(_ status: HTTPResponse.Status, _ problems: [(String, String)]) -> Response {
        jsonObject(["errors": problems.map { ["field": $0.0, "message": $0.1] }], status: status)
    }

    static func jsonObject(_ value: Any, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return json(bytes: Array(data), status: status)
    }

    func storeUnavailable(_ error: any Error) -> Response {
        logger.error("settings store failed", metadata: ["error": "\(error)"])
        return Self.errors(.serviceUnavailable, [("", "the settings store is not available right now")])
    }
}
