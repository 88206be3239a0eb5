/// What an ``EventEnricher`` adds to a ``CrowdEvent`` (names, links, snapshot, notes), and the one
/// rule by which it is kept: **enrichment that an event does not carry is filled in from the other
/// version; what it carries stays.** Detection rewrites an event (a reminder, the end) without any
/// enrichment, so the stored enrichment survives it; an enricher's result only fills what the
/// stored event lacks. The notes go along only to an event without any enrichment at all.
///
/// Every place that merges enrichment uses this type: ``CrowdEvent/keepingEnrichment(of:)``
/// (``EventStore/apply(_:)``), ``CrowdEvent/addingEnrichment(of:)`` (``EventStore/enrich(_:)``),
/// and the ``DeliveryService``'s per-event cache. SQL stores generate their statements from
/// ``columns`` (see `CrowdKitSQLite`).
public struct EventEnrichment: Hashable, Sendable {
    public var cameraName: String?
    public var zoneName: String?
    public var videoURL: String?
    public var visionURL: String?
    public var snapshotURL: String?
    public var notes: [String]

    /// The enrichment `event` carries.
    public init(of event: CrowdEvent) {
        cameraName = event.cameraName
        zoneName = event.zoneName
        videoURL = event.videoURL
        visionURL = event.visionURL
        snapshotURL = event.snapshotURL
        notes = event.enrichmentNotes
    }

    /// The optional text fields, by their ``CrowdEvent`` property (and store column) names, in a
    /// fixed order; the notes are `enrichmentNotes`.
    public static let columns = ["cameraName", "zoneName", "videoURL", "visionURL", "snapshotURL"]

    /// Whether nothing is set (no names, links, snapshot or notes).
    public var isEmpty: Bool {
        cameraName == nil && zoneName == nil && videoURL == nil && visionURL == nil && snapshotURL == nil && notes.isEmpty
    }

    /// `event` with each field it lacks taken from this enrichment, and these notes when `event`
    /// has no enrichment at all.
    public func applied(to event: CrowdEvent) -> CrowdEvent {
        var e = event
        let own = EventEnrichment(of: event)
        e.cameraName = own.cameraName ?? cameraName
        e.zoneName = own.zoneName ?? zoneName
        e.videoURL = own.videoURL ?? videoURL
        e.visionURL = own.visionURL ?? visionURL
        e.snapshotURL = own.snapshotURL ?? snapshotURL
        if own.isEmpty { e.enrichmentNotes = notes }
        return e
    }
}

extension CrowdEvent {
    /// The enrichment this event carries.
    public var enrichment: EventEnrichment { EventEnrichment(of: self) }

    /// Whether an enricher has added anything (names, links, snapshot or notes).
    public var isEnriched: Bool { !enrichment.isEmpty }
}
