import CrowdKitCore

/// One message received from the broker, copied out of libmosquitto.
public struct MQTTMessage: Sendable, Hashable {
    /// The topic the message was published on.
    public var topic: String
    /// The payload bytes.
    public var payload: [UInt8]
    /// The QoS it was delivered with.
    public var qos: MQTTClient.QoS
    /// Whether the broker delivered it from its retained store.
    public var retain: Bool
    /// When this host received it, epoch milliseconds.
    public var receivedAt: Int64

    public init(topic: String, payload: [UInt8], qos: MQTTClient.QoS = .atMostOnce, retain: Bool = false, receivedAt: Int64) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.receivedAt = receivedAt
    }
}

extension MQTTMessage {
    /// Flag bits of a message in a ``RawMessageBatch``: QoS in bits 0 and 1, retain in bit 2.
    static func flags(qos: Int32, retain: Bool) -> UInt8 {
        UInt8(truncatingIfNeeded: qos & 3) | (retain ? 4 : 0)
    }

    init(_ batch: RawMessageBatch, at index: Int) {
        let raw = batch.message(at: index)
        let flags = batch.entries[index].flags
        self.init(
            topic: raw.topic, payload: raw.payload, qos: MQTTClient.QoS(rawValue: Int32(flags & 3)) ?? .atMostOnce,
            retain: flags & 4 != 0, receivedAt: raw.receivedAt ?? 0)
    }
}

/// The messages of one ``MQTTClient``, in arrival order, as an `AsyncSequence`.
///
/// The sequence is backed by a bounded buffer filled by libmosquitto's network thread, which never
/// waits for the consumer: what arrives while the buffer is full is dropped and counted in
/// ``MQTTClient/status``. The iterator takes everything buffered at once and hands it out without
/// further locking, so a fast consumer costs one lock per batch, not per message.
///
/// Only one iterator may consume a client's feed. The sequence ends when the client shuts down or
/// the consuming task is cancelled.
public struct MQTTMessages: AsyncSequence, Sendable {
    public typealias Element = MQTTMessage
    public typealias Failure = Never

    let buffer: MessageBuffer

    public func makeAsyncIterator() -> Iterator { Iterator(buffer: buffer) }

    public struct Iterator: AsyncIteratorProtocol {
        public typealias Element = MQTTMessage
        public typealias Failure = Never

        let buffer: MessageBuffer
        var batch = RawMessageBatch()
        var index = 0

        init(buffer: MessageBuffer) { self.buffer = buffer }

        public mutating func next() async -> MQTTMessage? {
            await next(isolation: nil)
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async -> MQTTMessage? {
            if index >= batch.count {
                batch.removeAll(keepingCapacity: true)
                index = 0
                guard await buffer.drain(into: &batch, isolation: actor) else { return nil }
            }
            defer { index += 1 }
            return MQTTMessage(batch, at: index)
        }
    }
}
