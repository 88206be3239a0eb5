import Foundation

/// Decides, per zone, when a crowd starts, is due for a notification, and ends.
///
/// A policy is a pure state machine: given one zone's state and one reading it updates the state
/// and says what happened. It performs no I/O and has no clock of its own: camera time arrives
/// with each reading (SEMANTICS.md). ``DwellPolicy`` and ``MessageCountPolicy`` are built in.
///
/// ## Implementation requirements
/// - Deterministic: the same readings in the same order give the same ``Detection``s, always.
/// - ``process(_:state:)`` is only called with readings of the zone the state was made for, in
///   non-decreasing `ts` order (the engine drops out-of-order readings before they reach a policy).
/// - It must be cheap: it runs once per message on the ingestion path. Keep `ZoneState` a small
///   value type; do not allocate per reading.
/// - An episode fires at most once; reminders and the end refer to the episode that fired.
/// - `CrowdKitTesting.DetectionPolicyConformance` checks these properties for any policy.
public protocol DetectionPolicy: Sendable {
    /// The state the policy keeps for one zone.
    associatedtype ZoneState: Sendable

    /// A short name for events and logs (`dwell`, `messageCount`).
    var name: String { get }

    /// The initial state of a zone seen for the first time. Per-zone parameter overrides are
    /// resolved here, once.
    func makeState(for zone: ZoneKey) -> ZoneState

    /// Feeds one reading of the zone and reports what happened.
    func process(_ reading: ZoneReading, state: inout ZoneState) -> Detection

    /// Where the zone stands, for the live page.
    func phase(of state: ZoneState) -> ZonePhase

    /// The parameters that apply to `zone`, recorded on its events.
    func description(for zone: ZoneKey) -> PolicyDescription

    /// Writes what `state` has learnt from readings (not the parameters, which come from the
    /// configuration again when the state is restored), so that a restart resumes the zone
    /// (SEMANTICS.md §7 "Persisted state"). Returns false when this policy's state cannot be
    /// saved: the default, unless `ZoneState` is `Codable` (then it is saved as JSON).
    /// Called for each zone that changed, about once a second: keep it cheap.
    func encodeState(_ state: ZoneState, into writer: inout StateBytesWriter) -> Bool

    /// The state that ``encodeState(_:into:)`` wrote, for `zone` with the parameters that apply
    /// now. Throws when the bytes cannot be read (the zone then starts fresh, and the log says so).
    func decodeState(from reader: inout StateBytesReader, for zone: ZoneKey) throws -> ZoneState

    /// Sets the parameters a zone's state works with before its next observation (run-time
    /// settings, SEMANTICS.md §7): each parameter `settings` holds replaces the policy's own
    /// (configured) value for `zone`, the others go back to it. The rest of the state (an open
    /// episode, a cool-down) is kept as it is. The default ignores run-time settings.
    func applySettings(_ settings: ParameterSet, to state: inout ZoneState, for zone: ZoneKey)
}

extension DetectionPolicy {
    public func applySettings(_ settings: ParameterSet, to state: inout ZoneState, for zone: ZoneKey) {}

    /// Not saved: a restart starts the policy's zones fresh.
    public func encodeState(_ state: ZoneState, into writer: inout StateBytesWriter) -> Bool { false }

    public func decodeState(from reader: inout StateBytesReader, for zone: ZoneKey) throws -> ZoneState {
        throw StateBytesError("policy \(name) does not save its zone state")
    }
}

extension DetectionPolicy where ZoneState: Codable {
    /// A `Codable` state is saved as JSON (parameters included, if the state holds them).
    public func encodeState(_ state: ZoneState, into writer: inout StateBytesWriter) -> Bool {
        guard let data = try? JSONEncoder().encode(state) else { return false }
        writer.write(bytes: data)
        return true
    }

    public func decodeState(from reader: inout StateBytesReader, for zone: ZoneKey) throws -> ZoneState {
        try JSONDecoder().decode(ZoneState.self, from: Data(try reader.readBytes()))
    }
}

/// One reading of one zone: the hot-path form of an ``Observation`` without the strings.
public struct ZoneReading: Hashable, Sendable {
    public var ts: Int64
    public var people: Int
    public var vehicles: Int

    @inlinable
    public init(ts: Int64, people: Int, vehicles: Int = 0) {
        self.ts = ts
        self.people = people
        self.vehicles = vehicles
    }
}

/// What one reading caused. Several things can happen at once: a fired episode can end (stale)
/// and a new one fire on the same reading, and the message-count policy fires already-ended
/// events. The engine applies them in the order ``ended``, ``fired``, ``reminder``.
public struct Detection: Hashable, Sendable {
    /// A fired episode that closed, with its final peak and `endedAt`.
    public var ended: EpisodeReport?
    /// An episode that fired on this reading (its `endedAt` may already be set).
    public var fired: EpisodeReport?
    /// A reminder became due for the open, fired episode.
    public var reminder: EpisodeReport?

    @inlinable
    public init(ended: EpisodeReport? = nil, fired: EpisodeReport? = nil, reminder: EpisodeReport? = nil) {
        self.ended = ended
        self.fired = fired
        self.reminder = reminder
    }

    /// Nothing happened.
    public static var none: Detection { Detection() }

    @inlinable @inline(__always)
    public var isEmpty: Bool { ended == nil && fired == nil && reminder == nil }
}

/// The facts about an episode that a detection reports.
public struct EpisodeReport: Hashable, Sendable {
    public var startedAt: Int64
    public var firedAt: Int64
    public var endedAt: Int64?
    public var peak: Int
    /// People count of the reading that caused the report.
    public var count: Int
    /// Camera time of the reading that caused the report.
    public var at: Int64
    /// Reminders due so far for this episode.
    public var reminders: Int

    @inlinable
    public init(startedAt: Int64, firedAt: Int64, endedAt: Int64?, peak: Int, count: Int, at: Int64, reminders: Int = 0) {
        self.startedAt = startedAt
        self.firedAt = firedAt
        self.endedAt = endedAt
        self.peak = peak
        self.count = count
        self.at = at
        self.reminders = reminders
    }
}

/// Where a zone stands, for the live page.
public enum ZonePhase: Hashable, Sendable, Codable {
    /// No crowd.
    case idle
    /// A possible crowd is building up since this camera time (dwell running, or armed).
    case pending(since: Int64)
    /// A crowd has been notified and is still there.
    case crowd(since: Int64, firedAt: Int64)
    /// After an alert the zone ignores readings until this camera time (message-count policy).
    case paused(until: Int64)

    /// `idle`, `pending`, `crowd` or `paused`.
    public var name: String {
        switch self {
        case .idle: "idle"
        case .pending: "pending"
        case .crowd: "crowd"
        case .paused: "paused"
        }
    }
}
