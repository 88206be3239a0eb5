import Foundation

/// A policy parameter that run-time settings may set, by its configuration name.
public enum SettingsParameter: String, CaseIterable, Hashable, Sendable, Comparable {
    case minPeople, dwellSeconds, gapSeconds, cooldownSeconds, staleSeconds, repeatSeconds
    case armPeople, iterateCount, triggerPeople, timeoutCount, pauseSeconds

    /// Whole numbers (people, message counts) rather than seconds.
    public var isCount: Bool {
        switch self {
        case .minPeople, .armPeople, .iterateCount, .triggerPeople, .timeoutCount: true
        default: false
        }
    }

    /// The accepted form, for error messages.
    public var expected: String {
        switch self {
        case .minPeople, .armPeople, .iterateCount, .triggerPeople, .timeoutCount: "a whole number >= 1"
        case .staleSeconds, .repeatSeconds: "a number of seconds > 0"
        default: "a number of seconds >= 0"
        }
    }

    /// Whether `value` is acceptable.
    public func accepts(_ value: Double) -> Bool {
        guard value.isFinite, value <= 1e9 else { return false }
        if isCount { return value >= 1 && value.rounded() == value }
        switch self {
        case .staleSeconds, .repeatSeconds: return value > 0
        default: return value >= 0
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// The built-in policy (``DetectionPolicy/name``) that takes the parameter: `dwell` or
    /// `messageCount`.
    public var policyName: String {
        switch self {
        case .minPeople, .dwellSeconds, .gapSeconds, .cooldownSeconds, .staleSeconds, .repeatSeconds: "dwell"
        case .armPeople, .iterateCount, .triggerPeople, .timeoutCount, .pauseSeconds: "messageCount"
        }
    }
}

/// Some policy parameters (the others come from the next layer of §7's order).
public struct ParameterSet: Hashable, Sendable {
    public var values: [SettingsParameter: Double]

    public init(_ values: [SettingsParameter: Double] = [:]) { self.values = values }

    public subscript(_ p: SettingsParameter) -> Double? {
        get { values[p] }
        set { values[p] = newValue }
    }

    public var isEmpty: Bool { values.isEmpty }
}

/// A schedule: parameters that apply to the zones of `selector` while one of its windows is
/// active (SEMANTICS.md §7).
public struct SettingsSchedule: Hashable, Sendable {
    public var name: String
    public var selector: ZoneSelector
    public var schedule: WeeklySchedule
    public var parameters: ParameterSet

    public init(name: String, selector: ZoneSelector, schedule: WeeklySchedule, parameters: ParameterSet) {
        self.name = name
        self.selector = selector
        self.schedule = schedule
        self.parameters = parameters
    }
}

/// Quiet hours: notifications of the zones of `selector` are suppressed while a window is active.
public struct QuietHours: Hashable, Sendable {
    public var name: String
    public var selector: ZoneSelector
    public var schedule: WeeklySchedule

    public init(name: String, selector: ZoneSelector, schedule: WeeklySchedule) {
        self.name = name
        self.selector = selector
        self.schedule = schedule
    }
}

/// A mute: notifications of the zones of `selector` are suppressed from `from` until `until`
/// (epoch milliseconds, `until` exclusive).
public struct Mute: Hashable, Sendable, Identifiable {
    public var id: String
    public var selector: ZoneSelector
    public var from: Int64
    public var until: Int64
    public var reason: String
    /// Who made it (a token's name, a Webex user, `local`).
    public var by: String

    public init(id: String, selector: ZoneSelector, from: Int64, until: Int64, reason: String, by: String) {
        self.id = id
        self.selector = selector
        self.from = from
        self.until = until
        self.reason = reason
        self.by = by
    }

    public func covers(_ key: ZoneKey, at ts: Int64) -> Bool { ts >= from && ts < until && selector.covers(key) }
}

/// Where notifications go, changeable at run time: a Webex room or person and webhook URLs.
public struct SettingsRecipients: Hashable, Sendable {
    public enum Webex: Hashable, Sendable {
        case roomId(String)
        case toPersonEmail(String)
        case toPersonId(String)
    }

    public var webex: Webex?
    public var webhooks: [String]

    public init(webex: Webex? = nil, webhooks: [String] = []) {
        self.webex = webex
        self.webhooks = webhooks
    }
}

/// The run-time settings of SEMANTICS.md §7 (the document of `GET /api/settings`): detection
/// defaults and overrides, schedules, quiet hours, pause and recipients, with a version that
/// grows by one with each change. Mutes are kept beside it (they come and go on their own).
public struct RuntimeSettings: Hashable, Sendable {
    public var version: Int
    public var paused: Bool
    public var defaults: ParameterSet
    /// Keyed by selector text: `"<camera>/<zone>"`, `"<camera>/*"` (and `area/...`).
    public var overrides: [ZoneSelector: ParameterSet]
    public var schedules: [SettingsSchedule]
    public var quietHours: [QuietHours]
    public var recipients: SettingsRecipients

    public init(
        version: Int = 1, paused: Bool = false, defaults: ParameterSet = .init(), overrides: [ZoneSelector: ParameterSet] = [:],
        schedules: [SettingsSchedule] = [], quietHours: [QuietHours] = [], recipients: SettingsRecipients = .init()
    ) {
        self.version = version
        self.paused = paused
        self.defaults = defaults
        self.overrides = overrides
        self.schedules = schedules
        self.quietHours = quietHours
        self.recipients = recipients
    }

    /// The value of `parameter` for `key` at `ts` (camera time), in §7's order: an active
    /// schedule window selecting the zone, the zone's override, an active window selecting the
    /// camera, the camera's override, an active window selecting every zone, the defaults; `nil`
    /// when none sets it (the configuration's value applies). Among active windows of the same
    /// breadth, the schedule listed first.
    public func value(of parameter: SettingsParameter, for key: ZoneKey, at ts: Int64) -> Double? {
        resolved(for: key, at: ts)[parameter]
    }

    /// Every parameter these settings set for `key` at `ts` (§7's order).
    public func resolved(for key: ZoneKey, at ts: Int64) -> ParameterSet {
        var out = ParameterSet()
        let active = schedules.filter { $0.selector.covers(key) && $0.schedule.isActive(at: ts) }
        func take(_ set: ParameterSet) {
            for (p, v) in set.values where out[p] == nil { out[p] = v }
        }
        for breadth in 0...2 {
            for s in active where s.selector.breadth == breadth { take(s.parameters) }
            switch breadth {
            case 0: if let o = overrides[.zone(key)] { take(o) }
            case 1: if let o = overrides[.camera(key.camera)] { take(o) }
            default: take(defaults)
            }
        }
        return out
    }

    /// Why a notification of `key` at `ts` is suppressed (`mute <id>` or `quiet hours <name>`),
    /// or `nil` when it goes out. Mutes are checked first.
    public func suppression(for key: ZoneKey, at ts: Int64, mutes: [Mute]) -> String? {
        if let m = mutes.first(where: { $0.covers(key, at: ts) }) { return "mute \(m.id)" }
        if let q = quietHours.first(where: { $0.selector.covers(key) && $0.schedule.isActive(at: ts) }) {
            return "quiet hours \(q.name)"
        }
        return nil
    }
}
