/// A person's judgement of an episode: a crowd, or not a crowd (SEMANTICS.md §9). Exported as
/// JSON Lines `{"camera","zone","startedAt","endedAt","label"}` and read by `backtest --labels`.
public struct CrowdLabel: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable {
        case crowd
        case notCrowd = "not_crowd"
    }

    public var camera: String
    public var zone: String
    public var startedAt: Int64
    /// `nil`: open (reaches the end of the capture when matched).
    public var endedAt: Int64?
    public var label: Kind

    public init(camera: String, zone: String, startedAt: Int64, endedAt: Int64?, label: Kind) {
        self.camera = camera
        self.zone = zone
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.label = label
    }

    /// Whether the closed intervals `[startedAt, endedAt]` overlap for the same camera and zone; an
    /// open end (label or event) reaches `end`.
    public func matches(_ event: CrowdEvent, end: Int64) -> Bool {
        guard event.camera == camera, event.zone == zone else { return false }
        let labelEnd = endedAt ?? end
        let eventEnd = event.endedAt ?? end
        return startedAt <= eventEnd && event.startedAt <= labelEnd
    }
}
