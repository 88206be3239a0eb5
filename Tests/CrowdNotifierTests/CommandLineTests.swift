import Foundation
import Testing

/// Runs the built `crowd-notifier` binary as a user would.
@Suite("crowd-notifier command line")
struct CommandLineTests {
    static var binary: URL? {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("crowd-notifier"),
            ReplayFixtureTests.root.appendingPathComponent(".build/debug/crowd-notifier"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Output {
        let bin = try #require(binary, "crowd-notifier binary not found next to the test bundle; run swift build first")
        let p = Process()
        p.executableURL = bin
        p.arguments = arguments
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static let fixtures = ReplayFixtureTests.root.appendingPathComponent("Tests/Fixtures/replay")

    @Test("replay prints the fixture's events as JSON Lines, exit 0")
    func replayJSONL() throws {
        let capture = Self.fixtures.appendingPathComponent("lobby-dwell.capture").path
        let r = try Self.run(["replay", capture, "--min-people", "3", "--dwell", "45", "--gap", "2", "--cooldown", "120", "--stale", "30", "--format", "jsonl"])
        #expect(r.status == 0)
        let expected = try String(contentsOf: Self.fixtures.appendingPathComponent("lobby-dwell.expected.jsonl"), encoding: .utf8)
        #expect(r.stdout == expected)
    }

    @Test("the table format ends with a summary of events, messages and rejected lines")
    func replayTable() throws {
        let r = try Self.run(["replay", Self.fixtures.appendingPathComponent("bad-input.capture").path, "--dwell", "2", "--gap", "1", "--cooldown", "0"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("Q2MV-BAD-0001"))
        #expect(r.stdout.contains("1 event from 15 messages"))
        #expect(r.stdout.contains("rejected lines: 9"))
        #expect(r.stderr.contains("bad-input.capture:5: malformed line"))
        #expect(r.stderr.contains("bad-input.capture:11: message rejected: payload has a negative count"))
    }

    @Test("an unreadable capture: a clear message and a non-zero exit")
    func unreadable() throws {
        let r = try Self.run(["replay", "/nonexistent/feed.capture", "--format", "jsonl"])
        #expect(r.status == 66)
        #expect(r.stderr.contains("cannot read capture /nonexistent/feed.capture"))
        #expect(r.stdout.isEmpty)
    }

    @Test("invalid options name the option and the accepted range", arguments: [
        (["--min-people", "0"], "--min-people must be an integer >= 1"),
        (["--dwell=-5"], "--dwell must be a number of seconds >= 0"),
        (["--policy", "fancy"], "--policy must be dwell or messageCount"),
        (["--policy", "dwell", "--iterate-count", "3"], "--iterate-count does not apply to --policy dwell"),
        (["--timeout-count", "0"], "--timeout-count must be an integer >= 1"),
        (["--min-people", "many"], "--min-people"),
        (["--format", "xml"], "--format"),
    ])
    func invalidOptions(options: [String], message: String) throws {
        let capture = Self.fixtures.appendingPathComponent("lobby-dwell.capture").path
        let r = try Self.run(["replay", capture] + options)
        #expect(r.status != 0)
        #expect(r.stderr.contains(message))
    }

    @Test("message-count options alone select the message-count policy")
    func impliedPolicy() throws {
        let capture = Self.fixtures.appendingPathComponent("original-message-count.capture").path
        let r = try Self.run(["replay", capture, "--arm-people", "1", "--iterate-count", "50", "--trigger-people", "2", "--timeout-count", "20", "--pause", "5", "--format", "jsonl"])
        let expected = try String(contentsOf: Self.fixtures.appendingPathComponent("original-message-count.expected.jsonl"), encoding: .utf8)
        #expect(r.stdout == expected)
    }

    @Test("demo runs a simulated feed, stores the events and prints the Webex messages it would send")
    func demo() throws {
        let store = FileManager.default.temporaryDirectory.appendingPathComponent("crowdkit-demo-\(UUID().uuidString).sqlite").path
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: store + s) } }
        let r = try Self.run(["demo", "--speed", "1000", "--duration", "240", "--store", store, "--http-port", "0"])
        #expect(r.status == 0)
        #expect(r.stderr.contains("Webex message: **Crowd detected**:"))
        #expect(r.stderr.contains("(camera *Front Desk*)") || r.stderr.contains("(camera *Cafeteria*)"))
        #expect(r.stderr.contains("demo finished"))
        #expect(FileManager.default.fileExists(atPath: store))
    }

    @Test("replay honours the configuration (environment, file) and flags override it")
    func replayConfiguration() throws {
        let capture = Self.fixtures.appendingPathComponent("lobby-dwell.capture").path
        let base = ["replay", capture, "--gap", "2", "--cooldown", "120", "--stale", "30", "--format", "jsonl"]
        let strict = try Self.run(base + ["--dwell", "45"], environment: ["DETECTION_MIN_PEOPLE": "100"])
        #expect(strict.status == 0)
        #expect(strict.stdout.isEmpty)
        let flagged = try Self.run(base + ["--dwell", "45", "--min-people", "3"], environment: ["DETECTION_MIN_PEOPLE": "100"])
        #expect(flagged.stdout.split(separator: "\n").count == 1)
        let bad = try Self.run(base, environment: ["DETECTION_DWELL_SECONDS": "soon"])
        #expect(bad.status == 78)
        #expect(bad.stderr.contains("detection.dwellSeconds"))
        #expect(bad.stderr.contains("environment variable DETECTION_DWELL_SECONDS"))
        #expect(bad.stderr.contains("a number of seconds >= 0"))
    }
}
