import Foundation

/// The live state of one area, for the page and `/api/areas`.
public struct AreaSnapshot: Hashable, Sendable, Codable {
    public var name: String
    public var objectType: ObjectType
    /// People (or vehicles) inside, from the crossings of its lines.
    public var occupancy: Int
    /// Camera time of the last crossing or heartbeat (nil before the first).
    public var lastTs: Int64?
    public var phase: ZonePhase
    /// The open event's id while a fired crowd is there.
    public var eventID: CrowdEventID?
    /// The area's lines, as configured (`<serial>/<boundaryId>[:reverse]`).
    public var lines: [String]
    /// The daily reset, `HH:MM` in `timeZone`, when set.
    public var resetDaily: String?
    public var timeZone: String?
}

/// Counters of line crossings (SEMANTICS.md §8).
public struct CrossingCounters: Hashable, Sendable, Codable {
    /// Decoded crossing messages (in, out or other).
    public var crossings = 0
    /// Crossings that count for no area: an event other than crossing_in/out, or another type.
    public var ignored = 0
    /// Crossings older than their area's last reading (counted once per area).
    public var late = 0
    /// Late crossings from before the area's last daily reset, dropped.
    public var lateDropped = 0
    /// Leaves at occupancy 0.
    public var clamped = 0
    /// Crossings of lines that belong to no area.
    public var unassigned = 0

    public init() {}
}

/// Occupancy of areas from line crossings, with their own dwell policy (SEMANTICS.md §8). Owned by
/// a ``DetectionEngine``; one value per engine, no locks.
struct AreaTracker {
    struct Area {
        let definition: AreaDefinition
        let key: ZoneKey
        var dwell: DwellPolicy.ZoneState
        var occupancy = 0
        /// The instant of the last daily reset applied (`.min`: none).
        var lastReset: Int64 = .min
        /// Cache: the first reset after the dwell's `lastTs`.
        var nextReset: Int64?
        var event: CrowdEvent?
        var changed = false
        /// The run-time settings it has are good until this camera-time instant.
        var settingsUntil: Int64 = .min
    }

    struct Member {
        var area: Int32
        var reverse: Bool
    }

    struct Line {
        let key: LineKey
        var members: [Member] = []
        var label: String?
        var inToday = 0
        var outToday = 0
        var inTotal = 0
        var outTotal = 0
        var lastTs: Int64?
        /// The day the `today` counts are for: `[dayStart, dayEnd)`.
        var dayStart: Int64 = .max
        var dayEnd: Int64 = .min
        /// Where "today" is measured: the first daily reset's time zone of its areas, else UTC.
        var dayZone: TimeZone?
    }

    let policy: DwellPolicy
    /// Run-time settings (SEMANTICS.md §7), selected as camera `area` (`area/<name>`, `area/*`).
    var runtime: RuntimeSettings? {
        didSet { for a in areas.indices { areas[a].settingsUntil = .min } }
    }
    /// Detection paused: occupancy still follows the crossings, the policy sees nothing.
    var paused = false
    var areas: [Area] = []
    var lines: [Line] = []
    var lineIndex: [LineKey: Int32] = [:]
    /// camera → index in `groups` (the areas with a line on that camera).
    var cameraGroups: [String: Int32] = [:]
    var groups: [[Int32]] = []
    var counters = CrossingCounters()
    var tracksChanges = false
    var changedAreas: [Int32] = []

    init(_ setup: AreaSetup) {
        policy = setup.policy
        for def in setup.areas {
            let a = Int32(areas.count)
            areas.append(Area(definition: def, key: def.key, dwell: setup.policy.makeState(for: def.key)))
            var groupCameras: Set<String> = []
            for l in def.lines {
                let li = line(for: l.key)
                lines[li].members.append(Member(area: a, reverse: l.reverse))
                if lines[li].dayZone == nil, let r = def.resetDaily { lines[li].dayZone = r.timeZone }
                groupCameras.insert(l.key.camera)
            }
            for camera in groupCameras {
                if let g = cameraGroups[camera] {
                    groups[Int(g)].append(a)
                } else {
                    cameraGroups[camera] = Int32(groups.count)
                    groups.append([a])
                }
            }
        }
    }

    var isEmpty: Bool { areas.isEmpty }

    /// The line's index, created on first sight (lines of no area are still counted and listed).
    mutating func line(for key: LineKey) -> Int {
        if let i = lineIndex[key] { return Int(i) }
        lineIndex[key] = Int32(lines.count)
        lines.append(Line(key: key))
        return lines.count - 1
    }

    func group(forCamera camera: String) -> Int32? { cameraGroups[camera] }

    // MARK: input

    /// Rule 1 of §8 for every area of the line.
    mutating func crossing(
        line li: Int, _ c: MVSenseDecoder.Crossing, label: () -> String?, counters engine: inout EngineCounters,
        emit: (EventChange) -> Void
    ) {
        counters.crossings += 1
        if lines[li].label == nil, let l = label() { lines[li].label = l }
        guard c.direction != .other else {
            counters.ignored += 1
            return
        }
        countForToday(line: li, ts: c.ts, into: c.direction == .into)
        guard let type = c.type else {
            counters.ignored += 1
            return
        }
        if lines[li].members.isEmpty {
            counters.unassigned += 1
            return
        }
        for m in lines[li].members {
            let a = Int(m.area)
            guard areas[a].definition.objectType == type else { continue }
            enter(area: a, ts: c.ts, entering: (c.direction == .into) != m.reverse, counters: &engine, emit: emit)
        }
    }

    private mutating func enter(area a: Int, ts: Int64, entering: Bool, counters engine: inout EngineCounters, emit: (EventChange) -> Void) {
        let last = areas[a].dwell.lastTs
        var at = ts
        if last == .min || ts >= last {
            applyDailyReset(area: a, upTo: ts)
        } else {
            counters.late += 1
            if ts < areas[a].lastReset {
                counters.lateDropped += 1
                return
            }
            at = last
        }
        if entering {
            areas[a].occupancy += 1
        } else if areas[a].occupancy > 0 {
            areas[a].occupancy -= 1
        } else {
            counters.clamped += 1
        }
        observe(area: a, ts: at, counters: &engine, emit: emit)
    }

    /// Rule 2 of §8: a zone count of a camera with lines in these areas.
    mutating func heartbeat(group g: Int32, ts: Int64, counters engine: inout EngineCounters, emit: (EventChange) -> Void) {
        for a32 in groups[Int(g)] {
            let a = Int(a32)
            let last = areas[a].dwell.lastTs
            guard last == .min || ts > last else { continue }
            applyDailyReset(area: a, upTo: ts)
            observe(area: a, ts: ts, counters: &engine, emit: emit)
        }
    }

    private mutating func applyDailyReset(area a: Int, upTo ts: Int64) {
        guard let reset = areas[a].definition.resetDaily else { return }
        let last = areas[a].dwell.lastTs
        guard last != .min else { return }
        let next = areas[a].nextReset ?? reset.first(after: last)
        if ts >= next {
            areas[a].occupancy = 0
            areas[a].lastReset = reset.latest(atOrBefore: ts)
            areas[a].nextReset = reset.first(after: ts)
        } else {
            areas[a].nextReset = next
        }
    }

    private mutating func observe(area a: Int, ts: Int64, counters engine: inout EngineCounters, emit: (EventChange) -> Void) {
        let key = areas[a].key
        if ts >= areas[a].settingsUntil {
            if let runtime {
                policy.applySettings(runtime.resolved(for: key, at: ts), to: &areas[a].dwell, for: key)
                areas[a].settingsUntil = runtime.schedules.isEmpty ? .max : (ts / 60_000 + 1) * 60_000
            } else {
                areas[a].settingsUntil = .max
            }
        }
        if !paused {
            let d = policy.process(ZoneReading(ts: ts, people: areas[a].occupancy, vehicles: 0), state: &areas[a].dwell)
            if !d.isEmpty {
                let policy = self.policy
                let runtime = self.runtime
                var event = areas[a].event
                EventTracking.apply(
                    d, key: key, event: &event, counters: &engine,
                    describe: { EventTracking.description(policy.description(for: key), runtime: runtime, key: key, at: ts) }, emit: emit)
                areas[a].event = event
            }
        }
        if tracksChanges && !areas[a].changed {
            areas[a].changed = true
            changedAreas.append(Int32(a))
        }
    }

    private mutating func countForToday(line li: Int, ts: Int64, into: Bool) {
        if into { lines[li].inTotal += 1 } else { lines[li].outTotal += 1 }
        if lines[li].lastTs.map({ ts > $0 }) ?? true { lines[li].lastTs = ts }
        if ts >= lines[li].dayEnd {
            (lines[li].dayStart, lines[li].dayEnd) = Self.day(containing: ts, in: lines[li].dayZone)
            lines[li].inToday = 0
            lines[li].outToday = 0
        }
        guard ts >= lines[li].dayStart && ts < lines[li].dayEnd else { return }
        if into { lines[li].inToday += 1 } else { lines[li].outToday += 1 }
    }

    /// The local day `[start, end)` (epoch ms) around `ts`: UTC when `zone` is nil.
    static func day(containing ts: Int64, in zone: TimeZone?) -> (Int64, Int64) {
        guard let zone else {
            let start = (ts >= 0 ? ts / 86_400_000 : (ts - 86_399_999) / 86_400_000) * 86_400_000
            return (start, start + 86_400_000)
        }
        let midnight = DailyReset(minuteOfDay: 0, timeZone: zone)
        return (midnight.latest(atOrBefore: ts), midnight.first(after: ts))
    }

    // MARK: state

    func snapshot() -> [AreaSnapshot] {
        areas.map { a in
            AreaSnapshot(
                name: a.definition.name, objectType: a.definition.objectType, occupancy: a.occupancy,
                lastTs: a.dwell.lastTs == .min ? nil : a.dwell.lastTs, phase: policy.phase(of: a.dwell),
                eventID: a.event?.id, lines: a.definition.lines.map(\.description),
                resetDaily: a.definition.resetDaily?.timeOfDay, timeZone: a.definition.resetDaily?.timeZone.identifier)
        }
    }

    func lineSnapshot() -> [LineSnapshot] {
        lines.map { l in
            LineSnapshot(
                camera: l.key.camera, line: l.key.line, label: l.label,
                areas: l.members.map { areas[Int($0.area)].definition.name }, inToday: l.inToday, outToday: l.outToday,
                inTotal: l.inTotal, outTotal: l.outTotal, lastTs: l.lastTs)
        }.sorted { $0.camera == $1.camera ? $0.line < $1.line : $0.camera < $1.camera }
    }

    var openEvents: [CrowdEvent] { areas.compactMap(\.event) }

    /// The policy name of saved area states.
    static let savedPolicyName = "area"

    /// Area part, version 2: occupancy (zigzag varint), last reset (8 bytes), the open event, the
    /// dwell state. Version 1 (8-byte occupancy) is still read.
    func encode(area a: Int, into w: inout StateBytesWriter) {
        let area = areas[a]
        w.write(UInt8(2))
        w.write(zigzag: Int64(area.occupancy))
        w.write(area.lastReset)
        EventTracking.encode(area.event, into: &w)
        _ = policy.encodeState(area.dwell, into: &w)
    }

    mutating func takeChanged(into out: inout ZoneStateBatch) {
        for a in changedAreas {
            areas[Int(a)].changed = false
            append(area: Int(a), to: &out)
        }
        changedAreas.removeAll(keepingCapacity: true)
    }

    func all(into out: inout ZoneStateBatch) {
        for a in areas.indices where areas[a].dwell.lastTs != .min { append(area: a, to: &out) }
    }

    private func append(area a: Int, to out: inout ZoneStateBatch) {
        let id = out.directory.id(for: areas[a].key, policy: Self.savedPolicyName)
        _ = out.append(id) { w in
            encode(area: a, into: &w)
            return true
        }
    }

    /// Restores one saved area; the reason when it cannot be used.
    mutating func restore(_ saved: SavedZoneState) -> String? {
        guard saved.policy == Self.savedPolicyName else { return "saved by the \(saved.policy) policy, not as an area" }
        guard let a = areas.firstIndex(where: { $0.key == saved.zone }) else { return "the area is no longer configured" }
        do {
            var r = StateBytesReader(saved.data)
            let version = try r.readUInt8()
            guard version == 1 || version == 2 else { throw StateBytesError("area state version \(version) is unknown") }
            let occupancy = version == 1 ? try r.readInt() : try r.readZigzagInt()
            guard occupancy >= 0 else { throw StateBytesError("negative occupancy \(occupancy)") }
            let lastReset = try r.readInt64()
            let event = try EventTracking.decodeEvent(from: &r, key: saved.zone)
            let dwell = try policy.decodeState(from: &r, for: saved.zone)
            areas[a].occupancy = occupancy
            areas[a].lastReset = lastReset
            areas[a].event = event
            areas[a].dwell = dwell
            areas[a].nextReset = nil
            return nil
        } catch {
            return "\(error)"
        }
    }
}

/// Turning a policy's ``Detection`` into event changes, and the saved form of an open event:
/// shared by zones and areas.
enum EventTracking {
    static func apply(
        _ d: Detection, key: ZoneKey, event slot: inout CrowdEvent?, counters: inout EngineCounters,
        describe: () -> PolicyDescription, emit: (EventChange) -> Void
    ) {
        if let e = d.ended, var event = slot {
            event.endedAt = e.endedAt
            event.peak = max(event.peak, e.peak)
            event.lastCount = e.count
            event.reminders = e.reminders
            slot = nil
            counters.ended += 1
            emit(EventChange(kind: .ended, event: event))
        }
        if let f = d.fired {
            let event = CrowdEvent(
                camera: key.camera, zone: key.zone, startedAt: f.startedAt, firedAt: f.firedAt, endedAt: f.endedAt,
                peak: f.peak, lastCount: f.count, policy: describe())
            slot = f.endedAt == nil ? event : nil
            counters.fired += 1
            emit(EventChange(kind: .fired, event: event))
        }
        if let r = d.reminder, var event = slot {
            event.peak = max(event.peak, r.peak)
            event.lastCount = r.count
            event.lastNotifiedAt = r.at
            event.reminders = r.reminders
            slot = event
            counters.reminders += 1
            emit(EventChange(kind: .reminder, event: event))
        }
    }

    /// The policy's description with the run-time parameters that applied to `key` at `ts`
    /// (SEMANTICS.md §7): a fired event keeps the parameters it fired with.
    static func description(_ base: PolicyDescription, runtime: RuntimeSettings?, key: ZoneKey, at ts: Int64) -> PolicyDescription {
        guard let runtime else { return base }
        var description = base
        for (p, v) in runtime.resolved(for: key, at: ts).values where p.policyName == description.name {
            description.parameters[p.rawValue] = v
        }
        return description
    }

    static func encode(_ event: CrowdEvent?, into w: inout StateBytesWriter) {
        guard let e = event else {
            w.write(false)
            return
        }
        w.write(true)
        w.write(e.startedAt)
        w.write(e.firedAt)
        w.write(e.peak)
        w.write(e.lastCount)
        w.write(e.firedCount ?? -1)
        w.write(e.lastNotifiedAt)
        w.write(e.reminders)
        w.write(e.policy.name)
        let parameters = e.policy.parameters.sorted { $0.key < $1.key }
        w.write(UInt32(parameters.count))
        for (k, v) in parameters {
            w.write(k)
            w.write(v)
        }
    }

    static func decodeEvent(from r: inout StateBytesReader, key: ZoneKey) throws -> CrowdEvent? {
        guard try r.readBool() else { return nil }
        let startedAt = try r.readInt64()
        let firedAt = try r.readInt64()
        let peak = try r.readInt()
        let lastCount = try r.readInt()
        let firedCount = try r.readInt()
        let lastNotifiedAt = try r.readInt64()
        let reminders = try r.readInt()
        let name = try r.readString()
        let count = Int(try r.readUInt32())
        guard count <= 1000 else { throw StateBytesError("\(count) policy parameters") }
        var parameters: [String: Double] = [:]
        for _ in 0..<count {
            let k = try r.readString()
            parameters[k] = try r.readDouble()
        }
        var e = CrowdEvent(
            camera: key.camera, zone: key.zone, startedAt: startedAt, firedAt: firedAt, peak: peak,
            lastCount: lastCount, policy: PolicyDescription(name: name, parameters: parameters))
        e.firedCount = firedCount < 0 ? nil : firedCount
        e.lastNotifiedAt = lastNotifiedAt
        e.reminders = reminders
        return e
    }
}
