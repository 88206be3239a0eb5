import ArgumentParser
import CrowdKitCore
import Foundation

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run detection over a capture and print the crowd events.",
        discussion: """
            CAPTURE holds one message a line: JSON Lines as written by `crowd-notifier record`, or \
            `mosquitto_sub -v` output (topic, space, payload). Use - for standard input. Events are \
            printed after the whole capture was read, ordered by firedAt, camera, zone. Malformed and \
            rejected lines are reported on standard error with their numbers. Exit status: 0 when the \
            capture was read, 64 for an invalid option, 66 when the capture cannot be read.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, jsonl
    }

    @Argument(help: "The capture file (- for standard input).")
    var capture: String

    @OptionGroup var detection: DetectionOptions

    @Option(name: .long, help: "Output format: table (default) or jsonl.")
    var format: Format = .table

    @Flag(name: .long, help: "Do not list malformed and rejected lines on standard error.")
    var quiet = false

    func run() async throws {
        let setup = try await detection.locatingConfig(near: capture).resolve()
        // concrete types, so the specialised replay of CrowdKitCore runs (no generic dispatch per message)
        switch setup.policy {
        case let p as DwellPolicy: try replay(p, setup)
        case let p as MessageCountPolicy: try replay(p, setup)
        case let p: try replay(p, setup)
        }
    }

    /// The replay result (for tests and embedding), with the configured policy.
    func result() async throws -> Replay<AnyDetectionPolicy>.Result {
        let setup = try await detection.locatingConfig(near: capture).resolve()
        return try Replay(
            policy: AnyDetectionPolicy(setup.policy), filter: setup.filter, areas: setup.areas, objectTypes: setup.objectTypes
        ).run(path: capture)
    }

    /// What `--format jsonl` prints.
    func render() async throws -> String {
        ReplayFormat.jsonLines(try await result().events)
    }

    private func replay<P: DetectionPolicy>(_ policy: P, _ setup: DetectionSetup) throws {
        let replay = Replay(policy: policy, filter: setup.filter, areas: setup.areas, objectTypes: setup.objectTypes)
        let progress = ProgressLine(path: capture)
        let result: Replay<P>.Result
        do {
            result = try replay.run(path: capture) { progress.update(lines: $0) }
        } catch let e as CaptureError {
            progress.finish()
            writeStandardError("error: cannot read capture \(e.path): \(e.reason)\n")
            throw ExitCode(66)
        }
        progress.finish()
        if !quiet { reportBadLines(result) }
        switch format {
        case .jsonl:
            try FileHandle.standardOutput.write(contentsOf: Data((ReplayFormat.jsonLines(result.events)).utf8))
        case .table:
            try FileHandle.standardOutput.write(contentsOf: Data((ReplayTable.render(result.events, policy: policy.name)).utf8))
            try FileHandle.standardOutput.write(contentsOf: Data(((ReplayTable.summary(result) + "\n")).utf8))
        }
    }

    private func reportBadLines<P>(_ result: Replay<P>.Result) {
        let lines =
            result.malformed.map { ($0.line, "malformed line: \($0.reason)") }
            + result.rejectedLines.map { ($0.line, "message rejected: \($0.reason)") }
        var out = lines.sorted { $0.0 < $1.0 }.map { "\(capture):\($0.0): \($0.1)\n" }.joined()
        let more = result.malformedCount - result.malformed.count + result.counters.rejected - result.rejectedLines.count
        if more > 0 { out += "\(capture): ... and \(more) more malformed or rejected lines\n" }
        if !out.isEmpty { writeStandardError(out) }
    }
}

/// The human-readable replay output.
enum ReplayTable {
    static func render(_ events: [CrowdEvent], policy: String) -> String {
        let header = ["CAMERA", "ZONE", "STARTED (UTC)", "FIRED (UTC)", "ENDED (UTC)", "DURATION", "PEAK"]
        var rows = [header]
        for e in events {
            rows.append([
                e.camera, e.zone, TextFormat.iso8601(e.startedAt), TextFormat.iso8601(e.firedAt),
                e.endedAt.map { TextFormat.iso8601($0) } ?? "ongoing",
                e.endedAt.map { TextFormat.duration(milliseconds: $0 - e.startedAt) } ?? "-", "\(e.peak)",
            ])
        }
        if events.isEmpty { return "No crowd events (policy \(policy)).\n" }
        var widths = [Int](repeating: 0, count: header.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        return rows.map { r in
            r.enumerated().map { i, c in
                i == r.count - 1 ? String(repeating: " ", count: widths[i] - c.count) + c
                    : c + String(repeating: " ", count: widths[i] - c.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    static func summary<P>(_ r: Replay<P>.Result) -> String {
        let c = r.counters
        let ongoing = r.events.filter { $0.endedAt == nil }.count
        var s = "\(r.events.count) \(r.events.count == 1 ? "event" : "events")"
        if ongoing > 0 { s += " (\(ongoing) ongoing)" }
        s += " from \(c.messages) messages in \(r.lines) lines over \(r.zones) \(r.zones == 1 ? "zone" : "zones")"
        if r.areas > 0 { s += " and \(r.areas) \(r.areas == 1 ? "area" : "areas")" }
        s += ": \(c.observations) zone counts, \(c.nonCount) non-count skipped"
        let x = c.crossings
        if x.crossings > 0 {
            s += ", \(x.crossings) line crossings (\(x.ignored) ignored, \(x.late) late, \(x.lateDropped) late before a reset, \(x.clamped) clamped at 0, \(x.unassigned) on lines of no area)"
        }
        if c.filtered > 0 { s += ", \(c.filtered) filtered out" }
        s += ", \(c.outOfOrder) out of order"
        s += "; rejected lines: \(r.malformedCount + c.rejected) (\(r.malformedCount) malformed"
        for reason in RejectReason.allCases {
            if let n = c.rejectedByReason[reason], n > 0 { s += ", \(n) \(reason.rawValue)" }
        }
        return s + ")"
    }
}

/// A progress line on standard error for replays that take more than a second.
final class ProgressLine: @unchecked Sendable {
    // Only used from the replaying thread; @unchecked because ParsableCommand is synchronous here.
    private let started = ContinuousClock.now
    private var lastPrint: ContinuousClock.Instant?
    private let total: Int64?
    private let path: String
    private let tty = isatty(2) != 0
    private var printed = false

    init(path: String) {
        self.path = path
        total = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
    }

    func update(lines: Int) {
        let now = ContinuousClock.now
        guard now - started >= .seconds(1) else { return }
        if let last = lastPrint, now - last < .milliseconds(tty ? 200 : 1000) { return }
        lastPrint = now
        let secs = (now - started).secondsValue
        let rate = Double(lines) / secs
        let line = "replaying \(path): \(lines) lines, " + String(format: "%.0f lines/s, %.1f s", rate, secs)
        writeStandardError((tty ? "\r\(line)\u{1B}[K" : "\(line)\n"))
        printed = true
    }

    func finish() {
        if printed && tty { writeStandardError("\r\u{1B}[K") }
    }
}
