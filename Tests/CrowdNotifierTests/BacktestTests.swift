import ArgumentParser
import CrowdKitCore
import Foundation
import Testing

@testable import crowd_notifier

/// `crowd-notifier backtest` (SEMANTICS.md §9).
@Suite("Backtest")
struct BacktestTests {
    /// The fixture's options without the given ones (`--name value` pairs).
    static func options(_ c: ReplayFixtureTests.Case, without names: Set<String>) -> [String] {
        var out: [String] = []
        var i = 0
        let o = c.options
        while i < o.count {
            if names.contains(String(o[i].dropFirst(2))) {
                i += 2
                continue
            }
            out.append(o[i])
            i += 1
        }
        return out
    }

    static func sweeps(for c: ReplayFixtureTests.Case) -> [(String, [String])] {
        c.options.contains("messageCount")
            ? [("iterate-count", ["20", "50"]), ("trigger-people", ["1", "2", "3"])]
            : [("min-people", ["2", "3", "5"]), ("dwell", ["10", "20", "45.5"]), ("cooldown", ["0", "120"])]
    }

    @Test("every combination's events equal replay's with the same options", arguments: ReplayFixtureTests.cases)
    func equalsReplay(_ c: ReplayFixtureTests.Case) async throws {
        let sweeps = Self.sweeps(for: c)
        let rest = Self.options(c, without: Set(sweeps.map(\.0)))
        let command = try BacktestCommand.parse(
            [c.capture] + rest + sweeps.flatMap { ["--sweep", "\($0.0)=\($0.1.joined(separator: ","))"] } + ["--jobs", "2"])
        let (_, combos, outcomes) = try await command.outcomes(keepEvents: true)
        #expect(combos.count == sweeps.reduce(1) { $0 * $1.1.count })
        var distinctCounts = Set<Int>()
        for (combo, outcome) in zip(combos, outcomes) {
            let given = zip(sweeps, combo).flatMap { s, i in ["--\(s.0)", s.1[i]] }
            let replay = try await ReplayCommand.parse([c.capture] + rest + given).result()
            #expect(outcome.eventList == replay.events, "\(given)")
            #expect(outcome.events == replay.events.count)
            #expect(outcome.zones == Set(replay.events.map { "\($0.camera)/\($0.zone)" }).count)
            distinctCounts.insert(outcome.events)
        }
        if c.name != "bad-input" { #expect(distinctCounts.count > 1, "the sweep must change something, or this proves little") }
    }

    @Test("JSON Lines in product order, the first sweep slowest; crowdSeconds sums durations, open events to the last ts")
    func jsonLines() async throws {
        let c = try #require(ReplayFixtureTests.cases.first { $0.name == "two-door-areas" })
        let rest = Self.options(c, without: ["min-people", "dwell"])
        let command = try BacktestCommand.parse([c.capture] + rest + ["--sweep", "min-people=3,2", "--sweep", "dwell=20,30"])
        let (sweeps, combos, outcomes) = try await command.outcomes()
        let lines = BacktestCommand.jsonLines(sweeps, combos, outcomes).split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        // min-people 3, dwell 20: the fixture's own events (25 s + 12 s + 73 s)
        #expect(lines[0] == #"{"parameters":{"min-people":3,"dwell":20},"events":3,"crowdSeconds":110.0,"zones":3}"#)
        #expect(lines[1].hasPrefix(#"{"parameters":{"min-people":3,"dwell":30},"#))
        #expect(lines[2].hasPrefix(#"{"parameters":{"min-people":2,"dwell":20},"#))
        for l in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(l.utf8)) as? [String: Any])
            #expect(Set(object.keys) == ["parameters", "events", "crowdSeconds", "zones"])
        }
        let csv = BacktestCommand.csv(sweeps, combos, outcomes).split(separator: "\n")
        #expect(csv.first == "min-people,dwell,events,crowdSeconds,zones")
        #expect(csv[1] == "3,20,3,110.0,3")
    }

    @Test("labels give true positives, false positives and missed crowds by overlapping intervals")
    func labels() async throws {
        let c = try #require(ReplayFixtureTests.cases.first { $0.name == "two-door-areas" })
        let labels = """
            {"camera":"area","zone":"lobby","startedAt":1764300005000,"endedAt":1764300006000,"label":"crowd"}
            {"camera":"Q2GV-AREA-0004","zone":"5","startedAt":1764300026000,"endedAt":null,"label":"not_crowd"}
            {"camera":"Q2GV-AREA-0004","zone":"5","startedAt":1764300025000,"endedAt":1764300030000,"label":"not_crowd"}
            {"camera":"area","zone":"garage","startedAt":1764306100000,"endedAt":null,"label":"crowd"}

            """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("labels-\(UUID().uuidString).jsonl")
        try labels.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let rest = Self.options(c, without: ["min-people"])
        let command = try BacktestCommand.parse([c.capture] + rest + ["--sweep", "min-people=3", "--labels", file.path])
        let (sweeps, combos, outcomes) = try await command.outcomes()
        let o = try #require(outcomes.first)
        #expect(o.events == 3)
        #expect(o.truePositives == 1)
        #expect(o.falsePositives == 1)
        #expect(o.missed == 1)
        #expect(BacktestCommand.jsonLines(sweeps, combos, outcomes).hasSuffix(#","truePositives":1,"falsePositives":1,"missed":1}"# + "\n"))
    }

    @Test("bad sweeps exit 64 naming them: unknown key, empty list, swept and given, over 10,000 combinations")
    func badSweeps() async throws {
        let c = try #require(ReplayFixtureTests.cases.first { $0.name == "lobby-dwell" })
        let cases: [([String], String)] = [
            (["--sweep", "crowdiness=1,2"], "crowdiness"),
            (["--sweep", "dwell="], "dwell"),
            (["--sweep", "dwell=1,,2"], "dwell"),
            (["--sweep", "dwell=10", "--dwell", "20"], "--dwell"),
            (["--sweep", "dwell=\((1...101).map(String.init).joined(separator: ","))", "--sweep", "gap=\((1...100).map(String.init).joined(separator: ","))"], "10100"),
            (["--sweep", "min-people=2.5"], "min-people"),
            (["--sweep", "min-people=0"], "min-people"),
            (["--sweep", "dwell=10", "--sweep", "arm-people=1"], "arm-people"),
        ]
        for (args, named) in cases {
            do {
                _ = try await BacktestCommand.parse([c.capture] + args).outcomes()
                Issue.record("\(args) was accepted")
            } catch {
                #expect(BacktestCommand.exitCode(for: error) == ExitCode(64), "\(args)")
                #expect(BacktestCommand.message(for: error).contains(named), "\(BacktestCommand.message(for: error))")
            }
        }
    }
}
