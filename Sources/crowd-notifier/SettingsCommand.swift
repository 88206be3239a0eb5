import ArgumentParser
import CrowdKitCore
import CrowdKitWeb
import Foundation
import Logging
import Yams

/// `crowd-notifier settings export|import`: the run-time settings (SEMANTICS.md §7) as YAML, for
/// review, version control and copying between sites.
struct SettingsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "Export or import the run-time settings (thresholds, schedules, quiet hours, pause, recipients).",
        subcommands: [SettingsExport.self, SettingsImport.self]
    )
}

/// The settings document as YAML (the `GET /api/settings` document, keys sorted).
enum SettingsYAML {
    static func text(_ s: RuntimeSettings) throws -> String {
        try Yams.dump(object: SettingsDocument.jsonObject(s), sortKeys: true)
    }

    /// Reads YAML (or JSON) into settings, with every problem named by its field.
    static func read(_ text: String) throws -> RuntimeSettings {
        let object: Any?
        do {
            object = try Yams.load(yaml: text)
        } catch {
            throw ValidationError("not YAML: \(error)")
        }
        guard let object, JSONSerialization.isValidJSONObject(object) else {
            throw ValidationError("expected a settings document (a mapping with detection, schedules, quietHours, ...)")
        }
        let data = try JSONSerialization.data(withJSONObject: object)
        do {
            return try SettingsDocument.decode(data)
        } catch {
            throw ValidationError("invalid settings:\n" + error.problems.map { "  \($0.field): \($0.message)" }.joined(separator: "\n"))
        }
    }

    /// The lines of `new` that are not in `old` (+) and the other way round (-), in order.
    static func difference(_ old: String, _ new: String) -> [String] {
        let a = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let b = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // longest common subsequence of lines (documents are small)
        var lcs = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var out: [String] = []
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i] == b[j] {
                i += 1
                j += 1
            } else if j < b.count, i == a.count || lcs[i][j + 1] >= lcs[i + 1][j] {
                out.append("+ " + b[j])
                j += 1
            } else {
                out.append("- " + a[i])
                i += 1
            }
        }
        return out.filter { $0 != "+ " && $0 != "- " }
    }
}

struct SettingsExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Print the stored run-time settings as YAML (the configuration's, before the first start).")

    @OptionGroup var detection: DetectionOptions
    @OptionGroup var storeWeb: WebOptions

    func run() async throws {
        let settings = try await loadSettings(flags: detection.configFlags.merging(storeWeb.configFlags) { a, _ in a }, configFile: detection.config)
        var logger = Logger(label: "crowd-notifier.settings")
        logger.logLevel = .error
        let stored = try await WebWiring.openStore(settings, logger: logger).whileOpen { try await $0.loadSettings() }
        writeStandardOutput(try SettingsYAML.text(stored ?? RuntimeSettingsSeed.settings(for: settings.detection)))
    }
}

struct SettingsImport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Validate a settings file, print how it differs from the stored settings, and apply it (audited).",
        discussion: "The file is YAML (or JSON) in the form `settings export` prints; what it leaves out goes back to the configuration's values. With --dry-run nothing is applied.")

    @Argument(help: "The settings file (YAML or JSON).")
    var file: String

    @Flag(name: .long, help: "Validate and print the difference only.")
    var dryRun = false

    @Option(name: .long, help: "Who applies it, for the audit (default: the user name).")
    var by: String?

    @OptionGroup var detection: DetectionOptions
    @OptionGroup var storeWeb: WebOptions

    func run() async throws {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ValidationError("cannot read \(file): \(error.localizedDescription)")
        }
        guard text.utf8.count <= SettingsDocument.maximumSize else { throw ValidationError("\(file) is over 1 MiB") }
        let incoming: RuntimeSettings
        do {
            incoming = try SettingsYAML.read(text)
        } catch let error as ValidationError {
            printError("crowd-notifier: \(file): \(error.message)")
            throw ExitCode(65)
        }
        let settings = try await loadSettings(flags: detection.configFlags.merging(storeWeb.configFlags) { a, _ in a }, configFile: detection.config)
        var logger = Logger(label: "crowd-notifier.settings")
        logger.logLevel = .error
        let who = by ?? ProcessInfo.processInfo.environment["USER"] ?? "cli"
        let dryRun = self.dryRun
        let seed = RuntimeSettingsSeed.settings(for: settings.detection)
        let quiet = logger
        let result = try await WebWiring.openStore(settings, logger: logger).whileOpen { store -> String in
            let control = SettingsControl(store: store, live: LiveSettings(settings: seed), logger: quiet)
            try await control.start(seed: seed)
            let current = try await control.current()
            var next = incoming
            next.version = current.version
            let difference = SettingsYAML.difference(try SettingsYAML.text(current), try SettingsYAML.text(next))
            var out = difference.isEmpty ? "no difference from the stored settings (version \(current.version))\n" : difference.joined(separator: "\n") + "\n"
            guard !dryRun, !difference.isEmpty else { return out + (dryRun ? "dry run: nothing applied\n" : "") }
            let saved = try await control.replace(incoming, expectedVersion: current.version, by: who)
            out += "applied as version \(saved.version) by \(who)\n"
            return out
        }
        writeStandardOutput(result)
    }
}
