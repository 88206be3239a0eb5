/// One zone count reading from a camera (SEMANTICS.md §1).
///
/// All detection time is camera time: ``ts`` is the `ts` field of the MV Sense payload, in epoch
/// milliseconds. The host clock is never mixed in.
public struct Observation: Hashable, Sendable, Codable {
    /// The camera serial.
    public var camera: String
    /// The zone id (`"0"` is the full frame).
    public var zone: String
    /// The camera's timestamp, epoch milliseconds.
    public var ts: Int64
    /// `counts.person`; 0 when the payload does not carry it.
    public var people: Int
    /// `counts.vehicle`; 0 when the payload does not carry it. Kept, not used by the built-in policies.
    public var vehicles: Int

    public init(camera: String, zone: String, ts: Int64, people: Int, vehicles: Int = 0) {
        self.camera = camera
        self.zone = zone
        self.ts = ts
        self.people = people
        self.vehicles = vehicles
    }

    /// The zone this observation belongs to.
    public var key: ZoneKey { ZoneKey(camera: camera, zone: zone) }
}

/// A raw MQTT-style message: a topic and its payload bytes, as received.
public struct RawMessage: Sendable, Hashable {
    /// The topic, e.g. `/merakimv/Q2GV-ABCD-1234/0`.
    public var topic: String
    /// The raw payload bytes.
    public var payload: [UInt8]
    /// When the receiving host got the message, epoch milliseconds (informational only: detection
    /// never uses it).
    public var receivedAt: Int64?

    public init(topic: String, payload: [UInt8], receivedAt: Int64? = nil) {
        self.topic = topic
        self.payload = payload
        self.receivedAt = receivedAt
    }

    public init(topic: String, payload: String, receivedAt: Int64? = nil) {
        self.init(topic: topic, payload: Array(payload.utf8), receivedAt: receivedAt)
    }
}

/// What a ``MessageSource`` produces: either a raw message that still needs decoding, or an
/// observation that a source already decoded (a simulator, a custom integration).
public enum SourceMessage: Sendable, Hashable {
    case raw(RawMessage)
    case observation(Observation)
}
