import CrowdKitCore
import CrowdKitTesting
import Testing

@Suite("Detection engine")
struct EngineTests {
    static func msg(_ camera: String, _ zone: String, _ ts: Int64, _ people: Int) -> RawMessage {
        RawMessage(topic: "/merakimv/\(camera)/\(zone)", payload: #"{"ts":\#(ts),"counts":{"person":\#(people)}}"#)
    }

    @Test("out-of-order observations are dropped and counted per zone; equal ts is processed")
    func outOfOrder() {
        var e = DetectionEngine(policy: DwellPolicy(DwellParameters(minPeople: 1, dwell: .zero)))
        var changes: [EventChange] = []
        #expect(e.process(Self.msg("A", "0", 1000, 0)) { changes.append($0) } == .observed)
        #expect(e.process(Self.msg("A", "0", 999, 5)) { changes.append($0) } == .outOfOrder)
        // another zone has its own clock
        #expect(e.process(Self.msg("A", "1", 10, 0)) { changes.append($0) } == .observed)
        #expect(e.process(Self.msg("A", "0", 1000, 2)) { changes.append($0) } == .observed)
        #expect(e.statistics.outOfOrder == 1)
        #expect(changes.count == 1)  // the equal-ts reading with 2 people fired
    }

    @Test("zones never share state; both topic spellings are the same zone")
    func perZone() {
        var e = DetectionEngine(policy: DwellPolicy(DwellParameters(minPeople: 2, dwell: .seconds(1))))
        var fired: [CrowdEvent] = []
        for t in stride(from: Int64(0), through: 1000, by: 500) {
            _ = e.process(Self.msg("A", "0", t, 3)) { fired.append($0.event) }
            _ = e.process(Self.msg("B", "0", t, 0)) { fired.append($0.event) }
        }
        _ = e.process(RawMessage(topic: "merakimv/B/0", payload: #"{"ts":1500,"counts":{"person":5}}"#)) { fired.append($0.event) }
        #expect(fired.map(\.camera) == ["A"])
        #expect(e.zoneCount == 2)
    }

    @Test("camera and zone filters skip other zones (and still validate them)")
    func filters() {
        var e = DetectionEngine(
            policy: DwellPolicy(DwellParameters(minPeople: 1, dwell: .zero)),
            filter: ZoneFilter(cameras: .only(["A"]), zones: .init(parsing: "0, 7")))
        var n = 0
        #expect(e.process(Self.msg("A", "0", 1, 1)) { _ in n += 1 } == .observed)
        #expect(e.process(Self.msg("A", "5", 1, 1)) { _ in n += 1 } == .filtered)
        #expect(e.process(Self.msg("B", "0", 1, 1)) { _ in n += 1 } == .filtered)
        #expect(e.process(RawMessage(topic: "/merakimv/B/0", payload: "junk")) { _ in n += 1 } == .rejected(.notJSON))
        #expect(n == 1)
        #expect(e.statistics.filtered == 2)
    }

    @Test("filter parsing accepts *, lists and Python-style lists")
    func filterParsing() {
        #expect(ZoneFilter.Selection(parsing: "*") == .all)
        #expect(ZoneFilter.Selection(parsing: "") == .all)
        #expect(ZoneFilter.Selection(parsing: "a,b") == .only(["a", "b"]))
        #expect(ZoneFilter.Selection(parsing: #"["Q2GV-1", 'Q2GV-2']"#) == .only(["Q2GV-1", "Q2GV-2"]))
        #expect(ZoneFilter.Selection(parsing: #"["*"]"#) == .all)
    }

    @Test("the observation path and the raw path give the same events")
    func observationPathMatchesRaw() {
        let p = DwellPolicy(DwellParameters(minPeople: 3, dwell: .seconds(5), gap: .seconds(1)))
        var raw = DetectionEngine(policy: p)
        var obs = DetectionEngine(policy: p)
        var a: [EventChange] = []
        var b: [EventChange] = []
        for (i, r) in DetectionPolicyConformance.feed(seed: 7, count: 2000).enumerated() {
            let zone = "\(i % 3)"
            _ = raw.process(Self.msg("C", zone, r.ts, r.people)) { a.append($0) }
            _ = obs.process(Observation(camera: "C", zone: zone, ts: r.ts, people: r.people)) { b.append($0) }
        }
        #expect(!a.isEmpty)
        #expect(a == b)
    }

    @Test("many topics: the interning table grows and still finds every zone")
    func manyTopics() {
        var e = DetectionEngine(policy: DwellPolicy(DwellParameters(minPeople: 1, dwell: .zero, cooldown: .zero)))
        var fired = Set<String>()
        for round in 0..<2 {
            for z in 0..<5000 {
                _ = e.process(Self.msg("CAM-\(z % 17)", "\(z)", Int64(round), round)) { fired.insert($0.event.zone) }
            }
        }
        #expect(e.zoneCount == 5000)
        #expect(fired.count == 5000)
    }

    @Test("event ids are stable and derived from camera, zone and start")
    func eventIDs() {
        let a = CrowdEventID(camera: "Q2", zone: "0", startedAt: 1)
        #expect(a == CrowdEventID(camera: "Q2", zone: "0", startedAt: 1))
        #expect(a != CrowdEventID(camera: "Q2", zone: "0", startedAt: 2))
        #expect(a != CrowdEventID(camera: "Q20", zone: "", startedAt: 1))
        #expect(a.rawValue.count == 32)
        // pinned: the id must not change between releases (stores rely on it); start time first
        #expect(CrowdEventID(camera: "Q2MV-HALL-0002", zone: "0", startedAt: 1732780800000).rawValue == "019371c8b800 8a1c4445b7b25393 95be".replacingOccurrences(of: " ", with: ""))
        // later starts sort later, whatever the camera and zone
        let ids = (0..<200).map { i in
            CrowdEventID(camera: "CAM-\(i % 7)", zone: "\(i % 3)", startedAt: 1_732_780_800_000 + Int64(i) * 1_000)
        }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
    }

    @Test("reminders update the open event; the end completes it")
    func engineEventLifecycle() {
        var e = DetectionEngine(policy: DwellPolicy(DwellParameters(minPeople: 2, dwell: .seconds(1), gap: .zero, repeatEvery: .seconds(2))))
        var changes: [EventChange] = []
        for t in stride(from: Int64(0), through: 5000, by: 1000) { _ = e.process(Self.msg("A", "0", t, 2 + Int(t / 1000))) { changes.append($0) } }
        _ = e.process(Self.msg("A", "0", 6000, 0)) { changes.append($0) }
        #expect(changes.map(\.kind) == [.fired, .reminder, .reminder, .ended])
        #expect(Set(changes.map(\.event.id)).count == 1)
        #expect(changes.last?.event.endedAt == 5000)
        #expect(changes.last?.event.peak == 7)
        #expect(changes[1].event.reminders == 1)
        // a "crowd detected" message sent after the end still quotes the count at firing
        guard let ended = changes.last?.event else { return }
        #expect(ended.firedCount == 3)
        #expect(ended.lastCount == 0)
        #expect(ended.count(for: .fired) == 3)
        #expect(ended.count(for: .ended) == 7)
        #expect(ended.durationMilliseconds(for: .fired) == 1000)
        #expect(CrowdMessageFormatter.plainText(CrowdNotification(kind: .fired, event: ended)).contains("3 people"))
        #expect(e.openEvents.isEmpty)
    }
}

@Suite("Camera time formatting")
struct CivilTimeTests {
    @Test("ISO 8601 in integers: no millisecond lost, before 1970 too")
    func iso() {
        #expect(TextFormat.iso8601(1_732_780_812_600) == "2024-11-28T08:00:12.600Z")
        #expect(TextFormat.iso8601(0) == "1970-01-01T00:00:00.000Z")
        #expect(TextFormat.iso8601(-1) == "1969-12-31T23:59:59.999Z")
        #expect(TextFormat.iso8601(951_782_400_000) == "2000-02-29T00:00:00.000Z")
        let t = CivilTime(epochMilliseconds: 1_714_632_600_123)
        #expect([t.year, t.month, t.day, t.hour, t.minute, t.second, t.millisecond] == [2024, 5, 2, 6, 50, 0, 123])
    }
}

extension EngineTests {
    @Test("zones found by topic and by name are the same zones, whichever comes first (the name index is made on first use)")
    func topicAndNamePaths() {
        var e = DetectionEngine(policy: DwellPolicy(DwellParameters(minPeople: 1, dwell: .zero, cooldown: .zero)))
        var fired: [String] = []
        // by topic only: both spellings are one zone
        _ = e.process(Self.msg("A", "1", 1, 0)) { fired.append($0.event.zone) }
        _ = e.process(RawMessage(topic: "merakimv/A/1", payload: #"{"ts":2,"counts":{"person":0}}"#)) { fired.append($0.event.zone) }
        _ = e.process(RawMessage(topic: "merakimv/A/2", payload: #"{"ts":2,"counts":{"person":0}}"#)) { fired.append($0.event.zone) }
        _ = e.process(Self.msg("A", "2", 3, 0)) { fired.append($0.event.zone) }
        #expect(e.zoneCount == 2)
        // then by name: the same zones, with the state they have
        #expect(e.process(Observation(camera: "A", zone: "1", ts: 1, people: 5)) { fired.append($0.event.zone) } == .outOfOrder)
        #expect(e.process(Observation(camera: "A", zone: "2", ts: 4, people: 5)) { fired.append($0.event.zone) } == .observed)
        #expect(e.zoneCount == 2)
        // a zone named first, then seen by topic in both spellings
        _ = e.process(Observation(camera: "B", zone: "7", ts: 10, people: 0)) { fired.append($0.event.zone) }
        #expect(e.process(Self.msg("B", "7", 9, 5)) { fired.append($0.event.zone) } == .outOfOrder)
        #expect(e.process(RawMessage(topic: "merakimv/B/7", payload: #"{"ts":11,"counts":{"person":5}}"#)) { fired.append($0.event.zone) } == .observed)
        // a new topic after the index exists
        _ = e.process(Self.msg("B", "8", 1, 0)) { fired.append($0.event.zone) }
        #expect(e.process(Observation(camera: "B", zone: "8", ts: 0, people: 5)) { fired.append($0.event.zone) } == .outOfOrder)
        #expect(e.zoneCount == 4)
        #expect(fired == ["2", "7"])
    }
}
