import CrowdKitCore

/// Checks the ``DetectionPolicy`` contract on any policy with generated feeds: determinism, zone
/// independence, at most one firing per episode, reminders and ends only for fired episodes, and
/// consistent times and phases. Framework-agnostic: returns the problems found (empty when the
/// policy conforms), e.g. `#expect(DetectionPolicyConformance.check(MyPolicy()).isEmpty)`.
public enum DetectionPolicyConformance {
    /// A generated feed: readings of one zone, non-decreasing `ts`.
    public static func feed(seed: UInt64, count: Int = 3000, maxPeople: Int = 8, stepMilliseconds: ClosedRange<Int64> = 0...3000) -> [ZoneReading] {
        var rng = TestRNG(seed: seed)
        var ts: Int64 = 1_700_000_000_000
        var people = 0
        var out: [ZoneReading] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            ts += Int64.random(in: stepMilliseconds, using: &rng)
            // occasional long silences (stale), runs of crowds and of quiet
            if Int.random(in: 0..<200, using: &rng) == 0 { ts += 120_000 }
            if Int.random(in: 0..<10, using: &rng) == 0 { people = Int.random(in: 0...maxPeople, using: &rng) }
            out.append(ZoneReading(ts: ts, people: people))
        }
        return out
    }

    /// Runs every check with `seeds` generated feeds; returns problems in words.
    public static func check<P: DetectionPolicy>(_ policy: P, seeds: [UInt64] = Array(1...8)) -> [String] {
        var problems: [String] = []
        let zone = ZoneKey(camera: "Q2XX-CONF-0001", zone: "0")
        for seed in seeds {
            let readings = feed(seed: seed)
            let a = run(policy, zone, readings)
            let b = run(policy, zone, readings)
            if a != b { problems.append("seed \(seed): not deterministic: two runs over the same feed differ") }
            problems += checkEpisodes(policy, zone, readings, seed: seed)
        }
        // zone independence: interleaving two zones gives each the same detections as alone
        let z1 = ZoneKey(camera: "Q2XX-CONF-0001", zone: "1")
        let z2 = ZoneKey(camera: "Q2XX-CONF-0002", zone: "1")
        let f1 = feed(seed: 101)
        let f2 = feed(seed: 202)
        let alone1 = run(policy, z1, f1)
        let alone2 = run(policy, z2, f2)
        var s1 = policy.makeState(for: z1)
        var s2 = policy.makeState(for: z2)
        var inter1: [Detection] = []
        var inter2: [Detection] = []
        for i in 0..<max(f1.count, f2.count) {
            if i < f1.count { inter1.append(policy.process(f1[i], state: &s1)) }
            if i < f2.count { inter2.append(policy.process(f2[i], state: &s2)) }
        }
        if inter1 != alone1 || inter2 != alone2 {
            problems.append("zones are not independent: interleaving two zones changed their detections")
        }
        if alone1.allSatisfy({ $0.fired == nil }) {
            problems.append("no episode fired on a generated feed with crowds: the checks above proved nothing")
        }
        return problems
    }

    static func run<P: DetectionPolicy>(_ policy: P, _ zone: ZoneKey, _ readings: [ZoneReading]) -> [Detection] {
        var state = policy.makeState(for: zone)
        return readings.map { policy.process($0, state: &state) }
    }

    static func checkEpisodes<P: DetectionPolicy>(_ policy: P, _ zone: ZoneKey, _ readings: [ZoneReading], seed: UInt64) -> [String] {
        var problems: [String] = []
        var state = policy.makeState(for: zone)
        var open: EpisodeReport?
        var firedStarts = Set<Int64>()
        for (i, r) in readings.enumerated() {
            let d = policy.process(r, state: &state)
            let at = "seed \(seed) reading \(i) (ts \(r.ts))"
            if let e = d.ended {
                if open == nil || open?.startedAt != e.startedAt {
                    problems.append("\(at): ended an episode that had not fired or was not open")
                }
                if let end = e.endedAt {
                    if end < e.startedAt || end > r.ts { problems.append("\(at): endedAt \(end) outside [startedAt, ts]") }
                } else {
                    problems.append("\(at): ended report without endedAt")
                }
                open = nil
            }
            if let f = d.fired {
                if f.firedAt != r.ts { problems.append("\(at): firedAt \(f.firedAt) is not the reading's ts") }
                if f.startedAt > f.firedAt { problems.append("\(at): startedAt after firedAt") }
                if !firedStarts.insert(f.startedAt).inserted { problems.append("\(at): episode \(f.startedAt) fired twice") }
                if open != nil && f.endedAt == nil { problems.append("\(at): fired while another fired episode is open") }
                if f.endedAt == nil { open = f }
            }
            if let rem = d.reminder {
                if open == nil || open?.startedAt != rem.startedAt {
                    problems.append("\(at): reminder for an episode that is not open and fired")
                }
            }
            if open != nil, case .idle = policy.phase(of: state) {
                problems.append("\(at): phase is idle while a fired episode is open")
            }
        }
        return problems
    }
}

struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
