/// What happened to one message.
public enum MessageOutcome: Hashable, Sendable {
    /// Decoded and fed to the zone's policy.
    case observed
    /// A valid MV Sense message that is not a zone count (raw_detections, light, ...): skipped.
    case nonCount
    /// A zone count of a camera or zone outside the ``ZoneFilter``, or of a camera another
    /// instance owns (``DetectionEngine/setOwnership(_:)``): skipped.
    case filtered
    /// Older than the newest `ts` already processed for its zone: dropped (SEMANTICS.md §1).
    case outOfOrder
    /// A line crossing (SEMANTICS.md §8), decoded and counted; it moved the areas of its line.
    case crossing
    /// Could not be decoded.
    case rejected(RejectReason)
}

/// Counts of what the engine has seen. Memory use does not depend on them.
public struct EngineCounters: Hashable, Sendable, Codable {
    public var messages = 0
    public var observations = 0
    public var nonCount = 0
    public var filtered = 0
    /// Zone counts of cameras another instance owns (``DetectionEngine/setOwnership(_:)``),
    /// skipped.
    public var notOwned = 0
    public var outOfOrder = 0
    public var fired = 0
    public var reminders = 0
    public var ended = 0
    /// Line crossings (SEMANTICS.md §8).
    public var crossings = CrossingCounters()
    /// Rejected messages by reason.
    public var rejectedByReason: [RejectReason: Int] = [:]

    public init() {}

    /// All rejected messages.
    public var rejected: Int { rejectedByReason.values.reduce(0, +) }
}

/// The live state of one zone, for the page and `/api/zones`.
public struct ZoneSnapshot: Hashable, Sendable, Codable {
    public var camera: String
    public var zone: String
    /// People in the last reading.
    public var people: Int
    /// Vehicles in the last reading.
    public var vehicles: Int
    /// Camera time of the last reading.
    public var lastTs: Int64
    public var phase: ZonePhase
    /// The open event's id while a fired crowd is there.
    public var eventID: CrowdEventID?

    /// ``ZoneKey`` order (camera, then zone): the order of ``DetectionEngine/snapshot()``, of the
    /// merged rows of several instances, and of the page and `/api/zones`.
    @inlinable
    public static func inZoneOrder(_ a: ZoneSnapshot, _ b: ZoneSnapshot) -> Bool { ZoneKey.precedes(a.camera, a.zone, b.camera, b.zone) }

    public init(camera: String, zone: String, people: Int, vehicles: Int, lastTs: Int64, phase: ZonePhase, eventID: CrowdEventID? = nil) {
        self.camera = camera
        self.zone = zone
        self.people = people
        self.vehicles = vehicles
        self.lastTs = lastTs
        self.phase = phase
        self.eventID = eventID
    }
}

/// The synchronous heart of CrowdKit: decodes messages, keeps per-zone state, runs the policy and
/// turns detections into event changes. Used by ``CrowdMonitor`` for live feeds and directly by
/// replay, so both give the same events for the same messages.
///
/// A value type owned by one task: no locks, no allocation per message on the common path (topics
/// are interned in a byte-keyed table). Memory grows with the number of zones, not messages.
public struct DetectionEngine<Policy: DetectionPolicy> {
    public let policy: Policy
    public let filter: ZoneFilter

    @usableFromInline
    struct Slot {
        @usableFromInline var key: ZoneKey
        @usableFromInline var state: Policy.ZoneState
        @usableFromInline var lastTs: Int64 = .min
        @usableFromInline var people = 0
        @usableFromInline var vehicles = 0
        /// Index of the areas with a line on this camera (heartbeats, SEMANTICS.md §8), or -1.
        @usableFromInline var areaGroup: Int32 = -1
        /// The policy counts vehicles, not people (`detection.objectType`).
        @usableFromInline var countsVehicles = false
        /// Camera time from which the zone must take the run-time settings again before its
        /// observation (SEMANTICS.md §7): `.max` when there are none to take, the next minute
        /// while schedules exist (their windows start and end on minutes).
        @usableFromInline var settingsUntil: Int64 = .max
        /// This instance owns the zone's camera (``DetectionEngine/setOwnership(_:)``).
        @usableFromInline var owned = true
        /// The zone's number in the saved states' directory, -1 until its first save.
        @usableFromInline var stateID: Int32 = -1
        @usableFromInline init(key: ZoneKey, state: Policy.ZoneState) {
            self.key = key
            self.state = state
        }
    }

    @usableFromInline var slots: ContiguousArray<Slot> = []
    /// The fired event of each zone's open episode (for reminders and its end), by slot: kept
    /// out of the slots so that the hot path touches less memory.
    var slotEvents: [Int32: CrowdEvent] = [:]
    /// Slots by zone, for the callers that name zones (``process(_:emit:)-(Observation,_)``,
    /// ``restore(_:)``): made on their first call (``indexesKeys``) and kept from then on. Until
    /// then zones are only found by topic, and the first sight of a topic hashes no string.
    @usableFromInline var index: [ZoneKey: Int32] = [:]
    @usableFromInline var indexesKeys = false
    /// The other spelling of a topic (with or without the leading slash), reused.
    @usableFromInline var spellingScratch: [UInt8] = []
    @usableFromInline var topics = TopicTable()
    @usableFromInline var counters = EngineCounters()
    @usableFromInline var rejectCounts = [Int](repeating: 0, count: RejectReason.allCases.count)
    /// Whether zones that change are remembered for ``takeChangedStates()``.
    @usableFromInline var tracksChanges = false
    /// The saved form of every zone that changed since the last ``takeChangedStates()``, encoded
    /// when it changed (while its slot is in the cache): a zone that changed twice is in it twice,
    /// the later one newer. Made by ``trackChanges()``.
    @usableFromInline var pendingStates: ZoneStateBatch?
    /// The policy cannot save its state (``takeChangedStates()`` returns `nil`).
    @usableFromInline var statesUnsavable = false
    /// Occupancy per zone and minute (``trackOccupancy()``): the current minute of each slot, and
    /// the minutes finished since the last ``takeOccupancy(includingCurrent:)``.
    @usableFromInline var tracksOccupancy = false
    @usableFromInline var occupancy: [MinuteAccumulator] = []
    @usableFromInline var finishedMinutes: [OccupancyMinute] = []

    @usableFromInline
    struct MinuteAccumulator {
        @usableFromInline var minute: Int64 = .min
        @usableFromInline var max = 0
        @usableFromInline var sum = 0
        @usableFromInline var observations = 0
        @usableFromInline var last = 0
        @usableFromInline init() {}
    }

    /// Run-time settings (SEMANTICS.md §7), `nil` until ``apply(settings:)``.
    @usableFromInline var runtime: RuntimeSettings?
    /// Detection is paused (``RuntimeSettings/paused``): observations update the zones' readings
    /// but do not reach the policy.
    @usableFromInline var paused = false
    /// Numbers the zones of saved states (made by ``trackChanges()``), and each slot's number
    /// (-1 until its first save).
    private var stateDirectory: ZoneDirectory?
    /// The saved form of each open event (``slotEvents``), made at its first save after it
    /// changed: an open crowd's zone saves it every second, and its parameters do not change.
    private var slotEventBytes: [Int32: [UInt8]] = [:]
    /// Payloads unescaped by ``processUnescaping(topic:escapedPayload:emit:)``, reused.
    @usableFromInline var unescapeScratch: [UInt8] = []
    /// Areas and lines (SEMANTICS.md §8).
    var areaTracker: AreaTracker
    public let objectTypes: ObjectTypeSelection
    /// Topics that are neither zones nor plain skips; the table holds `-3 - index`.
    var specialTopics: [SpecialTopic] = []
    /// Which cameras this instance processes, when several share them (`nil`: all).
    public private(set) var ownership: CameraOwnership?

    enum SpecialTopic {
        /// A zone count outside the filter whose camera still gives areas their heartbeat.
        case filteredHeartbeat(group: Int32)
        /// A line crossing topic: the line's index in the area tracker.
        case crossing(line: Int32)
    }

    private static var nonCountValue: Int32 { -1 }
    private static var filteredValue: Int32 { -2 }

    /// - Parameters:
    ///   - areas: areas counted from line crossings, with their dwell policy (SEMANTICS.md §8).
    ///   - objectTypes: which count of each zone the policy sees (people unless configured).
    public init(policy: Policy, filter: ZoneFilter = .all, areas: AreaSetup = .none, objectTypes: ObjectTypeSelection = .person) {
        self.policy = policy
        self.filter = filter
        self.areaTracker = AreaTracker(areas)
        self.objectTypes = objectTypes
    }

    /// The number of zones with state.
    public var zoneCount: Int { slots.count }

    /// Current counters (including rejections by reason).
    public var statistics: EngineCounters {
        var c = counters
        c.crossings = areaTracker.counters
        for (i, r) in RejectReason.allCases.enumerated() where rejectCounts[i] > 0 {
            c.rejectedByReason[r] = rejectCounts[i]
        }
        return c
    }

    // MARK: input

    /// Processes one raw message given as bytes; event changes go to `emit` as they happen.
    @inlinable
    public mutating func process(
        topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, emit: (EventChange) -> Void
    ) -> MessageOutcome {
        counters.messages += 1
        let h = TopicTable.hash(topic)
        let slotIndex: Int32
        if let v = topics.lookup(topic, hash: h) {
            slotIndex = v
        } else {
            guard let v = resolveTopic(topic, hash: h) else { return reject(.badTopic) }
            slotIndex = v
        }
        if slotIndex < 0 {
            if slotIndex == -1 {
                counters.nonCount += 1
                return .nonCount
            }
            if slotIndex < -2 { return processSpecial(Int(-3 - slotIndex), payload: payload, emit: emit) }
            // Filtered zones still have their payload validated so bad input is always counted.
            if case .failure(let r) = MVSenseDecoder.decodeCounts(payload) { return reject(r) }
            counters.filtered += 1
            return .filtered
        }
        switch MVSenseDecoder.decodeCounts(payload) {
        case .failure(let r):
            return reject(r)
        case .success(let c):
            return feed(slot: Int(slotIndex), ts: c.ts, people: c.people, vehicles: c.vehicles, emit: emit)
        }
    }

    /// ``process(topic:payload:emit:)`` for a payload given as the content of a JSON string (a
    /// JSON Lines capture's `payload`, quotes written `\"`): a known zone's count in the common
    /// form is read in place; anything else is unescaped first and processed as usual.
    @inlinable
    mutating func process(
        topic: UnsafeRawBufferPointer, escapedPayload: UnsafeRawBufferPointer, emit: (EventChange) -> Void
    ) -> MessageOutcome {
        processInPlaceOnly(topic: topic, escapedPayload: escapedPayload, emit: emit)
            ?? processUnescaping(topic: topic, escapedPayload: escapedPayload, emit: emit)
    }

    /// A zone's count read in place from the content of a JSON string, or `nil` (nothing
    /// counted) when the topic is not a zone's or the payload is not in the common form: the
    /// caller then processes the message the general way. `topic` has no escape or control
    /// character. A topic seen for the first time is interned once its payload has been read (as
    /// the general way would intern it), so that its zone is found in place from then on.
    @inlinable
    mutating func processInPlaceOnly(
        topic: UnsafeRawBufferPointer, escapedPayload: UnsafeRawBufferPointer, emit: (EventChange) -> Void
    ) -> MessageOutcome? {
        let h = TopicTable.hash(topic)
        let known = topics.lookup(topic, hash: h)
        if let v = known, v < 0 { return nil }
        guard case .success(let c) = MVSenseDecoder.decodeCountsInPlace(escapedPayload) else { return nil }
        return process(topic: topic, hash: h, known: known, counts: c, emit: emit)
    }

    /// A zone's count decoded already (``CaptureParser/recordCounts(_:)``), or `nil` (nothing
    /// counted) when the topic is not a zone's: the caller then processes the message the general
    /// way. As ``processInPlaceOnly(topic:escapedPayload:emit:)`` after its decoding.
    @inlinable
    mutating func process(topic: UnsafeRawBufferPointer, counts c: MVSenseDecoder.Counts, emit: (EventChange) -> Void) -> MessageOutcome? {
        let found = topics.lookupFollowingOrder(topic) { TopicTable.hash(topic) }
        if let v = found.value {
            guard v >= 0 else { return nil }
            counters.messages += 1
            return feed(slot: Int(v), ts: c.ts, people: c.people, vehicles: c.vehicles, emit: emit)
        }
        return process(topic: topic, hash: found.hash ?? TopicTable.hash(topic), known: nil, counts: c, emit: emit)
    }

    @inlinable @inline(__always)
    mutating func process(
        topic: UnsafeRawBufferPointer, hash h: UInt64, known: Int32?, counts c: MVSenseDecoder.Counts, emit: (EventChange) -> Void
    ) -> MessageOutcome? {
        guard let v = known ?? resolveTopic(topic, hash: h), v >= 0 else { return nil }
        counters.messages += 1
        return feed(slot: Int(v), ts: c.ts, people: c.people, vehicles: c.vehicles, emit: emit)
    }

    @usableFromInline
    mutating func processUnescaping(
        topic: UnsafeRawBufferPointer, escapedPayload: UnsafeRawBufferPointer, emit: (EventChange) -> Void
    ) -> MessageOutcome {
        guard let base = escapedPayload.baseAddress?.assumingMemoryBound(to: UInt8.self),
            let n = JSONScanner.unescape(base: base, from: 0, to: escapedPayload.count, into: &unescapeScratch)
        else {
            counters.messages += 1
            return reject(.notJSON)
        }
        let scratch = unescapeScratch
        defer { unescapeScratch = scratch }
        unescapeScratch = []
        return scratch.withUnsafeBytes { p in process(topic: topic, payload: UnsafeRawBufferPointer(rebasing: p[0..<n]), emit: emit) }
    }

    /// Crossings, and zone counts outside the filter that are heartbeats of areas.
    @usableFromInline
    mutating func processSpecial(_ index: Int, payload: UnsafeRawBufferPointer, emit: (EventChange) -> Void) -> MessageOutcome {
        switch specialTopics[index] {
        case .filteredHeartbeat(let group):
            switch MVSenseDecoder.decodeCounts(payload) {
            case .failure(let r): return reject(r)
            case .success(let c):
                areaTracker.heartbeat(group: group, ts: c.ts, counters: &counters, emit: emit)
                counters.filtered += 1
                return .filtered
            }
        case .crossing(let line):
            switch MVSenseDecoder.decodeCrossing(payload) {
            case .failure(let r): return reject(r)
            case .success(let c):
                areaTracker.crossing(
                    line: Int(line), c,
                    label: { c.label.map { MVSenseDecoder.string(payload, $0) } }, counters: &counters, emit: emit)
                return .crossing
            }
        }
    }

    /// A message decoded earlier (``DecodedCapture``): `value` is what ``resolveTopic(_:hash:)``
    /// gave its topic; `a`, `b` are people and vehicles, or direction and type of a crossing.
    mutating func processDecoded(value: Int32, ts: Int64, a: Int32, b: Int32, emit: (EventChange) -> Void) {
        if value >= 0 {
            _ = feed(slot: Int(value), ts: ts, people: Int(a), vehicles: Int(b), emit: emit)
            return
        }
        guard value < -2 else { return }
        switch specialTopics[Int(-3 - value)] {
        case .filteredHeartbeat(let group):
            areaTracker.heartbeat(group: group, ts: ts, counters: &counters, emit: emit)
        case .crossing(let line):
            let c = MVSenseDecoder.Crossing(
                ts: ts, direction: a == 0 ? .into : a == 1 ? .outOf : .other, type: b == 0 ? .person : b == 1 ? .vehicle : nil,
                label: nil)
            areaTracker.crossing(line: Int(line), c, label: { nil }, counters: &counters, emit: emit)
        }
    }

    /// Whether a zone's observations change nothing but that zone: no areas (heartbeats), no
    /// run-time settings, pause, ownership, occupancy or change tracking. Then
    /// ``feed(slot:ts:people:vehicles:emit:)`` may take each zone's observations in one run.
    var zonesAreIndependent: Bool {
        areaTracker.isEmpty && runtime == nil && !paused && ownership == nil && !tracksOccupancy && !tracksChanges
    }

    /// The observations of one zone, in order: exactly what ``feed(slot:ts:people:vehicles:emit:)``
    /// one by one does when ``zonesAreIndependent``, with the zone's state kept in registers
    /// (``Backtest``: a combination evaluated zone by zone).
    mutating func feed(
        slot i: Int, ts: UnsafeBufferPointer<Int64>, people: UnsafeBufferPointer<Int32>, vehicles: UnsafeBufferPointer<Int32>,
        emit: (EventChange) -> Void
    ) {
        guard zonesAreIndependent, slots[i].settingsUntil == .max else {
            for k in ts.indices { _ = feed(slot: i, ts: ts[k], people: Int(people[k]), vehicles: Int(vehicles[k]), emit: emit) }
            return
        }
        // the state through a pointer: the policy's steps change it in place (as a local
        // variable it was copied whole on every step)
        let state = UnsafeMutablePointer<Policy.ZoneState>.allocate(capacity: 1)
        state.initialize(to: slots[i].state)
        defer { state.deallocate() }
        var lastTs = slots[i].lastTs
        var last = -1
        let countsVehicles = slots[i].countsVehicles
        var outOfOrder = 0
        for k in ts.indices {
            let t = ts[k]
            if lastTs != .min && t < lastTs {
                outOfOrder += 1
                continue
            }
            lastTs = t
            last = k
            let v = Int(vehicles[k])
            let d = policy.process(ZoneReading(ts: t, people: countsVehicles ? v : Int(people[k]), vehicles: v), state: &state.pointee)
            if !d.isEmpty {
                slots[i].state = state.pointee
                slots[i].lastTs = t
                apply(d, slot: i, emit: emit)
            }
        }
        counters.outOfOrder += outOfOrder
        counters.observations += ts.count - outOfOrder
        slots[i].state = state.move()
        guard last >= 0 else { return }
        slots[i].lastTs = lastTs
        slots[i].people = Int(people[last])
        slots[i].vehicles = Int(vehicles[last])
    }

    /// A zone count of a camera with lines in some areas: their heartbeat.
    @usableFromInline
    mutating func heartbeat(group: Int32, ts: Int64, emit: (EventChange) -> Void) {
        areaTracker.heartbeat(group: group, ts: ts, counters: &counters, emit: emit)
    }

    /// Processes one raw message.
    public mutating func process(_ message: RawMessage, emit: (EventChange) -> Void) -> MessageOutcome {
        var topic = message.topic
        return topic.withUTF8 { t in
            message.payload.withUnsafeBytes { p in
                process(topic: UnsafeRawBufferPointer(t), payload: p, emit: emit)
            }
        }
    }

    /// Processes an observation that a source decoded itself.
    public mutating func process(_ observation: Observation, emit: (EventChange) -> Void) -> MessageOutcome {
        counters.messages += 1
        guard observation.people >= 0, observation.vehicles >= 0 else { return reject(.negativeCount) }
        guard filter.accepts(camera: observation.camera, zone: observation.zone) else {
            if !areaTracker.isEmpty, let g = areaTracker.group(forCamera: observation.camera) {
                heartbeat(group: g, ts: observation.ts, emit: emit)
            }
            counters.filtered += 1
            return .filtered
        }
        let slot = slot(for: observation.key)
        return feed(slot: slot, ts: observation.ts, people: observation.people, vehicles: observation.vehicles, emit: emit)
    }

    /// Processes any source message.
    // The built-in policies get specialised copies of the entry points a monitor calls: exported
    // ones for callers that name the policy type, and (the plain attribute) a check of the type on
    // entry of the generic function that jumps to them, for generic callers such as
    // `CrowdMonitor.run`, which otherwise ran the whole engine as unspecialised generic code.
    @_specialize(exported: true, where Policy == DwellPolicy)
    @_specialize(exported: true, where Policy == MessageCountPolicy)
    @_specialize(where Policy == DwellPolicy)
    @_specialize(where Policy == MessageCountPolicy)
    public mutating func process(_ message: SourceMessage, emit: (EventChange) -> Void) -> MessageOutcome {
        switch message {
        case .raw(let raw): process(raw, emit: emit)
        case .observation(let o): process(o, emit: emit)
        }
    }

    /// Processes every message of `batch` in order, as ``process(topic:payload:emit:)`` would one
    /// by one; `rejected` is called with the index in the batch of each rejected message and why.
    @_specialize(exported: true, where Policy == DwellPolicy)
    @_specialize(exported: true, where Policy == MessageCountPolicy)
    @_specialize(where Policy == DwellPolicy)
    @_specialize(where Policy == MessageCountPolicy)
    public mutating func process(
        _ batch: RawMessageBatch, emit: (EventChange) -> Void, rejected: (Int, RejectReason) -> Void
    ) {
        var i = 0
        batch.forEach { topic, payload, _ in
            if case .rejected(let reason) = process(topic: topic, payload: payload, emit: emit) { rejected(i, reason) }
            i += 1
        }
    }

    // MARK: state

    /// The live state of every zone, sorted by camera then zone.
    public func snapshot() -> [ZoneSnapshot] {
        slots.indices.filter { slots[$0].lastTs != .min && slots[$0].owned }.map { i in
            let s = slots[i]
            return ZoneSnapshot(
                camera: s.key.camera, zone: s.key.zone, people: s.people, vehicles: s.vehicles, lastTs: s.lastTs,
                phase: policy.phase(of: s.state), eventID: slotEvents[Int32(i)]?.id)
        }.sorted(by: ZoneSnapshot.inZoneOrder)
    }

    /// Events that fired and are still open (ongoing crowds), zones and areas.
    public var openEvents: [CrowdEvent] { slotEvents.sorted { $0.key < $1.key }.map(\.value) + areaTracker.openEvents }

    /// The live state of every configured area (SEMANTICS.md §8), in configuration order.
    public func areaSnapshot() -> [AreaSnapshot] { areaTracker.snapshot() }

    /// Every line seen or configured, with its crossings, sorted by camera then line.
    public func lineSnapshot() -> [LineSnapshot] { areaTracker.lineSnapshot() }

    // MARK: cameras shared out among instances

    /// Processes only the zones of cameras `ownership` gives this instance (`nil`: every camera);
    /// the others' counts are skipped (``EngineCounters/notOwned``), their zones keep the state
    /// they had, left out of ``snapshot()`` and ``allStates()``. Returns the cameras with zones
    /// here that this instance owns now and did not before: their state here is out of date
    /// (another instance processed them meanwhile), so load theirs (``resetZones(ofCameras:)``,
    /// then ``restore(_:)``) before the next message.
    @discardableResult
    public mutating func setOwnership(_ ownership: CameraOwnership?) -> Set<String> {
        let old = self.ownership
        self.ownership = ownership
        var decided: [String: Bool] = [:]
        var gained = Set<String>()
        for i in slots.indices {
            let camera = slots[i].key.camera
            let owns: Bool
            if let d = decided[camera] {
                owns = d
            } else {
                owns = ownership?.owns(camera) ?? true
                decided[camera] = owns
                if owns && !(old?.owns(camera) ?? true) { gained.insert(camera) }
            }
            slots[i].owned = owns
        }
        return gained
    }

    /// The cameras with zones here that this instance processes.
    public var ownedCameras: Set<String> {
        Set(slots.lazy.filter(\.owned).map(\.key.camera))
    }

    /// Forgets the state of every zone of these cameras (a fresh start, as for a zone never
    /// seen): before restoring what their previous owner saved.
    public mutating func resetZones(ofCameras cameras: Set<String>) {
        guard !cameras.isEmpty else { return }
        for i in slots.indices where cameras.contains(slots[i].key.camera) {
            slots[i].state = policy.makeState(for: slots[i].key)
            slots[i].lastTs = .min
            slots[i].people = 0
            slots[i].vehicles = 0
            slotEvents[Int32(i)] = nil
            slotEventBytes[Int32(i)] = nil
        }
    }

    // MARK: persisted state (SEMANTICS.md §7)

    /// Starts remembering which zones change, for ``takeChangedStates()``.
    public mutating func trackChanges() {
        tracksChanges = true
        areaTracker.tracksChanges = true
        if stateDirectory == nil {
            let directory = ZoneDirectory()
            stateDirectory = directory
            pendingStates = ZoneStateBatch(directory: directory)
        }
    }

    /// The saved form of every zone that changed since the last call, or `nil` when the policy
    /// cannot save its state (``DetectionPolicy/encodeState(_:into:)``). A zone that changed more
    /// than once may be in it more than once, the later one newer (as ``ZoneStateStore`` takes
    /// them). Zones are numbered by one directory for the engine's life
    /// (``ZoneStateBatch/directory``).
    public mutating func takeChangedStates() -> ZoneStateBatch? {
        trackChanges()
        guard !statesUnsavable, var out = pendingStates else { return nil }
        var next = ZoneStateBatch(directory: directory)
        next.reserve(out.count, bytes: out.byteCount)
        pendingStates = next
        if !areaTracker.changedAreas.isEmpty { areaTracker.takeChanged(into: &out) }
        return out
    }

    /// Encodes slot `i`'s state for the next ``takeChangedStates()``: called by
    /// ``feed(slot:ts:people:vehicles:emit:)`` right after the zone changed.
    @usableFromInline
    @_specialize(where Policy == DwellPolicy)
    @_specialize(where Policy == MessageCountPolicy)
    mutating func noteChange(slot i: Int) {
        guard !statesUnsavable, pendingStates != nil else { return }
        // the batch encoded into in place (disjoint stored properties: no copy, no retain)
        if !Self.encode(slot: i, slots: &slots, events: &slotEvents, eventBytes: &slotEventBytes, policy: policy, into: &pendingStates!) {
            statesUnsavable = true
        }
    }

    /// The saved form of every zone with state (for a full save), or `nil` when the policy cannot
    /// save its state.
    @_specialize(exported: true, where Policy == DwellPolicy)
    @_specialize(exported: true, where Policy == MessageCountPolicy)
    @_specialize(where Policy == DwellPolicy)
    @_specialize(where Policy == MessageCountPolicy)
    public mutating func allStates() -> ZoneStateBatch? {
        trackChanges()
        var out = ZoneStateBatch(directory: directory)
        areaTracker.all(into: &out)
        for i in slots.indices where slots[i].lastTs != .min && slots[i].owned {
            guard encode(slot: i, into: &out) else { return nil }
        }
        return out
    }

    private var directory: ZoneDirectory {
        guard let stateDirectory else { preconditionFailure("trackChanges() makes the directory") }
        return stateDirectory
    }

    /// Appends slot `i`'s saved form to `batch`: engine part, version 2: the last reading (time in
    /// 8 bytes, counts as zigzag varints; version 1 had 8-byte counts and is still read), the open
    /// fired event, then the policy's bytes. False when the policy cannot save its state.
    private mutating func encode(slot i: Int, into batch: inout ZoneStateBatch) -> Bool {
        Self.encode(slot: i, slots: &slots, events: &slotEvents, eventBytes: &slotEventBytes, policy: policy, into: &batch)
    }

    private static func encode(
        slot i: Int, slots: inout ContiguousArray<Slot>, events: inout [Int32: CrowdEvent], eventBytes: inout [Int32: [UInt8]], policy: borrowing Policy,
        into batch: inout ZoneStateBatch
    ) -> Bool {
        if slots[i].stateID < 0 { slots[i].stateID = batch.directory.id(for: slots[i].key, policy: policy.name) }
        // the fields read in place (a subscript read of the slot copies it whole, key included)
        let (id, lastTs, people, vehicles, state) = slots.withUnsafeBufferPointer { b in
            (b[i].stateID, b[i].lastTs, b[i].people, b[i].vehicles, b[i].state)
        }
        batch.writer.write(reserving: 29) { w in
            w.write(UInt8(2))
            w.write(lastTs)
            w.write(zigzag: Int64(people))
            w.write(zigzag: Int64(vehicles))
        }
        // most zones have no open event (no dictionary lookup then); an open one is encoded once
        if events.isEmpty {
            batch.writer.write(false)
        } else if let bytes = eventBytes[Int32(i)] {
            batch.writer.write(raw: bytes)
        } else if let event = events[Int32(i)] {
            var w = StateBytesWriter(capacity: 128)
            EventTracking.encode(event, into: &w)
            eventBytes[Int32(i)] = w.bytes
            batch.writer.write(raw: w.bytes)
        } else {
            batch.writer.write(false)
        }
        guard policy.encodeState(state, into: &batch.writer) else {
            batch.dropUncommitted()
            return false
        }
        batch.commit(id)
        return true
    }

    /// Why a saved zone state was not restored.
    public struct SkippedState: Hashable, Sendable {
        public var zone: ZoneKey
        public var reason: String
    }

    /// Restores saved zone states (before any message). Returns those that could not be used:
    /// written by another policy, unreadable (hand-edited, another version), or of a zone the
    /// filter no longer accepts. Those zones start fresh.
    @_specialize(exported: true, where Policy == DwellPolicy)
    @_specialize(exported: true, where Policy == MessageCountPolicy)
    @_specialize(where Policy == DwellPolicy)
    @_specialize(where Policy == MessageCountPolicy)
    public mutating func restore(_ states: [SavedZoneState]) -> [SkippedState] {
        var skipped: [SkippedState] = []
        for saved in states {
            let key = saved.zone
            if key.camera == AreaDefinition.camera {
                if let reason = areaTracker.restore(saved) { skipped.append(SkippedState(zone: key, reason: reason)) }
                continue
            }
            guard saved.policy == policy.name else {
                skipped.append(SkippedState(zone: key, reason: "saved by the \(saved.policy) policy, not \(policy.name)"))
                continue
            }
            guard filter.accepts(camera: key.camera, zone: key.zone) else {
                skipped.append(SkippedState(zone: key, reason: "the zone is no longer watched (cameras/zones filter)"))
                continue
            }
            do {
                var r = StateBytesReader(saved.data)
                let version = try r.readUInt8()
                guard version == 1 || version == 2 else { throw StateBytesError("engine state version \(version) is unknown") }
                let lastTs = try r.readInt64()
                let people = version == 1 ? try r.readInt() : try r.readZigzagInt()
                let vehicles = version == 1 ? try r.readInt() : try r.readZigzagInt()
                let event = try EventTracking.decodeEvent(from: &r, key: key)
                let state = try policy.decodeState(from: &r, for: key)
                let i = slot(for: key)
                slots[i].state = state
                // the saved state carries the configured parameters: the run-time ones are taken
                // again at the zone's next observation
                if runtime != nil { slots[i].settingsUntil = .min }
                slots[i].lastTs = lastTs
                slots[i].people = people
                slots[i].vehicles = vehicles
                slotEvents[Int32(i)] = event
                slotEventBytes[Int32(i)] = nil
            } catch {
                skipped.append(SkippedState(zone: key, reason: "\(error)"))
            }
        }
        return skipped
    }

    // MARK: internals

    @usableFromInline
    mutating func reject(_ reason: RejectReason) -> MessageOutcome {
        rejectCounts[reasonIndex(reason)] += 1
        return .rejected(reason)
    }

    @usableFromInline
    func reasonIndex(_ r: RejectReason) -> Int {
        switch r {
        case .badTopic: 0
        case .payloadTooLarge: 1
        case .notJSON: 2
        case .missingTimestamp: 3
        case .wrongType: 4
        case .negativeCount: 5
        case .missingEvent: 6
        }
    }

    /// First sight of a topic: classify it, find or create its zone, cache the answer.
    @usableFromInline
    mutating func resolveTopic(_ topic: UnsafeRawBufferPointer, hash: UInt64) -> Int32? {
        let value: Int32
        switch MVSenseDecoder.classifyTopic(topic) {
        case .invalid:
            return nil
        case .other:
            value = Self.nonCountValue
        case .crossing(let s, let l):
            let line = areaTracker.line(for: LineKey(camera: MVSenseDecoder.string(topic, s), line: MVSenseDecoder.string(topic, l)))
            value = special(.crossing(line: Int32(line)))
        case .zone(let s, let z):
            // the same zone spelled the other way: the same answer
            if !indexesKeys, let v = otherSpellingValue(topic) {
                value = v
                break
            }
            let camera = MVSenseDecoder.string(topic, s)
            let zone = MVSenseDecoder.string(topic, z)
            if !filter.accepts(camera: camera, zone: zone) {
                if !areaTracker.isEmpty, let g = areaTracker.group(forCamera: camera) {
                    value = special(.filteredHeartbeat(group: g))
                } else {
                    value = Self.filteredValue
                }
            } else {
                let key = ZoneKey(camera: camera, zone: zone)
                value = (indexesKeys ? index[key] : nil) ?? Int32(addSlot(key))
            }
        }
        topics.insert(topic, hash: hash, value: value)
        return value
    }

    /// What the table holds for the zone topic `topic` spelled with a leading slash if it has none,
    /// or without it if it has one (both spellings are one zone, SEMANTICS.md §1).
    private mutating func otherSpellingValue(_ topic: UnsafeRawBufferPointer) -> Int32? {
        spellingScratch.removeAll(keepingCapacity: true)
        if topic.first == 0x2F {
            spellingScratch.append(contentsOf: topic.dropFirst())
        } else {
            spellingScratch.append(0x2F)
            spellingScratch.append(contentsOf: topic)
        }
        return spellingScratch.withUnsafeBytes { other in topics.lookup(other, hash: TopicTable.hash(other)) }
    }

    /// The slot of `key`, made if the zone has none (by ``index``, made on first use).
    @usableFromInline
    mutating func slot(for key: ZoneKey) -> Int {
        if !indexesKeys {
            indexesKeys = true
            index.reserveCapacity(slots.count)
            for i in slots.indices { index[slots[i].key] = Int32(i) }
        }
        return index[key].map(Int.init) ?? addSlot(key)
    }

    private mutating func special(_ topic: SpecialTopic) -> Int32 {
        specialTopics.append(topic)
        return -3 - Int32(specialTopics.count - 1)
    }

    @usableFromInline
    mutating func addSlot(_ key: ZoneKey) -> Int {
        let i = slots.count
        var slot = Slot(key: key, state: policy.makeState(for: key))
        slot.countsVehicles = objectTypes.type(for: key) == .vehicle
        if runtime != nil { slot.settingsUntil = .min }
        slot.owned = ownership?.owns(key.camera) ?? true
        if !areaTracker.isEmpty, let g = areaTracker.group(forCamera: key.camera) { slot.areaGroup = g }
        slots.append(slot)
        if indexesKeys { index[key] = Int32(i) }
        return i
    }

    @inlinable
    mutating func feed(slot i: Int, ts: Int64, people: Int, vehicles: Int, emit: (EventChange) -> Void) -> MessageOutcome {
        guard slots[i].owned else {
            counters.notOwned += 1
            return .filtered
        }
        if slots[i].areaGroup >= 0 { heartbeat(group: slots[i].areaGroup, ts: ts, emit: emit) }
        if slots[i].lastTs != .min && ts < slots[i].lastTs {
            counters.outOfOrder += 1
            return .outOfOrder
        }
        counters.observations += 1
        slots[i].lastTs = ts
        slots[i].people = people
        slots[i].vehicles = vehicles
        if ts >= slots[i].settingsUntil { takeSettings(slot: i, at: ts) }
        if tracksOccupancy { noteOccupancy(slot: i, ts: ts, count: slots[i].countsVehicles ? vehicles : people) }
        if !paused {
            let reading = ZoneReading(ts: ts, people: slots[i].countsVehicles ? vehicles : people, vehicles: vehicles)
            let d = policy.process(reading, state: &slots[i].state)
            if !d.isEmpty { apply(d, slot: i, emit: emit) }
        }
        if tracksChanges { noteChange(slot: i) }
        return .observed
    }

    @usableFromInline
    mutating func apply(_ d: Detection, slot i: Int, emit: (EventChange) -> Void) {
        let key = slots[i].key
        let policy = self.policy
        let runtime = self.runtime
        let ts = slots[i].lastTs
        var event = slotEvents[Int32(i)]
        // a fired event keeps the parameters that applied when it fired, run-time ones included
        EventTracking.apply(
            d, key: key, event: &event, counters: &counters,
            describe: { EventTracking.description(policy.description(for: key), runtime: runtime, key: key, at: ts) }, emit: emit)
        slotEvents[Int32(i)] = event
        if tracksChanges { slotEventBytes[Int32(i)] = nil }
    }

    /// Adds a count to slot `i`'s current minute, finishing the previous minute when `ts` is in a
    /// later one.
    @usableFromInline
    mutating func noteOccupancy(slot i: Int, ts: Int64, count: Int) {
        if occupancy.count <= i { occupancy += repeatElement(MinuteAccumulator(), count: slots.count - occupancy.count) }
        let minute = ts - ((ts % 60_000) + 60_000) % 60_000
        var a = occupancy[i]
        if a.minute != minute {
            if a.minute != .min {
                finishedMinutes.append(
                    OccupancyMinute(zone: slots[i].key, minute: a.minute, max: a.max, sum: a.sum, observations: a.observations, last: a.last))
            }
            a = MinuteAccumulator()
            a.minute = minute
        }
        a.max = Swift.max(a.max, count)
        a.sum += count
        a.observations += 1
        a.last = count
        occupancy[i] = a
    }

    /// Starts keeping each zone's occupancy per minute (max, mean, last count), for
    /// ``takeOccupancy(includingCurrent:)``.
    public mutating func trackOccupancy() { tracksOccupancy = true }

    /// The minutes finished since the last call; with `includingCurrent`, also each zone's minute
    /// in progress (as it is so far: a later take gives it again, complete).
    public mutating func takeOccupancy(includingCurrent: Bool = false) -> [OccupancyMinute] {
        var out = finishedMinutes
        finishedMinutes.removeAll(keepingCapacity: true)
        if includingCurrent {
            for i in occupancy.indices where occupancy[i].minute != .min {
                let a = occupancy[i]
                out.append(OccupancyMinute(zone: slots[i].key, minute: a.minute, max: a.max, sum: a.sum, observations: a.observations, last: a.last))
            }
        }
        return out
    }

    /// Gives slot `i` the parameters the run-time settings set for it at `ts`.
    @usableFromInline
    mutating func takeSettings(slot i: Int, at ts: Int64) {
        guard let runtime else {
            slots[i].settingsUntil = .max
            return
        }
        let key = slots[i].key
        policy.applySettings(runtime.resolved(for: key, at: ts), to: &slots[i].state, for: key)
        slots[i].settingsUntil = runtime.schedules.isEmpty ? .max : (ts / 60_000 + 1) * 60_000
    }

    /// Run-time settings (SEMANTICS.md §7): each zone takes them at its next observation (an open
    /// episode keeps its start; a fired event keeps the parameters it fired with), and
    /// ``RuntimeSettings/paused`` stops observations from reaching the policy until settings
    /// without it come. Areas (SEMANTICS.md §8) take them the same way, selected as the camera
    /// `area` (`area/<name>`, `area/*`); pause leaves their occupancy following the crossings.
    public mutating func apply(settings: RuntimeSettings) {
        runtime = settings
        paused = settings.paused
        areaTracker.runtime = settings
        areaTracker.paused = settings.paused
        for i in slots.indices { slots[i].settingsUntil = .min }
    }

    /// Whether detection is paused (``apply(settings:)``).
    public var isPaused: Bool { paused }
}
