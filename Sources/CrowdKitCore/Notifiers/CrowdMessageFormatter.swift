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
        s += " for \(TextFormat.duration(milliseconds: e.durationMilliseconds(for: n.kind)))"
        s += " since \(TextFormat.clockTime(e.startedAt, timeZone: timeZone, zone: true))"
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
}
