import CrowdKitCore
import CrowdKitTesting
import Testing

/// One test per numbered rule of SEMANTICS.md §3.
@Suite("Message-count policy (SEMANTICS.md §3)")
struct MessageCountPolicyTests {
    static let zone = ZoneKey(camera: "Q2GV-TEST-0001", zone: "0")

    static func policy(arm: Int = 1, iterate: Int = 5, trigger: Int = 1, timeout: Int = 3, pause: Int64 = 5) -> MessageCountPolicy {
        MessageCountPolicy(
            MessageCountParameters(armPeople: arm, iterateCount: iterate, triggerPeople: trigger, timeoutCount: timeout, pause: .seconds(pause)))
    }

    /// Readings 100 ms apart starting at ts 0 (or explicit (ms, people) pairs).
    static func run(_ p: MessageCountPolicy, _ people: [Int], step: Int64 = 100) -> [EpisodeReport] {
        run(p, people.enumerated().map { (Int64($0.offset) * step, $0.element) })
    }

    static func run(_ p: MessageCountPolicy, _ feed: [(Int64, Int)]) -> [EpisodeReport] {
        var s = p.makeState(for: zone)
        return feed.compactMap { p.process(ZoneReading(ts: $0.0, people: $0.1), state: &s).fired }
    }

    @Test("rule 3: people >= armPeople arms at that ts; the activity fires when it times out")
    func armsAndFires() {
        // arm at index 1 (ts 100); 2 crowd messages + 3 zeros = 5 messages counted; timeout 3
        let f = Self.run(Self.policy(arm: 2, iterate: 5, trigger: 1, timeout: 3), [1, 2, 3, 2, 0, 0, 0])
        #expect(f.count == 1)
        #expect(f.first?.startedAt == 100)
        #expect(f.first?.firedAt == 600)
        #expect(f.first?.endedAt == 600)
        #expect(f.first?.peak == 3)
    }

    @Test("rule 3: below armPeople does not arm")
    func doesNotArm() {
        #expect(Self.run(Self.policy(arm: 3, iterate: 0, timeout: 1), [2, 2, 0, 0]).isEmpty)
    }

    @Test("rule 2: fewer than iterateCount messages while armed: reset without an event")
    func tooFewMessages() {
        // armed at 0; counted: 1(1),0,0,0 = 4 messages < 5
        #expect(Self.run(Self.policy(iterate: 5, timeout: 3), [1, 1, 0, 0, 0]).isEmpty)
        // one more crowd message makes it 5
        #expect(Self.run(Self.policy(iterate: 5, timeout: 3), [1, 1, 1, 0, 0, 0]).count == 1)
    }

    @Test("rule 2: peak below triggerPeople: reset without an event")
    func peakTooLow() {
        #expect(Self.run(Self.policy(iterate: 1, trigger: 3, timeout: 2), [1, 2, 2, 0, 0]).isEmpty)
        #expect(Self.run(Self.policy(iterate: 1, trigger: 3, timeout: 2), [1, 3, 2, 0, 0]).count == 1)
    }

    @Test("rule 2: zeros must be consecutive; a person resets the count")
    func zerosConsecutive() {
        let p = Self.policy(iterate: 1, timeout: 3)
        let f = Self.run(p, [1, 0, 0, 1, 0, 0, 0])
        #expect(f.map(\.firedAt) == [600])
    }

    @Test("rule 2: the message that resets does not re-arm (Stop)")
    func resetStops() {
        // timeout with a zero-people message can't re-arm anyway; use armPeople 0? not allowed (>=1).
        // instead: after a reset without event, the next crowd message arms anew at its own ts
        let p = Self.policy(iterate: 10, timeout: 2, pause: 0)
        var s = p.makeState(for: Self.zone)
        for (t, n) in [(0, 1), (100, 0), (200, 0)] as [(Int64, Int)] { _ = p.process(ZoneReading(ts: t, people: n), state: &s) }
        #expect(p.phase(of: s) == .idle)
        _ = p.process(ZoneReading(ts: 300, people: 2), state: &s)
        #expect(p.phase(of: s) == .pending(since: 300))
    }

    @Test("rule 1: after an alert the zone ignores readings with ts < alertTs + pause")
    func pause() {
        let p = Self.policy(iterate: 1, timeout: 1, pause: 5)
        // fires at 200 (armed at 0 by 1, then counted 1, then zero -> timeout 1)
        // readings during the pause (ts < 5200) would arm; they are ignored
        let feed: [(Int64, Int)] = [(0, 1), (100, 1), (200, 0), (1000, 4), (5100, 0), (5200, 2), (5300, 0)]
        let f = Self.run(p, feed)
        #expect(f.map(\.firedAt) == [200, 5300])
        #expect(f.last?.startedAt == 5200)
        #expect(f.last?.peak == 2)
        // without the pause, (1000, 4) arms and (5100, 0) fires
        let noPause = Self.run(Self.policy(iterate: 1, timeout: 1, pause: 0), feed)
        #expect(noPause.map(\.firedAt) == [200, 5100, 5300])
    }

    @Test("zones are independent (the original shared one global state)")
    func perZone() {
        let p = Self.policy(iterate: 1, timeout: 1, pause: 0)
        var a = p.makeState(for: ZoneKey(camera: "A", zone: "0"))
        var b = p.makeState(for: ZoneKey(camera: "B", zone: "0"))
        _ = p.process(ZoneReading(ts: 0, people: 2), state: &a)
        let fromB = p.process(ZoneReading(ts: 10, people: 0), state: &b)
        #expect(fromB.fired == nil)
        #expect(p.phase(of: a) == .pending(since: 0))
    }

    @Test("conformance suite")
    func conformance() {
        #expect(DetectionPolicyConformance.check(Self.policy(iterate: 5, trigger: 2, timeout: 3, pause: 2)) == [])
        #expect(DetectionPolicyConformance.check(MessageCountPolicy()) == [])
    }
}
