import Foundation

/// What someone said about an event: that they are on it (``Kind/acknowledged``) or that it was
/// or was not a crowd (a label, SEMANTICS.md §9).
public struct EventFeedback: Hashable, Sendable, Codable {
    public struct Kind: Hashable, Sendable, Codable, RawRepresentable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// Someone is handling the crowd.
        public static let acknowledged = Kind(rawValue: "acknowledged")
        /// Label: it was a crowd.
        public static let crowd = Kind(rawValue: "crowd")
        /// Label: it was not a crowd (tune the thresholds).
        public static let notCrowd = Kind(rawValue: "not_crowd")
        public var description: String { rawValue }
        /// Whether this is a label (exported by `GET /api/labels`).
        public var isLabel: Bool { self == .crowd || self == .notCrowd }
    }

    public var eventID: CrowdEventID
    public var camera: String
    public var zone: String
    /// The event's camera times (epoch ms); `endedAt` is `nil` for a crowd still there.
    public var startedAt: Int64
    public var endedAt: Int64?
    public var kind: Kind
    /// Who (a Webex user's e-mail, a token's name).
    public var by: String
    /// Host time, epoch ms.
    public var at: Int64

    public init(event: CrowdEvent, kind: Kind, by: String, at: Int64) {
        eventID = event.id
        camera = event.camera
        zone = event.zone
        startedAt = event.startedAt
        endedAt = event.endedAt
        self.kind = kind
        self.by = by
        self.at = at
    }

    /// The JSON Line of SEMANTICS.md §9: `{"camera","zone","startedAt","endedAt","label"}`.
    public var labelLine: String {
        "{\"camera\":\(TextFormat.json(camera)),\"zone\":\(TextFormat.json(zone)),\"startedAt\":\(startedAt),"
            + "\"endedAt\":\(endedAt.map(String.init) ?? "null"),\"label\":\(TextFormat.json(kind.rawValue))}"
    }
}

/// Keeps what people said about events (acknowledgements and labels).
///
/// ## Implementation requirements
/// - ``add(_:)`` keeps one entry per `(eventID, kind)`: the first; later ones change nothing.
/// - ``feedback(for:)`` and ``all()`` return entries in the order they were added.
public protocol EventFeedbackStore: Sendable {
    /// Records `feedback`; returns `false` when the event already had feedback of that kind.
    @discardableResult
    func add(_ feedback: EventFeedback) async throws -> Bool
    /// The feedback on one event.
    func feedback(for id: CrowdEventID) async throws -> [EventFeedback]
    /// Every entry.
    func all() async throws -> [EventFeedback]
}

extension EventFeedbackStore {
    /// The labels as JSON Lines (SEMANTICS.md §9), one per labelled event, in the order added.
    public func labelLines() async throws -> String {
        try await all().filter(\.kind.isLabel).map { $0.labelLine + "\n" }.joined()
    }
}

/// An ``EventFeedbackStore`` in memory (tests, and the app until a store keeps feedback).
public final class InMemoryEventFeedbackStore: EventFeedbackStore {
    private let entries = LockedBox<[EventFeedback]>([])

    public init() {}

    public func add(_ feedback: EventFeedback) async throws -> Bool {
        entries.withLock { entries in
            guard !entries.contains(where: { $0.eventID == feedback.eventID && $0.kind == feedback.kind }) else { return false }
            entries.append(feedback)
            return true
        }
    }

    public func feedback(for id: CrowdEventID) async throws -> [EventFeedback] {
        entries.withLock { $0.filter { $0.eventID == id } }
    }

    public func all() async throws -> [EventFeedback] { entries.withLock { $0 } }
}
