import CrowdKitCore
import Foundation
import Testing

@testable import crowd_notifier

/// Every replay fixture in `../shared/fixtures/replay/` (and the project's own copies in
/// `Tests/Fixtures/replay/`) must be reproduced byte for byte (SEMANTICS.md §6).
@Suite("Replay fixtures")
struct ReplayFixtureTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var directory: URL
        var testDescription: String { "\(directory.deletingLastPathComponent().lastPathComponent)/\(name)" }
        var capture: String { directory.appendingPathComponent("\(name).capture").path }
        var options: [String] {
            let text = (try? String(contentsOf: directory.appendingPathComponent("\(name).opts"), encoding: .utf8)) ?? ""
            return text.split(whereSeparator: \.isWhitespace).map(String.init)
        }
        var expected: Data? { try? Data(contentsOf: directory.appendingPathComponent("\(name).expected.jsonl")) }
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let directories = [
        root.deletingLastPathComponent().appendingPathComponent("shared/fixtures/replay"),
        root.appendingPathComponent("Tests/Fixtures/replay"),
    ]

    static var cases: [Case] {
        directories.flatMap { dir -> [Case] in
            let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            return files.filter { $0.hasSuffix(".expected.jsonl") }.sorted().map {
                Case(name: String($0.dropLast(".expected.jsonl".count)), directory: dir)
            }
        }
    }

    @Test("the project's fixtures are present")
    func fixturesPresent() {
        #expect(Self.cases.count >= 5)
    }

    @Test("replay --format jsonl output is byte-identical", arguments: cases)
    func replayMatches(_ c: Case) async throws {
        let expected = try #require(c.expected)
        let command = try ReplayCommand.parse([c.capture] + c.options + ["--format", "jsonl"])
        let output = try await command.render()
        #expect(output == String(decoding: expected, as: UTF8.self))
    }

    @Test("the capture with bad input is replayed, skipping and reporting what it could not read")
    func badInput() async throws {
        let c = Case(name: "bad-input", directory: Self.root.appendingPathComponent("Tests/Fixtures/replay"))
        let command = try ReplayCommand.parse([c.capture] + c.options)
        let result = try await command.result()
        #expect(result.events.count == 1)
        #expect(result.malformedCount == 3)
        #expect(result.counters.nonCount == 2)
        #expect(result.counters.outOfOrder == 1)
        #expect(result.counters.rejectedByReason == [.badTopic: 2, .notJSON: 1, .missingTimestamp: 1, .wrongType: 1, .negativeCount: 1])
        #expect(result.malformed.map(\.line) == [5, 6, 7])
        #expect(Set(result.rejectedLines.map(\.line)) == [4, 10, 11, 12, 13, 14])
        let summary = ReplayTable.summary(result)
        #expect(summary.contains("rejected lines: 9"))
    }
}
