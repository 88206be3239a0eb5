import CrowdKitCore
import Logging
import Synchronization

/// The live MV Sense feed from an MQTT broker, as a ``MessageSource``.
///
/// Subscribes to `/merakimv/#` (or the configured filters) and yields every message as
/// ``SourceMessage/raw(_:)``; decoding and counting malformed payloads is the engine's job.
/// ``status`` shows the connection state, the last message time, received and dropped counts,
/// reconnections and the last error.
///
/// ``messages()`` makes the first connection and throws an ``MQTTError`` if it fails; afterwards
/// outages are retried forever. The feed has one consumer; it ends when that task is cancelled or
/// at ``shutdown()``.
public final class MQTTMessageSource: MessageSource {
    public struct Configuration: Sendable {
        /// The broker connection.
        public var mqtt: MQTTClient.Configuration
        /// Topic filters to subscribe to. MV Sense topics start with a slash: `/merakimv/#` and
        /// `merakimv/#` are different filters.
        public var topics: [String]
        /// Subscription QoS.
        public var qos: MQTTClient.QoS

        public init(mqtt: MQTTClient.Configuration = .init(), topics: [String] = ["/merakimv/#"], qos: MQTTClient.QoS = .atMostOnce) {
            self.mqtt = mqtt
            self.topics = topics
            self.qos = qos
        }
    }

    public let configuration: Configuration
    /// The underlying client (for publishing or its own status).
    public let client: MQTTClient
    private let consuming = Atomic<Bool>(false)
    private let taken = Counter()

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }
    private let connected = Atomic<Bool>(false)
    /// The topic filters subscribed now (``Configuration/topics`` until ``follow(topics:)``).
    private let subscribed: Mutex<[String]>
    /// One ``follow(topics:)`` at a time.
    private let following = Mutex(false)

    public init(configuration: Configuration, logger: Logger) throws(MQTTError) {
        self.configuration = configuration
        self.subscribed = Mutex(configuration.topics)
        self.client = try MQTTClient(configuration: configuration.mqtt, logger: logger)
    }

    /// The topic filters subscribed now.
    public var topics: [String] { subscribed.withLock { $0 } }

    /// Changes the subscriptions to `topics` (several instances: the cameras this one owns):
    /// the new filters are subscribed first (the SUBACK awaited), then the ones no longer wanted
    /// are unsubscribed, so no message of a camera kept or gained is missed in between (one may
    /// come twice, through both). Kept across reconnections. Calls made at once run one after
    /// the other.
    public func follow(topics: [String]) async throws {
        try await exclusively {
            let old = subscribed.withLock { $0 }
            let had = Set(old)
            let wanted = Set(topics)
            let added = topics.filter { !had.contains($0) }
            let removed = old.filter { !wanted.contains($0) }
            if !added.isEmpty { try await client.subscribe(added, qos: configuration.qos) }
            subscribed.withLock { $0 = old.filter { wanted.contains($0) } + added }
            try client.unsubscribe(removed)
        }
    }

    /// Runs `body` alone among the subscription changes (``follow(topics:)``, the first
    /// ``connect()``).
    private func exclusively(_ body: () async throws -> Void) async throws {
        while !following.withLock({ f in
            defer { f = true }
            return !f
        }) {
            try await Task.sleep(for: .milliseconds(10))
        }
        defer { following.withLock { $0 = false } }
        try await body()
    }

    /// Makes the first connection and subscription without consuming yet (so an app can fail
    /// fast before it starts its services). ``messages()`` calls it when needed.
    /// Calling it again after success does nothing; after a failure it throws the same error.
    public func connect() async throws {
        if connected.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
            // before connecting: recorded, then sent with the CONNECT's acknowledgement awaited
            // what ``follow(topics:)`` made of them if it came first
            try await exclusively { try await client.subscribe(topics, qos: configuration.qos) }
        }
        try await client.connect()
    }

    public func messages() async throws -> Messages {
        try await startConsuming()
        return Messages(base: client.messages, taken: taken)
    }

    /// Claims the feed's one consumer, then connects.
    private func startConsuming() async throws {
        guard consuming.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            throw MQTTError(.alreadyConsuming, broker: configuration.mqtt.broker, reason: "")
        }
        try await connect()
    }

    public var status: SourceStatus { client.status }

    /// The feed a batch at a time, straight from the client's buffer (what ``CrowdMonitor``
    /// uses): connects like ``messages()``, and like it may be taken once.
    public func batchReader() async throws -> BatchReader? {
        try await startConsuming()
        return BatchReader(buffer: client.messages.buffer, taken: taken)
    }

    /// Reads the feed a ``RawMessageBatch`` at a time.
    public struct BatchReader: RawBatchReader {
        let buffer: MessageBuffer
        let taken: Counter

        public mutating func next(into batch: inout RawMessageBatch) async throws -> Bool {
            batch.removeAll(keepingCapacity: true)
            guard await buffer.drain(into: &batch) else { return false }
            taken.value.wrappingAdd(batch.count, ordering: .relaxed)
            return true
        }
    }

    /// Messages the consumer has taken from ``messages()`` or ``batchReader()`` so far (a batch
    /// counts when it is taken; ``CrowdMonitor/processedMessages`` counts what was processed).
    public var consumed: Int { taken.value.load(ordering: .relaxed) }

    /// Disconnects and ends the feed.
    public func shutdown() async {
        await client.shutdown()
    }

    /// The feed: each ``MQTTMessage`` as a ``SourceMessage/raw(_:)``.
    public struct Messages: AsyncSequence, Sendable {
        public typealias Element = SourceMessage
        public typealias Failure = Never

        let base: MQTTMessages
        let taken: Counter

        public func makeAsyncIterator() -> Iterator { Iterator(base: base.makeAsyncIterator(), taken: taken) }

        public struct Iterator: AsyncIteratorProtocol {
            public typealias Element = SourceMessage
            public typealias Failure = Never

            var base: MQTTMessages.Iterator
            let taken: Counter

            public mutating func next() async -> SourceMessage? {
                guard let m = await base.next() else { return nil }
                taken.value.wrappingAdd(1, ordering: .relaxed)
                return .raw(RawMessage(topic: m.topic, payload: m.payload, receivedAt: m.receivedAt))
            }

            public mutating func next(isolation actor: isolated (any Actor)?) async -> SourceMessage? {
                guard let m = await base.next(isolation: actor) else { return nil }
                taken.value.wrappingAdd(1, ordering: .relaxed)
                return .raw(RawMessage(topic: m.topic, payload: m.payload, receivedAt: m.receivedAt))
            }
        }
    }
}
