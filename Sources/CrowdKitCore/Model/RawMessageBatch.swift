/// Raw messages (topic and payload bytes) packed into one byte buffer: what a fast
/// ``MessageSource/batchReader()`` hands over at once, so that neither the producer nor the consumer
/// allocates per message.
///
/// Appending copies the bytes in; ``forEach(_:)`` lends them out as buffer pointers, valid only
/// inside the closure. `removeAll(keepingCapacity:)` makes a batch reusable without reallocating.
public struct RawMessageBatch: Sendable {
    /// Where one message's bytes are: the topic at `offset`, its payload right after it.
    public struct Entry: Sendable, Hashable {
        public var offset: Int
        public var topicLength: Int32
        public var payloadLength: Int32
        /// When the receiving host got the message, epoch milliseconds.
        public var receivedAt: Int64
        /// Bits the source defines (the MQTT source: QoS in bits 0 and 1, retain in bit 2).
        public var flags: UInt8
    }

    public private(set) var bytes: [UInt8] = []
    public private(set) var entries: [Entry] = []

    public init() {}

    /// The number of messages.
    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    /// Copies one message in.
    public mutating func append(
        topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, receivedAt: Int64, flags: UInt8 = 0
    ) {
        let offset = bytes.count
        bytes.append(contentsOf: topic)
        bytes.append(contentsOf: payload)
        entries.append(
            Entry(
                offset: offset, topicLength: Int32(truncatingIfNeeded: topic.count),
                payloadLength: Int32(truncatingIfNeeded: payload.count), receivedAt: receivedAt, flags: flags))
    }

    /// Copies one message in.
    public mutating func append(_ message: RawMessage, flags: UInt8 = 0) {
        var topic = message.topic
        topic.withUTF8 { t in
            message.payload.withUnsafeBytes { p in
                append(topic: UnsafeRawBufferPointer(t), payload: p, receivedAt: message.receivedAt ?? 0, flags: flags)
            }
        }
    }

    public mutating func removeAll(keepingCapacity: Bool = true) {
        bytes.removeAll(keepingCapacity: keepingCapacity)
        entries.removeAll(keepingCapacity: keepingCapacity)
    }

    /// Calls `body` with each message's topic and payload bytes, in order. The pointers are valid
    /// only during the call.
    @inlinable
    public func forEach(
        _ body: (_ topic: UnsafeRawBufferPointer, _ payload: UnsafeRawBufferPointer, _ entry: Entry) throws -> Void
    ) rethrows {
        try bytes.withUnsafeBytes { all in
            for e in entries {
                let topic = UnsafeRawBufferPointer(rebasing: all[e.offset..<(e.offset + Int(e.topicLength))])
                let start = e.offset + Int(e.topicLength)
                let payload = UnsafeRawBufferPointer(rebasing: all[start..<(start + Int(e.payloadLength))])
                try body(topic, payload, e)
            }
        }
    }

    /// Message `index` as a ``RawMessage`` (allocates; for consumers that want owned values).
    public func message(at index: Int) -> RawMessage {
        let e = entries[index]
        let topicEnd = e.offset + Int(e.topicLength)
        let topic = String(decoding: bytes[e.offset..<topicEnd], as: UTF8.self)
        let payload = Array(bytes[topicEnd..<(topicEnd + Int(e.payloadLength))])
        return RawMessage(topic: topic, payload: payload, receivedAt: e.receivedAt)
    }
}
