import CrowdKitCore
import Logging

/// An MQTT client over libmosquitto: connect (TCP or TLS, username and password, MQTT 3.1.1 or
/// 5), subscribe, publish, and receive messages as an `AsyncSequence`.
///
/// ```swift
/// let client = try MQTTClient(configuration: .init(host: "broker.local"), logger: logger)
/// try await client.subscribe("/merakimv/#")
/// try await client.connect()
/// for await message in client.messages { ... }
/// await client.shutdown()
/// ```
///
/// - The first ``connect()`` reports failure (wrong host, refused connection, bad credentials, TLS
///   errors) as an ``MQTTError`` naming the broker and libmosquitto's reason. Once connected, the
///   client rides out outages by itself: it reconnects forever with capped exponential back-off
///   (``Configuration/reconnect``) and re-subscribes after every reconnection; ``status`` shows the
///   state, the reconnection count and the last error.
/// - libmosquitto's network thread only copies each message into a bounded buffer. While it is
///   full the thread stops reading for up to ``Configuration/bufferFullWait`` (the backlog waits
///   in the broker); what still does not fit is dropped and counted (``status``'s `dropped`).
/// - Call ``shutdown()`` when done; it sends DISCONNECT, stops the network thread and frees the
///   libmosquitto handle. A client connects once: make a new one to try again after a failure.
public final class MQTTClient: Sendable {
    public let configuration: Configuration
    let core: ClientCore

    /// Creates a client; nothing is sent until ``connect()``. Throws when libmosquitto rejects the
    /// configuration (unreadable CA file, bad port, ...).
    public init(configuration: Configuration, logger: Logger) throws(MQTTError) {
        self.configuration = configuration
        self.core = try ClientCore(configuration: configuration, logger: logger)
    }

    deinit {
        core.shutdownWithoutWaiting()
    }

    /// Connects, waits for the broker's CONNACK and for the acknowledgement of the subscriptions
    /// made so far. Throws an ``MQTTError`` when the first connection cannot be made (and the same
    /// error on later calls); returns at once when already connected.
    public func connect() async throws {
        try await core.connect()
    }

    /// Subscribes to topic filters, now if connected (waiting for the SUBACK) and again after
    /// every reconnection. Before ``connect()`` it only records them.
    public func subscribe(_ filters: [String], qos: QoS = .atMostOnce) async throws {
        try await core.subscribe(filters.map { ClientCore.Subscription(filter: $0, qos: qos.rawValue) })
    }

    /// Subscribes to one topic filter; see ``subscribe(_:qos:)-(String[],_)``.
    public func subscribe(_ filter: String, qos: QoS = .atMostOnce) async throws {
        try await subscribe([filter], qos: qos)
    }

    /// Ends subscriptions made with ``subscribe(_:qos:)-(String[],_)``: at once when connected
    /// (an UNSUBSCRIBE, not waited for) and for every later reconnection. Filters not subscribed
    /// are ignored.
    public func unsubscribe(_ filters: [String]) throws(MQTTError) {
        try core.unsubscribe(filters)
    }

    /// Queues one message for sending. Throws ``MQTTError/Code/notConnected`` during an outage.
    public func publish(topic: String, payload: [UInt8], qos: QoS = .atMostOnce, retain: Bool = false) throws(MQTTError) {
        try core.publish(topic: topic, payload: payload, qos: qos.rawValue, retain: retain)
    }

    /// Queues one message with a UTF-8 payload.
    public func publish(topic: String, payload: String, qos: QoS = .atMostOnce, retain: Bool = false) throws(MQTTError) {
        try publish(topic: topic, payload: Array(payload.utf8), qos: qos, retain: retain)
    }

    /// The received messages. One consumer only; it ends at ``shutdown()`` or when its task is
    /// cancelled.
    public var messages: MQTTMessages { MQTTMessages(buffer: core.buffer) }

    /// Connection state and counters (received, dropped, reconnections, last error). Safe from any
    /// task.
    public var status: SourceStatus { core.status }

    /// Whether libmosquitto's socket reads go through a buffer
    /// (``Configuration/bufferedReads``, plain TCP on Linux).
    public var bufferedReads: Bool { core.bufferedReads }

    /// Block reads made to fill that buffer so far: far fewer than the messages received when
    /// the feed is busy (diagnostics).
    public var bufferedReadCalls: UInt64 { core.bufferFills }

    /// Disconnects cleanly and frees libmosquitto's resources; the message sequence ends after
    /// what is buffered.
    public func shutdown() async {
        await core.shutdown()
    }
}
