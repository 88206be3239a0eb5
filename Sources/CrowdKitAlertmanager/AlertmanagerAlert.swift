import CrowdKitCore
import Foundation

/// One alert as Alertmanager's `POST /api/v2/alerts` takes it (a list of these is the body).
///
/// ```json
/// {"labels": {"alertname": "CrowdDetected", "camera": "Q2GV-ABCD-1234", "zone": "0",
///             "camera_name": "Lobby", "zone_name": "Entrance"},
///  "annotations": {"summary": "...", "video_url": "...", "snapshot_url": "..."},
///  "startsAt": "2026-12-02T09:00:00.000Z", "endsAt": "2026-12-02T09:04:00.000Z",
///  "generatorURL": "http://host:5001/?camera=...&zone=...&from=...&to=..."}
/// ```
///
/// Labels identify the alert in Alertmanager; names unknown when the alert is first posted are
/// the serial and the zone id. Annotations without a value (no video link yet) are left out.
public struct AlertmanagerAlert: Sendable, Hashable, Codable {
    public var labels: [String: String]
    public var annotations: [String: String]
    public var startsAt: String
    public var endsAt: String?
    public var generatorURL: String?

    public init(labels: [String: String], annotations: [String: String], startsAt: String, endsAt: String?, generatorURL: String?) {
        self.labels = labels
        self.annotations = annotations
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.generatorURL = generatorURL
    }

    /// The alert name of every crowd alert.
    public static let alertName = "CrowdDetected"

    /// The alert for `event`: resolved (`endsAt` = the end) when the crowd has ended, otherwise
    /// firing with `endsAt` = `openUntil` (host epoch milliseconds).
    public init(event: CrowdEvent, openUntil: Int64, pageURL: URL?) {
        labels = Self.labels(for: event)
        var annotations = ["summary": Self.summary(for: event)]
        if let v = event.videoURL, !v.isEmpty { annotations["video_url"] = v }
        if let s = event.snapshotURL, !s.isEmpty { annotations["snapshot_url"] = s }
        self.annotations = annotations
        startsAt = TextFormat.iso8601(event.startedAt)
        endsAt = TextFormat.iso8601(event.endedAt ?? max(openUntil, event.startedAt + 1))
        generatorURL = pageURL.flatMap { Self.eventLink(event, pageURL: $0) }
    }

    /// `alertname`, `camera`, `zone`, `camera_name`, `zone_name`.
    public static func labels(for event: CrowdEvent) -> [String: String] {
        [
            "alertname": alertName, "camera": event.camera, "zone": event.zone,
            "camera_name": nonEmpty(event.cameraName) ?? event.camera, "zone_name": nonEmpty(event.zoneName) ?? event.zone,
        ]
    }

    /// One line: who, where, how many, how long.
    public static func summary(for event: CrowdEvent) -> String {
        let place = "\(nonEmpty(event.cameraName) ?? event.camera) / \(nonEmpty(event.zoneName) ?? "zone \(event.zone)")"
        if let ended = event.endedAt {
            return "Crowd ended at \(place) after \(TextFormat.duration(milliseconds: ended - event.startedAt)) (peak \(event.peak))"
        }
        return "Crowd of \(event.firedCount ?? event.lastCount) at \(place) since \(TextFormat.readableUTC(event.startedAt)) (peak \(event.peak))"
    }

    /// The page filtered to the event's zone and start (`/?camera=..&zone=..&from=..&to=..`).
    public static func eventLink(_ event: CrowdEvent, pageURL: URL) -> String? {
        guard var components = URLComponents(url: pageURL, resolvingAgainstBaseURL: false) else { return nil }
        if components.path.isEmpty { components.path = "/" }
        components.queryItems = [
            URLQueryItem(name: "camera", value: event.camera), URLQueryItem(name: "zone", value: event.zone),
            URLQueryItem(name: "from", value: "\(event.startedAt)"), URLQueryItem(name: "to", value: "\(event.startedAt + 1)"),
        ]
        return components.url?.absoluteString
    }

    private static func nonEmpty(_ s: String?) -> String? {
        guard let s, !s.isEmpty else { return nil }
        return s
    }
}
