/// A crowd event: one fired episode of one zone (SEMANTICS.md §4).
///
/// Created when a policy fires, updated by reminders and when the crowd ends, completed by an
/// ``EventEnricher`` with names, video link and snapshot. All times are camera epoch milliseconds.
public struct CrowdEvent: Hashable, Sendable, Codable, Identifiable {
    /// Stable id derived from `(camera, zone, startedAt)`.
    public var id: CrowdEventID
    /// Camera serial.
    public var camera: String
    /// Zone id.
    public var zone: String
    /// The camera's display name, when known (filled by an enricher).
    public var cameraName: String?
    /// The zone's label, when known (filled by an enricher).
    public var zoneName: String?
    /// Camera time the episode started.
    public var startedAt: Int64
    /// Camera time the policy fired.
    public var firedAt: Int64
    /// Camera time the crowd ended; `nil` while it is still there.
    public var endedAt: Int64?
    /// Highest people count seen in the episode so far.
    public var peak: Int
    /// The people count of the observation that fired, reminded or ended the event most recently.
    public var lastCount: Int
    /// The people count of the observation that fired the event (never changes afterwards, so a
    /// "crowd detected" message sent late still says how many were there). `nil` for events
    /// recorded before CrowdKit kept it.
    public var firedCount: Int?
    /// Camera time of the last notification-worthy moment (firing or latest reminder).
    public var lastNotifiedAt: Int64
    /// How many reminders were due while the crowd stayed.
    public var reminders: Int
    /// The policy and the parameters that applied to this zone.
    public var policy: PolicyDescription
    /// Link to the video at `startedAt` (Meraki videoLink `url`), when known.
    public var videoURL: String?
    /// Meraki Vision portal link (`visionUrl`), when known.
    public var visionURL: String?
    /// Snapshot image URL, when known.
    public var snapshotURL: String?
    /// What an enricher could not fetch, in words, so notifications can say so.
    public var enrichmentNotes: [String]

    public init(
        camera: String, zone: String, startedAt: Int64, firedAt: Int64, endedAt: Int64? = nil,
        peak: Int, lastCount: Int? = nil, policy: PolicyDescription,
        cameraName: String? = nil, zoneName: String? = nil
    ) {
        self.id = CrowdEventID(camera: camera, zone: zone, startedAt: startedAt)
        self.camera = camera
        self.zone = zone
        self.cameraName = cameraName
        self.zoneName = zoneName
        self.startedAt = startedAt
        self.firedAt = firedAt
        self.endedAt = endedAt
        self.peak = peak
        self.lastCount = lastCount ?? peak
        self.firedCount = lastCount ?? peak
        self.lastNotifiedAt = firedAt
        self.reminders = 0
        self.policy = policy
        self.videoURL = nil
        self.visionURL = nil
        self.snapshotURL = nil
        self.enrichmentNotes = []
    }

    /// This event with the enrichment of `stored` it lacks (``EventEnrichment``'s rule), and the
    /// firing count when it has none. What ``EventStore/apply(_:)`` stores.
    public func keepingEnrichment(of stored: CrowdEvent?) -> CrowdEvent {
        guard let stored else { return self }
        var e = stored.enrichment.applied(to: self)
        e.firedCount = firedCount ?? stored.firedCount
        return e
    }

    /// This event with what `enriched` adds (``EventEnrichment``'s rule). What
    /// ``EventStore/enrich(_:)`` stores.
    public func addingEnrichment(of enriched: CrowdEvent) -> CrowdEvent {
        enriched.enrichment.applied(to: self)
    }

    /// The zone this event belongs to.
    public var key: ZoneKey { ZoneKey(camera: camera, zone: zone) }

    /// Whether the crowd is still there.
    public var isOngoing: Bool { endedAt == nil }

    /// The people count to quote for a notification of `kind`: the firing count for `fired`, the
    /// latest count for reminders, the peak for `ended`.
    public func count(for kind: NotificationKind) -> Int {
        switch kind {
        case .fired: firedCount ?? lastCount
        case .reminder: lastCount
        case .ended: peak
        }
    }

    /// How long the crowd had lasted at the moment a notification of `kind` refers to, in ms.
    public func durationMilliseconds(for kind: NotificationKind) -> Int64 {
        switch kind {
        case .fired: firedAt - startedAt
        case .reminder: lastNotifiedAt - startedAt
        case .ended: durationMilliseconds
        }
    }

    /// Duration in milliseconds: to `endedAt`, or to `lastNotifiedAt` while ongoing.
    public var durationMilliseconds: Int64 { (endedAt ?? max(lastNotifiedAt, firedAt)) - startedAt }
}

/// The name and parameters of the detection policy that produced an event.
public struct PolicyDescription: Hashable, Sendable, Codable {
    /// `dwell`, `messageCount`, or a custom policy's name.
    public var name: String
    /// Parameter names (config keys without the `detection.` prefix) and values, e.g.
    /// `minPeople: 3`, `dwellSeconds: 60`.
    public var parameters: [String: Double]

    public init(name: String, parameters: [String: Double]) {
        self.name = name
        self.parameters = parameters
    }
}
