import CrowdKitCore
import Foundation

/// The server-rendered page: works without JavaScript; a small script (allowed by a per-response
/// CSP nonce) shows times in the viewer's time zone and refreshes rows and the live panel when the
/// event stream reports a change.
struct PageView {
    var title: String
    var nonce: String
    /// Navigation, CSRF token and what exists (settings, charts); `nil`: no navigation, no controls.
    var context: PageContext? = nil
    /// Active mutes (for the zone rows' Mute/Unmute buttons).
    var mutes: [Mute] = []
    /// Whether detection is paused (`nil`: live control is off).
    var paused: Bool? = nil
    var filter: EventFilter
    var defaultLimit: Int
    var page: EventPage?
    var live: LiveStatus
    var now: Date
    var error: String?
    /// What people said about the listed events, and their conversation links.
    var extras: [CrowdEventID: JSONView.Extras]? = nil

    func render() -> [UInt8] {
        var names = Names(live: live)
        for r in page?.records ?? [] { names.learn(r.event) }
        // a zone row is about 500 bytes: sized once, not grown by copying
        var w = ByteWriter(capacity: 96 * 1024 + 640 * live.zones.count)
        let c = context ?? PageContext(title: title, nonce: nonce, csrf: "")
        PageChrome.begin(c, pageTitle: "Crowd events", subtitle: "Crowd events from Meraki MV Sense people counts", current: .events, into: &w)
        liveSection(names: names, into: &w)
        eventsSection(names: names, into: &w)
        PageChrome.end(c, script: Self.script, into: &w)
        return w.bytes
    }

    // MARK: - Live panel

    func liveSection(names: Names, into w: inout ByteWriter) {
        let feed = live.feed
        let connected = feed.state == .connected
        var h = "<section class=\"card\" id=\"live\" aria-labelledby=\"live-h\">\n"
        h += "<div class=\"head\"><h2 id=\"live-h\">Live</h2>"
        if let paused, let context, context.controls {
            var b = ByteWriter(capacity: 512)
            if paused {
                b.raw("<p><span class=\"badge warn\" id=\"detection-state\">detection paused</span> ")
                PageChrome.button(context, action: "/detection/resume", label: "Resume", next: "/", style: "small", into: &b)
            } else {
                b.raw("<p>")
                PageChrome.button(context, action: "/detection/pause", label: "Pause detection", next: "/", style: "small secondary", into: &b)
            }
            b.raw("</p>")
            h += String(decoding: b.bytes, as: UTF8.self)
        }
        h += "</div>\n<dl class=\"feed\">"
        h += "<div><dt>Broker</dt><dd><span class=\"badge \(connected ? "ok" : "bad")\">"
        h += Format.html(feed.state.rawValue) + "</span>"
        if !feed.description.isEmpty { h += " <span class=\"muted\">" + Format.html(feed.description) + "</span>" }
        h += "</dd></div>"
        h += "<div><dt>Last message</dt><dd>"
        if let last = feed.lastMessageAt {
            let age = max(0, now.timeIntervalSince(last))
            h += age < 1 ? "just now" : Format.duration(Int64(age * 1000)) + " ago"
        } else {
            h += "none yet"
        }
        h += "</dd></div>"
        h += "<div><dt>Messages/s</dt><dd>"
        h += live.messagesPerSecond.map { String(format: "%.1f", $0) } ?? "–"
        h += "</dd></div>"
        h += "<div><dt>Received</dt><dd>\(feed.received)"
        if feed.dropped > 0 { h += " <span class=\"badge warn\">\(feed.dropped) dropped</span>" }
        h += "</dd></div>"
        if let err = feed.lastError, !connected {
            h += "<div><dt>Last error</dt><dd>" + Format.html(err) + "</dd></div>"
        }
        h += "</dl>\n"
        let zones = live.zonesInOrder
        // Zones with something going on first; many idle zones fold away (works without JS).
        let active = zones.filter { $0.phase != .idle }
        let idle = zones.filter { $0.phase == .idle }
        w.raw(h)
        if let context, context.controls, !zones.isEmpty {
            CrowdWeb.zoneMuteForm(id: Self.zoneMuteFormID, context: context, next: "/", into: &w)
        }
        if zones.isEmpty {
            w.raw("<p class=\"muted\">No zone has reported yet.</p>\n")
        } else if idle.count <= 8 {
            zoneTable(active + idle, caption: "Every zone's current state", names: names, into: &w)
        } else {
            if active.isEmpty {
                w.raw("<p class=\"muted\">No crowd is building up right now.</p>\n")
            } else {
                zoneTable(active, caption: "Zones with a crowd or a possible crowd", names: names, into: &w)
            }
            w.raw("<details class=\"idle-zones\"><summary>")
            w.int(idle.count)
            w.raw(" idle zones</summary>")
            zoneTable(idle, caption: "Idle zones", names: names, into: &w)
            w.raw("</details>\n")
        }
        if !live.areas.isEmpty { areaTable(names: names, into: &w) }
        if !live.lines.isEmpty { lineTable(names: names, into: &w) }
        w.raw("</section>\n")
    }

    /// Areas (SEMANTICS.md §8): occupancy from their lines, and the dwell state.
    func areaTable(names: Names, into w: inout ByteWriter) {
        w.raw("<h3>Areas</h3><div class=\"scroll\"><table class=\"areas\"><caption class=\"vh\">Areas counted from line crossings</caption>")
        w.raw("<thead><tr><th scope=\"col\">Area</th><th scope=\"col\" class=\"num\">Inside</th><th scope=\"col\">State</th>")
        w.raw("<th scope=\"col\">Lines</th><th scope=\"col\">Last reading</th></tr></thead><tbody>")
        for a in live.areas {
            w.raw("<tr data-area=\"")
            w.html(a.name)
            w.raw("\"><td>")
            zoneCell(a.name, names.zone(AreaDefinition.camera, a.name), into: &w)
            w.raw("</td><td class=\"num\">")
            w.int(a.occupancy)
            if a.objectType == .vehicle { w.raw(" <span class=\"muted\">vehicles</span>") }
            w.raw("</td><td>")
            phase(a.phase, lastTs: a.lastTs ?? 0, into: &w)
            w.raw("</td><td>")
            w.html(a.lines.joined(separator: ", "))
            if let r = a.resetDaily {
                w.raw(" <span class=\"muted\">reset ")
                w.html(r)
                if let tz = a.timeZone { w.raw(" "); w.html(tz) }
                w.raw("</span>")
            }
            w.raw("</td><td>")
            if let t = a.lastTs { time(t, into: &w) } else { w.raw("<span class=\"muted\">none yet</span>") }
            w.raw("</td></tr>")
        }
        w.raw("</tbody></table></div>\n")
    }

    /// Every line with its crossings in and out today (and in total).
    func lineTable(names: Names, into w: inout ByteWriter) {
        w.raw("<h3>Lines</h3><div class=\"scroll\"><table class=\"lines\"><caption class=\"vh\">Line crossings today</caption>")
        w.raw("<thead><tr><th scope=\"col\">Camera</th><th scope=\"col\">Line</th><th scope=\"col\">Areas</th>")
        w.raw("<th scope=\"col\" class=\"num\">In today</th><th scope=\"col\" class=\"num\">Out today</th>")
        w.raw("<th scope=\"col\">Last crossing</th></tr></thead><tbody>")
        for l in live.lines {
            w.raw("<tr data-line=\"")
            w.html(l.camera)
            w.raw("/")
            w.html(l.line)
            w.raw("\"><td>")
            cameraCell(l.camera, names.camera(l.camera), into: &w)
            w.raw("</td><td>")
            zoneCell(l.line, l.label, into: &w)
            w.raw("</td><td>")
            if l.areas.isEmpty { w.raw("<span class=\"muted\">none</span>") } else { w.html(l.areas.joined(separator: ", ")) }
            w.raw("</td><td class=\"num\">")
            w.int(l.inToday)
            w.raw("</td><td class=\"num\">")
            w.int(l.outToday)
            w.raw("</td><td>")
            if let t = l.lastTs { time(t, into: &w) } else { w.raw("<span class=\"muted\">none yet</span>") }
            w.raw("</td></tr>")
        }
        w.raw("</tbody></table></div>\n")
    }

    func phase(_ phase: ZonePhase, lastTs: Int64, into w: inout ByteWriter) { Self.phase(phase, lastTs: lastTs, into: &w) }

    static func phase(_ phase: ZonePhase, lastTs: Int64, into w: inout ByteWriter) {
        switch phase {
        case .idle:
            w.raw("<span class=\"badge idle\">idle</span>")
        case .pending(let since):
            w.raw("<span class=\"badge pending\">pending</span> <span class=\"muted\">dwell ")
            w.raw(Format.duration(lastTs - since))
            w.raw("</span>")
        case .crowd(let since, _):
            w.raw("<span class=\"badge crowd\">crowd</span> <span class=\"muted\">for ")
            w.raw(Format.duration(lastTs - since))
            w.raw("</span>")
        case .paused(let until):
            w.raw("<span class=\"badge idle\">paused</span> <span class=\"muted\">until ")
            time(until, into: &w)
            w.raw("</span>")
        }
    }

    /// The id of the form the zone rows' "Mute 1 h" buttons submit.
    static let zoneMuteFormID = "zone-mute"

    func zoneTable(_ zones: [ZoneSnapshot], caption: String, names: Names, into w: inout ByteWriter) {
        w.raw("<div class=\"scroll\"><table class=\"zones\"><caption class=\"vh\">")
        w.html(caption)
        w.raw("</caption>")
        w.raw("<thead><tr><th scope=\"col\">Camera</th><th scope=\"col\">Zone</th><th scope=\"col\" class=\"num\">People</th>")
        w.raw("<th scope=\"col\">State</th><th scope=\"col\">Last reading</th>")
        let actions = context.map { $0.controls || $0.charts } ?? false
        if actions { w.raw("<th scope=\"col\"><span class=\"vh\">Actions</span></th>") }
        w.raw("</tr></thead><tbody>")
        for z in zones {
            w.raw("<tr data-zone=\"")
            w.html(z.camera)
            w.raw("/")
            w.html(z.zone)
            w.raw("\"><td>")
            cameraCell(z.camera, names.camera(z.camera), into: &w)
            w.raw("</td><td>")
            zoneCell(z.zone, names.zone(z.camera, z.zone), into: &w)
            w.raw("</td><td class=\"num\">")
            w.int(z.people)
            w.raw("</td><td>")
            phase(z.phase, lastTs: z.lastTs, into: &w)
            w.raw("</td><td>")
            time(z.lastTs, into: &w)
            if actions, let context {
                let key = ZoneKey(camera: z.camera, zone: z.zone)
                w.raw("</td><td class=\"row-actions\">")
                if context.charts {
                    w.raw("<a href=\"")
                    w.html(CrowdWeb.zonePath(key))
                    w.raw("\">Chart</a> ")
                }
                if context.controls {
                    CrowdWeb.zoneMuteControls(key, mutes: mutes, context: context, next: "/", sharedForm: Self.zoneMuteFormID, into: &w)
                }
            }
            w.raw("</td></tr>")
        }
        w.raw("</tbody></table></div>\n")
    }

    // MARK: - Events

    func eventsSection(names: Names, into w: inout ByteWriter) {
        var h = "<section class=\"card\" aria-labelledby=\"events-h\">\n"
        h += "<div class=\"head\"><h2 id=\"events-h\">Events</h2>"
        h += "<p class=\"muted\" id=\"live-note\" aria-live=\"polite\"></p></div>\n"
        h += filterForm(names: names)
        if let error {
            h += "<p class=\"alert\" role=\"alert\">" + Format.html(error) + "</p>\n"
        }
        h += "<div class=\"scroll\"><table class=\"events\"><caption class=\"vh\">Crowd events, newest first</caption>"
        h += "<thead><tr><th scope=\"col\">Camera</th><th scope=\"col\">Zone</th><th scope=\"col\">Start</th>"
        h += "<th scope=\"col\">End</th><th scope=\"col\">Duration</th><th scope=\"col\" class=\"num\">Peak</th>"
        h += "<th scope=\"col\">Video</th><th scope=\"col\">Snapshot</th><th scope=\"col\">Notifications</th></tr></thead>\n"
        h += "<tbody id=\"event-rows\">"
        let records = page?.records ?? []
        if records.isEmpty {
            h += "<tr class=\"empty\"><td colspan=\"9\">"
            h += filter.isFiltered || filter.cursor != nil ? "No events match." : "No crowd events yet."
            h += "</td></tr>"
        }
        w.raw(h)
        for r in records { row(r, names: names, into: &w) }
        h = "</tbody></table></div>\n"
        h += "<nav class=\"pager\" aria-label=\"Pages\">"
        if filter.cursor != nil {
            let q = filter.queryString(includeLimit: true, defaultLimit: defaultLimit)
            h += "<a href=\"/" + (q.isEmpty ? "" : "?" + Format.html(q)) + "\">← Newest</a>"
        }
        if let next = page?.nextCursor {
            let q = filter.queryString(cursor: next, includeLimit: true, defaultLimit: defaultLimit)
            h += "<a rel=\"next\" href=\"/?" + Format.html(q) + "\">Older events →</a>"
        }
        h += "</nav>\n"
        w.raw(h)
        w.raw("</section>\n")
    }

    func filterForm(names: Names) -> String {
        var h = "<form class=\"filters\" method=\"get\" action=\"/\" role=\"search\" aria-label=\"Filter events\">"
        h += "<div><label for=\"f-camera\">Camera</label>"
        h += "<input id=\"f-camera\" name=\"camera\" list=\"cameras\" autocomplete=\"off\" placeholder=\"all\" value=\""
        h += Format.html(filter.cameras.joined(separator: ",")) + "\"></div>"
        h += "<div><label for=\"f-zone\">Zone</label>"
        h += "<input id=\"f-zone\" name=\"zone\" list=\"zones\" autocomplete=\"off\" placeholder=\"all\" value=\""
        h += Format.html(filter.zones.joined(separator: ",")) + "\"></div>"
        h += "<div><label for=\"f-from\">From <span class=\"tzl\">(UTC)</span></label>"
        h += "<input id=\"f-from\" name=\"from\" type=\"datetime-local\" value=\""
        h += filter.from.map(Format.minuteUTC) ?? ""
        h += "\"></div>"
        h += "<div><label for=\"f-to\">Until <span class=\"tzl\">(UTC)</span></label>"
        h += "<input id=\"f-to\" name=\"to\" type=\"datetime-local\" value=\""
        h += filter.to.map(Format.minuteUTC) ?? ""
        h += "\"></div>"
        if filter.limit != defaultLimit { h += "<input type=\"hidden\" name=\"limit\" value=\"\(filter.limit)\">" }
        h += "<div class=\"actions\"><button type=\"submit\">Apply</button>"
        if filter.isFiltered { h += "<a href=\"/\">Clear</a>" }
        let q = filter.queryString()
        h += "<a href=\"/api/events.csv" + (q.isEmpty ? "" : "?" + Format.html(q)) + "\" download>CSV</a></div>"
        h += "<datalist id=\"cameras\">"
        for serial in names.cameraIDs.sorted() {
            h += "<option value=\"" + Format.html(serial) + "\">" + Format.html(names.camera(serial) ?? serial) + "</option>"
        }
        h += "</datalist><datalist id=\"zones\">"
        for zone in names.zoneIDs.sorted() {
            h += "<option value=\"" + Format.html(zone) + "\">"
            h += Format.html(Format.zoneLabel(zone: zone, name: names.zoneNamesByID[zone]))
            h += "</option>"
        }
        h += "</datalist></form>\n"
        return h
    }

    func row(_ record: EventRecord, names: Names, into w: inout ByteWriter) {
        let e = record.event
        w.raw("<tr data-event-id=\"")
        w.html(e.id.rawValue)
        w.raw(e.isOngoing ? "\" class=\"ongoing\"><td>" : "\"><td>")
        cameraCell(e.camera, e.cameraName ?? names.camera(e.camera), into: &w)
        w.raw("</td><td>")
        zoneCell(e.zone, e.zoneName ?? names.zone(e.camera, e.zone), into: &w)
        w.raw("</td><td>")
        time(e.startedAt, into: &w)
        w.raw("</td><td>")
        if let ended = e.endedAt { time(ended, into: &w) } else { w.raw("<span class=\"badge crowd\">ongoing</span>") }
        w.raw("</td><td>")
        w.raw(Format.duration(e.durationMilliseconds))
        w.raw("</td><td class=\"num\">")
        w.int(e.peak)
        w.raw("</td>")
        let where_ = cameraName(e.camera, e.cameraName ?? names.camera(e.camera))
        if let video = Format.safeLink(e.videoURL) {
            w.raw("<td><a class=\"video\" href=\"")
            w.html(video)
            w.raw("\" target=\"_blank\" rel=\"noopener noreferrer\">Video<span class=\"vh\"> of ")
            w.html(where_)
            w.raw(" at the start</span></a></td>")
        } else {
            w.raw("<td><span class=\"muted\" title=\"No video link yet\">–</span></td>")
        }
        if let snap = Format.safeLink(e.snapshotURL) {
            w.raw("<td><a href=\"")
            w.html(snap)
            w.raw("\" target=\"_blank\" rel=\"noopener noreferrer\"><img class=\"snap\" src=\"")
            w.html(snap)
            w.raw("\" alt=\"Snapshot of ")
            w.html(where_)
            w.raw(" at the start\" loading=\"lazy\" width=\"96\" height=\"54\"></a></td>")
        } else {
            w.raw("<td><span class=\"muted\">–</span></td>")
        }
        w.raw("<td>")
        deliveries(record.deliveries, into: &w)
        if let extra = extras?[e.id] { feedback(extra, into: &w) }
        w.raw("</td></tr>\n")
    }

    func deliveries(_ list: [Delivery], into w: inout ByteWriter) {
        guard !list.isEmpty else {
            w.raw("<span class=\"muted\">none</span>")
            return
        }
        w.raw("<ul class=\"deliveries\">")
        for d in list.sorted(by: { ($0.notifier, $0.createdAt, $0.id) < ($1.notifier, $1.createdAt, $1.id) }) {
            let cls: StaticString
            var detail = ""
            switch d.status {
            case .pending:
                cls = "pending"
                if d.attempts > 0 {
                    detail = "\(d.attempts) attempt" + (d.attempts == 1 ? "" : "s")
                    if let error = d.lastError { detail += "; last error: " + error }
                }
            case .sent: cls = "ok"
            case .failed(let reason), .expired(let reason):
                cls = "bad"
                detail = reason
            case .suppressed(let reason):
                cls = "muted"
                detail = reason
            }
            w.raw("<li><span class=\"badge ")
            w.raw(cls)
            w.raw("\"")
            if !detail.isEmpty {
                w.raw(" title=\"")
                w.html(detail)
                w.raw("\"")
            }
            w.raw(">")
            w.html(d.notifier)
            w.raw(" · ")
            w.html(d.kind.rawValue)
            if d.kind == .reminder {
                w.raw(" ")
                w.int(d.sequence)
            }
            w.raw(": ")
            w.raw(d.status.name)
            w.raw("</span>")
            if !detail.isEmpty, d.status.reason != nil {
                w.raw(" <span class=\"muted reason\">")
                w.html(detail)
                w.raw("</span>")
            }
            w.raw("</li>")
        }
        w.raw("</ul>")
    }

    /// "Acknowledged by X at T", the labels, and the link to the Webex thread, under the
    /// notifications.
    func feedback(_ extra: JSONView.Extras, into w: inout ByteWriter) {
        if let ack = extra.feedback.acknowledgement {
            w.raw("<p class=\"ack\">Acknowledged by ")
            w.html(ack.by)
            w.raw(" at ")
            time(ack.at, into: &w)
            w.raw("</p>")
        }
        for label in extra.feedback.labels {
            w.raw("<p class=\"label\"><span class=\"badge muted\">")
            w.raw(label.kind == .notCrowd ? "not a crowd" : "a crowd")
            w.raw("</span> by ")
            w.html(label.by)
            w.raw("</p>")
        }
        if let link = Format.conversationLink(extra.conversationURL) {
            w.raw("<p><a class=\"thread\" href=\"")
            w.html(link)
            w.raw("\" rel=\"noopener noreferrer\">Webex thread</a></p>")
        }
    }

    func time(_ ms: Int64, into w: inout ByteWriter) { Self.time(ms, into: &w) }

    static func time(_ ms: Int64, into w: inout ByteWriter) {
        w.raw("<time datetime=\"")
        w.iso(ms)
        w.raw("\">")
        w.readableUTC(ms)
        w.raw("</time>")
    }

    func cameraName(_ serial: String, _ name: String?) -> String {
        if let name, !name.isEmpty { return name }
        return serial
    }

    func cameraCell(_ serial: String, _ name: String?, into w: inout ByteWriter) {
        w.raw("<span class=\"name\">")
        if let name, !name.isEmpty, name != serial {
            w.html(name)
            w.raw("</span><span class=\"id\">")
        }
        w.html(serial)
        w.raw("</span>")
    }

    func zoneCell(_ zone: String, _ name: String?, into w: inout ByteWriter) {
        w.raw("<span class=\"name\">")
        w.html(Format.zoneLabel(zone: zone, name: name))
        w.raw("</span>")
        if zone != "0" || name != nil {
            w.raw("<span class=\"id\">")
            w.html(zone)
            w.raw("</span>")
        }
    }

    /// Camera and zone names known from the live status and the listed events.
    struct Names {
        var cameraIDs = Set<String>()
        var zoneIDs = Set<String>()
        var cameraNames: [String: String] = [:]
        var zoneNames: [ZoneKey: String] = [:]
        var zoneNamesByID: [String: String] = [:]

        init(live: LiveStatus) {
            for z in live.zones {
                cameraIDs.insert(z.camera)
                zoneIDs.insert(z.zone)
            }
            cameraNames = live.cameraNames
            for (k, n) in live.zoneNames {
                zoneNames[k] = n
                zoneNamesByID[k.zone] = n
            }
        }

        mutating func learn(_ e: CrowdEvent) {
            cameraIDs.insert(e.camera)
            zoneIDs.insert(e.zone)
            if let n = e.cameraName, cameraNames[e.camera] == nil { cameraNames[e.camera] = n }
            if let n = e.zoneName, zoneNames[e.key] == nil {
                zoneNames[e.key] = n
                zoneNamesByID[e.zone] = n
            }
        }

        func camera(_ serial: String) -> String? { cameraNames[serial] }
        func zone(_ camera: String, _ zone: String) -> String? { zoneNames[ZoneKey(camera: camera, zone: zone)] }
    }

    // MARK: - Assets (inline: the page loads nothing else)

    static let css = """
        :root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--fg:#1c2430;--muted:#5b6675;--line:#dde2e8;\
        --accent:#0b5cad;--ok:#146c2e;--ok-bg:#e3f4e8;--bad:#a4161a;--bad-bg:#fde8e8;--warn:#7a4b00;--warn-bg:#fff1d6;\
        --crowd:#8a1c7c;--crowd-bg:#f8e6f5;--idle:#46505c;--idle-bg:#eceff3}
        @media (prefers-color-scheme:dark){:root{--bg:#11151a;--card:#1a2027;--fg:#e6e9ee;--muted:#a3adba;--line:#2e3741;\
        --accent:#7cb7ff;--ok:#8fe0a6;--ok-bg:#173b23;--bad:#ffa3a3;--bad-bg:#4a1c1c;--warn:#ffd68a;--warn-bg:#3f3112;\
        --crowd:#f3a6e8;--crowd-bg:#43203f;--idle:#c3cad3;--idle-bg:#2a323c}}
        *{box-sizing:border-box}
        body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
        a{color:var(--accent)}a:focus-visible,button:focus-visible,input:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
        .skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:var(--card);padding:.5rem;z-index:9}
        .top{display:flex;justify-content:space-between;align-items:flex-end;gap:1rem;flex-wrap:wrap;padding:1.25rem 1.5rem .5rem;max-width:1280px;margin:0 auto}
        h1{margin:0;font-size:1.5rem;letter-spacing:-.01em}h2{margin:0 0 .75rem;font-size:1.1rem}
        .sub,.tz,.muted{color:var(--muted)}.sub{margin:.15rem 0 0}.tz{margin:0;font-size:.85rem}
        main{max-width:1280px;margin:0 auto;padding:0 1.5rem 2rem;display:grid;gap:1.25rem}
        .card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:1rem 1.25rem;box-shadow:0 1px 2px rgba(0,0,0,.04)}
        .head{display:flex;justify-content:space-between;align-items:baseline;gap:1rem}.head p{margin:0;font-size:.9rem}
        .feed{display:flex;flex-wrap:wrap;gap:.5rem 2rem;margin:0 0 .75rem}.feed div{display:flex;gap:.5rem;align-items:baseline}
        .feed dt{color:var(--muted);font-size:.85rem}.feed dd{margin:0;font-variant-numeric:tabular-nums}
        .scroll{overflow-x:auto}
        table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
        th{text-align:left;font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600}
        th,td{padding:.55rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
        tbody tr:hover{background:color-mix(in srgb,var(--accent) 5%,transparent)}
        tr.ongoing td:first-child{box-shadow:inset 3px 0 0 var(--crowd)}
        .num{text-align:right}.name{display:block;font-weight:600}.id{display:block;font-size:.8rem;color:var(--muted);overflow-wrap:anywhere}
        td time{white-space:nowrap}
        .badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.8rem;font-weight:600;white-space:nowrap}
        .ok{color:var(--ok);background:var(--ok-bg)}.bad{color:var(--bad);background:var(--bad-bg)}
        .warn,.pending{color:var(--warn);background:var(--warn-bg)}.crowd{color:var(--crowd);background:var(--crowd-bg)}
        .idle,.muted{color:var(--idle);background:var(--idle-bg)}
        .deliveries{list-style:none;margin:0;padding:0;display:grid;gap:.2rem}.reason{font-size:.8rem}
        .snap{border-radius:6px;display:block;object-fit:cover;background:var(--idle-bg)}
        .filters{display:flex;flex-wrap:wrap;gap:.75rem 1rem;align-items:flex-end;margin:0 0 1rem}
        .filters div{display:flex;flex-direction:column;gap:.2rem}.filters label{font-size:.8rem;color:var(--muted);font-weight:600}
        input{font:inherit;padding:.4rem .55rem;border:1px solid var(--line);border-radius:8px;background:var(--bg);color:var(--fg);min-width:11rem}
        .filters .actions{flex-direction:row;align-items:center;gap:.9rem}
        button{font:inherit;font-weight:600;padding:.45rem 1rem;border-radius:8px;border:0;background:var(--accent);color:var(--card);cursor:pointer}
        .alert{color:var(--bad);background:var(--bad-bg);padding:.6rem .8rem;border-radius:8px}
        .pager{display:flex;justify-content:space-between;margin-top:.9rem}.pager a[rel=next]{margin-left:auto}
        .empty td{text-align:center;color:var(--muted);padding:2rem}
        .vh{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
        details.idle-zones{margin-top:.75rem}details.idle-zones summary{cursor:pointer;color:var(--muted);font-weight:600}
        footer{max-width:1280px;margin:0 auto;padding:0 1.5rem 2rem;color:var(--muted);font-size:.85rem}
        """

    static let script = """
        (function(){"use strict";
        var fmt=new Intl.DateTimeFormat(undefined,{dateStyle:"medium",timeStyle:"medium"});
        var tz=Intl.DateTimeFormat().resolvedOptions().timeZone||"local time";
        function localize(root){root.querySelectorAll("time[datetime]").forEach(function(t){var d=new Date(t.dateTime);
        if(!isNaN(d)){t.title=t.dateTime;t.textContent=fmt.format(d);}});}
        function pad(n){return (n<10?"0":"")+n;}
        function toLocalInput(d){return d.getFullYear()+"-"+pad(d.getMonth()+1)+"-"+pad(d.getDate())+"T"+pad(d.getHours())+":"+pad(d.getMinutes());}
        localize(document);
        document.getElementById("tz-note").textContent="Times in "+tz;
        var form=document.querySelector("form.filters");
        if(form){form.querySelectorAll(".tzl").forEach(function(s){s.textContent="("+tz+")";});
        ["from","to"].forEach(function(n){var i=form.elements[n];if(i&&i.value){var d=new Date(i.value+"Z");if(!isNaN(d))i.value=toLocalInput(d);}});
        form.addEventListener("submit",function(){["from","to"].forEach(function(n){var i=form.elements[n];
        if(i&&i.value){var d=new Date(i.value);if(!isNaN(d)){var h=document.createElement("input");h.type="hidden";h.name=n;
        h.value=d.toISOString();form.appendChild(h);i.disabled=true;}}});});}
        if(!window.EventSource||!window.fetch||!window.DOMParser)return;
        var params=new URLSearchParams(location.search);var paged=params.has("cursor");
        var pending=null,note=document.getElementById("live-note");
        function refresh(){pending=null;fetch(location.href,{headers:{"Accept":"text/html"},credentials:"same-origin"})
        .then(function(r){return r.ok?r.text():null;}).then(function(html){if(!html)return;
        var doc=new DOMParser().parseFromString(html,"text/html");
        var ids=paged?["live"]:["live","event-rows"];
        ids.forEach(function(id){var fresh=doc.getElementById(id),old=document.getElementById(id);
        if(fresh&&old){localize(fresh);var d=old.querySelector("details[open]"),fd=fresh.querySelector("details");
        if(d&&fd)fd.open=true;old.replaceWith(document.importNode(fresh,true));}});}).catch(function(){});}
        function schedule(ms){if(!pending)pending=setTimeout(refresh,ms);}
        var q=new URLSearchParams();params.getAll("camera").forEach(function(v){q.append("camera",v);});
        params.getAll("zone").forEach(function(v){q.append("zone",v);});
        var es=new EventSource("/api/events/stream"+(q.toString()?"?"+q.toString():""));
        ["fired","updated","ended"].forEach(function(k){es.addEventListener(k,function(m){
        try{var e=JSON.parse(m.data);note.textContent=(k==="fired"?"New crowd: ":k==="ended"?"Crowd ended: ":"Crowd update: ")+
        (e.cameraName||e.camera)+" / "+(e.zoneName||(e.zone==="0"?"Full frame":e.zone));}catch(x){}
        schedule(400);});});
        es.onopen=function(){document.documentElement.dataset.live="on";};
        es.onerror=function(){document.documentElement.dataset.live="off";};
        setInterval(function(){schedule(0);},5000);
        })();
        """
}
