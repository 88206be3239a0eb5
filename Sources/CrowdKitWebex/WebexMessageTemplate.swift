import CrowdKitCore
import Foundation

/// Turns a notification into Webex markdown and text with `{placeholder}` templates, one pair
/// per ``CrowdKitCore/NotificationKind``.
///
/// Placeholders:
/// - `{count}` people in the latest reading (the peak when the crowd has ended since),
///   `{peak}` the episode's peak;
/// - `{zone}` the zone label (zone `"0"` is "Full Frame"; the id when no label is known), `{zoneId}`;
/// - `{camera}` the camera name, or its serial when no name is known; `{serial}`;
///   `{cameraAndSerial}` "Front Desk, Q2GV-ABCD-1234" (or the serial alone);
/// - `{duration}` e.g. "2 min" (until firing, the reminder, or the end), `{since}` start time of day, `{until}` end time of day (or "now");
/// - `{video}` " — [video](url)" in markdown and " — video: url" in text, empty when unknown;
///   `{videoURL}`, `{visionURL}`, `{snapshotURL}` (empty when unknown);
/// - `{notes}` a line saying what could not be fetched, empty when everything was;
/// - `{reminder}` the reminder number; `{eventId}`;
/// - `{late}` " _(raised 14 min ago)_" in markdown and " (raised 14 min ago)" in text when the
///   notification goes out a minute or more after it was raised (an outage), empty otherwise.
public struct WebexMessageTemplate: Sendable, Hashable {
    public struct Pair: Sendable, Hashable {
        public var markdown: String
        public var text: String
        public init(markdown: String, text: String) {
            self.markdown = markdown
            self.text = text
        }
    }

    public var fired: Pair
    public var reminder: Pair
    public var ended: Pair
    /// Time zone of `{since}` and `{until}` (the camera timestamps are UTC instants).
    public var timeZone: TimeZone

    public init(fired: Pair, reminder: Pair, ended: Pair, timeZone: TimeZone = .current) {
        self.fired = fired
        self.reminder = reminder
        self.ended = ended
        self.timeZone = timeZone
    }

    /// "**Crowd detected**: 7 people in *Lobby* (camera *Front Desk*) for 2 min since 14:03:12 — [video](url)"
    public static let standard = WebexMessageTemplate(
        fired: Pair(
            markdown: "**Crowd detected**: {count} people in *{zone}* (camera *{camera}*) for {duration} since {since}{video}{late}{notes}",
            text: "Crowd detected: {count} people in {zone} (camera {cameraAndSerial}) for {duration} since {since}{video}{late}{notes}"),
        reminder: Pair(
            markdown: "**Crowd still there** (reminder {reminder}): {count} people in *{zone}* (camera *{camera}*) for {duration} since {since}{video}{late}{notes}",
            text: "Crowd still there (reminder {reminder}): {count} people in {zone} (camera {cameraAndSerial}) for {duration} since {since}{video}{late}{notes}"),
        ended: Pair(
            markdown: "**Crowd ended**: *{zone}* (camera *{camera}*) had up to {peak} people for {duration}, {since}–{until}{video}{late}{notes}",
            text: "Crowd ended: {zone} (camera {cameraAndSerial}) had up to {peak} people for {duration}, {since}-{until}{video}{late}{notes}"))

    /// The message for `notification` (without file).
    public func render(_ notification: CrowdNotification) -> WebexMessage {
        let pair: Pair
        switch notification.kind {
        case .fired: pair = fired
        case .reminder: pair = reminder
        case .ended: pair = ended
        }
        let values = Self.values(notification, timeZone: timeZone)
        return WebexMessage(
            markdown: Self.fill(pair.markdown, values, markdown: true),
            text: Self.fill(pair.text, values, markdown: false))
    }

    static func values(_ n: CrowdNotification, timeZone: TimeZone) -> [String: (markdown: String, text: String)] {
        let e = n.event
        func same(_ s: String) -> (markdown: String, text: String) { (s, s) }
        let zone = e.zoneName ?? (e.zone == "0" ? "Full Frame" : e.zone)
        let camera = e.cameraName ?? e.camera
        let cameraAndSerial = e.cameraName.map { "\($0), \(e.camera)" } ?? e.camera
        var video = ("", "")
        if let url = e.videoURL, !url.isEmpty { video = (" — [video](\(url))", " — video: \(url)") }
        var notes = ("", "")
        if !e.enrichmentNotes.isEmpty {
            let joined = e.enrichmentNotes.joined(separator: "; ")
            notes = ("\n\n_Not available: \(joined)_", "\nNot available: \(joined)")
        }
        return [
            "count": same(String(e.count(for: n.kind))),
            "peak": same(String(e.peak)),
            "zone": (escape(zone), zone),
            "zoneId": same(e.zone),
            "camera": (escape(camera), camera),
            "serial": same(e.camera),
            "cameraAndSerial": (escape(cameraAndSerial), cameraAndSerial),
            "duration": same(TextFormat.duration(milliseconds: e.durationMilliseconds(for: n.kind))),
            "since": same(TextFormat.clockTime(e.startedAt, timeZone: timeZone)),
            "until": same(e.endedAt.map { TextFormat.clockTime($0, timeZone: timeZone) } ?? "now"),
            "video": video,
            "videoURL": same(e.videoURL ?? ""),
            "visionURL": same(e.visionURL ?? ""),
            "snapshotURL": same(e.snapshotURL ?? ""),
            "notes": notes,
            "reminder": same(String(n.sequence)),
            "eventId": same(e.id.rawValue),
            "late": n.lateNote.map { (" _(\($0))_", " (\($0))") } ?? ("", ""),
        ]
    }

    static func fill(_ template: String, _ values: [String: (markdown: String, text: String)], markdown: Bool) -> String {
        var out = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let after = rest[rest.index(after: open)...]
            if let close = after.firstIndex(of: "}"), let value = values[String(after[..<close])] {
                out += markdown ? value.markdown : value.text
                rest = after[after.index(after: close)...]
            } else {
                out += "{"
                rest = after
            }
        }
        out += rest
        return out
    }

    /// Escapes the characters that would change markdown emphasis in names.
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            if "*_`[]".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
