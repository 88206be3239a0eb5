import CrowdKitCore
import CrowdKitTesting
import Testing

/// One test per numbered rule of SEMANTICS.md §2, each with a hand-made feed that gives a
/// different answer if the rule is removed.
@Suite("Dwell policy (SEMANTICS.md §2)")
struct DwellPolicyTests {
    static let zone = ZoneKey(camera: "Q2GV-TEST-0001", zone: "0")

    /// Seconds-based parameters for readable feeds.
    static func policy(n: Int = 3, d: Int64 = 10, g: Int64 = 2, c: Int64 = 0, s: Int64 = 30, r: Int64? = nil) -> DwellPolicy {
        DwellPolicy(
            DwellParameters(
                minPeople: n, dwell: .seconds(d), gap: .seconds(g), cooldown: .seconds(c), stale: .seconds(s),
                repeatEvery: r.map { .seconds($0) }))
    }

    /// Runs (seconds, people) readings; returns every detection with the reading's second.
    static func run(_ p: DwellPolicy, _ feed: [(Double, Int)]) -> [(Double, Detection)] {
        var state = p.makeState(for: zone)
        return feed.compactMap { t, n in
            let d = p.process(ZoneReading(ts: Int64(t * 1000), people: n), state: &state)
            return d.isEmpty ? nil : (t, d)
        }
    }

    static func fired(_ r: [(Double, Detection)]) -> [EpisodeReport] { r.compactMap(\.1.fired) }
    static func ended(_ r: [(Double, Detection)]) -> [EpisodeReport] { r.compactMap(\.1.ended) }

    /// Readings every second from `from` to `to` (inclusive) with `people`.
    static func steady(_ from: Int, _ to: Int, _ people: Int) -> [(Double, Int)] {
        (from...to).map { (Double($0), people) }
    }

    @Test("rule 1: an observation older than the last one is dropped")
    func outOfOrder() {
        // Fires at 20. The late (5, 0) reading must change nothing: if it were processed it would
        // set lastTs to 5, and the reading at 21 would look 16 s (> S) after it and close the crowd.
        let r = Self.run(Self.policy(d: 10, g: 2, s: 15), Self.steady(0, 9, 3) + [(20, 3), (5, 0), (21, 3)])
        #expect(Self.fired(r).map(\.firedAt) == [20_000])
        #expect(Self.ended(r).isEmpty)
    }

    @Test("rule 2: a gap longer than S closes the episode at lastAbove")
    func stale() {
        let p = Self.policy(d: 10, g: 100, s: 30)
        // fired at 10, then silence of 40 s (> S), then a reading with a crowd
        let r = Self.run(p, Self.steady(0, 12, 5) + [(52, 5)] + Self.steady(53, 70, 5))
        let e = Self.ended(r)
        #expect(e.count == 1)
        #expect(e.first?.endedAt == 12_000)
        // a new episode starts at 52 and fires after D
        #expect(Self.fired(r).map(\.startedAt) == [0, 52_000])
        #expect(Self.fired(r).map(\.firedAt) == [10_000, 62_000])
    }

    @Test("rule 2: exactly S apart is not stale")
    func staleBoundary() {
        let p = Self.policy(d: 10, g: 100, s: 30)
        let r = Self.run(p, Self.steady(0, 12, 5) + [(42, 5)])
        #expect(Self.ended(r).isEmpty)
    }

    @Test("rule 3: people >= N opens an episode at ts and tracks the peak")
    func openAndPeak() {
        let p = Self.policy(n: 3, d: 5)
        let r = Self.run(p, [(0, 2), (1, 3), (2, 7), (3, 4), (6, 3)])
        let f = Self.fired(r)
        #expect(f.count == 1)
        #expect(f.first?.startedAt == 1_000)  // not 0: 2 < N
        #expect(f.first?.peak == 7)
        #expect(f.first?.firedAt == 6_000)
    }

    @Test("rule 3: exactly N people is a crowd (>=)")
    func thresholdInclusive() {
        let r = Self.run(Self.policy(n: 4, d: 2), Self.steady(0, 3, 4))
        #expect(Self.fired(r).count == 1)
        let none = Self.run(Self.policy(n: 5, d: 2), Self.steady(0, 3, 4))
        #expect(Self.fired(none).isEmpty)
    }

    @Test("rule 4: a dip longer than G ends the episode at lastAbove")
    func dipEnds() {
        let p = Self.policy(d: 5, g: 2)
        let r = Self.run(p, Self.steady(0, 6, 4) + [(7, 0), (8, 0), (9, 0), (10, 0)])
        let e = Self.ended(r)
        #expect(e.count == 1)
        #expect(e.first?.endedAt == 6_000)
        #expect(r.first(where: { $0.1.ended != nil })?.0 == 9)  // 9 - 6 > 2
    }

    @Test("rule 4: a dip of at most G changes nothing")
    func shortDip() {
        let p = Self.policy(d: 10, g: 2)
        // dip from 5 to 7 (7 - lastAbove 4 = 3 > 2 would end it), here the dip lasts until 6 only
        let r = Self.run(p, Self.steady(0, 4, 4) + [(5, 1), (6, 1)] + Self.steady(7, 12, 4))
        #expect(Self.fired(r).map(\.startedAt) == [0])
        #expect(Self.fired(r).map(\.firedAt) == [10_000])
        #expect(Self.ended(r).isEmpty)
    }

    @Test("rule 4: an unfired episode that ends is dismissed, and the next starts afresh")
    func dismissed() {
        let p = Self.policy(d: 10, g: 1)
        let r = Self.run(p, Self.steady(0, 5, 4) + [(8, 0)] + Self.steady(9, 20, 4))
        #expect(Self.ended(r).isEmpty)
        #expect(Self.fired(r).map(\.startedAt) == [9_000])
        #expect(Self.fired(r).map(\.firedAt) == [19_000])
    }

    @Test("rule 5: fires when lastAbove - start >= D, once, with the peak so far")
    func firesOnce() {
        let p = Self.policy(d: 10)
        let r = Self.run(p, [(0, 3), (5, 3), (9.999, 6), (10, 4), (11, 5), (30, 9)])
        let f = Self.fired(r)
        #expect(f.count == 1)
        #expect(f.first?.firedAt == 10_000)
        #expect(f.first?.peak == 6)
    }

    @Test("rule 5: does not fire on a reading below N even when the dwell and cooldown have passed")
    func firesOnlyOnCrowdReading() {
        // episode 1 fires at 5 and ends; episode 2 (from 20) meets its dwell while the cooldown
        // (until 65) holds it; the cooldown expires during a short dip (65, 66 within G), so it
        // fires on the next crowd reading, at 67, not on the dip
        let p = Self.policy(d: 5, g: 3, c: 60)
        let r = Self.run(p, Self.steady(0, 10, 3) + [(14, 0)] + Self.steady(20, 64, 3) + [(65, 0), (66, 0), (67, 3)])
        #expect(Self.fired(r).map(\.firedAt) == [5_000, 67_000])
    }

    @Test("rule 5: cooldown delays, not dismisses, the next firing")
    func cooldownDelays() {
        let p = Self.policy(d: 5, g: 1, c: 60)
        // episode 1 fires at 5 and ends at 10; episode 2 starts at 20, dwell met at 25, but cooldown
        // holds it until 65; it keeps going and fires at the first reading >= 65
        let r = Self.run(p, Self.steady(0, 10, 3) + [(12, 0)] + Self.steady(20, 70, 3))
        let f = Self.fired(r)
        #expect(f.map(\.firedAt) == [5_000, 65_000])
        #expect(f.last?.startedAt == 20_000)
    }

    @Test("rule 5: with no cooldown a new episode fires as soon as its dwell is met")
    func noCooldown() {
        let p = Self.policy(d: 5, g: 1, c: 0)
        let r = Self.run(p, Self.steady(0, 10, 3) + [(12, 0)] + Self.steady(20, 30, 3))
        #expect(Self.fired(r).map(\.firedAt) == [5_000, 25_000])
    }

    @Test("rule 6: lastTs advances with every in-order reading (stale is measured between readings)")
    func lastTsAdvances() {
        // readings every 20 s with S=30: never stale, so one episode fires at 60 with D=60
        let p = Self.policy(d: 60, g: 100, s: 30)
        let r = Self.run(p, stride(from: 0.0, through: 80, by: 20).map { ($0, 3) })
        #expect(Self.fired(r).map(\.firedAt) == [60_000])
        #expect(Self.ended(r).isEmpty)
    }

    @Test("the end completes the event with the final peak")
    func endUpdatesPeak() {
        let p = Self.policy(d: 5, g: 1)
        let r = Self.run(p, Self.steady(0, 5, 3) + [(6, 9), (7, 3), (9, 0)])
        #expect(Self.fired(r).first?.peak == 3)
        #expect(Self.ended(r).first?.peak == 9)
        #expect(Self.ended(r).first?.endedAt == 7_000)
    }

    @Test("reminders every R while the fired crowd stays, never a new event")
    func reminders() {
        let p = Self.policy(d: 5, g: 1, r: 10)
        let r = Self.run(p, Self.steady(0, 40, 3))
        #expect(Self.fired(r).count == 1)
        let reminders = r.compactMap(\.1.reminder)
        #expect(reminders.map(\.at) == [15_000, 25_000, 35_000])
        #expect(reminders.map(\.reminders) == [1, 2, 3])
        #expect(Set(reminders.map(\.startedAt)) == [0])
        // without R there are none
        #expect(Self.run(Self.policy(d: 5, g: 1), Self.steady(0, 40, 3)).allSatisfy { $0.1.reminder == nil })
    }

    @Test("D = 0 fires on the first crowd reading; a stale close and a new firing can happen at once")
    func zeroDwellAndStaleTogether() {
        let p = Self.policy(d: 0, g: 100, c: 0, s: 10)
        let r = Self.run(p, [(0, 3), (1, 3), (30, 3)])
        #expect(Self.fired(r).map(\.firedAt) == [0, 30_000])
        let last = r.last?.1
        #expect(last?.ended?.endedAt == 1_000)
        #expect(last?.fired?.startedAt == 30_000)
    }

    @Test("per-zone overrides, exact zone over camera-wide")
    func overrides() {
        let cam = ZoneKey(camera: "Q2GV-TEST-0001", zone: "*")
        let exact = ZoneKey(camera: "Q2GV-TEST-0001", zone: "7")
        let p = DwellPolicy(
            DwellParameters(minPeople: 3),
            overrides: [cam: DwellParameters(minPeople: 5), exact: DwellParameters(minPeople: 9)])
        #expect(p.parameters(for: ZoneKey(camera: "Q2GV-TEST-0001", zone: "0")).minPeople == 5)
        #expect(p.parameters(for: exact).minPeople == 9)
        #expect(p.parameters(for: ZoneKey(camera: "OTHER", zone: "0")).minPeople == 3)
        #expect(p.description(for: exact).parameters["minPeople"] == 9)
    }

    @Test("phases: idle, pending, crowd")
    func phases() {
        let p = Self.policy(d: 5)
        var s = p.makeState(for: Self.zone)
        #expect(p.phase(of: s) == .idle)
        _ = p.process(ZoneReading(ts: 0, people: 3), state: &s)
        #expect(p.phase(of: s) == .pending(since: 0))
        _ = p.process(ZoneReading(ts: 5000, people: 3), state: &s)
        #expect(p.phase(of: s) == .crowd(since: 0, firedAt: 5000))
    }

    @Test("parameter validation names the key and the accepted form")
    func validation() {
        #expect(throws: ConfigurationError.self) { try DwellParameters(minPeople: 0).validate() }
        do {
            try DwellParameters(dwell: .seconds(-1)).validate()
            Issue.record("expected an error")
        } catch {
            #expect(error.key == "detection.dwellSeconds")
            #expect(error.description.contains(">= 0"))
        }
    }

    @Test("conformance suite")
    func conformance() {
        #expect(DetectionPolicyConformance.check(Self.policy(d: 10, g: 2, c: 30, s: 30, r: 20)) == [])
        #expect(DetectionPolicyConformance.check(DwellPolicy()) == [])
    }
}
