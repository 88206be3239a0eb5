import CrowdKitCore
import CrowdKitTesting
import Foundation
import Logging
import Testing

/// SEMANTICS.md §7 in the engine and the monitor: run-time parameters at the next observation,
/// schedules, pause, and mutes and quiet hours that suppress notifications.
@Suite("Run-time settings in detection")
struct LiveSettingsTests {
    static let key = ZoneKey(camera: "Q2GV-AAAA-0001", zone: "0")
    static let policy = DwellPolicy(DwellParameters(minPeople: 3, dwell: .seconds(10), gap: .zero, cooldown: .zero, stale: .seconds(30)))

    static func engine() -> DetectionEngine<DwellPolicy> { DetectionEngine(policy: policy) }

    /// Feeds `people` at `seconds` (camera time); returns the kinds of the changes.
    @discardableResult
    static func feed(_ e: inout DetectionEngine<DwellPolicy>, _ seconds: Int64, _ people: Int, _ changes: inout [EventChange]) -> MessageOutcome {
        e.process(RawMessage(topic: "/merakimv/\(key.camera)/\(key.zone)", payload: #"{"ts":\#(seconds * 1000),"counts":{"person":\#(people)}}"#)) {
            changes.append($0)
        }
    }

    @Test("a run-time dwell replaces the configured one at the next observation; the event keeps the parameters it fired with")
    func dwellFromSettings() {
        var e = Self.engine()
        var changes: [EventChange] = []
        e.apply(settings: RuntimeSettings(defaults: ParameterSet([.dwellSeconds: 2])))
        for t in Int64(0)...3 { Self.feed(&e, t, 4, &changes) }
        let fired = changes.first { $0.kind == .fired }
        #expect(fired?.event.firedAt == 2000, "fires after the run-time 2 s, not the configured 10 s")
        #expect(fired?.event.policy.parameters["dwellSeconds"] == 2)
        #expect(fired?.event.policy.parameters["minPeople"] == 3, "parameters the settings leave alone keep their configured value")
    }

    @Test("a change applies to the state the zone has: raising N above the count is a dip, the open episode keeps its start")
    func nextObservation() {
        var e = Self.engine()
        var changes: [EventChange] = []
        for t in Int64(0)...4 { Self.feed(&e, t, 4, &changes) }
        e.apply(settings: RuntimeSettings(defaults: ParameterSet([.minPeople: 5])))
        for t in Int64(5)...12 { Self.feed(&e, t, 4, &changes) }
        #expect(!changes.contains { $0.kind == .fired }, "4 people are under the new N of 5: no crowd")
        // back to the configuration: a new episode starts at the next observation
        e.apply(settings: RuntimeSettings())
        for t in Int64(13)...24 { Self.feed(&e, t, 4, &changes) }
        let fired = changes.first { $0.kind == .fired }
        #expect(fired?.event.startedAt == 13_000)
        #expect(fired?.event.firedAt == 23_000)
    }

    @Test("a schedule window in another time zone sets N only inside [from, to) of its local time")
    func scheduleWindow() throws {
        // 2024-05-06 was a Monday; 12:00-13:00 in Zurich (UTC+2 in May) is 10:00-11:00 UTC
        let zurich = try #require(TimeZone(identifier: "Europe/Zurich"))
        let lunch = SettingsSchedule(
            name: "lunch", selector: .zone(Self.key),
            schedule: WeeklySchedule(timeZone: zurich, windows: [WeeklyWindow(days: [.mon], from: 12 * 60, to: 13 * 60)]),
            parameters: ParameterSet([.minPeople: 1, .dwellSeconds: 1]))
        let monday10UTC: Int64 = 1_714_989_600  // 2024-05-06T10:00:00Z
        var e = Self.engine()
        e.apply(settings: RuntimeSettings(schedules: [lunch]))
        var inside: [EventChange] = []
        for t in Int64(0)...2 { Self.feed(&e, monday10UTC + 1800 + t, 1, &inside) }
        #expect(inside.contains { $0.kind == .fired }, "one person is a crowd at 12:30 in Zurich")
        var after: [EventChange] = []
        var later = Self.engine()
        later.apply(settings: RuntimeSettings(schedules: [lunch]))
        for t in Int64(0)...20 { Self.feed(&later, monday10UTC + 3600 + t, 1, &after) }
        #expect(after.isEmpty, "at 13:00 the window has ended: the configured N of 3 applies")
    }

    @Test("pause: readings update the zone but reach no policy; a pause longer than S closes the episode at its lastAbove")
    func pause() {
        var e = Self.engine()
        var changes: [EventChange] = []
        for t in Int64(0)...11 { Self.feed(&e, t, 4, &changes) }
        #expect(changes.filter { $0.kind == .fired }.count == 1)
        e.apply(settings: RuntimeSettings(paused: true))
        #expect(e.isPaused)
        for t in Int64(12)...60 { Self.feed(&e, t, 0, &changes) }
        #expect(!changes.contains { $0.kind == .ended }, "paused: the crowd's end is not seen")
        #expect(e.snapshot().first?.people == 0, "the live view still follows the readings")
        e.apply(settings: RuntimeSettings(paused: false))
        Self.feed(&e, 61, 4, &changes)
        let ended = changes.first { $0.kind == .ended }
        #expect(ended?.event.endedAt == 11_000, "resumed 50 s later (> S = 30 s): the episode closed at its lastAbove")
    }

    @Test("mutes and quiet hours record the zone's notifications as suppressed with their reason; others go out")
    func suppression() async throws {
        let muted = ZoneKey(camera: "CAM-M", zone: "0")
        let quiet = ZoneKey(camera: "CAM-Q", zone: "0")
        let free = ZoneKey(camera: "CAM-F", zone: "0")
        var readings: [RawMessage] = []
        for key in [muted, quiet, free] {
            for t in Int64(0)...12 {
                readings.append(RawMessage(topic: "/merakimv/\(key.camera)/\(key.zone)", payload: #"{"ts":\#(t * 1000),"counts":{"person":4}}"#))
            }
        }
        let always = try #require(TimeZone(identifier: "UTC"))
        let live = LiveSettings(
            settings: RuntimeSettings(quietHours: [
                QuietHours(
                    name: "night", selector: .zone(quiet),
                    schedule: WeeklySchedule(timeZone: always, windows: [WeeklyWindow(days: Set(Weekday.allCases), from: 0, to: 24 * 60)]))
            ]),
            mutes: [Mute(id: "m1", selector: .camera(muted.camera), from: 0, until: 60_000, reason: "maintenance", by: "local")])
        let store = InMemoryEventStore()
        let monitor = CrowdMonitor(
            source: ScriptedSource(readings.map { SourceMessage.raw($0) }), policy: Self.policy, store: store,
            notifiers: NotificationPlan(notifiers: ["webex"]), settings: live, logger: Logger(label: "test"))
        try await monitor.run()
        let records = try await store.events(EventQuery()).records
        func status(_ key: ZoneKey) -> DeliveryStatus? { records.first { $0.event.key == key }?.deliveries.first?.status }
        #expect(records.count == 3, "suppression gates notifications, not detection")
        #expect(status(muted) == .suppressed(reason: "mute m1"))
        #expect(status(quiet) == .suppressed(reason: "quiet hours night"))
        #expect(status(free) == .pending)
        #expect(try await store.pendingDeliveries(limit: 10).map(\.eventID) == records.filter { $0.event.key == free }.map(\.event.id))
    }
}
