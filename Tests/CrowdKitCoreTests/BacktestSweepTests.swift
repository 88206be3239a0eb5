@testable import CrowdKitCore
import Foundation
import Testing

/// Combinations evaluated together (``DwellSweep``) and the one-pass reading of record's line form.
@Suite("Backtest: combinations evaluated together")
struct BacktestSweepTests {
    /// A deterministic generator.
    struct Generator {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
    }

    /// 30 zones interleaved irregularly: crowds coming and going, dips, silences longer than the
    /// stale times, equal and late readings, some zones spelled both with and without the leading
    /// slash, in both line forms.
    static func capture(seed: UInt64) throws -> String {
        var g = Generator(state: seed)
        var text = ""
        var ts = [Int64](repeating: 1_714_632_600_000, count: 30)
        for i in 0..<12_000 {
            let z = g.next(30)
            let step = g.next(20) == 0 ? 20_000 + g.next(40_000) : g.next(4) == 0 ? 0 : g.next(3000)
            ts[z] += Int64(step)
            let late = g.next(60) == 0 ? Int64(g.next(5000)) : 0
            let people = (i / 500 + z) % 3 == 0 ? g.next(3) : 1 + g.next(7)
            let slash = z % 5 == 0 ? (g.next(2) == 0 ? "/" : "") : "/"
            let topic = "\(slash)merakimv/Q2GV-SWEP-\(z % 6)/\(z)"
            let payload = #"{"ts":\#(ts[z] - late),"counts":{"person":\#(people),"vehicle":\#((people + z) % 4)}}"#
            if g.next(4) == 0 {
                text += "\(topic) \(payload)\n"
            } else {
                text += #"{"receivedAt":1,"topic":"\#(topic)","payload":"\#(payload.replacingOccurrences(of: "\"", with: "\\\""))"}"# + "\n"
            }
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("crowdkit-sweep-\(UUID().uuidString).capture").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let parameters: [DwellParameters] = {
        var out: [DwellParameters] = []
        for n in [2, 4, 6] {
            for (d, c) in [(0.0, 0.0), (5, 0), (20, 30), (45.5, 300)] {
                for (gap, stale) in [(0.0, 30.0), (3, 8), (10, 30)] {
                    out.append(DwellParameters(minPeople: n, dwell: .seconds(d), gap: .seconds(gap), cooldown: .seconds(c), stale: .seconds(stale)))
                }
            }
        }
        out.append(DwellParameters(minPeople: 3, dwell: .seconds(10), gap: .seconds(3), cooldown: .seconds(20), stale: .seconds(8), repeatEvery: .seconds(7)))
        out.append(DwellParameters(minPeople: 3, dwell: .zero, gap: .zero, cooldown: .zero, stale: .zero, repeatEvery: .seconds(1)))
        return out
    }()

    @Test("every combination's outcome and events equal replay's and the one-by-one evaluation's", arguments: [UInt64(1), 0xC0FFEE])
    func equalsReplay(seed: UInt64) throws {
        let path = try Self.capture(seed: seed)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let decoded = try DecodedCapture.read(path: path)
        let policies = Self.parameters.map { DwellPolicy($0) }
        let labels = [
            CrowdLabel(camera: "Q2GV-SWEP-1", zone: "7", startedAt: 1_714_632_600_000, endedAt: 1_714_633_600_000, label: .crowd),
            CrowdLabel(camera: "Q2GV-SWEP-0", zone: "0", startedAt: 1_714_632_900_000, endedAt: nil, label: .notCrowd),
            CrowdLabel(camera: "Q2GV-SWEP-5", zone: "29", startedAt: 1, endedAt: 2, label: .crowd),
        ]
        let together = Backtest.evaluate(decoded, dwellPolicies: policies, keepEvents: true, jobs: 2)
        let counted = Backtest.evaluate(decoded, dwellPolicies: policies, jobs: 1)
        let labelled = Backtest.evaluate(decoded, dwellPolicies: policies, labels: labels, jobs: 2)
        #expect(together.count == policies.count)
        var distinct = Set<Int>()
        var reminders = 0
        for (i, policy) in policies.enumerated() {
            let replayed = try Replay(policy: policy).run(path: path)
            let alone = Backtest.evaluate(decoded, policy: policy, labels: labels, keepEvents: true)
            #expect(together[i].eventList == replayed.events, "\(Self.parameters[i])")
            #expect(together[i].events == replayed.events.count)
            #expect(counted[i] == BacktestOutcome(events: alone.events, crowdMilliseconds: alone.crowdMilliseconds, zones: alone.zones))
            var withLabels = alone
            withLabels.eventList = nil
            #expect(labelled[i] == withLabels)
            distinct.insert(replayed.events.count)
            reminders += replayed.events.map(\.reminders).reduce(0, +)
        }
        #expect(distinct.count > 5, "the combinations must differ, or this proves little")
        #expect(reminders > 0)
        #expect(together.contains { $0.eventList?.contains { $0.endedAt == nil } ?? false }, "an event open at the end")
    }

    @Test("a zone spelled with and without the leading slash is one zone in arrival order, as in replay")
    func bothSpellings() throws {
        var text = ""
        for i in 0..<40 {
            let topic = i % 2 == 0 ? "/merakimv/Q2GV-SPEL-0001/3" : "merakimv/Q2GV-SPEL-0001/3"
            text += #"{"receivedAt":1,"topic":"\#(topic)","payload":"{\"ts\":\#(1_714_632_600_000 + i * 1000),\"counts\":{\"person\":\#(i < 30 ? 5 : 0)}}"}"# + "\n"
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("crowdkit-spell-\(UUID().uuidString).capture").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let policy = DwellPolicy(DwellParameters(minPeople: 3, dwell: .seconds(10)))
        let replayed = try Replay(policy: policy).run(path: path)
        #expect(replayed.events.count == 1)
        #expect(replayed.counters.outOfOrder == 0)
        let decoded = try DecodedCapture.read(path: path)
        #expect(Backtest.evaluate(decoded, policy: policy, keepEvents: true).eventList == replayed.events)
        #expect(Backtest.evaluate(decoded, dwellPolicies: [policy], keepEvents: true).first?.eventList == replayed.events)
    }

    /// What the general reading of a record line gives: ``CaptureParser/recordParts(_:)``, then
    /// the payload read in place.
    static func general(_ line: [UInt8]) -> (String, Int64, Int, Int)? {
        line.withUnsafeBytes { raw in
            guard let parts = CaptureParser.recordParts(raw), case .success(let c) = MVSenseDecoder.decodeCountsInPlace(parts.escapedPayload)
            else { return nil }
            return (String(decoding: parts.topic, as: UTF8.self), c.ts, c.people, c.vehicles)
        }
    }

    static func fast(_ line: [UInt8]) -> (String, Int64, Int, Int)? {
        line.withUnsafeBytes { raw in
            CaptureParser.recordCounts(raw).map { (String(decoding: $0.topic, as: UTF8.self), $0.counts.ts, $0.counts.people, $0.counts.vehicles) }
        }
    }

    @Test("record's line form read in one pass gives what the general reading gives, or leaves the line to it")
    func recordCounts() {
        let good = #"{"receivedAt":1732780800035,"topic":"/merakimv/Q2MV-BNCH-0000/584342051651300001","payload":"{\"ts\":1732780800000,\"counts\":{\"person\":4,\"vehicle\":0}}"}"#
        let variants = [
            good,
            good + "\r",
            #"{"receivedAt":0,"topic":"merakimv/Q/0","payload":"{\"ts\":0,\"counts\":{\"person\":0}}"}"#,
            #"{"receivedAt":1,"topic":"/merakimv/Q/0","payload":"{\"ts\":123456789012345678,\"counts\":{\"person\":12,\"vehicle\":3}}"}"#,
        ]
        for v in variants {
            let line = Array(v.utf8)
            let f = Self.fast(line)
            #expect(f != nil, "\(v)")
            #expect(f.map { "\($0)" } == Self.general(line).map { "\($0)" }, "\(v)")
        }
        // lines the one pass leaves to the general reading (which may still accept them)
        let others = [
            good.replacingOccurrences(of: #"\"ts\":"#, with: #"\"ts\": "#),
            good.replacingOccurrences(of: ":1732780800000,", with: ":01732780800000,"),
            good.replacingOccurrences(of: "person\\\":4", with: "person\\\":4.0"),
            good.replacingOccurrences(of: "receivedAt\":1732780800035", with: "receivedAt\":-1"),
            good.replacingOccurrences(of: ":1732780800000,", with: ":1234567890123456789,"),
            good.replacingOccurrences(of: "BNCH", with: "B\\u004eCH"),
            good.replacingOccurrences(of: ",\\\"vehicle\\\":0", with: ",\\\"bicycle\\\":0"),
            good.replacingOccurrences(of: "}}\"}", with: "}} \"}"),
        ]
        for v in others { #expect(Self.fast(Array(v.utf8)) == nil, "\(v)") }
        // random damage: whatever the one pass accepts, the general reading accepts the same way
        var g = Generator(state: 42)
        let alphabet = Array(#"0123456789 ,:{}"\-.eE/aZ"#.utf8) + [0x00, 0x0A, 0x1F, 0xC3]
        var accepted = 0
        for _ in 0..<20_000 {
            var line = Array(good.utf8)
            for _ in 0..<(1 + g.next(2)) {
                let at = g.next(line.count)
                switch g.next(3) {
                case 0: line[at] = alphabet[g.next(alphabet.count)]
                case 1: line.insert(alphabet[g.next(alphabet.count)], at: at)
                default: line.remove(at: at)
                }
            }
            guard let f = Self.fast(line) else { continue }
            accepted += 1
            #expect("\(f)" == Self.general(line).map { "\($0)" }, "\(String(decoding: line, as: UTF8.self))")
        }
        #expect(accepted > 100)
    }
}

@Suite("Topic table")
struct TopicTableTests {
    @Test("looking up the key after the last one found first gives lookup's answers, and finds a feed in stable order there")
    func followingOrder() {
        var table = TopicTable()
        let topics = (0..<50).map { Array("/merakimv/Q2GV-ORDR-\($0 % 7)/\($0)".utf8) }
        for (i, t) in topics.enumerated() { t.withUnsafeBytes { table.insert($0, hash: TopicTable.hash($0), value: Int32(i * 3 - 7)) } }
        var g = BacktestSweepTests.Generator(state: 7)
        var inOrder = 0
        for round in 0..<300 {
            // two rounds in order, then at random with some topics the table does not hold
            let i = round < 100 ? round % 50 : g.next(60)
            let t = i < 50 ? topics[i] : Array("/merakimv/Q2GV-ORDR-X/\(i)".utf8)
            t.withUnsafeBytes { raw in
                let before = table.following
                let found = table.lookupFollowingOrder(raw) { TopicTable.hash(raw) }
                #expect(found.value == table.lookup(raw, hash: TopicTable.hash(raw)))
                if found.hash == nil {
                    inOrder += 1
                    #expect(before == i)
                } else {
                    #expect(found.hash == TopicTable.hash(raw))
                }
            }
        }
        #expect(inOrder >= 99)
    }
}
