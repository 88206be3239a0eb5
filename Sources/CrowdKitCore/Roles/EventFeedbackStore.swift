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

    /// An entry as a store reads it back.
    public init(
        eventID: CrowdEventID, camera: String, zone: String, startedAt: Int64, endedAt: Int64?, kind: Kind, by: String, at: Int64
    ) {
        self.eventID = eventID
        self.camera = camera
        self.zone = zone
        self.startedAt = startedAt
        self.endedAt = endedAt
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

/// Keeps what people said about events (acknowledgements and labels) and which inbound actions
/// (Webex button presses) were handled.
///
/// ## Implementation requirements
/// - ``add(_:)`` keeps one entry per `(eventID, kind)`: the first; later ones change nothing.
/// - ``feedback(for:)-(CrowdEventID)``, ``feedback(for:)-([CrowdEventID])`` and ``all()`` return
///   entries in the order they were added.
/// - ``feedback(for:)-([CrowdEventID])`` answers for a whole page of events at once; a store
///   that can should do it in one query (the page and `GET /api/events` call it per request).
/// - ``claimAction(id:at:)`` returns `true` for the first claim of an id and `false` for every
///   later one: in the same process, after a restart, and (for a store several instances share)
///   from another instance. Two claims of one id at the same time: exactly one is `true`.
/// - Every method is safe to call from several tasks at once.
public protocol EventFeedbackStore: Sendable {
    /// Records `feedback`; returns `false` when the event already had feedback of that kind.
    @discardableResult
    func add(_ feedback: EventFeedback) async throws -> Bool
    /// The feedback on one event.
    func feedback(for id: CrowdEventID) async throws -> [EventFeedback]
    /// The feedback on each of `ids` (events without any are absent from the result).
    func feedback(for ids: [CrowdEventID]) async throws -> [CrowdEventID: [EventFeedback]]
    /// Every entry.
    func all() async throws -> [EventFeedback]
    /// Claims the inbound action `id` (a Webex attachment action id) at host time `at` (epoch
    /// ms): `true` the first time, `false` when it was claimed before, so that the same action
    /// delivered twice does one thing.
    func claimAction(id: String, at: Int64) async throws -> Bool
}

extension EventFeedbackStore {
    /// The labels as JSON Lines (SEMANTICS.md §9), one per labelled event, in the order added.
    public func labelLines() async throws -> String {
        try await all().filter(\.kind.isLabel).map { $0.labelLine + "\n" }.joined()
    }
}

extension Array where Element == EventFeedback {
    /// The acknowledgement among these entries, if any.
    public var acknowledgement: EventFeedback? { first { $0.kind == .acknowledged } }
    /// The labels among these entries, in the order added.
    public var labels: [EventFeedback] { filter(\.kind.isLabel) }
}

/// An ``EventFeedbackStore`` in memory (tests; what it keeps is lost at exit).
public final class InMemoryEventFeedbackStore: EventFeedbackStore {
    private let entries = LockedBox<(feedback: [EventFeedback], actions: Set<String>)>(([], []))

    public init() {}

    @discardableResult
    public func add(_ feedback: EventFeedback) async throws -> Bool {
        entries.withLock { entries in
            guard !entries.feedback.contains(where: { $0.eventID == feedback.eventID && $0.kind == feedback.kind }) else { return false }
            entries.feedback.append(feedback)
            return true
        }
    }

    public func feedback(for id: CrowdEventID) async throws -> [EventFeedback] {
        entries.withLock { $0.feedback.filter { $0.eventID == id } }
    }

    public func feedback(for ids: [CrowdEventID]) async throws -> [CrowdEventID: [EventFeedback]] {
        let wanted = Set(ids)
        return entries.withLock { Dictionary(grouping: $0.feedback.filter { wanted.contains($0.eventID) }, by: \.eventID) }
    }

    public func all() async throws -> [EventFeedback] { entries.withLock { $0.feedback } }

    public func claimAction(id: String, at: Int64) async throws -> Bool {
        entries.withLock { $0.actions.insert(id).inserted }
    }
}
