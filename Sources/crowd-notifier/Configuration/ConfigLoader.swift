import Configuration
import CrowdKitCore
import Foundation
import SystemPackage
import Yams

/// Where a configuration value came from.
enum ConfigSource: Hashable, Sendable, CustomStringConvertible {
    case flag(String)
    case environment(String)
    case file(String)
    case defaultValue

    var description: String {
        switch self {
        case .flag(let f): "flag \(f)"
        case .environment(let e): "environment variable \(e)"
        case .file(let path): "file \(path)"
        case .defaultValue: "default"
        }
    }
}

/// A raw value and its source.
struct ConfigValue: Hashable, Sendable {
    enum Raw: Hashable, Sendable {
        case scalar(String)
        case list([String])
    }
    var raw: Raw
    var source: ConfigSource
}

/// Resolves configuration keys from flags, environment variables (through swift-configuration's
/// `EnvironmentVariablesProvider`, plus the original notifier's variable names), a YAML file
/// (`FileProvider<YAMLSnapshot>`) and the defaults of ``ConfigCatalog``, in that order.
struct ConfigLoader: Sendable {
    private(set) var flags: [String: String]
    let environment: EnvironmentVariablesProvider
    let file: FileProvider<YAMLSnapshot>?
    let filePath: String?
    /// Per-zone override names found in the file (`camera/zone`).
    let overrideNames: [String]
    /// `areas` of the file, read once (validated by ``AppSettings/loadAreas(_:zonePolicy:)``).
    let areaEntries: Result<[AreaEntry], ConfigurationError>

    /// - Parameters:
    ///   - flags: config key → value given on the command line.
    ///   - filePath: `--config`; when nil, `crowd-notifier.yaml` is used if it exists.
    init(flags: [String: String], environment: [String: String] = ProcessInfo.processInfo.environment, filePath: String?) async throws {
        self.flags = flags
        self.environment = EnvironmentVariablesProvider(environmentVariables: environment)
        var path = filePath
        if path == nil, FileManager.default.fileExists(atPath: "crowd-notifier.yaml") { path = "crowd-notifier.yaml" }
        self.filePath = path
        if let path {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ConfigurationError(key: "--config", source: "flag --config", expected: "a readable YAML file", got: path)
            }
            do {
                file = try await FileProvider<YAMLSnapshot>(filePath: FilePath(path))
            } catch {
                throw ConfigurationError(key: "--config", source: "file \(path)", expected: "a YAML mapping of configuration keys (\(error))", got: nil)
            }
            overrideNames = Self.overrideNames(path: path)
            areaEntries = Result { () throws(ConfigurationError) in try AreaEntry.read(path: path) }
        } else {
            file = nil
            overrideNames = []
            areaEntries = .success([])
        }
    }

    /// The same file and environment with other flags (backtest combinations).
    func replacingFlags(_ flags: [String: String]) -> ConfigLoader {
        var copy = self
        copy.flags = flags
        return copy
    }

    private static func overrideNames(path: String) -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let node = try? Yams.compose(yaml: text),
            let overrides = node["detection"]?["overrides"]?.mapping
        else { return [] }
        return overrides.keys.compactMap(\.string)
    }

    /// The value of `key`: flag, then environment (canonical name, then aliases), then file, then default.
    func value(_ key: String) throws(ConfigurationError) -> ConfigValue? {
        let spec = ConfigCatalog.byKey[key]
        if let f = flags[key] { return ConfigValue(raw: .scalar(f), source: .flag(spec?.flag ?? key)) }
        for name in [spec?.environmentName ?? key] + (spec?.aliases ?? []) {
            if let v = try? environment.environmentValue(forName: name), !v.isEmpty {
                return ConfigValue(raw: .scalar(v), source: .environment(name))
            }
        }
        if spec?.fileMapping != true,
            let v = try fileValue(components: key.split(separator: ".").map(String.init), key: key, list: spec?.kind == .list)
        {
            return v
        }
        if let d = spec?.defaultValue { return ConfigValue(raw: .scalar(d), source: .defaultValue) }
        return nil
    }

    /// A file value at explicit key components (used for per-zone overrides too).
    func fileValue(components: [String], key: String, list: Bool) throws(ConfigurationError) -> ConfigValue? {
        guard let file, let filePath else { return nil }
        let source = ConfigSource.file(filePath)
        let abs = AbsoluteConfigKey(components)
        if list, let r = try? file.value(forKey: abs, type: .stringArray), case .stringArray(let a)? = r.value?.content {
            return ConfigValue(raw: .list(a), source: source)
        }
        do {
            let r = try file.value(forKey: abs, type: .string)
            guard case .string(let s)? = r.value?.content else { return nil }
            return ConfigValue(raw: .scalar(s), source: source)
        } catch {
            throw ConfigurationError(key: key, source: source.description, expected: expectedForm(key), got: nil)
        }
    }

    /// A mapping of strings at `components` in the file (e.g. `http.tokens`): `nil` when absent,
    /// a failure when it is there but not a mapping of scalars.
    func fileMapping(_ components: [String]) -> Result<[(String, String)], ConfigurationError>? {
        guard let filePath, let text = try? String(contentsOfFile: filePath, encoding: .utf8), var node = try? Yams.compose(yaml: text) else {
            return nil
        }
        for c in components {
            guard let next = node[c] else { return nil }
            node = next
        }
        let key = components.joined(separator: ".")
        guard let mapping = node.mapping else {
            return .failure(ConfigurationError(key: key, source: "file \(filePath)", expected: "a mapping", got: nil))
        }
        var out: [(String, String)] = []
        for (k, v) in mapping {
            guard let name = k.string, let value = v.string else {
                return .failure(ConfigurationError(key: key, source: "file \(filePath)", expected: "a mapping of strings", got: nil))
            }
            out.append((name, value))
        }
        return .success(out)
    }

    /// Whether any of `keys` is set by a flag, the environment or the file (not by a default).
    func isSet(_ key: String) -> Bool {
        guard let v = try? value(key) else { return false }
        return v.source != .defaultValue
    }

    func expectedForm(_ key: String) -> String {
        switch ConfigCatalog.byKey[key]?.kind {
        case .int: "an integer"
        case .double, .duration: "a number"
        case .bool: "true or false"
        case .list: "a list (YAML sequence or comma-separated)"
        default: "a string"
        }
    }

    // MARK: typed access

    func string(_ key: String) throws(ConfigurationError) -> String? {
        guard let v = try value(key) else { return nil }
        switch v.raw {
        case .scalar(let s): return s
        case .list: throw ConfigurationError(key: key, source: v.source.description, expected: expectedForm(key), got: nil)
        }
    }

    func secret(_ key: String) throws(ConfigurationError) -> String? {
        guard let v = try value(key) else { return nil }
        guard case .scalar(let s) = v.raw else {
            throw ConfigurationError(key: key, source: v.source.description, expected: "a string", got: nil)
        }
        return s
    }

    func int(_ key: String, in range: ClosedRange<Int>, expected: String) throws(ConfigurationError) -> Int? {
        guard let v = try value(key) else { return nil }
        guard case .scalar(let s) = v.raw, let n = Int(s.trimmingCharacters(in: .whitespaces)), range.contains(n) else {
            throw ConfigurationError(key: key, source: v.source.description, expected: expected, got: display(v))
        }
        return n
    }

    func seconds(_ key: String, positive: Bool = false) throws(ConfigurationError) -> Duration? {
        guard let v = try value(key) else { return nil }
        let expected = positive ? "a number of seconds > 0" : "a number of seconds >= 0"
        guard case .scalar(let s) = v.raw, let d = TextFormat.seconds(s, positive: positive) else {
            throw ConfigurationError(key: key, source: v.source.description, expected: expected, got: display(v))
        }
        return d
    }

    func bool(_ key: String) throws(ConfigurationError) -> Bool? {
        guard let v = try value(key) else { return nil }
        guard case .scalar(let s) = v.raw else {
            throw ConfigurationError(key: key, source: v.source.description, expected: "true or false", got: nil)
        }
        switch s.lowercased() {
        case "true", "yes", "1", "on": return true
        case "false", "no", "0", "off": return false
        default: throw ConfigurationError(key: key, source: v.source.description, expected: "true or false", got: display(v))
        }
    }

    func list(_ key: String) throws(ConfigurationError) -> [String]? {
        guard let v = try value(key) else { return nil }
        switch v.raw {
        case .list(let a): return a
        case .scalar(let s):
            return s.trimmingCharacters(in: CharacterSet(charactersIn: " []"))
                .split(whereSeparator: { $0 == "," })
                .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \"'")) }
                .filter { !$0.isEmpty }
        }
    }

    private func display(_ v: ConfigValue) -> String? {
        switch v.raw {
        case .scalar(let s): s
        case .list(let a): a.joined(separator: ",")
        }
    }
}
