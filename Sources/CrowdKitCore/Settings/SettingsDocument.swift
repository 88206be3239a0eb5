import Foundation

/// What is wrong with a settings document: each problem with its field path, as
/// `PUT /api/settings` answers it (`422 {"errors": [{"field", "message"}]}`).
public struct SettingsValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Problem: Hashable, Sendable {
        /// Dotted path, e.g. `detection.overrides.Q2MV-AAAA-0001/5843.minPeople` or `schedules[0].timeZone`.
        public var field: String
        public var message: String

        public init(field: String, message: String) {
            self.field = field
            self.message = message
        }
    }

    public var problems: [Problem]

    public init(_ problems: [Problem]) { self.problems = problems }

    public var description: String { problems.map { "\($0.field): \($0.message)" }.joined(separator: "; ") }
}

/// The JSON form of ``RuntimeSettings`` (the contract of `GET`/`PUT /api/settings`):
///
/// ```json
/// {"version": 7, "paused": false,
///  "detection": {"defaults": {"minPeople": 3}, "overrides": {"Q2MV-AAAA-0001/5843": {"dwellSeconds": 30}}},
///  "schedules": [{"name": "lunch", "selector": "Q2MV-AAAA-0001/*", "timeZone": "Europe/Paris",
///                 "windows": [{"days": ["mon", "tue"], "from": "11:30", "to": "14:00"}],
///                 "parameters": {"minPeople": 8}}],
///  "quietHours": [{"name": "night", "selector": "*", "timeZone": "UTC",
///                  "windows": [{"days": ["mon"], "from": "22:00", "to": "06:00"}]}],
///  "recipients": {"webex": {"roomId": "..."}, "webhooks": ["https://..."]}}
/// ```
///
/// Decoding is strict: unknown keys, wrong types, malformed selectors and times, unknown time
/// zones, `from == to`, out-of-range values are all reported, each with its field, and nothing
/// is half-read.
public enum SettingsDocument {
    /// Largest document accepted (bytes).
    public static let maximumSize = 1 << 20

    // MARK: Encoding

    public static func jsonObject(_ s: RuntimeSettings) -> [String: Any] {
        var overrides: [String: Any] = [:]
        for (selector, set) in s.overrides { overrides[selector.description] = parameters(set) }
        var recipients: [String: Any] = ["webhooks": s.recipients.webhooks]
        switch s.recipients.webex {
        case .roomId(let v)?: recipients["webex"] = ["roomId": v]
        case .toPersonEmail(let v)?: recipients["webex"] = ["toPersonEmail": v]
        case .toPersonId(let v)?: recipients["webex"] = ["toPersonId": v]
        case nil: break
        }
        return [
            "version": s.version, "paused": s.paused,
            "detection": ["defaults": parameters(s.defaults), "overrides": overrides],
            "schedules": s.schedules.map { sch -> [String: Any] in
                var o = timed(sch.name, sch.selector, sch.schedule)
                o["parameters"] = parameters(sch.parameters)
                return o
            },
            "quietHours": s.quietHours.map { timed($0.name, $0.selector, $0.schedule) },
            "recipients": recipients,
        ]
    }

    /// The document as JSON text (keys sorted).
    public static func encode(_ s: RuntimeSettings) -> Data {
        (try? JSONSerialization.data(withJSONObject: jsonObject(s), options: [.sortedKeys])) ?? Data("{}".utf8)
    }

    private static func parameters(_ set: ParameterSet) -> [String: Any] {
        var o: [String: Any] = [:]
        for (p, v) in set.values { o[p.rawValue] = p.isCount || v.rounded() == v ? Int(v) as Any : v as Any }
        return o
    }

    private static func timed(_ name: String, _ selector: ZoneSelector, _ schedule: WeeklySchedule) -> [String: Any] {
        [
            "name": name, "selector": selector.description, "timeZone": schedule.timeZone.identifier,
            "windows": schedule.windows.map { w -> [String: Any] in
                [
                    "days": Weekday.allCases.filter(w.days.contains).map(\.rawValue),
                    "from": WeeklyWindow.text(minutes: w.from), "to": WeeklyWindow.text(minutes: w.to == 1440 ? 0 : w.to),
                ]
            },
        ]
    }

    // MARK: Decoding

    /// Reads a whole document. `version` may be absent (the store sets it); when present it must
    /// be a whole number.
    /// The settings a store kept as `text` under `version` (what ``SettingsStore/loadSettings()``
    /// returns); a document that no longer reads is the store's ``EventStoreError`` `.invalid`.
    public static func stored(_ text: String, version: Int) throws -> RuntimeSettings {
        do {
            var settings = try decode(Data(text.utf8))
            settings.version = version
            return settings
        } catch {
            throw EventStoreError(.invalid, "the stored settings cannot be read: \(error)")
        }
    }

    public static func decode(_ data: Data) throws(SettingsValidationError) -> RuntimeSettings {
        guard data.count <= maximumSize else {
            throw SettingsValidationError([.init(field: "", message: "the document is larger than 1 MiB")])
        }
        let any: Any
        do {
            any = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            throw SettingsValidationError([.init(field: "", message: "not valid JSON")])
        }
        var reader = Reader()
        let settings = reader.document(any)
        if !reader.problems.isEmpty { throw SettingsValidationError(reader.problems) }
        return settings
    }

    private struct Reader {
        var problems: [SettingsValidationError.Problem] = []

        mutating func fail(_ field: String, _ message: String) {
            problems.append(.init(field: field, message: message))
        }

        mutating func object(_ value: Any?, _ field: String, keys: Set<String>) -> [String: Any]? {
            guard let o = value as? [String: Any] else {
                fail(field, "must be an object")
                return nil
            }
            for k in o.keys.sorted() where !keys.contains(k) { fail(field.isEmpty ? k : "\(field).\(k)", "unknown key") }
            return o
        }

        mutating func string(_ value: Any?, _ field: String) -> String? {
            guard let s = value as? String else {
                fail(field, "must be a string")
                return nil
            }
            return s
        }

        // JSONSerialization gives numbers and booleans as NSNumber; a boolean's type is "c"
        func number(_ value: Any?) -> Double? {
            guard let n = value as? NSNumber, !isBool(n) else { return nil }
            return n.doubleValue
        }

        func isBool(_ value: Any?) -> Bool {
            guard let n = value as? NSNumber else { return false }
            return String(cString: n.objCType) == "c"
        }

        mutating func document(_ any: Any) -> RuntimeSettings {
            var s = RuntimeSettings()
            guard let root = object(any, "", keys: ["version", "paused", "detection", "schedules", "quietHours", "recipients"])
            else { return s }
            if let v = root["version"] {
                if let n = number(v), n.rounded() == n, n >= 0, n < 1e15 { s.version = Int(n) } else { fail("version", "must be a whole number") }
            }
            if let p = root["paused"] {
                if isBool(p), let b = p as? Bool { s.paused = b } else { fail("paused", "must be true or false") }
            }
            if let d = root["detection"], let det = object(d, "detection", keys: ["defaults", "overrides"]) {
                if let defaults = det["defaults"] { s.defaults = parameterSet(defaults, "detection.defaults") }
                if let o = det["overrides"], let overrides = object(o, "detection.overrides", keys: Set((o as? [String: Any])?.keys.map { $0 } ?? [])) {
                    for key in overrides.keys.sorted() {
                        let field = "detection.overrides.\(key)"
                        guard let selector = ZoneSelector(parsing: key), selector != .all else {
                            fail(field, "must be \"<camera>/<zone>\" or \"<camera>/*\"")
                            continue
                        }
                        s.overrides[selector] = parameterSet(overrides[key], field)
                    }
                }
            }
            if let list = root["schedules"] {
                if let items = list as? [Any] {
                    for (i, item) in items.enumerated() {
                        if let t = timed(item, "schedules[\(i)]", withParameters: true) {
                            s.schedules.append(SettingsSchedule(name: t.name, selector: t.selector, schedule: t.schedule, parameters: t.parameters))
                        }
                    }
                } else {
                    fail("schedules", "must be a list")
                }
            }
            if let list = root["quietHours"] {
                if let items = list as? [Any] {
                    for (i, item) in items.enumerated() {
                        if let t = timed(item, "quietHours[\(i)]", withParameters: false) {
                            s.quietHours.append(QuietHours(name: t.name, selector: t.selector, schedule: t.schedule))
                        }
                    }
                } else {
                    fail("quietHours", "must be a list")
                }
            }
            if let r = root["recipients"] { s.recipients = recipients(r) }
            return s
        }

        mutating func parameterSet(_ value: Any?, _ field: String) -> ParameterSet {
            var set = ParameterSet()
            guard let o = object(value, field, keys: Set(SettingsParameter.allCases.map(\.rawValue))) else { return set }
            for (k, v) in o {
                guard let p = SettingsParameter(rawValue: k) else { continue }
                if let n = number(v), p.accepts(n) { set[p] = n } else { fail("\(field).\(k)", "must be \(p.expected)") }
            }
            return set
        }

        mutating func timed(_ value: Any?, _ field: String, withParameters: Bool)
            -> (name: String, selector: ZoneSelector, schedule: WeeklySchedule, parameters: ParameterSet)?
        {
            var keys: Set<String> = ["name", "selector", "timeZone", "windows"]
            if withParameters { keys.insert("parameters") }
            guard let o = object(value, field, keys: keys) else { return nil }
            let count = problems.count
            let name = string(o["name"], "\(field).name") ?? ""
            if o["name"] != nil, name.isEmpty { fail("\(field).name", "must not be empty") }
            var selector = ZoneSelector.all
            if let text = string(o["selector"], "\(field).selector") {
                if let sel = ZoneSelector(parsing: text) { selector = sel } else {
                    fail("\(field).selector", "must be \"*\", \"<camera>/*\" or \"<camera>/<zone>\"")
                }
            }
            var zone = TimeZone(identifier: "UTC")!
            if let id = string(o["timeZone"], "\(field).timeZone") {
                if let tz = TimeZone(identifier: id) { zone = tz } else { fail("\(field).timeZone", "unknown IANA time zone \"\(id)\"") }
            }
            var windows: [WeeklyWindow] = []
            if let list = o["windows"] as? [Any], !list.isEmpty {
                for (i, w) in list.enumerated() {
                    if let window = self.window(w, "\(field).windows[\(i)]") { windows.append(window) }
                }
            } else {
                fail("\(field).windows", "must be a non-empty list")
            }
            var parameters = ParameterSet()
            if withParameters {
                parameters = parameterSet(o["parameters"], "\(field).parameters")
            }
            guard problems.count == count else { return nil }
            return (name, selector, WeeklySchedule(timeZone: zone, windows: windows), parameters)
        }

        mutating func window(_ value: Any?, _ field: String) -> WeeklyWindow? {
            guard let o = object(value, field, keys: ["days", "from", "to"]) else { return nil }
            var days = Set<Weekday>()
            if let list = o["days"] as? [Any], !list.isEmpty {
                for (i, d) in list.enumerated() {
                    if let text = d as? String, let day = Weekday(rawValue: text) { days.insert(day) } else {
                        fail("\(field).days[\(i)]", "must be one of mon, tue, wed, thu, fri, sat, sun")
                    }
                }
            } else {
                fail("\(field).days", "must be a non-empty list of days")
            }
            let fromText = string(o["from"], "\(field).from")
            let toText = string(o["to"], "\(field).to")
            let from = fromText.flatMap { WeeklyWindow.minutes(parsing: $0) }
            let to = toText.flatMap { WeeklyWindow.minutes(parsing: $0, allowEndOfDay: true) }
            if fromText != nil, from == nil { fail("\(field).from", "must be a time \"HH:MM\"") }
            if toText != nil, to == nil { fail("\(field).to", "must be a time \"HH:MM\"") }
            guard let from, let to else { return nil }
            if from == to % 1440 {
                fail("\(field).to", "must differ from \"from\" (an empty window)")
                return nil
            }
            return WeeklyWindow(days: days, from: from, to: to == 1440 ? 0 : to)
        }

        mutating func recipients(_ value: Any?) -> SettingsRecipients {
            var r = SettingsRecipients()
            guard let o = object(value, "recipients", keys: ["webex", "webhooks"]) else { return r }
            if let w = o["webex"], !(w is NSNull) {
                if let webex = object(w, "recipients.webex", keys: ["roomId", "toPersonEmail", "toPersonId"]) {
                    if webex.count != 1 {
                        fail("recipients.webex", "must name exactly one of roomId, toPersonEmail, toPersonId")
                    } else if let (k, v) = webex.first, let text = string(v, "recipients.webex.\(k)"), !text.isEmpty {
                        switch k {
                        case "roomId": r.webex = .roomId(text)
                        case "toPersonEmail":
                            if text.contains("@") { r.webex = .toPersonEmail(text) } else { fail("recipients.webex.toPersonEmail", "must be an e-mail address") }
                        default: r.webex = .toPersonId(text)
                        }
                    }
                }
            }
            if let h = o["webhooks"] {
                if let list = h as? [Any] {
                    for (i, u) in list.enumerated() {
                        if let text = u as? String, let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil {
                            r.webhooks.append(text)
                        } else {
                            fail("recipients.webhooks[\(i)]", "must be an http(s) URL")
                        }
                    }
                } else {
                    fail("recipients.webhooks", "must be a list of URLs")
                }
            }
            return r
        }
    }
}
