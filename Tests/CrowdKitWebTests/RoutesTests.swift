import CrowdKitCore
import CrowdKitTesting
@testable import CrowdKitWeb
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

func jsonObject(_ response: TestResponse) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any])
}

func eventIDs(_ response: TestResponse) throws -> [String] {
    let events = try #require(try jsonObject(response)["events"] as? [[String: Any]])
    return events.compactMap { $0["id"] as? String }
}

@Suite("Web routes (no socket)")
struct RoutesTests {
    @Test("the page lists events newest first with names, times, video links and deliveries")
    func pageListsEvents() async throws {
        let f = try await WebFixture.make()
        try await WebFixture.app(f.web()).test(.router) { client async throws in
            let r = try await client.execute(uri: "/", method: .get)
            #expect(r.status == .ok)
            #expect(r.headers[.contentType] == "text/html; charset=utf-8")
            let html = r.text
            let ongoing = WebFixture.ongoing.event.id.rawValue
            let ended = WebFixture.ended.event.id.rawValue
            let formula = WebFixture.formula.event.id.rawValue
            let order = [ongoing, ended, formula].compactMap { html.range(of: "data-event-id=\"\($0)\"")?.lowerBound }
            #expect(order.count == 3)
            #expect(order == order.sorted(), "rows newest first")
            #expect(html.contains("Lobby &quot;North&quot; &amp; Co"))
            #expect(html.contains("<time datetime=\"2024-05-02T06:50:00.123Z\">2024-05-02 06:50:00 UTC</time>"))
            #expect(html.contains("<span class=\"badge crowd\">ongoing</span>"))
            #expect(html.contains(">3 min 5 s<"), "duration of the ended event")
            #expect(html.contains("href=\"https://video.example.invalid/lobby?t=1714632600123&amp;x=1\""))
            #expect(html.contains("src=\"https://snap.example.invalid/lobby.jpg\""))
            #expect(html.contains("webex · fired: sent"))
            #expect(html.contains("log · fired: failed"))
            #expect(html.contains("disk &lt;full&gt;"))
            #expect(html.contains("Full frame"))
        }
    }

    @Test("network strings are rendered inert: script labels, javascript: links, quotes")
    func escaping() async throws {
        let f = try await WebFixture.make()
        try await WebFixture.app(f.web()).test(.router) { client async throws in
            let html = try await client.execute(uri: "/", method: .get).text
            #expect(!html.contains("<script>alert(1)</script>"))
            #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!html.contains("javascript:"), "a javascript: video URL never becomes a link")
            // The only script element is the page's own, with the nonce.
            #expect(html.components(separatedBy: "<script").count == 2)
            let json = try await client.execute(uri: "/api/events", method: .get).text
            #expect(!json.contains("<script>"))
            #expect(json.contains("\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"))
            let zones = try await client.execute(uri: "/api/zones", method: .get).text
            #expect(!zones.contains("<script>"))
        }
    }

    @Test("every response carries security headers; the page's CSP allows only its own nonce")
    func securityHeaders() async throws {
        let f = try await WebFixture.make()
        try await WebFixture.app(f.web()).test(.router) { client async throws in
            for uri in ["/", "/api/events", "/api/events.csv", "/api/zones", "/api/events/stream", "/healthz", "/readyz"] {
                let r = try await client.execute(uri: uri, method: .get)
                #expect(r.headers[.xContentTypeOptions] == "nosniff", "\(uri)")
                #expect(r.headers[HTTPFields.Element.Name("X-Frame-Options")!] == "DENY", "\(uri)")
                #expect(r.headers[HTTPFields.Element.Name("Referrer-Policy")!] == "no-referrer", "\(uri)")
                #expect(r.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true, "\(uri)")
            }
            let page = try await client.execute(uri: "/", method: .get)
            let csp = try #require(page.headers[.contentSecurityPolicy])
            let nonce = try #require(csp.split(separator: "'").first { $0.hasPrefix("nonce-") }?.dropFirst(6))
            #expect(nonce.count >= 16)
            #expect(page.text.contains("<script nonce=\"\(nonce)\">"))
            #expect(page.text.contains("<style nonce=\"\(nonce)\">"))
            #expect(!csp.contains("unsafe-inline"))
            let again = try await client.execute(uri: "/", method: .get)
            #expect(again.headers[.contentSecurityPolicy] != csp, "a fresh nonce per response")
        }
    }

    @Test("filters by camera, zone and time range on the page and the API")
    func filters() async throws {
        let f = try await WebFixture.make()
        let ended = WebFixture.ended.event.id.rawValue
        let ongoing = WebFixture.ongoing.event.id.rawValue
        let formula = WebFixture.formula.event.id.rawValue
        try await WebFixture.app(f.web()).test(.router) { client async throws in
            let cases: [(String, [String])] = [
                ("camera=\(WebFixture.lobby)", [ended, formula]),
                ("camera=\(WebFixture.yard)", [ongoing]),
                ("camera=\(WebFixture.yard),\(WebFixture.lobby)", [ongoing, ended, formula]),
                ("camera=\(WebFixture.yard)&camera=\(WebFixture.lobby)", [ongoing, ended, formula]),
                ("zone=0", [ended]),
                ("zone=11&zone=0", [ended, formula]),
                ("camera=\(WebFixture.lobby)&zone=\(WebFixture.evilZone)", []),
                ("from=\(WebFixture.t0)", [ongoing, ended]),
                ("from=2024-05-02T06:50:00.123Z", [ongoing, ended]),
                ("from=2024-05-02T06:50:00.124Z", [ongoing]),
                ("to=2024-05-02T06:50:00.123Z", [formula]),
                ("from=2024-05-01&to=2024-05-02T07:00", [ended, formula]),
                ("from=2024-05-02T08%3A50%3A00%2B02%3A00", [ongoing, ended]),
                ("from=2024-05-02T08:50:00%2B02:00&to=2024-05-02T09:50:00%2B02:00", [ended]),
                ("camera=&zone=", [ongoing, ended, formula]),
            ]
            for (query, expected) in cases {
                let api = try await client.execute(uri: "/api/events?" + query, method: .get)
                #expect(api.status == .ok, "\(query)")
                #expect(try eventIDs(api) == expected, "api \(query)")
                let page = try await client.execute(uri: "/?" + query, method: .get).text
                let rows = page.components(separatedBy: "data-event-id=\"").dropFirst().map { String($0.prefix(32)) }
                #expect(rows == expected, "page \(query)")
            }
            // The form shows the filters back, and a filtered empty list says so.
            let none = try await client.execute(uri: "/?camera=NOPE", method: .get).text
            #expect(none.contains("value=\"NOPE\""))
            #expect(none.contains("No events match."))
            let empty = try await client.execute(uri: "/?from=2024-05-02T06:50", method: .get).text
            #expect(empty.contains("value=\"2024-05-02T06:50\""))
        }
    }

    @Test("bad parameters are 400 with a message naming the parameter")
    func badParameters() async throws {
        let f = try await WebFixture.make()
        try await WebFixture.app(f.web()).test(.router) { client async throws in
            for (query, name) in [
                ("from=yesterday", "from"), ("to=2024-13-01", "to"), ("limit=0", "limit"), ("limit=1001", "limit"),
                ("limit=x", "limit"), ("cursor=garbage", "cursor"), ("cursor=12.xyz", "cursor"),
            ] {
                let api = try await client.execute(uri: "/api/events?" + query, method: .get)
                #expect(api.status == .badRequest, "\(query)")
                #expect((try jsonObject(api)["error"] as? String)?.contains("parameter \(name)") == true, "\(query)")
                let page = try await client.execute(uri: "/?" + query, method: .get)
                #expect(page.status == .badRequest, "\(query)")
                #expect(page.text.contains("role=\"alert\""), "\(query)")
                let csv = try await client.execute(uri: "/api/events.csv?" + query, method: .get)
                #expect(csv.status == .badRequest, "\(query)")
            }
        }
    }

    @Test("cursor pagination visits every event once, on the API and the page, with edges")
    func cursorPagination() async throws {
        var changes: [EventChange] = []
        for i in 0..<7 {
            // Pairs of events share a start time: the id breaks the tie at page edges.
            let e = EventStoreConformance.sampleEvent(camera: "CAM-\(i)", zone: "0", startedAt: 5_000 + Int64(i / 2))
            changes.append(EventChange(kind: .fired, event: e))
        }
        let expected = changes.map(\.event)
            .sorted { ($0.startedAt, $0.id.rawValue) > ($1.startedAt, $1.id.rawValue) }.map(\.id.rawValue)
        let f = try await WebFixture.make(changes)
        try await WebFixture.app(f.web(pageSize: 3)).test(.router) { client async throws in
            for limit in [1, 2, 3, 7, 50] {
                var uri: String? = "/api/events?limit=\(limit)"
                var seen: [String] = []
                var pages = 0
                while let next = uri {
                    let r = try await client.execute(uri: next, method: .get)
                    #expect(r.status == .ok)
                    let object = try jsonObject(r)
                    seen += try eventIDs(r)
                    uri = object["next"] as? String
                    #expect((object["nextCursor"] as? String == nil) == (uri == nil))
                    pages += 1
                    if pages > 10 { break }
                }
                #expect(seen == expected, "limit \(limit)")
                #expect(pages == (expected.count + limit - 1) / limit, "no empty trailing page with limit \(limit)")
            }
            // The page: default page size 3, "Older events" links until the end.
            var uri: String? = "/"
            var seen: [String] = []
            while let next = uri {
                let html = try await client.execute(uri: next, method: .get).text
                seen += html.components(separatedBy: "data-event-id=\"").dropFirst().map { String($0.prefix(32)) }
                uri = html.components(separatedBy: "<a rel=\"next\" href=\"").dropFirst().first
                    .map { String($0.prefix { $0 != "\"" }).replacingOccurrences(of: "&amp;", with: "&") }
                if next != "/" { #expect(html.contains("← Newest")) }
                if seen.count > 20 { break }
            }
            #expect(seen == expected)
            // A cursor past the end gives an empty page and no next link.
            let past = try await client.execute(uri: "/api/events?cursor=0.00", method: .get)
            #expect(try eventIDs(past).isEmpty)
            #expect(try jsonObject(past)["next"] is NSNull)
            // Filters are kept in the next link.
            let filtered = try jsonObject(try await client.execute(uri: "/api/events?limit=1&zone=0&camera=CAM-1", method: .get))
            #expect(filtered["next"] is NSNull)
            let two = try jsonObject(try await client.execute(uri: "/api/events?limit=1&camera=CAM-1,CAM-2", method: .get))
            let link = try #require(two["next"] as? String)
            #expect(link.hasPrefix("/api/events?camera=CAM-1&camera=CAM-2&limit=1&cursor="))
        }
    }

    @Test("/api/events gives epoch ms with ISO 8601 beside them, names, links and delivery states")
    func eventJSON() async throws {
        let f = try await WebFixture.make()
        try await WebFixture.app(f.web()).test(.router) { client async throws in
            let r = try await client.execute(uri: "/api/events?zone=0", method: .get)
            #expect(r.headers[.contentType] == "application/json; charset=utf-8")
            let events = try #require(try jsonObject(r)["events"] as? [[String: Any]])
            let e = try #require(events.first)
            #expect(e["camera"] as? String == WebFixture.lobby)
            #expect(e["cameraName"] as? String == "Lobby \"North\" & Co")
            #expect(e["zone"] as? String == "0")
            #expect(e["zoneName"] is NSNull)
            #expect((e["startedAt"] as? NSNumber)?.int64Value == WebFixture.t0)
            #expect(e["startedAtISO"] as? String == "2024-05-02T06:50:00.123Z")
            #expect((e["firedAt"] as? NSNumber)?.int64Value == WebFixture.t0 + 60_000)
            #expect((e["endedAt"] as? NSNumber)?.int64Value == WebFixture.t0 + 185_000)
            #expect(e["endedAtISO"] as? String == "2024-05-02T06:53:05.123Z")
            #expect(e["peak"] as? Int == 7)
            #expect(e["ongoing"] as? Bool == false)
            #expect(e["videoUrl"] as? String == "https://video.example.invalid/lobby?t=\(WebFixture.t0)&x=1")
            #expect(e["snapshotUrl"] as? String == "https://snap.example.invalid/lobby.jpg")
            let deliveries = try #require(e["deliveries"] as? [[String: Any]])
            let states = Dictionary(
                uniqueKeysWithValues: deliveries.map { ($0["notifier"] as? String ?? "", $0["status"] as? String ?? "") })
            #expect(states == ["webex": "sent", "log": "failed"])
            #expect(deliveries.contains { $0["remoteId"] as? String == "msg-1" })
            #expect(deliveries.contains { $0["reason"] as? String == "disk <full>" })
            let ongoing = try jsonObject(try await client.execute(uri: "/api/events?camera=\(WebFixture.yard)", method: .get))
            let o = try #require((ongoing["events"] as? [[String: Any]])?.first)
            #expect(o["endedAt"] is NSNull)
            #expect(o["ongoing"] as? Bool == true)
        }
    }

    @Test("CSV export: header, every filtered row across store pages, quoting, formula neutralised")
    func csvExport() async throws {
        var changes = [WebFixture.ended, WebFixture.ongoing, WebFixture.formula]
        for i in 0..<1_203 {
            let e = EventStoreConformance.sampleEvent(camera: "BULK", zone: "7", startedAt: 10_000 + Int64(i))
            changes.append(EventChange(kind: .fired, event: e))
        }
        let f = try await WebFixture.make(changes)
        try await WebFixture.app(f.web()).test(.router) { client async throws in
            let all = try await client.execute(uri: "/api/events.csv", method: .get)
            #expect(all.status == .ok)
            #expect(all.headers[.contentType]?.hasPrefix("text/csv") == true)
            #expect(all.headers[.contentDisposition] == "attachment; filename=\"crowd-events.csv\"")
            let lines = all.text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
            #expect(lines.first?.hasPrefix("camera,zone,time_in,time_out,count,video_link,") == true)
            // One line per event, except the quoted zone name that holds a line break.
            #expect(all.text.components(separatedBy: "\r\n").count - 1 == 1 + 1_206)
            let bulk = try await client.execute(uri: "/api/events.csv?camera=BULK&limit=5", method: .get)
            let ids = bulk.text.components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty }
            #expect(ids.count == 1_203, "all filtered rows, not one page")
            #expect(Set(ids).count == 1_203)

            let formula = try await client.execute(uri: "/api/events.csv?zone=11", method: .get).text
            let row = formula.components(separatedBy: "\r\n")[1]
            #expect(row.hasPrefix("Q2GV-AAAA-0001,11,2024-05-01T06:50:00.123Z,2024-05-01T06:56:40.123Z,4,https://video.example.invalid/door,"))
            #expect(row.contains(",\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",\"Door, \"\"east\"\"\nside\","))
            let ongoing = try await client.execute(uri: "/api/events.csv?camera=\(WebFixture.yard)", method: .get).text
            let cells = ongoing.components(separatedBy: "\r\n")[1].components(separatedBy: ",")
            #expect(cells[3] == "", "time_out is empty while the crowd is there")
            #expect(cells[5] == "javascript:alert(2)")
        }
    }

    @Test("/api/zones shows every zone's count and state and the feed status")
    func zones() async throws {
        let f = try await WebFixture.make()
        try await WebFixture.app(f.web()).test(.router) { client async throws in
            let object = try jsonObject(try await client.execute(uri: "/api/zones", method: .get))
            let zones = try #require(object["zones"] as? [[String: Any]])
            #expect(zones.count == 3)
            let byZone = Dictionary(uniqueKeysWithValues: zones.map { ($0["zone"] as? String ?? "", $0) })
            #expect(byZone["0"]?["state"] as? String == "idle")
            #expect(byZone["11"]?["state"] as? String == "pending")
            #expect((byZone["11"]?["elapsedMs"] as? NSNumber)?.int64Value == 42_000)
            #expect(byZone[WebFixture.evilZone]?["state"] as? String == "crowd")
            #expect(byZone[WebFixture.evilZone]?["people"] as? Int == 9)
            #expect(byZone[WebFixture.evilZone]?["zoneName"] as? String == WebFixture.evilLabel)
            let feed = try #require(object["feed"] as? [String: Any])
            #expect(feed["connected"] as? Bool == true)
            #expect(feed["messagesPerSecond"] as? Double == 12.5)
            let age = try #require((feed["lastMessageAgeMs"] as? NSNumber)?.int64Value)
            #expect(age >= 3_000)
            // The page's live panel shows the same.
            let html = try await client.execute(uri: "/", method: .get).text
            #expect(html.contains("<span class=\"badge pending\">pending</span> <span class=\"muted\">dwell 42 s</span>"))
            #expect(html.contains("<span class=\"badge crowd\">crowd</span> <span class=\"muted\">for 1 min 40 s</span>"))
            #expect(html.contains("<span class=\"badge ok\">connected</span>"))
            #expect(html.contains("<dt>Messages/s</dt><dd>12.5</dd>"))
        }
    }

    @Test("areas and lines: /api/areas and the live panel show occupancy, state and crossings in and out today")
    func areas() async throws {
        let f = try await WebFixture.make()
        // the snapshots come from a real engine fed with line crossings
        let t0 = WebFixture.t0
        var engine = DetectionEngine(
            policy: DwellPolicy(),
            areas: AreaSetup(
                areas: [AreaDefinition(name: "hall", lines: [AreaLine(parsing: "CAM1/7")!, AreaLine(parsing: "CAM2/8:reverse")!])],
                policy: DwellPolicy(DwellParameters(minPeople: 2, dwell: .seconds(60)))))
        for (topic, event, ts) in [("CAM1/crossing/7", "crossing_in", t0), ("CAM2/crossing/8", "crossing_out", t0 + 1000),
                                   ("CAM1/crossing/7", "crossing_in", t0 + 2000), ("CAM1/crossing/7", "crossing_out", t0 + 3000),
                                   ("CAM3/crossing/1", "crossing_in", t0 + 4000)] {
            _ = engine.process(RawMessage(topic: "/merakimv/\(topic)", payload: #"{"label":"Door <A>","event":"\#(event)","ts":\#(ts)}"#)) { _ in }
        }
        var live = WebFixture.live()
        live.areas = engine.areaSnapshot()
        live.lines = engine.lineSnapshot()
        let status = live
        let web = CrowdWeb(store: f.store, logger: quietLogger, liveStatus: { status })
        try await WebFixture.app(web).test(.router) { client async throws in
            let object = try jsonObject(try await client.execute(uri: "/api/areas", method: .get))
            let areas = try #require(object["areas"] as? [[String: Any]])
            #expect(areas.count == 1)
            #expect(areas.first?["name"] as? String == "hall")
            #expect(areas.first?["occupancy"] as? Int == 2)
            #expect(areas.first?["state"] as? String == "pending")
            #expect(areas.first?["lines"] as? [String] == ["CAM1/7", "CAM2/8:reverse"])
            let lines = try #require(object["lines"] as? [[String: Any]])
            #expect(lines.map { $0["line"] as? String } == ["7", "8", "1"])
            #expect(lines[0]["inToday"] as? Int == 2)
            #expect(lines[0]["outToday"] as? Int == 1)
            #expect(lines[1]["outToday"] as? Int == 1)
            #expect(lines[2]["areas"] as? [String] == [])
            let html = try await client.execute(uri: "/", method: .get).text
            #expect(html.contains("<tr data-area=\"hall\">"))
            #expect(html.contains("<span class=\"badge pending\">pending</span> <span class=\"muted\">dwell 2 s</span>"))
            #expect(html.contains("<tr data-line=\"CAM1/7\">"))
            #expect(!html.contains("Door <A>"), "labels from the network are escaped")
        }
    }

    @Test("the event stream sends fired, updated and ended as server-sent events, filtered")
    func eventStream() async throws {
        let f = try await WebFixture.make()
        var reminder = WebFixture.ongoing
        reminder.kind = .reminder
        reminder.event.reminders = 1
        let changes = [WebFixture.ongoing, reminder, WebFixture.ended]
        try await WebFixture.app(f.web(changes: changes)).test(.router) { client async throws in
            let r = try await client.execute(uri: "/api/events/stream", method: .get)
            #expect(r.headers[.contentType] == "text/event-stream; charset=utf-8")
            let blocks = r.text.components(separatedBy: "\n\n").filter { $0.contains("event: ") }
            #expect(blocks.map { $0.components(separatedBy: "\n").first { $0.hasPrefix("event: ") } } == [
                "event: fired", "event: updated", "event: ended",
            ])
            let data = try #require(blocks.first?.components(separatedBy: "\n").first { $0.hasPrefix("data: ") })
            let object = try #require(try JSONSerialization.jsonObject(with: Data(data.dropFirst(6).utf8)) as? [String: Any])
            #expect(object["id"] as? String == WebFixture.ongoing.event.id.rawValue)
            #expect(!r.text.contains("<script>"))
            let filtered = try await client.execute(uri: "/api/events/stream?camera=\(WebFixture.lobby)", method: .get)
            #expect(filtered.text.components(separatedBy: "event: ").count - 1 == 1)
            #expect(filtered.text.contains("event: ended"))
        }
    }

    @Test("healthz is always up; readyz needs the store, its writes and a connected source")
    func health() async throws {
        let f = try await WebFixture.make()
        try await WebFixture.app(f.web()).test(.router) { client async throws in
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .ok)
            #expect(
                ready.text == "{\"ready\":true,\"store\":\"ok\",\"source\":\"connected\",\"detection\":\"running\",\"storeBacklog\":0,\"storeDropped\":0}")
        }
        let failing = StoreWriteHealth(backlog: 7, dropped: 0, failingSince: 1_714_632_600_000, lastError: "database or disk is full")
        try await WebFixture.app(f.web(storeWrites: failing)).test(.router) { client async throws in
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .serviceUnavailable)
            #expect(ready.text.contains("\"ready\":false,\"store\":\"failing\""))
            #expect(ready.text.contains("\"storeBacklog\":7"))
            #expect(ready.text.contains("\"storeError\":\"database or disk is full\""))
        }
        // a store still connecting (PostgreSQL unreachable at start): unavailable, said at once
        try await WebFixture.app(f.web(storeConnected: false)).test(.router) { client async throws in
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .serviceUnavailable)
            #expect(ready.text.contains("\"ready\":false,\"store\":\"unavailable\""), "\(ready.text)")
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
        }
        try await WebFixture.app(f.web(connected: false)).test(.router) { client async throws in
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .serviceUnavailable)
            #expect(ready.text.contains("\"source\":\"disconnected\""))
            #expect(try await client.execute(uri: "/", method: .get).text.contains("<span class=\"badge bad\">disconnected</span>"))
        }
        // saved zone states still being restored
        try await WebFixture.app(f.web(detectionStarted: false)).test(.router) { client async throws in
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .serviceUnavailable)
            #expect(ready.text.contains("\"ready\":false,\"store\":\"ok\",\"source\":\"connected\",\"detection\":\"starting\""), "\(ready.text)")
        }
    }

    @Test("/metrics is served only when the app gives a metrics closure")
    func metrics() async throws {
        let f = try await WebFixture.make()
        try await WebFixture.app(f.web()).test(.router) { client async throws in
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .notFound)
        }
        try await WebFixture.app(f.web(metrics: { "crowd_events_fired_total 3\n" })).test(.router) { client async throws in
            let r = try await client.execute(uri: "/metrics", method: .get)
            #expect(r.status == .ok)
            #expect(r.text == "crowd_events_fired_total 3\n")
            #expect(r.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
        }
    }

    @Test("token auth: bearer or basic with the token as password; healthz stays open")
    func tokenAuth() async throws {
        let f = try await WebFixture.make()
        let token = "s3cret-token"
        try await WebFixture.app(f.web(access: .token(token))).test(.router) { client async throws in
            for uri in ["/", "/api/events", "/api/events.csv", "/api/zones", "/api/events/stream", "/readyz"] {
                let none = try await client.execute(uri: uri, method: .get)
                #expect(none.status == .unauthorized, "\(uri)")
                #expect(none.headers[values: .wwwAuthenticate].contains { $0.hasPrefix("Basic") }, "\(uri)")
                #expect(!none.text.contains(token))
                let wrong = try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer nope"])
                #expect(wrong.status == .unauthorized, "\(uri)")
                let prefix = try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer s3cret"])
                #expect(prefix.status == .unauthorized, "\(uri)")
                let right = try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(token)"])
                #expect(right.status == .ok, "\(uri)")
            }
            let basic = "Basic " + Data("anyone:\(token)".utf8).base64EncodedString()
            #expect(try await client.execute(uri: "/", method: .get, headers: [.authorization: basic]).status == .ok)
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
        }
    }

    @Test("basic auth: user and password must both match")
    func basicAuth() async throws {
        let f = try await WebFixture.make()
        try await WebFixture.app(f.web(access: .basic(user: "ops", password: "pa:ss"))).test(.router) { client async throws in
            func header(_ s: String) -> HTTPFields { [.authorization: "Basic " + Data(s.utf8).base64EncodedString()] }
            #expect(try await client.execute(uri: "/", method: .get, headers: header("ops:pa:ss")).status == .ok)
            #expect(try await client.execute(uri: "/", method: .get, headers: header("ops:pa")).status == .unauthorized)
            #expect(try await client.execute(uri: "/", method: .get, headers: header("op:pa:ss")).status == .unauthorized)
            #expect(try await client.execute(uri: "/", method: .get, headers: [.authorization: "Bearer pa:ss"]).status == .unauthorized)
            #expect(try await client.execute(uri: "/", method: .get, headers: [.authorization: "Basic !!!"]).status == .unauthorized)
        }
    }

    @Test("auth off: everything is open")
    func authOff() async throws {
        let f = try await WebFixture.make()
        try await WebFixture.app(f.web(access: .open)).test(.router) { client async throws in
            for uri in ["/", "/api/events", "/api/zones", "/readyz"] {
                #expect(try await client.execute(uri: uri, method: .get).status == .ok, "\(uri)")
            }
        }
    }

    @Test("refuses a non-loopback bind without auth unless explicitly allowed")
    func bindSafety() throws {
        for host in ["127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"] {
            #expect(throws: Never.self) { try CrowdWebConfiguration.checkBind(host: host, access: .open) }
        }
        for host in ["0.0.0.0", "::", "192.168.1.10", "example.com", "127.0.0.1.example.com"] {
            #expect(throws: CrowdWebError.self) { try CrowdWebConfiguration.checkBind(host: host, access: .open) }
            #expect(throws: Never.self) { try CrowdWebConfiguration.checkBind(host: host, access: .token("t")) }
            #expect(throws: Never.self) {
                try CrowdWebConfiguration.checkBind(host: host, access: .open, allowUnauthenticatedRemote: true)
            }
        }
        #expect(!"\(CrowdWebConfiguration.Access.token("zzz-secret"))".contains("zzz-secret"))
        #expect(!"\(CrowdWebConfiguration.Access.basic(user: "u", password: "zzz-secret"))".contains("zzz-secret"))
    }

    @Test("a failing store gives 503 pages and API answers, and readyz says so")
    func storeDown() async throws {
        let web = CrowdWeb(store: FailingStore(), logger: quietLogger, liveStatus: { WebFixture.live() })
        try await WebFixture.app(web).test(.router) { client async throws in
            #expect(try await client.execute(uri: "/", method: .get).status == .serviceUnavailable)
            #expect(try await client.execute(uri: "/api/events", method: .get).status == .serviceUnavailable)
            #expect(try await client.execute(uri: "/api/events.csv", method: .get).status == .serviceUnavailable)
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .serviceUnavailable)
            #expect(ready.text.contains("\"store\":\"unavailable\""))
        }
    }
}

/// A store whose disk is gone: every call throws `.unavailable`.
struct FailingStore: EventStore {
    func fail() -> EventStoreError { EventStoreError(.unavailable, "disk I/O error") }
    func apply(_ change: EventChange) async throws { throw fail() }
    func record(id: CrowdEventID) async throws -> EventRecord? { throw fail() }
    func events(_ query: EventQuery) async throws -> EventPage { throw fail() }
    func pendingDeliveries(limit: Int) async throws -> [Delivery] { throw fail() }
    func claimDeliveries(_ claim: DeliveryClaim) async throws -> [Delivery] { throw fail() }
    func updateDelivery(_ delivery: Delivery) async throws { throw fail() }
    func prune(startedBefore cameraTime: Int64) async throws -> Int { throw fail() }
}

@Suite("Web formatting")
struct FormattingTests {
    @Test("ISO 8601 and back")
    func isoRoundTrip() {
        for ms: Int64 in [0, 1_714_632_600_123, 951_782_400_000, 4_102_444_799_999, -1] {
            #expect(Format.parseTime(Format.iso(ms)) == ms, "\(ms)")
        }
        #expect(Format.iso(1_714_632_600_123) == "2024-05-02T06:50:00.123Z")
        #expect(Format.iso(951_782_400_000) == "2000-02-29T00:00:00.000Z")
        #expect(Format.parseTime("2024-05-02") == 1_714_608_000_000)
        #expect(Format.parseTime("2024-05-02T06:50") == 1_714_632_600_000)
        #expect(Format.parseTime("2024-05-02T08:50:00+02:00") == 1_714_632_600_000)
        #expect(Format.parseTime("2024-05-02T06:50:00.1Z") == 1_714_632_600_100)
        #expect(Format.parseTime("2024-05-02T06:50:00.123456Z") == 1_714_632_600_123)
        #expect(Format.parseTime("1714632600123") == 1_714_632_600_123)
        for bad in ["", "x", "2024-5-2", "2024-05-02T6:50", "2024-05-02T06:50:00.Z", "2024-05-02T06:50Zjunk", "2024-00-10"] {
            #expect(Format.parseTime(bad) == nil, "\(bad)")
        }
    }

    @Test("CSV cells: quoting and formula neutralising")
    func csvCells() {
        #expect(Format.csv("plain") == "plain")
        #expect(Format.csv("a,b") == "\"a,b\"")
        #expect(Format.csv("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(Format.csv("line\nbreak") == "\"line\nbreak\"")
        #expect(Format.csv("=1+2") == "'=1+2")
        #expect(Format.csv("+1") == "'+1")
        #expect(Format.csv("-1") == "'-1")
        #expect(Format.csv("@SUM(A1)") == "'@SUM(A1)")
        #expect(Format.csv("\tx") == "'\tx")
        #expect(Format.csv("=A1,B1") == "\"'=A1,B1\"")
    }

    @Test("durations and links")
    func durationsAndLinks() {
        #expect(Format.duration(45_900) == "45 s")
        #expect(Format.duration(125_000) == "2 min 5 s")
        #expect(Format.duration(3_780_000) == "1 h 3 min")
        #expect(Format.duration(3 * 86_400_000) == "3 d")
        #expect(Format.safeLink("https://x.invalid/a") == "https://x.invalid/a")
        #expect(Format.safeLink("JavaScript:alert(1)") == nil)
        #expect(Format.safeLink("data:text/html,x") == nil)
        #expect(Format.safeLink("https://x.invalid/a b") == nil)
    }

    @Test("message rate meter")
    func rateMeter() {
        let meter = MessageRateMeter(window: .seconds(1))
        let t = Date(timeIntervalSince1970: 1000)
        #expect(meter.rate(received: 0, at: t) == nil)
        #expect(meter.rate(received: 5, at: t.addingTimeInterval(0.5)) == nil)
        #expect(meter.rate(received: 20, at: t.addingTimeInterval(2)) == 10)
        #expect(meter.rate(received: 25, at: t.addingTimeInterval(2.5)) == 10)
    }
}

@Suite("Live panel layout")
struct LivePanelTests {
    @Test("many idle zones fold into a details element; active zones stay on top")
    func idleZonesFold() async throws {
        let f = try await WebFixture.make()
        var status = WebFixture.live()
        for i in 0..<20 {
            status.zones.append(ZoneSnapshot(camera: "IDLE-\(i)", zone: "0", people: 0, vehicles: 0, lastTs: 1, phase: .idle))
        }
        let live = status
        let web = CrowdWeb(store: f.store, logger: quietLogger, liveStatus: { live })
        try await WebFixture.app(web).test(.router) { client async throws in
            let html = try await client.execute(uri: "/", method: .get).text
            let summary = try #require(html.range(of: "<summary>21 idle zones</summary>"))
            let crowd = try #require(html.range(of: "<span class=\"badge crowd\">crowd</span>"))
            #expect(crowd.lowerBound < summary.lowerBound)
            #expect(html.contains("data-zone=\"IDLE-7/0\""))
        }
    }
}

@Suite("Byte writer")
struct ByteWriterTests {
    func json(_ s: String) -> String {
        var w = ByteWriter()
        w.json(s)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    @Test("JSON strings: escapes, line separators, other E2 sequences, controls, round trip")
    func jsonStrings() throws {
        #expect(json("plain") == "\"plain\"")
        #expect(json("a\"b\\c\nd") == "\"a\\\"b\\\\c\\nd\"")
        #expect(json("<script>&") == "\"\\u003cscript\\u003e\\u0026\"")
        #expect(json("x\u{2028}y\u{2029}z") == "\"x\\u2028y\\u2029z\"")
        #expect(json("€ ✓ \u{1}") == "\"€ ✓ \\u0001\"")
        #expect(json("\u{E2}") == "\"\u{E2}\"")
        for s in ["€€", "a\u{2028}€\u{2029}", "ü\t<&>\"", "\u{1F600}x", "\u{0}"] {
            let decoded = try JSONSerialization.jsonObject(with: Data(json(s).utf8), options: .fragmentsAllowed) as? String
            #expect(decoded == s, "\(s.unicodeScalars.map { $0.value })")
        }
    }

    @Test("times and integers")
    func timesAndIntegers() {
        var w = ByteWriter()
        w.iso(0)
        w.raw(" ")
        w.int(-42)
        w.raw(" ")
        w.int(Int64.min)
        w.raw(" ")
        w.readableUTC(1_714_632_600_123)
        #expect(String(decoding: w.bytes, as: UTF8.self)
            == "1970-01-01T00:00:00.000Z -42 -9223372036854775808 2024-05-02 06:50:00 UTC")
    }
}

@Suite("LiveStatus zone order")
struct LiveStatusZoneOrderTests {
    static func zone(_ camera: String, _ zone: String) -> ZoneSnapshot {
        ZoneSnapshot(camera: camera, zone: zone, people: 0, vehicles: 0, lastTs: 1, phase: .idle)
    }

    @Test("zones are listed by camera, then zone (bytewise, as ZoneKey orders them), sorted or not on arrival")
    func order() {
        let expected = [Self.zone("A", "0"), Self.zone("A", "11"), Self.zone("A", "2"), Self.zone("B", "0"), Self.zone("É", "0")]
        #expect(LiveStatus(zones: expected).zonesInOrder == expected)
        #expect(LiveStatus(zones: expected.reversed()).zonesInOrder == expected)
        #expect(LiveStatus(zones: [expected[1], expected[0]] + expected[2...]).zonesInOrder == expected)
        #expect(LiveStatus(zones: []).zonesInOrder == [])
        #expect(expected == expected.sorted { ZoneKey(camera: $0.camera, zone: $0.zone) < ZoneKey(camera: $1.camera, zone: $1.zone) })
    }
}
