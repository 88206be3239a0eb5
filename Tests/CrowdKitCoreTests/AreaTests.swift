import CrowdKitCore
import Foundation
import Testing

/// SEMANTICS.md §8, rule by rule, on the engine with raw MV Sense messages.
@Suite("Areas and line crossings")
struct AreaTests {
    static let t0: Int64 = 1_764_300_000_000

    /// An engine with one area `hall` over the given lines; the area fires at `minPeople` with no dwell.
    static func engine(
        lines: [String] = ["CAM1/10", "CAM2/20:reverse"], minPeople: Int = 2, dwell: Duration = .zero,
        objectType: ObjectType = .person, reset: DailyReset? = nil, filter: ZoneFilter = .all
    ) -> DetectionEngine<DwellPolicy> {
        let area = AreaDefinition(name: "hall", lines: lines.map { AreaLine(parsing: $0)! }, objectType: objectType, resetDaily: reset)
        let policy = DwellPolicy(DwellParameters(minPeople: minPeople, dwell: dwell, gap: .zero, cooldown: .zero, stale: .seconds(30)))
        return DetectionEngine(policy: DwellPolicy(), filter: filter, areas: AreaSetup(areas: [area], policy: policy))
    }

    static func crossing(_ camera: String, _ line: String, _ event: String, _ ts: Int64, type: String? = nil, slash: Bool = true) -> RawMessage {
        let typeField = type.map { #","type":"\#($0)""# } ?? ""
        return RawMessage(
            topic: "\(slash ? "/" : "")merakimv/\(camera)/crossing/\(line)",
            payload: #"{"label":"Door","event":"\#(event)","ts":\#(ts)\#(typeField),"object_id":42}"#)
    }

    static func count(_ camera: String, _ zone: String, _ ts: Int64, _ people: Int) -> RawMessage {
        RawMessage(topic: "/merakimv/\(camera)/\(zone)", payload: #"{"ts":\#(ts),"counts":{"person":\#(people)}}"#)
    }

    static func occupancy(_ e: DetectionEngine<DwellPolicy>) -> Int { e.areaSnapshot()[0].occupancy }

    @Test("crossing_in enters, crossing_out leaves; events are camera \"area\", zone the area's name")
    func direction() {
        var e = Self.engine()
        var changes: [EventChange] = []
        #expect(e.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0)) { changes.append($0) } == .crossing)
        #expect(Self.occupancy(e) == 1)
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0 + 1000)) { changes.append($0) }
        #expect(Self.occupancy(e) == 2)
        #expect(changes.map(\.kind) == [.fired])
        #expect(changes.first?.event.camera == "area")
        #expect(changes.first?.event.zone == "hall")
        #expect(changes.first?.event.startedAt == Self.t0 + 1000)
        _ = e.process(Self.crossing("CAM1", "10", "crossing_out", Self.t0 + 2000)) { changes.append($0) }
        #expect(Self.occupancy(e) == 1)
        #expect(changes.map(\.kind) == [.fired, .ended])
        #expect(changes.last?.event.endedAt == Self.t0 + 1000)
        #expect(e.statistics.crossings.crossings == 3)
    }

    @Test("run-time settings reach areas (area/<name>, area/*): a threshold override applies at the next observation, the event keeps it; pause stops firing, occupancy still follows")
    func runtimeSettings() {
        var e = Self.engine(minPeople: 3)
        var changes: [EventChange] = []
        e.apply(settings: RuntimeSettings(overrides: [.zone(ZoneKey(camera: "area", zone: "hall")): ParameterSet([.minPeople: 1])]))
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0)) { changes.append($0) }
        #expect(changes.map(\.kind) == [.fired], "one person is a crowd with the override (3 in the configuration)")
        #expect(changes.first?.event.policy.parameters["minPeople"] == 1)
        _ = e.process(Self.crossing("CAM1", "10", "crossing_out", Self.t0 + 1000)) { changes.append($0) }
        #expect(changes.map(\.kind) == [.fired, .ended])
        // every area of the camera `area`, and paused
        e.apply(settings: RuntimeSettings(paused: true, overrides: [.camera("area"): ParameterSet([.minPeople: 1])]))
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0 + 2000)) { changes.append($0) }
        #expect(Self.occupancy(e) == 1, "occupancy follows the crossings while paused")
        #expect(changes.count == 2, "no crowd while paused")
        e.apply(settings: RuntimeSettings(overrides: [.camera("area"): ParameterSet([.minPeople: 1])]))
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0 + 3000)) { changes.append($0) }
        #expect(changes.map(\.kind) == [.fired, .ended, .fired], "resumed: the next observation fires")
        // without an override for areas the configuration's threshold applies again
        var f = Self.engine(minPeople: 3)
        var other: [EventChange] = []
        f.apply(settings: RuntimeSettings(overrides: [.camera("CAM1"): ParameterSet([.minPeople: 1])]))
        _ = f.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0)) { other.append($0) }
        #expect(other.isEmpty, "a camera's override is not an area's")
    }

    @Test(":reverse counts crossing_out as entering and crossing_in as leaving")
    func reverse() {
        var e = Self.engine()
        _ = e.process(Self.crossing("CAM2", "20", "crossing_out", Self.t0)) { _ in }
        _ = e.process(Self.crossing("CAM2", "20", "crossing_out", Self.t0 + 1)) { _ in }
        #expect(Self.occupancy(e) == 2)
        _ = e.process(Self.crossing("CAM2", "20", "crossing_in", Self.t0 + 2)) { _ in }
        #expect(Self.occupancy(e) == 1)
        // the same boundary id on another camera is another line
        _ = e.process(Self.crossing("CAM1", "20", "crossing_in", Self.t0 + 3)) { _ in }
        #expect(Self.occupancy(e) == 1)
        #expect(e.statistics.crossings.unassigned == 1)
    }

    @Test("a leave at 0 is clamped (and counted): occupancy never goes negative")
    func clamping() {
        var e = Self.engine()
        _ = e.process(Self.crossing("CAM1", "10", "crossing_out", Self.t0)) { _ in }
        _ = e.process(Self.crossing("CAM1", "10", "crossing_out", Self.t0 + 1)) { _ in }
        #expect(Self.occupancy(e) == 0)
        #expect(e.statistics.crossings.clamped == 2)
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0 + 2)) { _ in }
        #expect(Self.occupancy(e) == 1)
    }

    @Test("ts below 10^11 is epoch seconds; at or above, milliseconds")
    func secondsOrMilliseconds() {
        var e = Self.engine(minPeople: 1)
        var fired: [CrowdEvent] = []
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", 1_764_300_000, slash: false)) { fired.append($0.event) }
        #expect(fired.first?.startedAt == 1_764_300_000_000)
        var e2 = Self.engine(minPeople: 1)
        var fired2: [CrowdEvent] = []
        _ = e2.process(Self.crossing("CAM1", "10", "crossing_in", 99_999_999_999)) { fired2.append($0.event) }
        #expect(fired2.first?.startedAt == 99_999_999_999_000)
        _ = e2.process(Self.crossing("CAM1", "10", "crossing_in", 100_000_000_000)) { _ in }
        #expect(e2.areaSnapshot()[0].lastTs == 99_999_999_999_000)  // 10^11 ms is older: late
        #expect(e2.statistics.crossings.late == 1)
    }

    @Test("other events and other object types are ignored and counted; a vehicle area counts only vehicles")
    func typesAndEvents() {
        var e = Self.engine()
        _ = e.process(Self.crossing("CAM1", "10", "appeared", Self.t0)) { _ in }
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0, type: "bicycle")) { _ in }
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0, type: "vehicle")) { _ in }
        #expect(Self.occupancy(e) == 0)
        #expect(e.statistics.crossings.ignored == 2)
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0, type: "person")) { _ in }
        #expect(Self.occupancy(e) == 1)
        var v = Self.engine(objectType: .vehicle)
        _ = v.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0)) { _ in }
        _ = v.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0, type: "vehicle")) { _ in }
        #expect(Self.occupancy(v) == 1)
    }

    @Test("malformed crossings are rejected as §1 says; a topic with more levels is not a crossing")
    func rejected() {
        var e = Self.engine()
        let topic = "/merakimv/CAM1/crossing/10"
        let cases: [(String, RejectReason)] = [
            ("[1,2]", .notJSON), ("nope", .notJSON), (#"{"event":"crossing_in"}"#, .missingTimestamp),
            (#"{"ts":1764300000000}"#, .missingEvent), (#"{"ts":-1,"event":"crossing_in"}"#, .wrongType),
            (#"{"ts":1.5,"event":"crossing_in"}"#, .wrongType), (#"{"ts":"1","event":"crossing_in"}"#, .wrongType),
            (#"{"ts":1764300000000,"event":7}"#, .wrongType),
            (#"{"ts":1764300000000,"event":"crossing_in","pad":""# + String(repeating: "x", count: 70_000) + #""}"#, .payloadTooLarge),
        ]
        for (payload, reason) in cases {
            #expect(e.process(RawMessage(topic: topic, payload: payload)) { _ in } == .rejected(reason), "\(payload.prefix(60))")
        }
        #expect(e.process(RawMessage(topic: "/merakimv/CAM1/crossing/10/x", payload: "{}")) { _ in } == .rejected(.badTopic))
        #expect(e.process(RawMessage(topic: "/merakimv/CAM1/crossing/", payload: "{}")) { _ in } == .rejected(.badTopic))
        #expect(Self.occupancy(e) == 0)
    }

    @Test("a zone count of a camera with a line is a heartbeat: a crowd that stands still fires, filters and zone order do not matter")
    func heartbeat() {
        var e = Self.engine(dwell: .seconds(10), filter: ZoneFilter(cameras: .only(["OTHER"]), zones: .all))
        var changes: [EventChange] = []
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0)) { changes.append($0) }
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0 + 1000)) { changes.append($0) }
        #expect(changes.isEmpty)
        // the camera is filtered out for its zones, and its zone 0 goes back in time: still heartbeats
        #expect(e.process(Self.count("CAM2", "0", Self.t0 + 11_000, 0)) { changes.append($0) } == .filtered)
        #expect(changes.map(\.kind) == [.fired])
        #expect(changes.first?.event.firedAt == Self.t0 + 11_000)
        // a heartbeat at the same ts does nothing, an older one neither
        _ = e.process(Self.count("CAM2", "0", Self.t0 + 11_000, 0)) { changes.append($0) }
        _ = e.process(Self.count("CAM2", "0", Self.t0 + 5000, 0)) { changes.append($0) }
        #expect(e.areaSnapshot()[0].lastTs == Self.t0 + 11_000)
        // a camera without lines gives none; a rejected count gives none
        _ = e.process(Self.count("CAM3", "0", Self.t0 + 50_000, 0)) { changes.append($0) }
        _ = e.process(RawMessage(topic: "/merakimv/CAM1/0", payload: #"{"ts":1764300060000,"counts":{"person":-1}}"#)) { changes.append($0) }
        #expect(e.areaSnapshot()[0].lastTs == Self.t0 + 11_000)
        // the stale rule sees a live camera: 29 s later the crowd is still there
        _ = e.process(Self.count("CAM1", "0", Self.t0 + 40_000, 0)) { changes.append($0) }
        #expect(changes.map(\.kind) == [.fired])
        // a heartbeat more than S after the last observation closes the episode at lastAbove
        _ = e.process(Self.count("CAM1", "0", Self.t0 + 71_000, 0)) { changes.append($0) }
        #expect(changes.map(\.kind) == [.fired, .ended])
        #expect(changes.last?.event.endedAt == Self.t0 + 40_000)
    }

    @Test("a late crossing counts at the area's lastTs; one from before the last reset is dropped")
    func outOfOrder() throws {
        let utc = try #require(TimeZone(identifier: "UTC"))
        let midnight = Self.t0 - Self.t0 % 86_400_000 + 86_400_000
        var e = Self.engine(minPeople: 5, reset: DailyReset(minuteOfDay: 0, timeZone: utc))
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0 + 5000)) { _ in }
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0 + 1000)) { _ in }  // late, counts
        #expect(Self.occupancy(e) == 2)
        #expect(e.areaSnapshot()[0].lastTs == Self.t0 + 5000)
        #expect(e.statistics.crossings.late == 1)
        // the next day: reset first, then the crossing
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", midnight + 10)) { _ in }
        #expect(Self.occupancy(e) == 1)
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", midnight - 10)) { _ in }  // late, before the reset
        #expect(Self.occupancy(e) == 1)
        #expect(e.statistics.crossings.lateDropped == 1)
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", midnight + 5)) { _ in }  // late, after the reset
        #expect(Self.occupancy(e) == 2)
    }

    @Test("the daily reset: at the local time, through heartbeats too, only when a reset lies in (lastTs, ts]")
    func dailyReset() throws {
        let ny = try #require(TimeZone(identifier: "America/New_York"))
        let reset = DailyReset(minuteOfDay: 0, timeZone: ny)
        // 2025-11-28 00:00 in New York is 05:00Z
        let nyMidnight: Int64 = 1_764_306_000_000
        var e = Self.engine(minPeople: 50, reset: reset)
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", nyMidnight - 60_000)) { _ in }
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", nyMidnight - 1)) { _ in }
        #expect(Self.occupancy(e) == 2)
        _ = e.process(Self.count("CAM1", "0", nyMidnight, 0)) { _ in }  // exactly at the reset: (lastTs, ts]
        #expect(Self.occupancy(e) == 0)
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", nyMidnight + 1000)) { _ in }
        _ = e.process(Self.count("CAM1", "0", nyMidnight + 3_600_000, 0)) { _ in }
        #expect(Self.occupancy(e) == 1)
    }

    @Test("a reset in a daylight-saving gap uses the offset before it; a repeated time resets at its first occurrence")
    func resetAcrossDaylightSaving() throws {
        let ny = try #require(TimeZone(identifier: "America/New_York"))
        // 2025-03-09: 02:00 EST jumps to 03:00 EDT. 02:30 is read as EST: 07:30Z (03:30 EDT).
        let gap = DailyReset(minuteOfDay: 150, timeZone: ny)
        let march9 = Int64(1_741_478_400_000)  // 2025-03-09T00:00Z
        #expect(gap.first(after: march9) == march9 + 7 * 3_600_000 + 30 * 60_000)
        // 2025-11-02: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice, first at 05:30Z.
        let repeated = DailyReset(minuteOfDay: 90, timeZone: ny)
        let nov2 = Int64(1_762_041_600_000)  // 2025-11-02T00:00Z
        #expect(repeated.first(after: nov2) == nov2 + 5 * 3_600_000 + 30 * 60_000)
        #expect(repeated.first(after: nov2 + 5 * 3_600_000 + 30 * 60_000) == nov2 + 86_400_000 + 6 * 3_600_000 + 30 * 60_000)
        #expect(repeated.latest(atOrBefore: nov2 + 6 * 3_600_000 + 30 * 60_000) == nov2 + 5 * 3_600_000 + 30 * 60_000)
        // a plain day: 00:00 in New York in winter is 05:00Z
        let midnight = DailyReset(minuteOfDay: 0, timeZone: ny)
        #expect(midnight.latest(atOrBefore: 1_764_306_000_000) == 1_764_306_000_000)
        #expect(midnight.latest(atOrBefore: 1_764_305_999_999) == 1_764_306_000_000 - 86_400_000)
        #expect(DailyReset(parsing: "24:00", timeZone: ny) == nil)
        #expect(DailyReset(parsing: "7:05", timeZone: ny)?.minuteOfDay == 425)
    }

    @Test("area parameters: area/<name>, then area/*, then the defaults; zones keep their own policy")
    func parameters() {
        let defaults = DwellParameters(minPeople: 9, dwell: .zero, gap: .zero, cooldown: .zero)
        let policy = DwellPolicy(
            defaults,
            overrides: [ZoneKey(camera: "area", zone: "*"): DwellParameters(minPeople: 3, dwell: .zero),
                        ZoneKey(camera: "area", zone: "a"): DwellParameters(minPeople: 1, dwell: .zero)])
        let areas = AreaSetup(
            areas: [AreaDefinition(name: "a", lines: [AreaLine(parsing: "C/1")!]), AreaDefinition(name: "b", lines: [AreaLine(parsing: "C/2")!])],
            policy: policy)
        var e = DetectionEngine(policy: MessageCountPolicy(), areas: areas)
        var fired: [String] = []
        for k in 0..<3 {
            _ = e.process(Self.crossing("C", "1", "crossing_in", Self.t0 + Int64(k))) { fired.append($0.event.zone) }
            _ = e.process(Self.crossing("C", "2", "crossing_in", Self.t0 + Int64(k))) { fired.append($0.event.zone) }
        }
        #expect(fired == ["a", "b"])
        #expect(e.openEvents.map(\.policy.name) == ["dwell", "dwell"])
    }

    @Test("detection.objectType vehicle: the zone policy sees counts.vehicle")
    func objectType() {
        var e = DetectionEngine(
            policy: DwellPolicy(DwellParameters(minPeople: 2, dwell: .zero)),
            objectTypes: ObjectTypeSelection(.person, overrides: [ZoneKey(camera: "G", zone: "*"): .vehicle]))
        var fired: [String] = []
        let payload = #"{"ts":1764300000000,"counts":{"person":0,"vehicle":4}}"#
        _ = e.process(RawMessage(topic: "/merakimv/G/1", payload: payload)) { fired.append($0.event.camera) }
        _ = e.process(RawMessage(topic: "/merakimv/P/1", payload: payload)) { fired.append($0.event.camera) }
        #expect(fired == ["G"])
        #expect(e.snapshot().first { $0.camera == "G" }?.people == 0)
    }

    @Test("area state is saved and restored: occupancy, the open episode and the last reset")
    func persistedState() throws {
        var e = Self.engine(dwell: .seconds(10))
        e.trackChanges()
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0)) { _ in }
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0 + 1000)) { _ in }
        let taken = e.takeChangedStates()
        let saved = try #require(taken).states
        #expect(saved.map(\.zone) == [ZoneKey(camera: "area", zone: "hall")])
        var restored = Self.engine(dwell: .seconds(10))
        #expect(restored.restore(saved).isEmpty)
        var a: [EventChange] = [], b: [EventChange] = []
        _ = e.process(Self.count("CAM1", "0", Self.t0 + 11_000, 0)) { a.append($0) }
        _ = restored.process(Self.count("CAM1", "0", Self.t0 + 11_000, 0)) { b.append($0) }
        #expect(a.map(\.event) == b.map(\.event))
        #expect(a.count == 1)
        #expect(Self.occupancy(restored) == 2)
        // an unreadable area state and an area no longer configured start fresh
        var broken = saved[0]
        broken.data = [1, 2, 3]
        var gone = saved[0]
        gone.zone = ZoneKey(camera: "area", zone: "old")
        var fresh = Self.engine()
        #expect(fresh.restore([broken, gone]).count == 2)
        #expect(Self.occupancy(fresh) == 0)
    }

    @Test("line snapshots: crossings in and out per line, today and in total, lines of no area listed")
    func lines() {
        var e = Self.engine()
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0)) { _ in }
        _ = e.process(Self.crossing("CAM1", "10", "crossing_out", Self.t0 + 1)) { _ in }
        _ = e.process(Self.crossing("CAM1", "10", "crossing_in", Self.t0 + 86_400_000)) { _ in }
        _ = e.process(Self.crossing("CAM9", "1", "crossing_in", Self.t0)) { _ in }
        let lines = e.lineSnapshot()
        #expect(lines.map(\.line) == ["10", "20", "1"])
        #expect(lines[0].inToday == 1 && lines[0].outToday == 0 && lines[0].inTotal == 2 && lines[0].outTotal == 1)
        #expect(lines[0].label == "Door")
        #expect(lines[0].areas == ["hall"])
        #expect(lines[2].areas.isEmpty)
    }
}
