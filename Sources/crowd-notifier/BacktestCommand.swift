import ArgumentParser
import CrowdKitCore
import Foundation

struct BacktestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Evaluate every combination of detection settings over a capture.",
        discussion: """
            Reads CAPTURE once, then runs detection for every combination of the swept values, on all \
            cores, and prints one line per combination in the order of the Cartesian product (the first \
            --sweep varies slowest): the events replay would print with the same options, their total \
            duration in seconds (an open event counts to the capture's last ts) and the zones with an \
            event. With --labels (JSON Lines as GET /api/labels exports them) it also prints true and \
            false positives and missed crowds. Keys are replay's option names without "--": \
            \(BacktestCommand.sweepKeys.map(\.name).joined(separator: ", ")). Exit status: 0 when done, \
            64 for an invalid option or sweep, 65 for an unreadable labels line, 66 when a file cannot be read.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, jsonl, csv
    }

    @Argument(help: "The capture file.")
    var capture: String

    @Option(name: .customLong("sweep"), help: "KEY=V1,V2,... values to try (repeatable), e.g. min-people=3,4,5.")
    var sweeps: [String] = []

    @OptionGroup var detection: DetectionOptions

    @Option(name: .long, help: "Output format: table (default), jsonl or csv.")
    var format: Format = .table

    @Option(name: .long, help: "Labelled episodes (JSON Lines {camera, zone, startedAt, endedAt, label: crowd|not_crowd}).")
    var labels: String?

    @Option(name: .long, help: "Combinations evaluated at once (default: the number of cores).")
    var jobs: Int?

    @Flag(name: .long, help: "No progress on standard error.")
    var quiet = false

    /// A sweepable option: its name (`--name` without dashes) and whether it takes whole numbers.
    struct SweepKey: Sendable {
        var name: String
        var integer: Bool
        var set: @Sendable (inout DetectionOptions, Double) -> Void
        var isGiven: @Sendable (DetectionOptions) -> Bool
    }

    static let sweepKeys: [SweepKey] = [
        .init(name: "min-people", integer: true, set: { $0.minPeople = Int($1) }, isGiven: { $0.minPeople != nil }),
        .init(name: "dwell", integer: false, set: { $0.dwell = $1 }, isGiven: { $0.dwell != nil }),
        .init(name: "gap", integer: false, set: { $0.gap = $1 }, isGiven: { $0.gap != nil }),
        .init(name: "cooldown", integer: false, set: { $0.cooldown = $1 }, isGiven: { $0.cooldown != nil }),
        .init(name: "stale", integer: false, set: { $0.stale = $1 }, isGiven: { $0.stale != nil }),
        .init(name: "repeat", integer: false, set: { $0.repeatEvery = $1 }, isGiven: { $0.repeatEvery != nil }),
        .init(name: "arm-people", integer: true, set: { $0.armPeople = Int($1) }, isGiven: { $0.armPeople != nil }),
        .init(name: "iterate-count", integer: true, set: { $0.iterateCount = Int($1) }, isGiven: { $0.iterateCount != nil }),
        .init(name: "trigger-people", integer: true, set: { $0.triggerPeople = Int($1) }, isGiven: { $0.triggerPeople != nil }),
        .init(name: "timeout-count", integer: true, set: { $0.timeoutCount = Int($1) }, isGiven: { $0.timeoutCount != nil }),
        .init(name: "pause", integer: false, set: { $0.pause = $1 }, isGiven: { $0.pause != nil }),
    ]

    static let maxCombinations = 10_000

    /// One swept option and its values, as given (the text is echoed as a number).
    struct Sweep: Sendable {
        var key: SweepKey
        var values: [(text: String, value: Double)]
    }

    /// Parses and checks every `--sweep`; the error names the sweep.
    func parseSweeps() throws -> [Sweep] {
        guard !sweeps.isEmpty else { throw ValidationError("give at least one --sweep KEY=V1,V2,... (keys: \(Self.sweepKeys.map(\.name).joined(separator: ", ")))") }
        var out: [Sweep] = []
        for s in sweeps {
            guard let eq = s.firstIndex(of: "=") else {
                throw ValidationError("--sweep \(s): expected KEY=V1,V2,...")
            }
            let name = s[..<eq].trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "--", with: "")
            guard let key = Self.sweepKeys.first(where: { $0.name == name }) else {
                throw ValidationError("--sweep \(s): unknown key \"\(name)\" (keys: \(Self.sweepKeys.map(\.name).joined(separator: ", ")))")
            }
            guard !out.contains(where: { $0.key.name == name }) else { throw ValidationError("--sweep \(name) is given twice") }
            guard !key.isGiven(detection) else {
                throw ValidationError("--\(name) is both swept and given on its own; give it once")
            }
            let texts = s[s.index(after: eq)...].split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard !texts.isEmpty, !texts.contains(where: \.isEmpty) else {
                throw ValidationError("--sweep \(s): the list of values is empty or has an empty value")
            }
            var values: [(String, Double)] = []
            for t in texts {
                guard let v = Double(t), v.isFinite, !key.integer || (v.rounded() == v && abs(v) < 1e9) else {
                    throw ValidationError("--sweep \(name)=\(t): expected \(key.integer ? "whole numbers" : "numbers of seconds")")
                }
                values.append((t, v))
            }
            out.append(Sweep(key: key, values: values))
        }
        let total = out.reduce(1.0) { $0 * Double($1.values.count) }
        guard total <= Double(Self.maxCombinations) else {
            throw ValidationError(
                "--sweep: \(out.map { "\($0.key.name) (\($0.values.count))" }.joined(separator: " × ")) make \(Int(total)) combinations, more than \(Self.maxCombinations)")
        }
        return out
    }

    /// Every combination: value indices per sweep, the first sweep varying slowest.
    static func combinations(_ sweeps: [Sweep]) -> [[Int]] {
        var out: [[Int]] = [[]]
        for s in sweeps { out = out.flatMap { prefix in s.values.indices.map { prefix + [$0] } } }
        return out
    }

    /// The detection setup of each combination (options validated as replay validates them).
    func setups(_ sweeps: [Sweep], _ combos: [[Int]]) async throws -> [DetectionSetup] {
        let base = detection.locatingConfig(near: capture)
        let loader: ConfigLoader
        do {
            loader = try await ConfigLoader(flags: base.configFlags, filePath: base.config)
        } catch let e as ConfigurationError {
            writeStandardError("error: \(e)\n")
            throw ExitCode(78)
        }
        var out: [DetectionSetup] = []
        out.reserveCapacity(combos.count)
        for combo in combos {
            var options = base
            for (s, i) in zip(sweeps, combo) { s.key.set(&options, s.values[i].value) }
            do {
                try options.validate()
            } catch let e as ValidationError {
                let where_ = zip(sweeps, combo).map { "\($0.key.name)=\($0.values[$1].text)" }.joined(separator: " ")
                throw ValidationError("--sweep \(where_): \(e.message)")
            }
            switch Result(catching: { () throws(ConfigurationError) in try AppSettings.loadDetection(loader.replacingFlags(options.configFlags)) }) {
            case .success(let setup): out.append(setup)
            case .failure(let e):
                writeStandardError("error: \(e)\n")
                throw ExitCode(78)
            }
        }
        return out
    }

    static func readLabels(_ path: String) throws -> [CrowdLabel] {
        guard let data = FileManager.default.contents(atPath: path) else {
            writeStandardError("error: cannot read labels \(path)\n")
            throw ExitCode(66)
        }
        var labels: [CrowdLabel] = []
        let decoder = JSONDecoder()
        for (n, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.drop { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
            if trimmed.isEmpty || trimmed.first == UInt8(ascii: "#") { continue }
            do {
                labels.append(try decoder.decode(CrowdLabel.self, from: Data(trimmed)))
            } catch {
                writeStandardError(
                    "error: \(path):\(n + 1): expected {\"camera\",\"zone\",\"startedAt\",\"endedAt\",\"label\":\"crowd\"|\"not_crowd\"}\n")
                throw ExitCode(65)
            }
        }
        return labels
    }

    static func evaluate(_ capture: DecodedCapture, _ s: DetectionSetup, labels: [CrowdLabel]?, keepEvents: Bool = false) -> BacktestOutcome {
        switch s.policy {
        case let p as DwellPolicy:
            Backtest.evaluate(capture, policy: p, filter: s.filter, areas: s.areas, objectTypes: s.objectTypes, labels: labels, keepEvents: keepEvents)
        case let p as MessageCountPolicy:
            Backtest.evaluate(capture, policy: p, filter: s.filter, areas: s.areas, objectTypes: s.objectTypes, labels: labels, keepEvents: keepEvents)
        case let p:
            Backtest.evaluate(
                capture, policy: AnyDetectionPolicy(p), filter: s.filter, areas: s.areas, objectTypes: s.objectTypes, labels: labels,
                keepEvents: keepEvents)
        }
    }

    /// Every combination's outcome, in product order (for tests and embedding).
    func outcomes(keepEvents: Bool = false, progress: Bool = false) async throws -> (sweeps: [Sweep], combos: [[Int]], outcomes: [BacktestOutcome]) {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be >= 1 (got \(jobs))") }
        let sweeps = try parseSweeps()
        let combos = Self.combinations(sweeps)
        let setups = try await setups(sweeps, combos)
        let labels = try labels.map(Self.readLabels)
        let reading = progress ? ProgressLine(path: capture) : nil
        let path = capture
        let meter = progress ? CombinationProgress(total: combos.count) : nil
        let jobs = self.jobs
        // synchronous, CPU-bound work: on threads of its own, never the cooperative pool's
        let results: [BacktestOutcome]
        do {
            results = try await Backtest.detached { () throws -> [BacktestOutcome] in
                let decoded = try DecodedCapture.read(path: path) { reading?.update(lines: $0) }
                reading?.finish()
                var done: (@Sendable (Int) -> Void)?
                if let meter { done = { meter.update($0) } }
                // dwell combinations that differ only in swept parameters: evaluated together
                let first = setups[0]
                let dwell = setups.compactMap { $0.policy as? DwellPolicy }
                if dwell.count == setups.count,
                    setups.allSatisfy({ $0.areas.areas.isEmpty && $0.filter == first.filter && $0.objectTypes == first.objectTypes })
                {
                    return Backtest.evaluate(
                        decoded, dwellPolicies: dwell, filter: first.filter, objectTypes: first.objectTypes, labels: labels,
                        keepEvents: keepEvents, jobs: jobs, done: done)
                }
                return Backtest.parallelMap(count: combos.count, jobs: jobs, done: done) { (i: Int) -> BacktestOutcome in
                    Self.evaluate(decoded, setups[i], labels: labels, keepEvents: keepEvents)
                }
            }
        } catch let e as CaptureError {
            reading?.finish()
            writeStandardError("error: cannot read capture \(e.path): \(e.reason)\n")
            throw ExitCode(66)
        }
        meter?.finish()
        return (sweeps, combos, results)
    }

    func run() async throws {
        let (sweeps, combos, results) = try await outcomes(progress: !quiet)
        let text: String
        switch format {
        case .jsonl: text = Self.jsonLines(sweeps, combos, results)
        case .csv: text = Self.csv(sweeps, combos, results)
        case .table: text = Self.table(sweeps, combos, results)
        }
        try FileHandle.standardOutput.write(contentsOf: Data(text.utf8))
    }

    // MARK: output

    /// A swept value as a JSON number: whole numbers as written (`30`), others as a decimal.
    static func number(_ text: String, _ value: Double) -> String {
        if let i = Int(text) { return String(i) }
        return value.description
    }

    /// Seconds with millisecond precision, as a JSON number (`1830.5`, `12.0`).
    static func seconds(_ ms: Int64) -> String { (Double(ms) / 1000).description }

    static func jsonLines(_ sweeps: [Sweep], _ combos: [[Int]], _ results: [BacktestOutcome]) -> String {
        var out = ""
        for (combo, r) in zip(combos, results) {
            let parameters = zip(sweeps, combo).map { s, i in
                "\"\(s.key.name)\":\(number(s.values[i].text, s.values[i].value))"
            }.joined(separator: ",")
            out += "{\"parameters\":{\(parameters)},\"events\":\(r.events),\"crowdSeconds\":\(seconds(r.crowdMilliseconds)),\"zones\":\(r.zones)"
            if let tp = r.truePositives, let fp = r.falsePositives, let m = r.missed {
                out += ",\"truePositives\":\(tp),\"falsePositives\":\(fp),\"missed\":\(m)"
            }
            out += "}\n"
        }
        return out
    }

    static func rows(_ sweeps: [Sweep], _ combos: [[Int]], _ results: [BacktestOutcome]) -> (header: [String], rows: [[String]]) {
        let labelled = results.first?.truePositives != nil
        var header = sweeps.map(\.key.name) + ["events", "crowdSeconds", "zones"]
        if labelled { header += ["truePositives", "falsePositives", "missed"] }
        let rows = zip(combos, results).map { combo, r in
            var row = zip(sweeps, combo).map { s, i in number(s.values[i].text, s.values[i].value) }
            row += ["\(r.events)", seconds(r.crowdMilliseconds), "\(r.zones)"]
            if labelled { row += ["\(r.truePositives ?? 0)", "\(r.falsePositives ?? 0)", "\(r.missed ?? 0)"] }
            return row
        }
        return (header, rows)
    }

    static func csv(_ sweeps: [Sweep], _ combos: [[Int]], _ results: [BacktestOutcome]) -> String {
        let (header, rows) = rows(sweeps, combos, results)
        return ([header] + rows).map { $0.joined(separator: ",") + "\n" }.joined()
    }

    static func table(_ sweeps: [Sweep], _ combos: [[Int]], _ results: [BacktestOutcome]) -> String {
        let (header, rows) = rows(sweeps, combos, results)
        let all = [header.map { $0.uppercased() }] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for r in all { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        return all.map { r in
            r.enumerated().map { i, c in String(repeating: " ", count: widths[i] - c.count) + c }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}

/// "backtest: 37/100 combinations" on standard error, at most every 200 ms on a terminal and every
/// second otherwise, when the run takes more than a second.
final class CombinationProgress: Sendable {
    private let total: Int
    private let started = ContinuousClock.now
    private let state = LockedState()
    private let tty = isatty(2) != 0

    private final class LockedState: @unchecked Sendable {
        let lock = NSLock()
        var last: ContinuousClock.Instant?
        var printed = false
    }

    init(total: Int) { self.total = total }

    func update(_ done: Int) {
        let now = ContinuousClock.now
        guard now - started >= .seconds(1) || (done == total && state.printed) else { return }
        state.lock.lock()
        defer { state.lock.unlock() }
        if done != total, let l = state.last, now - l < .milliseconds(tty ? 200 : 1000) { return }
        state.last = now
        state.printed = true
        let line = "backtest: \(done)/\(total) combinations, " + String(format: "%.1f s", (now - started).secondsValue)
        writeStandardError(tty ? "\r\(line)\u{1B}[K" : "\(line)\n")
    }

    func finish() {
        state.lock.lock()
        defer { state.lock.unlock() }
        if state.printed && tty { writeStandardError("\r\u{1B}[K") }
    }
}
