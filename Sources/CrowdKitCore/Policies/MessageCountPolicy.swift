/// Parameters of the message-count policy (SEMANTICS.md §3), named after the original config.py.
public struct MessageCountParameters: Hashable, Sendable, Codable {
    /// `MOTION_ALERT_PEOPLE_COUNT_THRESHOLD`: a message with `people >= armPeople` arms the zone.
    public var armPeople: Int
    /// `MOTION_ALERT_ITERATE_COUNT`: minimum number of messages counted while armed.
    public var iterateCount: Int
    /// `MOTION_ALERT_TRIGGER_PEOPLE_COUNT`: minimum peak people count of the activity.
    public var triggerPeople: Int
    /// `TIMEOUT`: consecutive zero-people messages that end the activity.
    public var timeoutCount: Int
    /// `MOTION_PAUSE_TIME`: after an alert the zone ignores observations with `ts < alertTs + pause`.
    public var pause: Duration

    public init(
        armPeople: Int = 1, iterateCount: Int = 50, triggerPeople: Int = 1, timeoutCount: Int = 20,
        pause: Duration = .seconds(5)
    ) {
        self.armPeople = armPeople
        self.iterateCount = iterateCount
        self.triggerPeople = triggerPeople
        self.timeoutCount = timeoutCount
        self.pause = pause
    }

    public static let defaults = MessageCountParameters()

    /// Checks ranges; the error names the config key and the accepted form.
    public func validate() throws(ConfigurationError) {
        if armPeople < 1 { throw .invalid(key: "detection.armPeople", expected: "an integer >= 1", got: "\(armPeople)") }
        if iterateCount < 0 {
            throw .invalid(key: "detection.iterateCount", expected: "an integer >= 0", got: "\(iterateCount)")
        }
        if triggerPeople < 0 {
            throw .invalid(key: "detection.triggerPeople", expected: "an integer >= 0", got: "\(triggerPeople)")
        }
        if timeoutCount < 1 {
            throw .invalid(key: "detection.timeoutCount", expected: "an integer >= 1", got: "\(timeoutCount)")
        }
        if pause < .zero {
            throw .invalid(key: "detection.pauseSeconds", expected: "a number of seconds >= 0", got: "\(pause.secondsValue)")
        }
    }
}

/// Compatibility with the original notifier's message counting, per zone (SEMANTICS.md §3).
/// Events fire when the activity ends, so they are complete (`endedAt == firedAt`) when created.
public struct MessageCountPolicy: DetectionPolicy {
    public var defaults: MessageCountParameters
    /// Per-zone parameters; zone `"*"` applies to every zone of that camera.
    public var overrides: [ZoneKey: MessageCountParameters]

    public init(_ defaults: MessageCountParameters = .defaults, overrides: [ZoneKey: MessageCountParameters] = [:]) {
        self.defaults = defaults
        self.overrides = overrides
    }

    public var name: String { "messageCount" }

    public func parameters(for zone: ZoneKey) -> MessageCountParameters {
        if overrides.isEmpty { return defaults }
        return overrides[zone] ?? overrides[ZoneKey(camera: zone.camera, zone: "*")] ?? defaults
    }

    public struct ZoneState: Sendable, Hashable {
        @usableFromInline var armPeople: Int
        @usableFromInline var iterateCount: Int
        @usableFromInline var triggerPeople: Int
        @usableFromInline var timeoutCount: Int
        @usableFromInline var pause: Int64
        @usableFromInline var lastTs: Int64 = .min
        @usableFromInline var armed = false
        @usableFromInline var armedAt: Int64 = 0
        @usableFromInline var messages = 0
        @usableFromInline var peak = 0
        @usableFromInline var zeros = 0
        @usableFromInline var pausedUntil: Int64 = .min
    }

    public func makeState(for zone: ZoneKey) -> ZoneState {
        let p = parameters(for: zone)
        return ZoneState(
            armPeople: p.armPeople, iterateCount: p.iterateCount, triggerPeople: p.triggerPeople,
            timeoutCount: p.timeoutCount, pause: p.pause.milliseconds)
    }

    /// Run-time settings: `armPeople`, `iterateCount`, `triggerPeople`, `timeoutCount`,
    /// `pauseSeconds` (SEMANTICS.md §7).
    public func applySettings(_ settings: ParameterSet, to z: inout ZoneState, for zone: ZoneKey) {
        let p = parameters(for: zone)
        z.armPeople = settings[.armPeople].map { Int($0) } ?? p.armPeople
        z.iterateCount = settings[.iterateCount].map { Int($0) } ?? p.iterateCount
        z.triggerPeople = settings[.triggerPeople].map { Int($0) } ?? p.triggerPeople
        z.timeoutCount = settings[.timeoutCount].map { Int($0) } ?? p.timeoutCount
        z.pause = settings[.pauseSeconds].map { Int64(($0 * 1000).rounded()) } ?? p.pause.milliseconds
    }

    @inlinable
    public func process(_ reading: ZoneReading, state z: inout ZoneState) -> Detection {
        let ts = reading.ts
        let people = reading.people
        if z.lastTs != .min && ts < z.lastTs { return Detection() }
        z.lastTs = ts
        // 1. paused
        if ts < z.pausedUntil { return Detection() }
        // 2. armed
        if z.armed {
            z.messages += 1
            if people > z.peak { z.peak = people }
            if people > 0 { z.zeros = 0 } else { z.zeros += 1 }
            if z.zeros >= z.timeoutCount {
                var result = Detection()
                if z.messages >= z.iterateCount && z.peak >= z.triggerPeople {
                    result.fired = EpisodeReport(
                        startedAt: z.armedAt, firedAt: ts, endedAt: ts, peak: z.peak, count: people, at: ts)
                    z.pausedUntil = ts &+ z.pause
                }
                z.armed = false
                z.messages = 0
                z.peak = 0
                z.zeros = 0
                return result
            }
            return Detection()
        }
        // 3. arm
        if people >= z.armPeople {
            z.armed = true
            z.armedAt = ts
            z.peak = people
        }
        return Detection()
    }

    /// Version 2: the armed run and the pause (parameters come from the configuration),
    /// compact: `lastTs` in 8 bytes, a flags byte (armed, which times differ from their initial
    /// value), those times as zigzag differences from `lastTs`, the counters as zigzag varints.
    /// Version 1 (fixed 8-byte fields) is still read.
    public func encodeState(_ z: ZoneState, into w: inout StateBytesWriter) -> Bool {
        w.write(UInt8(2))
        w.write(z.lastTs)
        let flags = UInt8((z.armed ? 1 : 0) | (z.armedAt != 0 ? 2 : 0) | (z.pausedUntil != .min ? 4 : 0))
        w.write(flags)
        if flags & 2 != 0 { w.write(time: z.armedAt, relativeTo: z.lastTs) }
        if flags & 4 != 0 { w.write(time: z.pausedUntil, relativeTo: z.lastTs) }
        w.write(zigzag: Int64(z.messages))
        w.write(zigzag: Int64(z.peak))
        w.write(zigzag: Int64(z.zeros))
        return true
    }

    public func decodeState(from r: inout StateBytesReader, for zone: ZoneKey) throws -> ZoneState {
        let version = try r.readUInt8()
        var z = makeState(for: zone)
        switch version {
        case 1:
            z.lastTs = try r.readInt64()
            z.armed = try r.readBool()
            z.armedAt = try r.readInt64()
            z.messages = try r.readInt()
            z.peak = try r.readInt()
            z.zeros = try r.readInt()
            z.pausedUntil = try r.readInt64()
        case 2:
            z.lastTs = try r.readInt64()
            let flags = try r.readUInt8()
            guard flags < 8 else { throw StateBytesError("message-count state flags \(flags)") }
            z.armed = flags & 1 != 0
            if flags & 2 != 0 { z.armedAt = try r.readTime(relativeTo: z.lastTs) }
            if flags & 4 != 0 { z.pausedUntil = try r.readTime(relativeTo: z.lastTs) }
            z.messages = try r.readZigzagInt()
            z.peak = try r.readZigzagInt()
            z.zeros = try r.readZigzagInt()
        default:
            throw StateBytesError("message-count state version \(version) is unknown")
        }
        return z
    }

    public func phase(of z: ZoneState) -> ZonePhase {
        if z.armed { return .pending(since: z.armedAt) }
        if z.pausedUntil != .min && z.lastTs < z.pausedUntil { return .paused(until: z.pausedUntil) }
        return .idle
    }

    public func description(for zone: ZoneKey) -> PolicyDescription {
        let p = parameters(for: zone)
        return PolicyDescription(
            name: name,
            parameters: [
                "armPeople": Double(p.armPeople), "iterateCount": Double(p.iterateCount),
                "triggerPeople": Double(p.triggerPeople), "timeoutCount": Double(p.timeoutCount),
                "pauseSeconds": p.pause.secondsValue,
            ])
    }
}
