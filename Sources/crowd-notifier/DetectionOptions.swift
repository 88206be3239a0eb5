import Foundation
import ArgumentParser
import CrowdKitCore

/// The detection options shared by `replay`, `run` and `demo` (SEMANTICS.md §2, §3, §6).
struct DetectionOptions: ParsableArguments {
    @Option(name: .long, help: "Detection policy: dwell (default) or messageCount.")
    var policy: String?

    @Option(name: .long, help: "Dwell: a crowd is at least N people (integer >= 1; default 3).")
    var minPeople: Int?
    @Option(name: .long, help: "Dwell: seconds the crowd must last (>= 0; default 60).")
    var dwell: Double?
    @Option(name: .long, help: "Dwell: seconds a dip below N may last without ending the crowd (>= 0; default 5).")
    var gap: Double?
    @Option(name: .long, help: "Dwell: seconds after a notification before the zone fires again (>= 0; default 300).")
    var cooldown: Double?
    @Option(name: .long, help: "Dwell: seconds between readings after which the zone counts as unobserved (>= 0; default 30).")
    var stale: Double?
    @Option(name: .customLong("repeat"), help: "Dwell: remind every N seconds while the crowd stays (> 0; default off).")
    var repeatEvery: Double?

    @Option(name: .long, help: "Message count: people that arm the zone (integer >= 1; default 1).")
    var armPeople: Int?
    @Option(name: .long, help: "Message count: messages counted while armed (integer >= 0; default 50).")
    var iterateCount: Int?
    @Option(name: .long, help: "Message count: minimum peak people (integer >= 0; default 1).")
    var triggerPeople: Int?
    @Option(name: .long, help: "Message count: consecutive zero messages that end the activity (integer >= 1; default 20).")
    var timeoutCount: Int?
    @Option(name: .long, help: "Message count: seconds the zone pauses after an alert (>= 0; default 5).")
    var pause: Double?

    @Option(name: .long, help: "Which count of a zone message the policies see: person (default) or vehicle.")
    var objectType: String?

    @Option(name: .long, help: "Configuration file (YAML; default crowd-notifier.yaml when present). Flags override it.")
    var config: String?

    @Option(name: .long, help: "Cameras to watch: * or a comma-separated list of serials (default *).")
    var cameras: String?
    @Option(name: .long, help: "Zones to watch: * or a comma-separated list of zone ids (default *).")
    var zones: String?

    enum PolicyKind: String { case dwell, messageCount }

    var dwellOptionsGiven: [String] {
        [("--min-people", minPeople != nil), ("--dwell", dwell != nil), ("--gap", gap != nil),
         ("--cooldown", cooldown != nil), ("--stale", stale != nil), ("--repeat", repeatEvery != nil)]
            .filter(\.1).map(\.0)
    }

    var messageCountOptionsGiven: [String] {
        [("--arm-people", armPeople != nil), ("--iterate-count", iterateCount != nil),
         ("--trigger-people", triggerPeople != nil), ("--timeout-count", timeoutCount != nil), ("--pause", pause != nil)]
            .filter(\.1).map(\.0)
    }

    /// The selected policy: `--policy`, or message count when only message-count options are given.
    func policyKind() throws -> PolicyKind {
        if let p = policy {
            switch p.lowercased().replacingOccurrences(of: "-", with: "").replacingOccurrences(of: "_", with: "") {
            case "dwell": return .dwell
            case "messagecount": return .messageCount
            default: throw ValidationError("--policy must be dwell or messageCount (got \"\(p)\")")
            }
        }
        return !messageCountOptionsGiven.isEmpty && dwellOptionsGiven.isEmpty ? .messageCount : .dwell
    }

    func validate() throws {
        let kind = try policyKind()
        let wrong = kind == .dwell ? messageCountOptionsGiven : dwellOptionsGiven
        if !wrong.isEmpty {
            throw ValidationError(
                "\(wrong.joined(separator: ", ")) \(wrong.count == 1 ? "does" : "do") not apply to --policy \(kind.rawValue)")
        }
        _ = try makePolicy()
    }

    private static func seconds(_ value: Double?, _ option: String, default d: Duration, positive: Bool = false) throws -> Duration {
        guard let value else { return d }
        guard let seconds = TextFormat.seconds(value, positive: positive) else {
            throw ValidationError("\(option) must be a number of seconds \(positive ? "> 0" : ">= 0") (got \(value))")
        }
        return seconds
    }

    func dwellParameters() throws -> DwellParameters {
        let d = DwellParameters.defaults
        let p = DwellParameters(
            minPeople: minPeople ?? d.minPeople,
            dwell: try Self.seconds(dwell, "--dwell", default: d.dwell),
            gap: try Self.seconds(gap, "--gap", default: d.gap),
            cooldown: try Self.seconds(cooldown, "--cooldown", default: d.cooldown),
            stale: try Self.seconds(stale, "--stale", default: d.stale),
            repeatEvery: repeatEvery == nil ? nil : try Self.seconds(repeatEvery, "--repeat", default: .zero, positive: true))
        if p.minPeople < 1 { throw ValidationError("--min-people must be an integer >= 1 (got \(p.minPeople))") }
        return p
    }

    func messageCountParameters() throws -> MessageCountParameters {
        let d = MessageCountParameters.defaults
        let p = MessageCountParameters(
            armPeople: armPeople ?? d.armPeople, iterateCount: iterateCount ?? d.iterateCount,
            triggerPeople: triggerPeople ?? d.triggerPeople, timeoutCount: timeoutCount ?? d.timeoutCount,
            pause: try Self.seconds(pause, "--pause", default: d.pause))
        if p.armPeople < 1 { throw ValidationError("--arm-people must be an integer >= 1 (got \(p.armPeople))") }
        if p.iterateCount < 0 { throw ValidationError("--iterate-count must be an integer >= 0 (got \(p.iterateCount))") }
        if p.triggerPeople < 0 { throw ValidationError("--trigger-people must be an integer >= 0 (got \(p.triggerPeople))") }
        if p.timeoutCount < 1 { throw ValidationError("--timeout-count must be an integer >= 1 (got \(p.timeoutCount))") }
        return p
    }

    /// Builds the selected policy.
    func makePolicy() throws -> any DetectionPolicy {
        switch try policyKind() {
        case .dwell: return DwellPolicy(try dwellParameters())
        case .messageCount: return MessageCountPolicy(try messageCountParameters())
        }
    }

    /// The options given, as configuration keys (they override the environment and the file).
    var configFlags: [String: String] {
        var f: [String: String] = [:]
        func put(_ key: String, _ v: (some CustomStringConvertible)?) { if let v { f[key] = v.description } }
        put("detection.policy", policy)
        put("detection.minPeople", minPeople)
        put("detection.dwellSeconds", dwell)
        put("detection.gapSeconds", gap)
        put("detection.cooldownSeconds", cooldown)
        put("detection.staleSeconds", stale)
        put("detection.repeatSeconds", repeatEvery)
        put("detection.armPeople", armPeople)
        put("detection.iterateCount", iterateCount)
        put("detection.triggerPeople", triggerPeople)
        put("detection.timeoutCount", timeoutCount)
        put("detection.pauseSeconds", pause)
        put("detection.objectType", objectType)
        put("cameras", cameras)
        put("zones", zones)
        return f
    }

    /// A relative `--config` that is not in the working directory but next to `capture` (fixtures
    /// keep their areas beside the capture) is read from there.
    func locatingConfig(near capture: String) -> DetectionOptions {
        guard let config, !config.hasPrefix("/"), capture != "-", !FileManager.default.fileExists(atPath: config) else { return self }
        let beside = URL(fileURLWithPath: capture).deletingLastPathComponent().appendingPathComponent(config).path
        guard FileManager.default.fileExists(atPath: beside) else { return self }
        var copy = self
        copy.config = beside
        return copy
    }

    /// The policy, filter, areas and object types from the configuration (file, environment) with
    /// these flags on top.
    func resolve() async throws -> DetectionSetup {
        do {
            let loader = try await ConfigLoader(flags: configFlags, filePath: config)
            return try AppSettings.loadDetection(loader)
        } catch let e as ConfigurationError {
            writeStandardError("error: \(e)\n")
            throw ExitCode(78)
        }
    }
}
