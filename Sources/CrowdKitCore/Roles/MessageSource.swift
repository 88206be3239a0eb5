import Foundation

/// Produces MV Sense messages or observations, as an `AsyncSequence` (live MQTT, a capture file, a
/// simulator, or your own integration).
///
/// ## Implementation requirements
/// - ``messages()`` returns the feed in arrival order. The sequence ends when the source is
///   exhausted (a capture file) or when the surrounding task is cancelled (a live feed); it
///   throws only when the source cannot go on at all (a file that cannot be read). A live source
///   rides out broker outages itself (reconnecting) and reports them through ``status``.
/// - Never block the thread that produces the messages on the consumer: buffer boundedly and count
///   what overflows in ``SourceStatus/dropped``.
/// - A source may support only one active consumer; calling ``messages()`` again may start over
///   (a file) or throw (a live connection that is already being consumed).
/// - Conforming types are `Sendable`: ``status`` may be read from any task while the feed runs.
public protocol MessageSource: Sendable {
    associatedtype Messages: AsyncSequence where Messages.Element == SourceMessage
    associatedtype BatchReader: RawBatchReader = NoBatchReader

    /// Starts the feed.
    func messages() async throws -> Messages

    /// Starts the feed a ``RawMessageBatch`` at a time, when the source can hand its raw
    /// messages over in batches without allocating per message (``CrowdMonitor`` then uses it
    /// instead of ``messages()``); `nil` (the default) when it cannot. The messages and their
    /// order are those of ``messages()``; a source is consumed one way or the other, not both.
    func batchReader() async throws -> BatchReader?

    /// The feed's health, for readiness checks and the live page. The default says `.unknown`.
    var status: SourceStatus { get }
}

extension MessageSource {
    public var status: SourceStatus { SourceStatus() }
}

/// The health of a ``MessageSource``.
public struct SourceStatus: Hashable, Sendable, Codable {
    public enum State: String, Hashable, Sendable, Codable {
        case unknown, connecting, connected, disconnected, finished
    }

    public var state: State
    /// A human description of the source (e.g. `mqtt://127.0.0.1:1883`), never a secret.
    public var description: String
    /// Host time the last message arrived, when one has.
    public var lastMessageAt: Date?
    /// Messages received so far.
    public var received: Int
    /// Messages lost because the consumer could not keep up (bounded buffer overflow).
    public var dropped: Int
    /// Reconnections made after the first connection.
    public var reconnects: Int
    /// The last connection error, in words.
    public var lastError: String?

    public init(
        state: State = .unknown, description: String = "", lastMessageAt: Date? = nil, received: Int = 0,
        dropped: Int = 0, reconnects: Int = 0, lastError: String? = nil
    ) {
        self.state = state
        self.description = description
        self.lastMessageAt = lastMessageAt
        self.received = received
        self.dropped = dropped
        self.reconnects = reconnects
        self.lastError = lastError
    }
}
