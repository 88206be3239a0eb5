import Foundation

/// Which count of a message the policies see (SEMANTICS.md §8; `detection.objectType`).
public enum ObjectType: String, Hashable, Sendable, Codable, CaseIterable {
    case person
    case vehicle
}

/// The object type of each zone: a default and per-zone overrides (`"<camera>/*"` keys apply to
/// every zone of the camera; an exact key wins).
public struct ObjectTypeSelection: Hashable, Sendable {
    public var defaultType: ObjectType
    public var overrides: [ZoneKey: ObjectType]

    public init(_ defaultType: ObjectType = .person, overrides: [ZoneKey: ObjectType] = [:]) {
        self.defaultType = defaultType
        self.overrides = overrides
    }

    /// People everywhere (the default).
    public static let person = ObjectTypeSelection()

    public func type(for zone: ZoneKey) -> ObjectType {
        if overrides.isEmpty { return defaultType }
        return overrides[zone] ?? overrides[ZoneKey(camera: zone.camera, zone: "*")] ?? defaultType
    }
}

/// One MV Sense line: a camera serial and a boundary id (`/merakimv/<serial>/crossing/<boundaryId>`).
public struct LineKey: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public var camera: String
    public var line: String

    public init(camera: String, line: String) {
        self.camera = camera
        self.line = line
    }

    public static func < (lhs: LineKey, rhs: LineKey) -> Bool {
        if lhs.camera != rhs.camera { return lhs.camera.utf8.lexicographicallyPrecedes(rhs.camera.utf8) }
        return lhs.line.utf8.lexicographicallyPrecedes(rhs.line.utf8)
    }

    public var description: String { "\(camera)/\(line)" }
}

/// A line of an area: crossing it inward (`crossing_in`, or `crossing_out` when `reverse`) enters
/// the area.
public struct AreaLine: Hashable, Sendable, Codable, CustomStringConvertible {
    public var key: LineKey
    public var reverse: Bool

    public init(_ key: LineKey, reverse: Bool = false) {
        self.key = key
        self.reverse = reverse
    }

    /// Parses `"<serial>/<boundaryId>"` or `"<serial>/<boundaryId>:reverse"`; `nil` for anything else.
    public init?(parsing text: String) {
        var body = Substring(text.trimmingCharacters(in: .whitespaces))
        var reverse = false
        if body.hasSuffix(":reverse") {
            reverse = true
            body = body.dropLast(":reverse".count)
        }
        let parts = body.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let bad: (Character) -> Bool = { $0 == "+" || $0 == "#" || $0 == ":" || $0.isWhitespace }
        guard !parts[0].isEmpty, !parts[1].isEmpty, !parts[0].contains(where: bad), !parts[1].contains(where: bad) else {
            return nil
        }
        self.init(LineKey(camera: String(parts[0]), line: String(parts[1])), reverse: reverse)
    }

    public var description: String { reverse ? "\(key):reverse" : key.description }
}

/// A daily reset of an area's occupancy at a local time of day.
///
/// A time in a daylight-saving gap is read with the offset in force before the gap (02:30 in a
/// 02:00-03:00 gap resets at 03:30 local); a time that occurs twice resets at its first occurrence.
public struct DailyReset: Hashable, Sendable {
    /// Minutes after local midnight.
    public var minuteOfDay: Int
    public var timeZone: TimeZone

    public init(minuteOfDay: Int, timeZone: TimeZone) {
        self.minuteOfDay = minuteOfDay
        self.timeZone = timeZone
    }

    /// Parses `"HH:MM"` (00:00-23:59).
    public init?(parsing text: String, timeZone: TimeZone) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count <= 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]),
            (0..<24).contains(h), (0..<60).contains(m)
        else { return nil }
        self.init(minuteOfDay: h * 60 + m, timeZone: timeZone)
    }

    /// `HH:MM`.
    public var timeOfDay: String {
        let h = minuteOfDay / 60, m = minuteOfDay % 60
        return (h < 10 ? "0\(h)" : "\(h)") + ":" + (m < 10 ? "0\(m)" : "\(m)")
    }

    private func offset(atSecond s: Int64) -> Int64 {
        Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(s))))
    }

    /// The instant (epoch ms) of the reset on local day `day` (days since 1970-01-01, local).
    func resetInstant(localDay day: Int64) -> Int64 {
        let local = day * 86_400 + Int64(minuteOfDay) * 60
        let before = offset(atSecond: local - 93_600)
        let after = offset(atSecond: local + 93_600)
        var best: Int64?
        for o in before == after ? [before] : [before, after] {
            let u = local - o
            if offset(atSecond: u) == o, best.map({ u < $0 }) ?? true { best = u }
        }
        // in a gap no candidate is valid: the offset in force before the gap
        return (best ?? (local - before)) * 1000
    }

    private func localDay(of ms: Int64) -> Int64 {
        let s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let local = s + offset(atSecond: s)
        return local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
    }

    /// The latest reset at or before `ms`.
    public func latest(atOrBefore ms: Int64) -> Int64 {
        let day = localDay(of: ms)
        for d in [day + 1, day, day - 1, day - 2] {
            let r = resetInstant(localDay: d)
            if r <= ms { return r }
        }
        return resetInstant(localDay: day - 2)
    }

    /// The first reset after `ms`.
    public func first(after ms: Int64) -> Int64 {
        let day = localDay(of: ms)
        for d in [day - 1, day, day + 1, day + 2] {
            let r = resetInstant(localDay: d)
            if r > ms { return r }
        }
        return resetInstant(localDay: day + 2)
    }
}

/// An area (SEMANTICS.md §8): occupancy counted from line crossings, possibly over several
/// cameras, detected with the dwell policy. Its events have `camera = "area"`, `zone = name`.
public struct AreaDefinition: Hashable, Sendable {
    /// Letters, digits, `_` and `-`.
    public var name: String
    public var lines: [AreaLine]
    /// Which crossings count (person by default; `detection.objectType` does not apply to areas).
    public var objectType: ObjectType
    public var resetDaily: DailyReset?

    public init(name: String, lines: [AreaLine], objectType: ObjectType = .person, resetDaily: DailyReset? = nil) {
        self.name = name
        self.lines = lines
        self.objectType = objectType
        self.resetDaily = resetDaily
    }

    /// The camera name of every area's events.
    public static let camera = "area"

    /// The key of the area's events and parameters: `area/<name>`.
    public var key: ZoneKey { ZoneKey(camera: Self.camera, zone: name) }

    /// Whether `name` is a valid area name.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { s in
            (s >= "a" && s <= "z") || (s >= "A" && s <= "Z") || (s >= "0" && s <= "9") || s == "_" || s == "-"
        }
    }
}

/// The areas of a site and the dwell policy they use (defaults, then `area/*`, then `area/<name>`
/// overrides).
public struct AreaSetup: Sendable {
    public var areas: [AreaDefinition]
    public var policy: DwellPolicy

    public init(areas: [AreaDefinition] = [], policy: DwellPolicy = DwellPolicy()) {
        self.areas = areas
        self.policy = policy
    }

    /// No areas.
    public static var none: AreaSetup { AreaSetup() }
}

/// The live state of one line: its crossings in and out (by the camera's direction, before any
/// `:reverse`) since the start of the current day.
public struct LineSnapshot: Hashable, Sendable, Codable {
    public var camera: String
    public var line: String
    /// The last label the camera gave the line, when any.
    public var label: String?
    /// Areas the line belongs to.
    public var areas: [String]
    /// Crossings today: local day in the time zone of the first area with a daily reset, else UTC.
    public var inToday: Int
    public var outToday: Int
    /// All crossings since start.
    public var inTotal: Int
    public var outTotal: Int
    public var lastTs: Int64?

    public init(
        camera: String, line: String, label: String? = nil, areas: [String], inToday: Int, outToday: Int,
        inTotal: Int, outTotal: Int, lastTs: Int64?
    ) {
        self.camera = camera
        self.line = line
        self.label = label
        self.areas = areas
        self.inToday = inToday
        self.outToday = outToday
        self.inTotal = inTotal
        self.outTotal = outTotal
        self.lastTs = lastTs
    }
}
