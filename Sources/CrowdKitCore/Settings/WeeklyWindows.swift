import Foundation

/// Days of the week, as settings name them.
public enum Weekday: String, CaseIterable, Hashable, Sendable, Codable {
    case mon, tue, wed, thu, fri, sat, sun

    /// Monday 0 ... Sunday 6.
    public var index: Int { Self.allCases.firstIndex(of: self)! }
}

/// One window of a schedule or of quiet hours: on each of `days`, local time in `[from, to)`; a
/// `to` before `from` crosses midnight (the window started on a listed day runs into the next).
public struct WeeklyWindow: Hashable, Sendable {
    public var days: Set<Weekday>
    /// Minutes after local midnight, 0 ..< 1440.
    public var from: Int
    public var to: Int

    public init(days: Set<Weekday>, from: Int, to: Int) {
        self.days = days
        self.from = from
        self.to = to
    }

    /// `HH:MM` (00:00 ... 23:59) as minutes after midnight; `24:00` is accepted as the end of the day.
    public static func minutes(parsing text: String, allowEndOfDay: Bool = false) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
            let h = Int(parts[0]), let m = Int(parts[1]), parts[0].allSatisfy(\.isASCII), parts[1].allSatisfy(\.isASCII),
            (0...59).contains(m)
        else { return nil }
        if h == 24 && m == 0 && allowEndOfDay { return 1440 }
        guard (0...23).contains(h) else { return nil }
        return h * 60 + m
    }

    public static func text(minutes: Int) -> String {
        String(format: "%02d:%02d", minutes / 60, minutes % 60)
    }

    /// Whether the window is active at local day `weekday` (0 = Monday) and minute `minute`.
    public func isActive(weekday: Int, minute: Int) -> Bool {
        if from < to {
            return days.contains(where: { $0.index == weekday }) && minute >= from && minute < to
        }
        // crosses midnight: the evening part on a listed day, the morning part on the day after
        if minute >= from && days.contains(where: { $0.index == weekday }) { return true }
        let previous = (weekday + 6) % 7
        return minute < to && days.contains(where: { $0.index == previous })
    }
}

/// Windows in one IANA time zone: the time part of schedules and quiet hours.
public struct WeeklySchedule: Hashable, Sendable {
    public var timeZone: TimeZone
    public var windows: [WeeklyWindow]

    public init(timeZone: TimeZone, windows: [WeeklyWindow]) {
        self.timeZone = timeZone
        self.windows = windows
    }

    /// Whether any window is active at `ms` (epoch milliseconds, camera time), in local time.
    public func isActive(at ms: Int64) -> Bool {
        let offset = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(ms) / 1000))) * 1000
        let local = ms + offset
        var days = local / 86_400_000
        var rem = local % 86_400_000
        if rem < 0 {
            rem += 86_400_000
            days -= 1
        }
        // 1970-01-01 was a Thursday (Monday = 0: index 3)
        let weekday = Int(((days + 3) % 7 + 7) % 7)
        let minute = Int(rem / 60_000)
        return windows.contains { $0.isActive(weekday: weekday, minute: minute) }
    }
}
