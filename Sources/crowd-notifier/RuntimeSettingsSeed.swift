import CrowdKitCore

/// The run-time settings the configuration gives at the very first start (SEMANTICS.md §7):
/// the policy's defaults and overrides, by their configuration names. After that the stored
/// settings win (`PUT /api/settings`).
enum RuntimeSettingsSeed {
    static func settings(for detection: AppSettings.Detection) -> RuntimeSettings {
        switch detection.policy {
        case let p as DwellPolicy:
            return RuntimeSettings(defaults: parameters(p.defaults), overrides: selectors(p.overrides.mapValues(parameters)))
        case let p as MessageCountPolicy:
            return RuntimeSettings(defaults: parameters(p.defaults), overrides: selectors(p.overrides.mapValues(parameters)))
        default:
            return RuntimeSettings()
        }
    }

    static func parameters(_ p: DwellParameters) -> ParameterSet {
        var set = ParameterSet([
            .minPeople: Double(p.minPeople), .dwellSeconds: p.dwell.secondsValue, .gapSeconds: p.gap.secondsValue,
            .cooldownSeconds: p.cooldown.secondsValue, .staleSeconds: p.stale.secondsValue,
        ])
        if let r = p.repeatEvery { set[.repeatSeconds] = r.secondsValue }
        return set
    }

    static func parameters(_ p: MessageCountParameters) -> ParameterSet {
        ParameterSet([
            .armPeople: Double(p.armPeople), .iterateCount: Double(p.iterateCount), .triggerPeople: Double(p.triggerPeople),
            .timeoutCount: Double(p.timeoutCount), .pauseSeconds: p.pause.secondsValue,
        ])
    }

    /// Overrides keyed `<camera>/<zone>` or `<camera>/*` (zone `*`); area overrides stay in the
    /// configuration.
    static func selectors(_ overrides: [ZoneKey: ParameterSet]) -> [ZoneSelector: ParameterSet] {
        var out: [ZoneSelector: ParameterSet] = [:]
        for (key, set) in overrides where key.camera != AreaDefinition.camera {
            out[key.zone == "*" ? .camera(key.camera) : .zone(key)] = set
        }
        return out
    }
}
