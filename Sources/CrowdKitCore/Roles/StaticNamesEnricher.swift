/// An ``EventEnricher`` with fixed camera names, zone labels and an optional video link builder:
/// for demos, tests, and sites that name their cameras in configuration.
public struct StaticNamesEnricher: EventEnricher {
    public var cameraNames: [String: String]
    public var zoneNames: [ZoneKey: String]
    /// Builds a video link for a camera at a camera time (ms), when there is one.
    public var videoLink: (@Sendable (_ camera: String, _ at: Int64) -> String?)?

    public init(
        cameraNames: [String: String], zoneNames: [ZoneKey: String],
        videoLink: (@Sendable (_ camera: String, _ at: Int64) -> String?)? = nil
    ) {
        self.cameraNames = cameraNames
        self.zoneNames = zoneNames
        self.videoLink = videoLink
    }

    public func enrich(_ event: CrowdEvent) async -> CrowdEvent {
        var e = event
        if e.cameraName == nil { e.cameraName = cameraNames[e.camera] }
        if e.zoneName == nil { e.zoneName = zoneNames[e.key] ?? (e.zone == "0" ? "Full Frame" : nil) }
        if e.videoURL == nil, let link = videoLink?(e.camera, e.startedAt) { e.videoURL = link }
        return e
    }
}
