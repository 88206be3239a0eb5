/// Adds to an event what needs a network call: camera and zone names, the video link at the
/// start of the crowd, a snapshot (`CrowdKitMeraki.MerakiEnricher`).
///
/// ## Implementation requirements
/// - Never fails: what cannot be fetched is left `nil` and explained in
///   ``CrowdEvent/enrichmentNotes`` so the notification still goes out and says so.
/// - Bounded in time (its own timeouts), safe to call concurrently for different events.
/// - Idempotent: enriching an enriched event keeps what it has (do not fetch a new snapshot when
///   ``CrowdEvent/snapshotURL`` is set).
/// - Never puts a secret (API key) into the event.
public protocol EventEnricher: Sendable {
    func enrich(_ event: CrowdEvent) async -> CrowdEvent
}

/// An enricher that changes nothing.
public struct NoEnrichment: EventEnricher {
    public init() {}
    public func enrich(_ event: CrowdEvent) async -> CrowdEvent { event }
}
