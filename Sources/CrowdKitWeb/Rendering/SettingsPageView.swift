import CrowdKitCore
import Foundation

/// `GET /settings`: run-time settings as forms that work without JavaScript (SEMANTICS.md §7):
/// pause and resume, the defaults, per-zone and per-camera overrides, schedules and quiet hours,
/// the whole document for everything else, mutes and the audit list. A refused form comes back
/// with its values and each error next to its field.
struct SettingsPageView {
    var context: PageContext
    var settings: RuntimeSettings
    var mutes: [Mute]
    var audit: [AuditEntry]
    var now: Int64
    /// A success message ("Saved: version 8").
    var notice: String?
    /// A message for the whole page (a version conflict, the store failing).
    var alert: String?
    /// Field → message; fields are the document's paths (`detection.defaults.minPeople`,
    /// `detection.overrides.<selector>.dwellSeconds`), `override.selector`, `mute.<field>`,
    /// `document`.
    var errors: [String: String] = [:]
    /// The submitted text of a refused form, by the same field names.
    var submitted: [String: String] = [:]
    /// The override being edited (its form is filled with it).
    var editing: ZoneSelector?
    /// The submitted whole document of a refused save.
    var documentText: String?

    static let dwellParameters: [SettingsParameter] = [.minPeople, .dwellSeconds, .gapSeconds, .cooldownSeconds, .staleSeconds, .repeatSeconds]
    static let countParameters: [SettingsParameter] = [.armPeople, .iterateCount, .triggerPeople, .timeoutCount, .pauseSeconds]

    func render() -> [UInt8] {
        var w = ByteWriter(capacity: 48 * 1024)
        PageChrome.begin(context, pageTitle: "Settings", subtitle: "Run-time settings: in effect at each zone's next reading, no restart", current: .settings, into: &w)
        if let notice {
            w.raw("<p class=\"notice\" role=\"status\">")
            w.html(notice)
            w.raw("</p>\n")
        }
        if let alert {
            w.raw("<p class=\"alert\" role=\"alert\">")
            w.html(alert)
            w.raw("</p>\n")
        }
        detection(into: &w)
        defaults(into: &w)
        overrides(into: &w)
        timed(into: &w)
        mutesSection(into: &w)
        document(into: &w)
        auditSection(into: &w)
        PageChrome.end(context, script: PageChrome.script, into: &w)
        return w.bytes
    }

    // MARK: - Sections

    func detection(into w: inout ByteWriter) {
        w.raw("<section class=\"card\" aria-labelledby=\"det-h\"><div class=\"head\"><h2 id=\"det-h\">Detection</h2>")
        w.raw("<p class=\"muted\">Settings version <span id=\"settings-version\">")
        w.int(settings.version)
        w.raw("</span></p></div><p>")
        if settings.paused {
            w.raw("<span class=\"badge warn\" id=\"detection-state\">paused</span> No crowd is detected while paused; readings are still shown. ")
            PageChrome.button(context, action: "/detection/resume", label: "Resume detection", next: "/settings", style: "", into: &w)
        } else {
            w.raw("<span class=\"badge ok\" id=\"detection-state\">running</span> ")
            PageChrome.button(context, action: "/detection/pause", label: "Pause detection", next: "/settings", style: "secondary", into: &w)
        }
        w.raw("</p></section>\n")
    }

    func defaults(into w: inout ByteWriter) {
        w.raw("<section class=\"card\" aria-labelledby=\"def-h\"><h2 id=\"def-h\">Thresholds for every zone</h2>")
        w.raw("<form method=\"post\" action=\"/settings/detection\" id=\"defaults-form\" novalidate>")
        PageChrome.csrfField(context, into: &w)
        hidden("scope", "defaults", into: &w)
        hidden("version", String(settings.version), into: &w)
        parameterFields(prefix: "detection.defaults", values: settings.defaults, idPrefix: "d", into: &w)
        w.raw("<button type=\"submit\">Save thresholds</button></form></section>\n")
    }

    func overrides(into w: inout ByteWriter) {
        w.raw("<section class=\"card\" aria-labelledby=\"ovr-h\"><h2 id=\"ovr-h\">Overrides for cameras and zones</h2>")
        let sorted = settings.overrides.sorted { ($0.key.breadth, $0.key.description) < ($1.key.breadth, $1.key.description) }
        if sorted.isEmpty {
            w.raw("<p class=\"muted\">No override: every zone uses the thresholds above.</p>")
        } else {
            w.raw("<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Camera / zone</th><th scope=\"col\">Parameters</th><th scope=\"col\"><span class=\"vh\">Actions</span></th></tr></thead><tbody>")
            for (selector, set) in sorted {
                w.raw("<tr data-override=\"")
                w.html(selector.description)
                w.raw("\"><td>")
                w.html(selector.description)
                w.raw("</td><td>")
                w.html(Self.summary(set))
                w.raw("</td><td class=\"row-actions\"><a href=\"/settings?edit=")
                w.html(Format.query(selector.description))
                w.raw("#override-form\">Edit</a>")
                PageChrome.button(
                    context, action: "/settings/overrides/remove", label: "Remove",
                    fields: [("selector", selector.description), ("version", String(settings.version))], next: "/settings",
                    style: "small secondary", into: &w)
                w.raw("</td></tr>")
            }
            w.raw("</tbody></table></div>")
        }
        let editingSet = editing.flatMap { settings.overrides[$0] } ?? ParameterSet()
        let selectorText = submitted["override.selector"] ?? editing?.description ?? ""
        w.raw("<h3>")
        w.raw(editing == nil ? "Add an override" : "Change an override")
        w.raw("</h3><form method=\"post\" action=\"/settings/detection\" id=\"override-form\" novalidate>")
        PageChrome.csrfField(context, into: &w)
        hidden("scope", "override", into: &w)
        hidden("version", String(settings.version), into: &w)
        w.raw("<div class=\"grid\">")
        field(
            name: "selector", id: "o-selector", label: "Camera / zone", value: selectorText, errorKey: "override.selector",
            hint: "<camera serial>/<zone id>, or <camera serial>/* for every zone of a camera", inputmode: nil, into: &w)
        w.raw("</div>")
        let prefix = Self.overridePrefix(selectorText)
        parameterFields(prefix: prefix, values: editingSet, idPrefix: "o", into: &w)
        w.raw("<button type=\"submit\">Save override</button></form></section>\n")
    }

    func timed(into w: inout ByteWriter) {
        w.raw("<section class=\"card\" aria-labelledby=\"sch-h\"><h2 id=\"sch-h\">Schedules and quiet hours</h2>")
        if settings.schedules.isEmpty && settings.quietHours.isEmpty {
            w.raw("<p class=\"muted\">None. Add them in the whole document below (see <code>schedules</code> and <code>quietHours</code>).</p>")
        } else {
            w.raw("<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Kind</th><th scope=\"col\">Name</th><th scope=\"col\">Applies to</th><th scope=\"col\">When</th><th scope=\"col\">Parameters</th></tr></thead><tbody>")
            for s in settings.schedules { timedRow("schedule", s.name, s.selector, s.schedule, Self.summary(s.parameters), into: &w) }
            for q in settings.quietHours { timedRow("quiet hours", q.name, q.selector, q.schedule, "notifications held back", into: &w) }
            w.raw("</tbody></table></div><p class=\"muted\">Edit them in the whole document below.</p>")
        }
        w.raw("</section>\n")
    }

    func timedRow(_ kind: String, _ name: String, _ selector: ZoneSelector, _ schedule: WeeklySchedule, _ what: String, into w: inout ByteWriter) {
        w.raw("<tr><td>")
        w.html(kind)
        w.raw("</td><td>")
        w.html(name)
        w.raw("</td><td>")
        w.html(selector.description)
        w.raw("</td><td>")
        w.html(Self.describe(schedule))
        w.raw("</td><td>")
        w.html(what)
        w.raw("</td></tr>")
    }

    func mutesSection(into w: inout ByteWriter) {
        w.raw("<section class=\"card\" aria-labelledby=\"mute-h\"><h2 id=\"mute-h\">Mutes</h2>")
        if mutes.isEmpty {
            w.raw("<p class=\"muted\">No zone is muted.</p>")
        } else {
            w.raw("<div class=\"scroll\"><table id=\"mutes\"><thead><tr><th scope=\"col\">Camera / zone</th><th scope=\"col\">Until</th><th scope=\"col\">Reason</th><th scope=\"col\">By</th><th scope=\"col\"><span class=\"vh\">Actions</span></th></tr></thead><tbody>")
            for m in mutes.sorted(by: { ($0.until, $0.id) < ($1.until, $1.id) }) {
                w.raw("<tr data-mute=\"")
                w.html(m.id)
                w.raw("\"><td>")
                w.html(m.selector.description)
                w.raw("</td><td>")
                time(m.until, into: &w)
                w.raw("</td><td>")
                w.html(m.reason.isEmpty ? "–" : m.reason)
                w.raw("</td><td>")
                w.html(m.by)
                w.raw("</td><td>")
                PageChrome.button(context, action: "/mutes/\(m.id)/end", label: "Unmute", next: "/settings", style: "small secondary", into: &w)
                w.raw("</td></tr>")
            }
            w.raw("</tbody></table></div>")
        }
        w.raw("<h3>Mute</h3><p class=\"muted\">Crowds in a muted zone are still detected and stored; their notifications are recorded as suppressed and never sent later.</p>")
        w.raw("<form method=\"post\" action=\"/mutes\" id=\"mute-form\" novalidate>")
        PageChrome.csrfField(context, into: &w)
        hidden("next", "/settings", into: &w)
        w.raw("<div class=\"grid\">")
        field(
            name: "selector", id: "m-selector", label: "Camera / zone", value: submitted["mute.selector"] ?? "", errorKey: "mute.selector",
            hint: "<camera>/<zone>, <camera>/* or * for everything", inputmode: nil, into: &w)
        field(
            name: "minutes", id: "m-minutes", label: "Minutes", value: submitted["mute.minutes"] ?? "60", errorKey: "mute.minutes",
            hint: "1 to 525600", inputmode: "numeric", into: &w)
        field(name: "reason", id: "m-reason", label: "Reason", value: submitted["mute.reason"] ?? "", errorKey: "mute.reason", hint: nil, inputmode: nil, into: &w)
        w.raw("</div><button type=\"submit\">Mute</button></form></section>\n")
    }

    func document(into w: inout ByteWriter) {
        let text = documentText ?? String(decoding: Self.pretty(settings), as: UTF8.self)
        w.raw("<section class=\"card\" aria-labelledby=\"doc-h\"><details")
        if documentText != nil { w.raw(" open") }
        w.raw("><summary><h2 id=\"doc-h\" class=\"inline\">The whole document</h2></summary>")
        w.raw("<p class=\"muted\">Everything at once, as <code>GET /api/settings</code> returns it: schedules, quiet hours and recipients too. Saved only if every field is valid.</p>")
        w.raw("<form method=\"post\" action=\"/settings/document\" id=\"document-form\">")
        PageChrome.csrfField(context, into: &w)
        hidden("version", String(settings.version), into: &w)
        let documentErrors = errors.filter { !$0.key.hasPrefix("mute.") && !$0.key.hasPrefix("override.") && $0.key.hasPrefix("document") }
        if !documentErrors.isEmpty {
            w.raw("<ul class=\"error\" id=\"document-errors\">")
            for (k, m) in documentErrors.sorted(by: { $0.key < $1.key }) {
                w.raw("<li>")
                let field = k == "document" ? "" : String(k.dropFirst("document:".count))
                if !field.isEmpty {
                    w.raw("<code>")
                    w.html(field)
                    w.raw("</code>: ")
                }
                w.html(m)
                w.raw("</li>")
            }
            w.raw("</ul>")
        }
        w.raw("<label for=\"doc-text\" class=\"vh\">Settings document (JSON)</label><textarea id=\"doc-text\" name=\"document\" spellcheck=\"false\"")
        if !documentErrors.isEmpty { w.raw(" aria-invalid=\"true\" aria-describedby=\"document-errors\"") }
        w.raw(">")
        w.html(text)
        w.raw("</textarea><p><button type=\"submit\">Save document</button></p></form></details></section>\n")
    }

    func auditSection(into w: inout ByteWriter) {
        w.raw("<section class=\"card\" aria-labelledby=\"aud-h\"><div class=\"head\"><h2 id=\"aud-h\">Audit</h2><p><a href=\"/api/audit?limit=1000\">JSON</a></p></div>")
        if audit.isEmpty {
            w.raw("<p class=\"muted\">No change yet.</p></section>\n")
            return
        }
        w.raw("<div class=\"scroll\"><table id=\"audit\"><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Who</th><th scope=\"col\">What</th><th scope=\"col\">Summary</th></tr></thead><tbody>")
        for a in audit {
            w.raw("<tr><td>")
            time(a.at, into: &w)
            w.raw("</td><td>")
            w.html(a.by)
            w.raw("</td><td>")
            w.html(a.action)
            w.raw("</td><td>")
            w.html(a.summary)
            w.raw("</td></tr>")
        }
        w.raw("</tbody></table></div></section>\n")
    }

    // MARK: - Fields

    func parameterFields(prefix: String, values: ParameterSet, idPrefix: String, into w: inout ByteWriter) {
        w.raw("<div class=\"grid\">")
        for p in Self.dwellParameters { parameterField(p, prefix: prefix, values: values, idPrefix: idPrefix, into: &w) }
        w.raw("</div>")
        let countSet = Self.countParameters.contains { values[$0] != nil || errors["\(prefix).\($0.rawValue)"] != nil }
        w.raw("<details")
        if countSet { w.raw(" open") }
        w.raw("><summary class=\"muted\">Message-count policy</summary><div class=\"grid\">")
        for p in Self.countParameters { parameterField(p, prefix: prefix, values: values, idPrefix: idPrefix, into: &w) }
        w.raw("</div></details>")
    }

    func parameterField(_ p: SettingsParameter, prefix: String, values: ParameterSet, idPrefix: String, into w: inout ByteWriter) {
        let key = "\(prefix).\(p.rawValue)"
        let value = submitted[key] ?? values[p].map(OccupancyChart.fmt) ?? ""
        field(
            name: p.rawValue, id: "\(idPrefix)-\(p.rawValue)", label: p.rawValue, value: value, errorKey: key,
            hint: (p.isCount ? "whole number" : "seconds") + "; empty: inherited", inputmode: p.isCount ? "numeric" : "decimal", into: &w)
    }

    func field(name: String, id: String, label: String, value: String, errorKey: String, hint: String?, inputmode: String?, into w: inout ByteWriter) {
        let error = errors[errorKey]
        w.raw(error == nil ? "<div class=\"field\">" : "<div class=\"field invalid\">")
        w.raw("<label for=\"")
        w.html(id)
        w.raw("\">")
        w.html(label)
        w.raw("</label><input id=\"")
        w.html(id)
        w.raw("\" name=\"")
        w.html(name)
        w.raw("\" value=\"")
        w.html(value)
        w.raw("\"")
        if let inputmode {
            w.raw(" inputmode=\"")
            w.raw(inputmode)
            w.raw("\"")
        }
        if error != nil {
            w.raw(" aria-invalid=\"true\" aria-describedby=\"")
            w.html(id)
            w.raw("-error\"")
        }
        w.raw(">")
        if let error {
            w.raw("<p class=\"error\" id=\"")
            w.html(id)
            w.raw("-error\">")
            w.html(error)
            w.raw("</p>")
        } else if let hint {
            w.raw("<span class=\"hint\">")
            w.html(hint)
            w.raw("</span>")
        }
        w.raw("</div>")
    }

    func hidden(_ name: String, _ value: String, into w: inout ByteWriter) {
        w.raw("<input type=\"hidden\" name=\"")
        w.html(name)
        w.raw("\" value=\"")
        w.html(value)
        w.raw("\">")
    }

    func time(_ ms: Int64, into w: inout ByteWriter) { PageView.time(ms, into: &w) }

    // MARK: - Text

    /// The error prefix of an override's parameters.
    static func overridePrefix(_ selector: String) -> String { "detection.overrides.\(selector)" }

    static func summary(_ set: ParameterSet) -> String {
        let parts = SettingsParameter.allCases.compactMap { p in set[p].map { "\(p.rawValue) \(OccupancyChart.fmt($0))" } }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }

    static func describe(_ schedule: WeeklySchedule) -> String {
        let object = SettingsDocument.jsonObject(
            RuntimeSettings(quietHours: [QuietHours(name: "x", selector: .all, schedule: schedule)]))
        guard let q = (object["quietHours"] as? [[String: Any]])?.first else { return "" }
        let zone = q["timeZone"] as? String ?? ""
        let windows = (q["windows"] as? [[String: Any]] ?? []).map { w -> String in
            let days = (w["days"] as? [String] ?? []).joined(separator: ",")
            return "\(days) \(w["from"] as? String ?? "")–\(w["to"] as? String ?? "")"
        }
        return windows.joined(separator: "; ") + " (" + zone + ")"
    }

    static func pretty(_ s: RuntimeSettings) -> Data {
        (try? JSONSerialization.data(
            withJSONObject: SettingsDocument.jsonObject(s), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }
}
