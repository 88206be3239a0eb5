import CrowdKitCore
import CrowdKitSQLite
import CrowdKitTesting
import CrowdKitWeb
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// Occupancy history: minutes kept by the engine, written by the monitor to a real SQLite file,
/// and `GET /api/zones/{camera}/{zone}/history`.
@Suite("Occupancy history")
struct HistoryAPITests {
    static let key = ZoneKey(camera: "Q2GV-HIST-0001", zone: "0")
    static let t0: Int64 = 1_714_632_600_000  // a minute boundary

    @Test("the engine keeps max, observations, sum and last per zone and minute; a minute ends with the zone's first count of a later one")
    func engineMinutes() {
        var e = DetectionEngine(policy: DwellPolicy())
        e.trackOccupancy()
        func feed(_ ms: Int64, _ people: Int) {
            _ = e.process(RawMessage(topic: "/merakimv/\(Self.key.camera)/0", payload: #"{"ts":\#(Self.t0 + ms),"counts":{"person":\#(people)}}"#)) { _ in }
        }
        feed(0, 2)
        feed(30_000, 6)
        feed(59_999, 4)
        #expect(e.takeOccupancy().isEmpty, "the minute is not over")
        feed(60_000, 1)
        let finished = e.takeOccupancy()
        #expect(finished == [OccupancyMinute(zone: Self.key, minute: Self.t0, max: 6, sum: 12, observations: 3, last: 4)])
        let current = e.takeOccupancy(includingCurrent: true)
        #expect(current == [OccupancyMinute(zone: Self.key, minute: Self.t0 + 60_000, max: 1, sum: 1, observations: 1, last: 1)])
    }

    @Test("points merge minutes per step: max of maxima, mean over every observation, last of the last minute")
    func points() {
        let minutes = [
            OccupancyMinute(zone: Self.key, minute: Self.t0, max: 4, sum: 6, observations: 3, last: 1),
            OccupancyMinute(zone: Self.key, minute: Self.t0 + 60_000, max: 2, sum: 2, observations: 1, last: 2),
            OccupancyMinute(zone: Self.key, minute: Self.t0 + 300_000, max: 9, sum: 9, observations: 1, last: 9),
        ]
        let p = OccupancyPoint.points(minutes, step: 300_000)
        #expect(p == [OccupancyPoint(t: Self.t0, max: 4, mean: 2, last: 2), OccupancyPoint(t: Self.t0 + 300_000, max: 9, mean: 9, last: 9)])
    }

    @Test("the monitor writes the minutes to the store; the API answers points, the threshold and the zone's events; bad queries 400 naming the field")
    func monitorAndAPI() async throws {
        let dir = try TemporaryDirectory()
        let store = try SQLiteEventStore(path: dir.path + "/events.sqlite", logger: quietLogger)
        // five people for 3 minutes (a crowd: N = 3, dwell 60 s), then nobody for 2 minutes
        var readings: [SourceMessage] = []
        for s in stride(from: Int64(0), to: 300, by: 10) {
            let people = s < 180 ? 5 : 0
            readings.append(.raw(RawMessage(topic: "/merakimv/\(Self.key.camera)/0", payload: #"{"ts":\#(Self.t0 + s * 1000),"counts":{"person":\#(people)}}"#)))
        }
        let policy = DwellPolicy(DwellParameters(minPeople: 3, dwell: .seconds(60), gap: .zero, cooldown: .zero))
        let live = LiveSettings(settings: RuntimeSettings(defaults: ParameterSet([.minPeople: 3])))
        let monitor = CrowdMonitor(source: ScriptedSource(readings), policy: policy, store: store, settings: live, history: store, logger: quietLogger)
        try await monitor.run()
        let minutes = try await store.occupancy(of: Self.key, from: Self.t0, to: Self.t0 + 3_600_000)
        #expect(minutes.count == 5, "\(minutes)")
        #expect(minutes.first == OccupancyMinute(zone: Self.key, minute: Self.t0, max: 5, sum: 30, observations: 6, last: 5))

        let control = SettingsControl(store: store, live: live, logger: quietLogger)
        let web = CrowdWeb(store: store, configuration: CrowdWebConfiguration(), logger: quietLogger, settings: control)
        try await WebFixture.app(web).test(.router) { client in
            let r = try await client.execute(
                uri: "/api/zones/\(Self.key.camera)/0/history?from=\(Self.t0)&to=2024-05-02T07:50:00Z&step=120", method: .get)
            #expect(r.status == .ok)
            let body = (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView))) as? [String: Any] ?? [:]
            let points = body["points"] as? [[String: Any]] ?? []
            #expect(points.count == 3, "\(body)")
            #expect(points.first?["t"] as? Int64 == Self.t0 || points.first?["t"] as? Int == Int(Self.t0))
            #expect(points.first?["max"] as? Int == 5)
            #expect(points.last?["max"] as? Int == 0)
            #expect(body["minPeople"] as? Int == 3)
            let events = body["events"] as? [[String: Any]] ?? []
            #expect(events.count == 1)
            for (query, field) in [("from=abc", "from"), ("step=5", "step"), ("from=\(Self.t0)&to=\(Self.t0)", "from")] {
                let bad = try await client.execute(uri: "/api/zones/\(Self.key.camera)/0/history?\(query)", method: .get)
                #expect(bad.status == .badRequest, "\(query)")
                #expect(String(buffer: bad.body).contains("\"field\":\"\(field)\""), "\(query): \(String(buffer: bad.body))")
            }
        }
    }
}
