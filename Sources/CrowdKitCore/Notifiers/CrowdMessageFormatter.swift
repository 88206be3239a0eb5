import Foundation

/// Words for crowd notifications, shared by the log notifier and chat notifiers.
public enum CrowdMessageFormatter {
    /// `Crowd detected: 7 people in Lobby (zone 5843…) on camera Front Desk (Q2GV-…) for 2 min
    /// since 14:03:12 UTC — video: https://…`
    public static func plainText(_ n: CrowdNotification, timeZone: TimeZone = .gmt) -> String {
        let e = n.event
        let head: String
        switch n.kind {
        case .fired: head = "Crowd detected"
        case .reminder: head = "Crowd still there"
        case .ended: head = "Crowd ended"
        }
        let count = e.count(for: n.kind)
        let people = (n.kind == .ended ? "peak " : "") + "\(count) \(count == 1 ? "person" : "people")"
        var s = "\(head): \(people) in \(zoneLabel(e)) on camera \(cameraLabel(e))"
        s += " for \(duration(milliseconds: e.durationMilliseconds(for: n.kind)))"
        s += " since \(clockTime(e.startedAt, timeZone: timeZone))"
        if let url = e.videoURL { s += " — video: \(url)" }
        if !e.enrichmentNotes.isEmpty { s += " (\(e.enrichmentNotes.joined(separator: "; ")))" }
        if let late = n.lateNote { s += " [\(late)]" }
        return s
    }

    /// The zone's label with its id, or the id alone.
    public static func zoneLabel(_ e: CrowdEvent) -> String {
        if let name = e.zoneName, !name.isEmpty { return "\(name) (zone \(e.zone))" }
        return e.zone == "0" ? "Full Frame (zone 0)" : "zone \(e.zone)"
    }

    /// The camera's name with its serial, or the serial alone.
    public static func cameraLabel(_ e: CrowdEvent) -> String {
        if let name = e.cameraName, !name.isEmpty { return "\(name) (\(e.camera))" }
        return e.camera
    }

    /// `45 s`, `2 min`, `1 h 5 min`.
    public static func duration(milliseconds ms: Int64) -> String {
        let s = max(ms, 0) / 1000
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min" }
        let m = (s % 3600) / 60
        return m == 0 ? "\(s / 3600) h" : "\(s / 3600) h \(m) min"
    }

    /// `14:03:12 UTC` for camera epoch ms.
    public static func clockTime(_ ms: Int64, timeZone: TimeZone = .gmt) -> String {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = timeZone
        let d = cal.dateComponents([.hour, .minute, .second], from: Date(timeIntervalSince1970: Double(ms) / 1000))
        let zone = timeZone == .gmt ? "UTC" : (timeZone.abbreviation() ?? timeZone.identifier)
        return String(format: "%02d:%02d:%02d", d.hour ?? 0, d.minute ?? 0, d.second ?? 0) + " " + zone
    }

    /// ISO 8601 with milliseconds, UTC, for camera epoch ms (`2024-11-28T08:00:12.600Z`), computed
    /// in integers so a millisecond is never rounded away.
    public static func iso8601(_ ms: Int64) -> String {
        let t = CivilTime(epochMilliseconds: ms)
        func pad(_ v: Int64, _ n: Int) -> String {
            let s = String(v)
            return s.count >= n ? s : String(repeating: "0", count: n - s.count) + s
        }
        let date = "\(t.year < 0 ? "-" : "")\(pad(abs(t.year), 4))-\(pad(t.month, 2))-\(pad(t.day, 2))"
        return "\(date)T\(pad(t.hour, 2)):\(pad(t.minute, 2)):\(pad(t.second, 2)).\(pad(t.millisecond, 3))Z"
    }
}
