import CrowdKitCore
import CrowdKitSQLite
@testable import CrowdKitWeb
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// Occupancy charts on the page: server-drawn SVG from the store's history, with the threshold
/// line and crowd events shaded.
@Suite("Occupancy charts")
struct ChartPageTests {
    static let a = ZoneKey(camera: "Q2GV-CHRT-0001", zone: "0")
    static let b = ZoneKey(camera: "Q2GV-CHRT-0001", zone: "7")
    /// A zone whose readings are two days old (a replayed capture).
    static let old = ZoneKey(camera: "Q2GV-CHRT-0002", zone: "0")

    struct Fixture {
        let directory: TemporaryDirectory
        let store: SQLiteEventStore
        let web: CrowdWeb
        let now: Int64
        let event: CrowdEvent
    }

    /// Three hours of minutes for a and b (a peaks at 9 people), one hour two days ago for `old`,
    /// one ended crowd event of a, minPeople 3 in effect.
    static func fixture() async throws -> Fixture {
        let directory = try TemporaryDirectory()
        let store = try SQLiteEventStore(path: directory.path + "/events.sqlite", logger: quietLogger)
        let now = Int64(Date().timeIntervalSince1970 * 1000) / 60_000 * 60_000
        var minutes: [OccupancyMinute] = []
        for i in 1...180 {
            let t = now - Int64(i) * 60_000
            let people = (60...80).contains(i) ? 9 : i % 3
            minutes.append(OccupancyMinute(zone: a, minute: t, max: people, sum: people * 2, observations: 2, last: people))
            minutes.append(OccupancyMinute(zone: b, minute: t, max: 1, sum: 1, observations: 1, last: 1))
        }
        let oldEnd = now - 2 * 86_400_000
        for i in 1...60 {
            minutes.append(OccupancyMinute(zone: old, minute: oldEnd - Int64(i) * 60_000, max: 4, sum: 4, observations: 1, last: 4))
        }
        try await store.appendOccupancy(minutes)
        let event = CrowdEvent(
            camera: a.camera, zone: a.zone, startedAt: now - 80 * 60_000, firedAt: now - 79 * 60_000, endedAt: now - 60 * 60_000, peak: 9,
            policy: PolicyDescription(name: "dwell", parameters: ["minPeople": 3, "dwellSeconds": 60]), cameraName: "Atrium", zoneName: nil)
        try await store.apply(EventChange(kind: .ended, event: event))
        let live = LiveSettings(settings: RuntimeSettings(defaults: ParameterSet([.minPeople: 3])))
        let control = SettingsControl(store: store, live: live, logger: quietLogger)
        try await control.start(seed: RuntimeSettings(defaults: ParameterSet([.minPeople: 3])))
        let status = LiveStatus(zones: [
            ZoneSnapshot(camera: a.camera, zone: a.zone, people: 2, vehicles: 0, lastTs: now - 30_000, phase: .idle),
            ZoneSnapshot(camera: b.camera, zone: b.zone, people: 1, vehicles: 0, lastTs: now - 30_000, phase: .idle),
            ZoneSnapshot(camera: old.camera, zone: old.zone, people: 4, vehicles: 0, lastTs: oldEnd - 60_000, phase: .idle),
        ])
        let web = CrowdWeb(store: store, logger: quietLogger, liveStatus: { status }, settings: control)
        return Fixture(directory: directory, store: store, web: web, now: now, event: event)
    }

    static func svg(of html: String, zone: ZoneKey) -> String? {
        guard let card = html.components(separatedBy: "data-zone=\"\(zone.camera)/\(zone.zone)\"").dropFirst().first else { return nil }
        guard let start = card.range(of: "<svg"), let end = card.range(of: "</svg>") else { return nil }
        return String(card[start.lowerBound..<end.upperBound])
    }

    static func attribute(_ name: String, in svg: String) -> String? {
        guard let r = svg.range(of: "\(name)=\"") else { return nil }
        return String(svg[r.upperBound...].prefix { $0 != "\"" })
    }

    @Test("/charts: a chart per zone with its readings, the threshold and the crowd shaded")
    func overview() async throws {
        let f = try await Self.fixture()
        try await WebFixture.app(f.web).test(.router) { client in
            let r = try await client.execute(uri: "/charts", method: .get)
            #expect(r.status == .ok)
            #expect(r.headers[.contentSecurityPolicy]?.contains("script-src 'nonce-") == true)
            let a = try #require(Self.svg(of: r.text, zone: Self.a))
            // 24 h in steps of 15 minutes: the three hours of readings are 12 or 13 points
            let points = try #require(Self.attribute("data-points", in: a).flatMap { Int($0) })
            #expect((12...13).contains(points))
            #expect(Self.attribute("data-peak", in: a) == "9")
            #expect(Self.attribute("data-threshold", in: a) == "3")
            #expect(a.components(separatedBy: "class=\"event\"").count - 1 == 1)
            #expect(a.contains("<title>Occupancy of Atrium / Full frame, last 24 hours</title>"))
            let b = try #require(Self.svg(of: r.text, zone: Self.b))
            #expect(Self.attribute("data-peak", in: b) == "1")
            #expect(!b.contains("class=\"event\""))
            // the replayed zone's range ends at its latest reading
            let old = try #require(Self.svg(of: r.text, zone: Self.old))
            #expect(Self.attribute("data-peak", in: old) == "4")
            #expect(try await client.execute(uri: "/charts?range=1y", method: .get).status == .badRequest)
        }
    }

    @Test("/zones/{camera}/{zone}: the large chart, the events of the range and the mute button")
    func zonePage() async throws {
        let f = try await Self.fixture()
        try await WebFixture.app(f.web).test(.router) { client in
            let r = try await client.execute(uri: "/zones/\(Self.a.camera)/0?range=6h", method: .get)
            #expect(r.status == .ok)
            let svg = try #require(r.text.range(of: "<svg").map { String(r.text[$0.lowerBound...]) })
            // 6 h in steps of a minute: every one of the 180 minutes
            #expect(Self.attribute("data-points", in: svg) == "180")
            #expect(svg.contains("class=\"mean\""))
            #expect(svg.contains("threshold 3</text>"))
            #expect(r.text.contains("data-event-id=\"\(f.event.id.rawValue)\""))
            #expect(r.text.contains("name=\"selector\" value=\"\(Self.a.camera)/0\""))
            #expect(r.text.contains(">Mute 1 h</button>"))
            let empty = try await client.execute(uri: "/zones/Q2GV-NONE-0000/0", method: .get)
            #expect(empty.status == .ok)
            #expect(empty.text.contains("no readings in this range"))
            // the events page links each live zone to its chart
            let events = try await client.execute(uri: "/", method: .get)
            #expect(events.text.contains("href=\"/zones/\(Self.a.camera)/0\">Chart</a>"))
        }
    }

    @Test("chart drawing: gaps split the line, values are clamped, labels are escaped")
    func drawing() {
        let t0: Int64 = 1_714_608_000_000
        let points = [
            OccupancyPoint(t: t0, max: 2, mean: 1, last: 2), OccupancyPoint(t: t0 + 60_000, max: 3, mean: 2, last: 3),
            OccupancyPoint(t: t0 + 600_000, max: 5, mean: 5, last: 5),
        ]
        var w = ByteWriter(capacity: 4096)
        OccupancyChart(points: points, from: t0, to: t0 + 3_600_000, step: 60_000, threshold: 4, events: [], label: "<b>x</b>").render(into: &w)
        let svg = String(decoding: w.bytes, as: UTF8.self)
        #expect(svg.components(separatedBy: "class=\"max\"").count - 1 == 2, "two runs: a gap of 8 minutes")
        #expect(svg.contains("&lt;b&gt;x&lt;/b&gt;"))
        // the history API's means: two decimals at most, no trailing zeros
        #expect([2.5, 2.456, 3, 0.05, 1.1, 0.004].map(CrowdWeb.meanText) == ["2.5", "2.46", "3", "0.05", "1.1", "0"])
        #expect(!svg.contains("<b>"))
    }
}
