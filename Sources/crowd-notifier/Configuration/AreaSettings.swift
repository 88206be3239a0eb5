import CrowdKitCore
import Foundation
import Yams

/// `areas.<name>` of the configuration file (SEMANTICS.md §8), as written, before validation.
struct AreaEntry: Sendable, Hashable {
    var name: String
    /// `nil`: missing; entries that are not strings are kept as their YAML text.
    var lines: [String]?
    var linesIsList = true
    var objectType: String?
    var resetDaily: String?
    var timeZone: String?
    var unknownKeys: [String] = []
    /// The entry is not a mapping.
    var notMapping = false

    /// Reads `areas` from a YAML file, in file order.
    static func read(path: String) throws(ConfigurationError) -> [AreaEntry] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let node = try? Yams.compose(yaml: text),
            let areas = node["areas"]
        else { return [] }
        guard let mapping = areas.mapping else {
            throw ConfigurationError(key: "areas", source: "file \(path)", expected: "a mapping of area names to {lines, objectType, resetDaily, timeZone}", got: areas.string)
        }
        return mapping.map { key, value in
            var e = AreaEntry(name: key.string ?? "\(key)")
            guard let m = value.mapping else {
                e.notMapping = true
                return e
            }
            for (k, v) in m {
                switch k.string ?? "" {
                case "lines":
                    if let seq = v.sequence {
                        e.lines = seq.map { $0.string ?? "\($0)" }
                    } else if let s = v.string {
                        e.lines = [s]
                        e.linesIsList = false
                    }
                case "objectType": e.objectType = v.string ?? "\(v)"
                case "resetDaily": e.resetDaily = v.string ?? "\(v)"
                case "timeZone": e.timeZone = v.string ?? "\(v)"
                default: e.unknownKeys.append(k.string ?? "\(k)")
                }
            }
            return e
        }
    }

    /// Validates the entry; errors name the key (`areas.<name>.<field>`) and the accepted form.
    func definition(source: String?) throws(ConfigurationError) -> AreaDefinition {
        let key = "areas.\(name)"
        guard AreaDefinition.isValidName(name) else {
            throw ConfigurationError(key: key, source: source, expected: "an area name of letters, digits, _ and -", got: name)
        }
        guard !notMapping else {
            throw ConfigurationError(key: key, source: source, expected: "a mapping with lines (and optionally objectType, resetDaily, timeZone)", got: nil)
        }
        if let k = unknownKeys.first {
            throw ConfigurationError(key: "\(key).\(k)", source: source, expected: "one of lines, objectType, resetDaily, timeZone", got: k)
        }
        let linesForm = "a list of lines \"<camera serial>/<boundaryId>\", each optionally ending in :reverse"
        guard let lines, !lines.isEmpty, linesIsList else {
            throw ConfigurationError(key: "\(key).lines", source: source, expected: linesForm, got: lines?.joined(separator: ","))
        }
        var parsed: [AreaLine] = []
        for l in lines {
            guard let line = AreaLine(parsing: l) else {
                throw ConfigurationError(key: "\(key).lines", source: source, expected: linesForm, got: l)
            }
            guard !parsed.contains(where: { $0.key == line.key }) else {
                throw ConfigurationError(key: "\(key).lines", source: source, expected: "each line once", got: l)
            }
            parsed.append(line)
        }
        var type = ObjectType.person
        if let t = objectType {
            guard let v = ObjectType(rawValue: t.lowercased()) else {
                throw ConfigurationError(key: "\(key).objectType", source: source, expected: "person or vehicle", got: t)
            }
            type = v
        }
        var zone = TimeZone(identifier: "UTC")!
        if let tz = timeZone {
            guard let z = TimeZone(identifier: tz) else {
                throw ConfigurationError(key: "\(key).timeZone", source: source, expected: "an IANA time zone such as Europe/Zurich", got: tz)
            }
            zone = z
        }
        var reset: DailyReset?
        if let r = resetDaily {
            guard let v = DailyReset(parsing: r, timeZone: zone) else {
                throw ConfigurationError(key: "\(key).resetDaily", source: source, expected: "a local time of day HH:MM (00:00-23:59)", got: r)
            }
            reset = v
        }
        return AreaDefinition(name: name, lines: parsed, objectType: type, resetDaily: reset)
    }
}

/// What detection needs from the configuration: the zones' policy and filter, the areas and
/// object types (`replay`, `backtest`, `run`, `demo`).
struct DetectionSetup: Sendable {
    var policy: any DetectionPolicy
    var filter: ZoneFilter
    var areas: AreaSetup
    var objectTypes: ObjectTypeSelection
}

extension AppSettings {
    /// The areas of the file, validated, with the dwell policy they use (SEMANTICS.md §8): the
    /// zones' dwell policy when it is one, else the dwell parameters of the configuration.
    static func loadAreas(_ c: ConfigLoader, zonePolicy: any DetectionPolicy) throws(ConfigurationError) -> AreaSetup {
        guard let path = c.filePath else { return .none }
        let entries = try c.areaEntries.get()
        if entries.isEmpty { return .none }
        var areas: [AreaDefinition] = []
        for e in entries { areas.append(try e.definition(source: "file \(path)")) }
        if let dwell = zonePolicy as? DwellPolicy { return AreaSetup(areas: areas, policy: dwell) }
        let defaults = try dwellParameters(c, .defaults, nil)
        let names = c.overrideNames.filter { $0.hasPrefix("\(AreaDefinition.camera)/") }
        return AreaSetup(areas: areas, policy: DwellPolicy(defaults, overrides: try layeredOverrides(c, names, defaults: defaults, dwellParameters)))
    }

    /// `detection.objectType` and its per-zone overrides.
    static func loadObjectTypes(_ c: ConfigLoader) throws(ConfigurationError) -> ObjectTypeSelection {
        func parse(_ s: String, key: String, source: String?) throws(ConfigurationError) -> ObjectType {
            guard let t = ObjectType(rawValue: s.trimmingCharacters(in: .whitespaces).lowercased()) else {
                throw ConfigurationError(key: key, source: source, expected: "person or vehicle", got: s)
            }
            return t
        }
        var selection = ObjectTypeSelection()
        if let v = try c.value("detection.objectType"), case .scalar(let s) = v.raw {
            selection.defaultType = try parse(s, key: "detection.objectType", source: v.source.description)
        }
        for name in c.overrideNames {
            let key = "detection.overrides.\(name).objectType"
            guard let v = try c.fileValue(components: ["detection", "overrides", name, "objectType"], key: key, list: false),
                case .scalar(let s) = v.raw
            else { continue }
            selection.overrides[try zoneKey(name, c)] = try parse(s, key: key, source: v.source.description)
        }
        return selection
    }
}
