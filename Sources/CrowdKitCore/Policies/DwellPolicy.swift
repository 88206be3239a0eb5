/// Parameters of the dwell policy (SEMANTICS.md §2).
public struct DwellParameters: Hashable, Sendable, Codable {
    /// N: a crowd is at least this many people (`people >= N`). Config `detection.minPeople`.
    public var minPeople: Int
    /// D: how long the crowd must last. Config `detection.dwellSeconds`.
    public var dwell: Duration
    /// G: a dip below N that lasts at most this long does not end the crowd. `detection.gapSeconds`.
    public var gap: Duration
    /// C: after a notification the zone does not fire again for this long. `detection.cooldownSeconds`.
    public var cooldown: Duration
    /// S: observations further apart than this mean the zone was not observed in between.
    /// `detection.staleSeconds`.
    public var stale: Duration
    /// R: while a fired crowd stays, remind every R (`nil`: no reminders). `detection.repeatSeconds`.
    public var repeatEvery: Duration?

    public init(
        minPeople: Int = 3, dwell: Duration = .seconds(60), gap: Duration = .seconds(5),
        cooldown: Duration = .seconds(300), stale: Duration = .seconds(30), repeatEvery: Duration? = nil
    ) {
        self.minPeople = minPeople
        self.dwell = dwell
        self.gap = gap
        self.cooldown = cooldown
        self.stale = stale
        self.repeatEvery = repeatEvery
    }

    /// The defaults of SEMANTICS.md §2.
    public static let defaults = DwellParameters()

    /// Checks ranges; the error names the config key and the accepted form.
    public func validate() throws(ConfigurationError) {
        guard minPeople >= 1 else { throw .invalid(key: "detection.minPeople", expected: "an integer >= 1", got: "\(minPeople)") }
        for (key, d) in [("detection.dwellSeconds", dwell), ("detection.gapSeconds", gap),
                         ("detection.cooldownSeconds", cooldown), ("detection.staleSeconds", stale)] where d < .zero {
            throw .invalid(key: key, expected: "a number of seconds >= 0", got: "\(d.secondsValue)")
        }
        if let r = repeatEvery, r <= .zero {
            throw .invalid(key: "detection.repeatSeconds", expected: "a number of seconds > 0", got: "\(r.secondsValue)")
        }
    }
}

/// The default policy: at least N people for at least D seconds, with gap, stale, cooldown and
/// optional reminders, exactly as SEMANTICS.md §2. Per-zone overrides are resolved when a zone is
/// first seen.
public struct DwellPolicy: DetectionPolicy {
    public var defaults: DwellParameters
    /// Per-zone parameters. A key with zone `"*"` applies to every zone of that camera; an exact
    /// key wins over it.
    public var overrides: [ZoneKey: DwellParameters]

    public init(_ defaults: DwellParameters = .defaults, overrides: [ZoneKey: DwellParameters] = [:]) {
        self.defaults = defaults
        self.overrides = overrides
    }

    public var name: String { "dwell" }

    /// The parameters that apply to `zone`.
    public func parameters(for zone: ZoneKey) -> DwellParameters {
        if overrides.isEmpty { return defaults }
        return overrides[zone] ?? overrides[ZoneKey(camera: zone.camera, zone: "*")] ?? defaults
    }

    public struct ZoneState: Sendable, Hashable {
        // resolved parameters, in milliseconds
        @usableFromInline var n: Int
        @usableFromInline var d: Int64
        @usableFromInline var g: Int64
        @usableFromInline var c: Int64
        @usableFromInline var s: Int64
        @usableFromInline var r: Int64  // <= 0: off
        // state
        @usableFromInline var lastTs: Int64 = .min
        @usableFromInline var lastFiredAt: Int64 = .min
        @usableFromInline var hasFired = false
        @usableFromInline var open = false
        @usableFromInline var fired = false
        @usableFromInline var start: Int64 = 0
        @usableFromInline var lastAbove: Int64 = 0
        @usableFromInline var peak = 0
        @usableFromInline var firedAt: Int64 = 0
        @usableFromInline var lastNotifiedAt: Int64 = 0
        @usableFromInline var reminders = 0
    }

    public func makeState(for zone: ZoneKey) -> ZoneState {
        let p = parameters(for: zone)
        return ZoneState(
            n: p.minPeople, d: p.dwell.milliseconds, g: p.gap.milliseconds, c: p.cooldown.milliseconds,
            s: p.stale.milliseconds, r: p.repeatEvery?.milliseconds ?? 0)
    }

    /// Run-time settings: `minPeople`, `dwellSeconds`, `gapSeconds`, `cooldownSeconds`,
    /// `staleSeconds`, `repeatSeconds` (SEMANTICS.md §7).
    public func applySettings(_ settings: ParameterSet, to z: inout ZoneState, for zone: ZoneKey) {
        let p = parameters(for: zone)
        func ms(_ parameter: SettingsParameter, _ configured: Int64) -> Int64 {
            settings[parameter].map { Int64(($0 * 1000).rounded()) } ?? configured
        }
        z.n = settings[.minPeople].map { Int($0) } ?? p.minPeople
        z.d = ms(.dwellSeconds, p.dwell.milliseconds)
        z.g = ms(.gapSeconds, p.gap.milliseconds)
        z.c = ms(.cooldownSeconds, p.cooldown.milliseconds)
        z.s = ms(.staleSeconds, p.stale.milliseconds)
        z.r = ms(.repeatSeconds, p.repeatEvery?.milliseconds ?? 0)
    }

    // always inlined: called once per observation, and a call returns the whole `Detection`
    // (three optional reports) through memory even when nothing happened
    @inlinable @inline(__always)
    public func process(_ reading: ZoneReading, state z: inout ZoneState) -> Detection {
        let ts = reading.ts
        let people = reading.people
        // 1. out of order
        if z.lastTs != .min && ts < z.lastTs { return Detection() }
        var result = Detection()
        // 2. stale
        if z.open && z.lastTs != .min && ts - z.lastTs > z.s {
            result.ended = Self.close(&z, people: people, at: ts)
        }
        // 3. / 4.
        if people >= z.n {
            if !z.open {
                z.open = true
                z.fired = false
                z.start = ts
                z.lastAbove = ts
                z.peak = people
                z.reminders = 0
            } else {
                z.lastAbove = ts
                if people > z.peak { z.peak = people }
            }
        } else if z.open && ts - z.lastAbove > z.g {
            if let e = Self.close(&z, people: people, at: ts) { result.ended = e }
        }
        // 5. fire / reminders
        if z.open && people >= z.n {
            if !z.fired {
                if z.lastAbove - z.start >= z.d && (!z.hasFired || ts - z.lastFiredAt >= z.c) {
                    z.fired = true
                    z.hasFired = true
                    z.lastFiredAt = ts
                    z.firedAt = ts
                    z.lastNotifiedAt = ts
                    result.fired = EpisodeReport(
                        startedAt: z.start, firedAt: ts, endedAt: nil, peak: z.peak, count: people, at: ts)
                }
            } else if z.r > 0 && ts - z.lastNotifiedAt >= z.r {
                z.lastNotifiedAt = ts
                z.reminders += 1
                result.reminder = EpisodeReport(
                    startedAt: z.start, firedAt: z.firedAt, endedAt: nil, peak: z.peak, count: people, at: ts,
                    reminders: z.reminders)
            }
        }
        // 6.
        z.lastTs = ts
        return result
    }

    /// Closes the open episode with `end = lastAbove`; reports it when it had fired.
    @inlinable
    static func close(_ z: inout ZoneState, people: Int, at ts: Int64) -> EpisodeReport? {
        z.open = false
        guard z.fired else { return nil }
        z.fired = false
        return EpisodeReport(
            startedAt: z.start, firedAt: z.firedAt, endedAt: z.lastAbove, peak: z.peak, count: people, at: ts,
            reminders: z.reminders)
    }

    /// Version 2: the episode and cool-down state (parameters come from the configuration),
    /// compact: `lastTs` in 8 bytes, a flags byte saying which times differ from their initial
    /// value, those times as zigzag differences from `lastTs`, then peak and reminders as zigzag
    /// varints. About 14 bytes for a zone without an episode. Version 1 (fixed 8-byte fields) is
    /// still read.
    public func encodeState(_ z: ZoneState, into writer: inout StateBytesWriter) -> Bool {
        // at most 1 + 8 + 1 + 5 times and 2 counts of 10 bytes
        writer.write(reserving: 80) { w in
            w.write(UInt8(2))
            w.write(z.lastTs)
            var times: UInt8 = 0
            if z.lastFiredAt != .min { times |= 1 }
            if z.start != 0 { times |= 2 }
            if z.lastAbove != 0 { times |= 4 }
            if z.firedAt != 0 { times |= 8 }
            if z.lastNotifiedAt != 0 { times |= 16 }
            w.write(UInt8((z.hasFired ? 1 : 0) | (z.open ? 2 : 0) | (z.fired ? 4 : 0)) | times << 3)
            if times & 1 != 0 { w.write(time: z.lastFiredAt, relativeTo: z.lastTs) }
            if times & 2 != 0 { w.write(time: z.start, relativeTo: z.lastTs) }
            if times & 4 != 0 { w.write(time: z.lastAbove, relativeTo: z.lastTs) }
            if times & 8 != 0 { w.write(time: z.firedAt, relativeTo: z.lastTs) }
            if times & 16 != 0 { w.write(time: z.lastNotifiedAt, relativeTo: z.lastTs) }
            w.write(zigzag: Int64(z.peak))
            w.write(zigzag: Int64(z.reminders))
        }
        return true
    }

    public func decodeState(from r: inout StateBytesReader, for zone: ZoneKey) throws -> ZoneState {
        let version = try r.readUInt8()
        var z = makeState(for: zone)
        switch version {
        case 1:
            z.lastTs = try r.readInt64()
            z.lastFiredAt = try r.readInt64()
            let flags = try r.readUInt8()
            guard flags < 8 else { throw StateBytesError("dwell state flags \(flags)") }
            z.hasFired = flags & 1 != 0
            z.open = flags & 2 != 0
            z.fired = flags & 4 != 0
            z.start = try r.readInt64()
            z.lastAbove = try r.readInt64()
            z.peak = try r.readInt()
            z.firedAt = try r.readInt64()
            z.lastNotifiedAt = try r.readInt64()
            z.reminders = try r.readInt()
        case 2:
            z.lastTs = try r.readInt64()
            let flags = try r.readUInt8()
            z.hasFired = flags & 1 != 0
            z.open = flags & 2 != 0
            z.fired = flags & 4 != 0
            let times = flags >> 3
            if times & 1 != 0 { z.lastFiredAt = try r.readTime(relativeTo: z.lastTs) }
            if times & 2 != 0 { z.start = try r.readTime(relativeTo: z.lastTs) }
            if times & 4 != 0 { z.lastAbove = try r.readTime(relativeTo: z.lastTs) }
            if times & 8 != 0 { z.firedAt = try r.readTime(relativeTo: z.lastTs) }
            if times & 16 != 0 { z.lastNotifiedAt = try r.readTime(relativeTo: z.lastTs) }
            z.peak = try r.readZigzagInt()
            z.reminders = try r.readZigzagInt()
        default:
            throw StateBytesError("dwell state version \(version) is unknown")
        }
        return z
    }

    public func phase(of z: ZoneState) -> ZonePhase {
        guard z.open else { return .idle }
        return z.fired ? .crowd(since: z.start, firedAt: z.firedAt) : .pending(since: z.start)
    }

    public func description(for zone: ZoneKey) -> PolicyDescription {
        let p = parameters(for: zone)
        var params: [String: Double] = [
            "minPeople": Double(p.minPeople), "dwellSeconds": p.dwell.secondsValue, "gapSeconds": p.gap.secondsValue,
            "cooldownSeconds": p.cooldown.secondsValue, "staleSeconds": p.stale.secondsValue,
        ]
        if let r = p.repeatEvery { params["repeatSeconds"] = r.secondsValue }
        return PolicyDescription(name: name, parameters: params)
    }
}
