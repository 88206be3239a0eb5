import CrowdKitCore
import Foundation
import Hummingbird

/// Occupancy charts, drawn on the server as inline SVG (``OccupancyChart``), when the store keeps
/// occupancy history:
/// - `GET /charts?range=&page=`: a small chart per zone, 50 zones a page.
/// - `GET /zones/{camera}/{zone}?range=`: one zone: a large chart, its state, mute and unmute,
///   and its crowd events in the range.
///
/// `range` is `6h`, `24h` (default), `7d` or `30d`. The range ends now, or at the zone's latest
/// reading when that is older than the range (a replayed capture), so its readings show.
extension CrowdWeb {
    /// Zones per page of `/charts`.
    static let chartsPerPage = 50

    struct ChartRange {
        var name: String
        var milliseconds: Int64
        /// Step of the large chart and of the small ones (milliseconds).
        var step: Int64
        var compactStep: Int64

        static let all = [
            ChartRange(name: "6h", milliseconds: 6 * 3_600_000, step: 60_000, compactStep: 300_000),
            ChartRange(name: "24h", milliseconds: 86_400_000, step: 300_000, compactStep: 900_000),
            ChartRange(name: "7d", milliseconds: 7 * 86_400_000, step: 1_800_000, compactStep: 7_200_000),
            ChartRange(name: "30d", milliseconds: 30 * 86_400_000, step: 7_200_000, compactStep: 21_600_000),
        ]

        static func parse(_ text: String?) -> ChartRange? {
            guard let text else { return all[1] }
            return all.first { $0.name == text }
        }

        var label: String {
            switch name {
            case "6h": "last 6 hours"
            case "24h": "last 24 hours"
            case "7d": "last 7 days"
            default: "last 30 days"
            }
        }
    }

    func addChartPages<Context: RequestContext>(_ routes: RouteCollection<Context>, _ history: any OccupancyHistoryStore) {
        routes.get("/charts") { request, _ in await self.chartsPage(request, history) }
        routes.get("/zones/{camera}/{zone}") { request, context in
            await self.zonePage(
                request, history, camera: context.parameters.get("camera") ?? "", zone: context.parameters.get("zone") ?? "")
        }
    }

    /// The end of a chart's range: now, rounded up to the step, or the zone's latest reading
    /// when that is older than the range.
    static func chartEnd(now: Int64, latest: Int64?, range: ChartRange, step: Int64) -> Int64 {
        var end = now
        if let latest, latest < now - range.milliseconds { end = latest + step }
        return (end / step + 1) * step
    }

    /// The threshold to draw: the run-time `minPeople` in effect at `at`, else the one the zone's
    /// latest event fired with.
    func threshold(_ key: ZoneKey, at: Int64, events: [CrowdEvent]) -> Double? {
        if let v = settings?.live.snapshot.settings.value(of: .minPeople, for: key, at: at) { return v }
        return events.first.flatMap { $0.policy.parameters["minPeople"] }
    }

    /// Events of `keys` overlapping `[from, to)` (started at most a day before `from`).
    func events(of keys: Set<ZoneKey>, from: Int64, to: Int64) async throws -> [ZoneKey: [CrowdEvent]] {
        var out: [ZoneKey: [CrowdEvent]] = [:]
        guard !keys.isEmpty else { return out }
        var query = EventQuery(
            cameras: Set(keys.map(\.camera)), zones: Set(keys.map(\.zone)), startedFrom: from - 86_400_000, startedBefore: to, limit: 1000)
        var pages = 0
        while pages < 20 {
            let page = try await store.events(query)
            for r in page.records where keys.contains(r.event.key) && (r.event.endedAt ?? .max) >= from {
                out[r.event.key, default: []].append(r.event)
            }
            guard let next = page.nextCursor else { break }
            query.cursor = next
            pages += 1
        }
        return out
    }

    // MARK: - /charts

    func chartsPage(_ request: Request, _ history: any OccupancyHistoryStore) async -> Response {
        let (context, setCookie) = pageContext(request)
        let q = request.uri.queryParameters
        guard let range = ChartRange.parse(q.get("range").map { String($0) }) else {
            return Self.text("range: expected 6h, 24h, 7d or 30d\n", status: .badRequest)
        }
        let pageNumber = q.get("page").flatMap { Int($0) }.map { max($0, 1) } ?? 1
        let live = await liveStatus()
        let all = live.zonesInOrder
        let pageCount = max(1, (all.count + Self.chartsPerPage - 1) / Self.chartsPerPage)
        let zones = Array(all.dropFirst((pageNumber - 1) * Self.chartsPerPage).prefix(Self.chartsPerPage))
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let step = range.compactStep
        // each zone's range ends now, or at its latest reading when that is older than the range
        var ends: [ZoneKey: Int64] = [:]
        for z in zones { ends[ZoneKey(camera: z.camera, zone: z.zone)] = Self.chartEnd(now: now, latest: z.lastTs, range: range, step: step) }
        let to = ends.values.max() ?? Self.chartEnd(now: now, latest: nil, range: range, step: step)
        let from = (ends.values.min() ?? to) - range.milliseconds
        let keys = zones.map { ZoneKey(camera: $0.camera, zone: $0.zone) }
        let series: [ZoneKey: [OccupancyPoint]]
        let eventsByZone: [ZoneKey: [CrowdEvent]]
        do {
            async let events = self.events(of: Set(keys), from: from, to: to)
            series = try await withThrowingTaskGroup(of: (ZoneKey, [OccupancyPoint]).self) { group in
                for key in keys {
                    let end = ends[key] ?? to
                    group.addTask {
                        (key, try await history.occupancyPoints(of: key, from: end - range.milliseconds, to: end, step: step))
                    }
                }
                var out: [ZoneKey: [OccupancyPoint]] = [:]
                for try await (k, p) in group { out[k] = p }
                return out
            }
            eventsByZone = try await events
        } catch {
            logger.error("occupancy history read failed", metadata: ["error": "\(error)"])
            return Self.text("The event store is not available right now.\n", status: .serviceUnavailable)
        }
        var names = PageView.Names(live: live)
        for list in eventsByZone.values { for e in list { names.learn(e) } }
        var w = ByteWriter(capacity: 64 * 1024 + zones.count * 6 * 1024)
        PageChrome.begin(context, pageTitle: "Charts", subtitle: "Occupancy per zone, \(range.label)", current: .charts, into: &w)
        w.raw("<section class=\"card\" aria-labelledby=\"charts-h\"><div class=\"head\"><h2 id=\"charts-h\">Occupancy</h2>")
        rangeLinks(base: "/charts", current: range, into: &w)
        w.raw("</div>")
        legend(compact: true, into: &w)
        if zones.isEmpty {
            w.raw("<p class=\"muted\">No zone has reported yet.</p>")
        }
        w.raw("<div class=\"charts\" id=\"charts\">")
        for z in zones {
            let key = ZoneKey(camera: z.camera, zone: z.zone)
            let events = eventsByZone[key] ?? []
            let cameraName = names.camera(z.camera) ?? z.camera
            let zoneName = Format.zoneLabel(zone: z.zone, name: names.zone(z.camera, z.zone))
            w.raw("<article class=\"chart-card\" data-zone=\"")
            w.html(z.camera)
            w.raw("/")
            w.html(z.zone)
            w.raw("\"><h3><a href=\"")
            w.html(Self.zonePath(key, range: range))
            w.raw("\">")
            w.html(cameraName)
            w.raw(" / ")
            w.html(zoneName)
            w.raw("</a></h3><p class=\"muted\">now ")
            w.int(z.people)
            w.raw(" · ")
            w.raw(z.phase == .idle ? "idle" : "active")
            w.raw("</p>")
            let end = ends[key] ?? to
            OccupancyChart(
                points: series[key] ?? [], from: end - range.milliseconds, to: end, step: step, threshold: threshold(key, at: end, events: events),
                events: events.map { ($0.startedAt, $0.endedAt) }, width: 320, height: 90, compact: true,
                label: "Occupancy of \(cameraName) / \(zoneName), \(range.label)"
            ).render(into: &w)
            w.raw("</article>")
        }
        w.raw("</div>")
        if pageCount > 1 {
            w.raw("<nav class=\"pager\" aria-label=\"Pages\">")
            if pageNumber > 1 {
                w.raw("<a href=\"/charts?range=\(range.name)&amp;page=\(pageNumber - 1)\">← Previous zones</a>")
            }
            w.raw("<span class=\"muted\">page \(pageNumber) of \(pageCount)</span>")
            if pageNumber < pageCount {
                w.raw("<a rel=\"next\" href=\"/charts?range=\(range.name)&amp;page=\(pageNumber + 1)\">Next zones →</a>")
            }
            w.raw("</nav>")
        }
        w.raw("</section>\n")
        PageChrome.end(context, script: PageChrome.script, into: &w)
        return Self.html(w.bytes, nonce: context.nonce, setCookie: setCookie)
    }

    static func zonePath(_ key: ZoneKey, range: ChartRange? = nil) -> String {
        "/zones/" + Format.query(key.camera) + "/" + Format.query(key.zone) + (range.map { "?range=" + $0.name } ?? "")
    }

    func rangeLinks(base: String, current: ChartRange, into w: inout ByteWriter) {
        w.raw("<nav class=\"ranges\" aria-label=\"Range\">")
        for r in ChartRange.all {
            w.raw("<a href=\"")
            w.html(base)
            w.raw(base.contains("?") ? "&amp;range=" : "?range=")
            w.raw(r.name)
            w.raw(r.name == current.name ? "\" aria-current=\"page\">" : "\">")
            w.raw(r.name)
            w.raw("</a>")
        }
        w.raw("</nav>")
    }

    func legend(compact: Bool, into w: inout ByteWriter) {
        w.raw("<p class=\"legend\"><span class=\"l-max\">people (largest count)</span>")
        if !compact { w.raw("<span class=\"l-mean\">mean</span>") }
        w.raw("<span class=\"l-thr\">threshold (minPeople)</span><span class=\"l-evt\">crowd events</span></p>")
    }

    // MARK: - /zones/{camera}/{zone}

    func zonePage(_ request: Request, _ history: any OccupancyHistoryStore, camera: String, zone: String) async -> Response {
        let (context, setCookie) = pageContext(request)
        guard let range = ChartRange.parse(request.uri.queryParameters.get("range").map { String($0) }) else {
            return Self.text("range: expected 6h, 24h, 7d or 30d\n", status: .badRequest)
        }
        let key = ZoneKey(camera: camera, zone: zone)
        let live = await liveStatus()
        let snapshot = live.zones.first { $0.camera == camera && $0.zone == zone }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let to = Self.chartEnd(now: now, latest: snapshot?.lastTs, range: range, step: range.step)
        let from = to - range.milliseconds
        let points: [OccupancyPoint]
        let events: [CrowdEvent]
        var mutes: [Mute] = []
        do {
            async let e = self.events(of: [key], from: from, to: to)
            points = try await history.occupancyPoints(of: key, from: from, to: to, step: range.step)
            events = try await e[key] ?? []
            if let settings { mutes = try await settings.store.mutes(activeAt: settings.now()) }
        } catch {
            logger.error("occupancy history read failed", metadata: ["error": "\(error)"])
            return Self.text("The event store is not available right now.\n", status: .serviceUnavailable)
        }
        var names = PageView.Names(live: live)
        for e in events { names.learn(e) }
        let cameraName = names.camera(camera) ?? camera
        let zoneName = Format.zoneLabel(zone: zone, name: names.zone(camera, zone))
        let path = Self.zonePath(key)
        var w = ByteWriter(capacity: 64 * 1024)
        PageChrome.begin(context, pageTitle: "\(cameraName) / \(zoneName)", subtitle: "Occupancy of one zone, \(range.label)", current: .zone, into: &w)
        w.raw("<section class=\"card\" aria-labelledby=\"zone-h\"><div class=\"head\"><h2 id=\"zone-h\">")
        w.html(cameraName)
        w.raw(" / ")
        w.html(zoneName)
        w.raw("</h2>")
        rangeLinks(base: path, current: range, into: &w)
        w.raw("</div><dl class=\"kv\"><dt>Camera</dt><dd>")
        w.html(camera)
        w.raw("</dd><dt>Zone</dt><dd>")
        w.html(zone)
        w.raw("</dd><dt>Now</dt><dd>")
        if let snapshot {
            w.int(snapshot.people)
            w.raw(" people · ")
            PageView.phase(snapshot.phase, lastTs: snapshot.lastTs, into: &w)
        } else {
            w.raw("<span class=\"muted\">no reading since the start</span>")
        }
        w.raw("</dd>")
        if settings != nil {
            w.raw("<dt>Notifications</dt><dd>")
            Self.zoneMuteControls(key, mutes: mutes, context: context, next: path + "?range=" + range.name, into: &w)
            w.raw("</dd>")
        }
        w.raw("</dl>")
        legend(compact: false, into: &w)
        OccupancyChart(
            points: points, from: from, to: to, step: range.step, threshold: threshold(key, at: to, events: events),
            events: events.map { ($0.startedAt, $0.endedAt) }, label: "Occupancy of \(cameraName) / \(zoneName), \(range.label)"
        ).render(into: &w)
        w.raw("</section>\n<section class=\"card\" aria-labelledby=\"zev-h\"><h2 id=\"zev-h\">Crowd events in the range</h2>")
        if events.isEmpty {
            w.raw("<p class=\"muted\">None.</p>")
        } else {
            w.raw("<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Start</th><th scope=\"col\">End</th><th scope=\"col\">Duration</th><th scope=\"col\" class=\"num\">Peak</th><th scope=\"col\">Video</th></tr></thead><tbody>")
            for e in events {
                w.raw("<tr data-event-id=\"")
                w.html(e.id.rawValue)
                w.raw("\"><td>")
                timeCell(e.startedAt, into: &w)
                w.raw("</td><td>")
                if let end = e.endedAt { timeCell(end, into: &w) } else { w.raw("<span class=\"badge crowd\">ongoing</span>") }
                w.raw("</td><td>")
                w.raw(Format.duration(e.durationMilliseconds))
                w.raw("</td><td class=\"num\">")
                w.int(e.peak)
                w.raw("</td><td>")
                if let video = Format.safeLink(e.videoURL) {
                    w.raw("<a href=\"")
                    w.html(video)
                    w.raw("\" target=\"_blank\" rel=\"noopener noreferrer\">Video</a>")
                } else {
                    w.raw("<span class=\"muted\">–</span>")
                }
                w.raw("</td></tr>")
            }
            w.raw("</tbody></table></div>")
        }
        w.raw("</section>\n")
        PageChrome.end(context, script: PageChrome.script, into: &w)
        return Self.html(w.bytes, nonce: context.nonce, setCookie: setCookie)
    }

    func timeCell(_ ms: Int64, into w: inout ByteWriter) { PageView.time(ms, into: &w) }

    /// The fields of a zone's "Mute 1 h" form, its selector aside.
    static let zoneMuteFields = [("minutes", "60"), ("reason", "muted from the page")]

    /// "Mute 1 h", or "Unmute" for a mute of exactly this zone; a broader mute is named.
    ///
    /// With `sharedForm` (the id of a ``zoneMuteForm(id:context:next:into:)`` on the page), "Mute
    /// 1 h" is a button of that form carrying the zone's selector as its value: a page listing
    /// thousands of zones holds the form's fields once, not once per zone.
    static func zoneMuteControls(
        _ key: ZoneKey, mutes: [Mute], context: PageContext, next: String, sharedForm: String? = nil, into w: inout ByteWriter
    ) {
        let own = mutes.first { $0.selector == .zone(key) }
        let broader = mutes.first { $0.selector != .zone(key) && $0.selector.covers(key) }
        if let own {
            w.raw("<span class=\"badge muted\">muted</span> ")
            PageChrome.button(context, action: "/mutes/\(own.id)/end", label: "Unmute", next: next, style: "small secondary", into: &w)
        } else if let sharedForm {
            w.raw("<button type=\"submit\" class=\"small\" form=\"")
            w.html(sharedForm)
            w.raw("\" name=\"selector\" value=\"")
            w.html(ZoneSelector.zone(key).description)
            w.raw("\">Mute 1 h</button>")
        } else {
            PageChrome.button(
                context, action: "/mutes", label: "Mute 1 h", fields: [("selector", ZoneSelector.zone(key).description)] + zoneMuteFields,
                next: next, into: &w)
        }
        if let broader {
            w.raw(" <span class=\"badge muted\" title=\"")
            w.html(broader.reason)
            w.raw("\">muted by ")
            w.html(broader.selector.description)
            w.raw("</span>")
        }
    }

    /// The one form the zones' "Mute 1 h" buttons of a page submit (``zoneMuteControls``): the
    /// token and the fields, no button of its own (each zone's button adds its selector).
    static func zoneMuteForm(id: String, context: PageContext, next: String, into w: inout ByteWriter) {
        w.raw("<form method=\"post\" action=\"/mutes\" id=\"")
        w.html(id)
        w.raw("\" hidden>")
        PageChrome.csrfField(context, into: &w)
        for (name, value) in zoneMuteFields + [("next", next)] {
            w.raw("<input type=\"hidden\" name=\"")
            w.html(name)
            w.raw("\" value=\"")
            w.html(value)
            w.raw("\">")
        }
        w.raw("</form>")
    }
}
