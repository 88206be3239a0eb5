// Fuzzes the reference app's configuration loader (its sources are linked in from
// Sources/crowd-notifier/Configuration): a YAML file, environment variables and flags, read as
// `run` and `replay` read them. Input: the YAML text, then optionally a line `--env--` followed by
// `NAME=value` lines, then optionally `--flags--` followed by `key=value` lines.
// Invariants: loading never crashes or hangs; it either succeeds or throws a ConfigurationError
// that names a key; secrets given in the environment never appear in an error.
import CrowdKitCore
import Foundation
import FuzzSupport

let secretMarker = "Zq9SECRETzq9"
let secretEnvironment = [
    "MQTT_PASSWORD": secretMarker + "1", "MERAKI_API_KEY": secretMarker + "2", "BOT_ACCESS_TOKEN": secretMarker + "3",
    "WEBHOOK_SECRET": secretMarker + "4", "HTTP_TOKEN": secretMarker + "5",
]
let folder = FileManager.default.temporaryDirectory.appendingPathComponent("crowdkit-fuzz-config-\(getpid())")
try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
let yamlPath = folder.appendingPathComponent("crowd-notifier.yaml").path

/// The async loader, driven to the end from libFuzzer's (non-async) thread.
final class Outcome: @unchecked Sendable {
    var error: ConfigurationError?
    var other: (any Error)?
}

func load(flags: [String: String], environment: [String: String]) -> Outcome {
    let outcome = Outcome()
    let done = DispatchSemaphore(value: 0)
    Task {
        defer { done.signal() }
        do {
            let loader = try await ConfigLoader(flags: flags, environment: environment, filePath: yamlPath)
            let settings = try AppSettings.load(loader)
            let detection = try AppSettings.loadDetection(loader)
            _ = try AppSettings.loadAreas(loader, zonePolicy: detection.policy)
            _ = settings
        } catch let e as ConfigurationError {
            outcome.error = e
        } catch {
            outcome.other = error
        }
    }
    done.wait()
    return outcome
}

func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var sections = text.components(separatedBy: "\n--env--\n")
    let yaml = sections.removeFirst()
    var environment = secretEnvironment
    var flags: [String: String] = [:]
    if let rest = sections.first {
        let parts = rest.components(separatedBy: "\n--flags--\n")
        for line in parts[0].split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2, !kv[0].isEmpty { environment[kv[0]] = kv[1] }
        }
        if parts.count > 1 {
            for line in parts[1].split(separator: "\n") {
                let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
                if kv.count == 2, !kv[0].isEmpty { flags[kv[0]] = kv[1] }
            }
        }
    }
    guard (try? yaml.write(toFile: yamlPath, atomically: false, encoding: .utf8)) != nil else { return 0 }
    let outcome = load(flags: flags, environment: environment)
    if let other = outcome.other { fatalError("the loader threw something other than a ConfigurationError: \(other)") }
    if let e = outcome.error {
        let message = e.description
        guard !e.key.isEmpty, message.contains(e.key) else { fatalError("an error that names no key: \(message)") }
        if !text.contains(secretMarker), message.contains(secretMarker) { fatalError("a secret in an error: \(message)") }
    }
    return 0
}

// One load before fuzzing: the concurrency runtime's threads and the loader's lazily made
// globals are allocated once, not leaked per input (LeakSanitizer reported them otherwise).
try? "detection:\n  minPeople: 2\n".write(toFile: yamlPath, atomically: false, encoding: .utf8)
_ = load(flags: [:], environment: secretEnvironment)
runFuzzer(fuzz)
