/// Filters and a page position for listing events, newest first (by `startedAt`, then id).
public struct EventQuery: Hashable, Sendable {
    /// Only these cameras (serials); empty means all.
    public var cameras: Set<String>
    /// Only these zone ids; empty means all.
    public var zones: Set<String>
    /// Only events that started at or after this camera time (epoch ms).
    public var startedFrom: Int64?
    /// Only events that started before this camera time (epoch ms).
    public var startedBefore: Int64?
    /// Maximum number of events to return (clamped to 1...1000 by stores).
    public var limit: Int
    /// Continue after this position (from a previous ``EventPage/nextCursor``).
    public var cursor: EventCursor?

    public init(
        cameras: Set<String> = [], zones: Set<String> = [], startedFrom: Int64? = nil,
        startedBefore: Int64? = nil, limit: Int = 50, cursor: EventCursor? = nil
    ) {
        self.cameras = cameras
        self.zones = zones
        self.startedFrom = startedFrom
        self.startedBefore = startedBefore
        self.limit = limit
        self.cursor = cursor
    }

    /// Whether `event` passes the filters (not the cursor).
    public func matches(_ event: CrowdEvent) -> Bool {
        if !cameras.isEmpty && !cameras.contains(event.camera) { return false }
        if !zones.isEmpty && !zones.contains(event.zone) { return false }
        if let f = startedFrom, event.startedAt < f { return false }
        if let b = startedBefore, event.startedAt >= b { return false }
        return true
    }

    /// The limit stores apply.
    public var effectiveLimit: Int { min(max(limit, 1), 1000) }
}

/// A keyset position in the newest-first order: the last event of a page.
public struct EventCursor: Hashable, Sendable, Codable {
    public var startedAt: Int64
    public var id: CrowdEventID

    public init(startedAt: Int64, id: CrowdEventID) {
        self.startedAt = startedAt
        self.id = id
    }

    /// Whether `event` comes after this position in newest-first order.
    public func precedes(_ event: CrowdEvent) -> Bool {
        event.startedAt < startedAt || (event.startedAt == startedAt && event.id < id)
    }

    /// Opaque text form for URLs: `<startedAt>.<id>`.
    public var token: String { "\(startedAt).\(id.rawValue)" }

    /// Parses ``token``; `nil` when malformed.
    public init?(token: String) {
        let parts = token.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, let ts = Int64(parts[0]), !parts[1].isEmpty,
            parts[1].allSatisfy({ $0.isHexDigit })
        else { return nil }
        self.startedAt = ts
        self.id = CrowdEventID(rawValue: String(parts[1]))
    }
}

/// An event with the delivery records of its notifications.
public struct EventRecord: Hashable, Sendable {
    public var event: CrowdEvent
    public var deliveries: [Delivery]

    public init(event: CrowdEvent, deliveries: [Delivery]) {
        self.event = event
        self.deliveries = deliveries
    }
}

/// One page of events.
public struct EventPage: Hashable, Sendable {
    public var records: [EventRecord]
    /// Where the next page starts; `nil` on the last page.
    public var nextCursor: EventCursor?

    public init(records: [EventRecord], nextCursor: EventCursor?) {
        self.records = records
        self.nextCursor = nextCursor
    }
}
