/// A type-erased ``DetectionPolicy``, for choosing a policy at run time (from configuration) while
/// keeping generic code. Costs one dynamic dispatch per reading; use the concrete policy where the
/// last nanoseconds matter.
public struct AnyDetectionPolicy: DetectionPolicy {
    public struct ZoneState: Sendable {
        var box: any Sendable
    }

    private let _name: String
    private let _make: @Sendable (ZoneKey) -> ZoneState
    private let _process: @Sendable (ZoneReading, inout ZoneState) -> Detection
    private let _phase: @Sendable (ZoneState) -> ZonePhase
    private let _describe: @Sendable (ZoneKey) -> PolicyDescription
    private let _encode: @Sendable (ZoneState, inout StateBytesWriter) -> Bool
    private let _decode: @Sendable (inout StateBytesReader, ZoneKey) throws -> ZoneState
    private let _apply: @Sendable (ParameterSet, inout ZoneState, ZoneKey) -> Void

    public init<P: DetectionPolicy>(_ policy: P) {
        _name = policy.name
        _make = { ZoneState(box: policy.makeState(for: $0)) }
        _process = { reading, state in
            var s = state.box as! P.ZoneState
            let d = policy.process(reading, state: &s)
            state.box = s
            return d
        }
        _phase = { policy.phase(of: $0.box as! P.ZoneState) }
        _describe = { policy.description(for: $0) }
        _encode = { state, writer in policy.encodeState(state.box as! P.ZoneState, into: &writer) }
        _decode = { reader, zone in ZoneState(box: try policy.decodeState(from: &reader, for: zone)) }
        _apply = { settings, state, zone in
            var s = state.box as! P.ZoneState
            policy.applySettings(settings, to: &s, for: zone)
            state.box = s
        }
    }

    public var name: String { _name }
    public func makeState(for zone: ZoneKey) -> ZoneState { _make(zone) }
    public func process(_ reading: ZoneReading, state: inout ZoneState) -> Detection { _process(reading, &state) }
    public func phase(of state: ZoneState) -> ZonePhase { _phase(state) }
    public func description(for zone: ZoneKey) -> PolicyDescription { _describe(zone) }
    public func encodeState(_ state: ZoneState, into writer: inout StateBytesWriter) -> Bool { _encode(state, &writer) }
    public func decodeState(from reader: inout StateBytesReader, for zone: ZoneKey) throws -> ZoneState {
        try _decode(&reader, zone)
    }
    public func applySettings(_ settings: ParameterSet, to state: inout ZoneState, for zone: ZoneKey) { _apply(settings, &state, zone) }
}
