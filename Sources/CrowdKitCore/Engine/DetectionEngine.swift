/// What happened to one message.
public enum MessageOutcome: Hashable, Sendable {
    /// Decoded and fed to the zone's policy.
    case observed
    /// A valid MV Sense message that is not a zone count (raw_detections, light, ...): skipped.
    case nonCount
    /// A zone count of a camera or zone outside the ``ZoneFilter``: skipped.
    case filtered
    /// Older than the newest `ts` already processed for its zone: dropped (SEMANTICS.md §1).
    case outOfOrder
    /// Could not be decoded.
    case rejected(RejectReason)
}

/// Counts of what the engine has seen. Memory use does not depend on them.
public struct EngineCounters: Hashable, Sendable, Codable {
    public var messages = 0
    public var observations = 0
    public var nonCount = 0
    public var filtered = 0
    public var outOfOrder = 0
    public var fired = 0
    public var reminders = 0
    public var ended = 0
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
        /// The fired event of the open episode (for reminders and its end).
        @usableFromInline var event: CrowdEvent?
        /// Changed since the last ``DetectionEngine/takeChangedStates(policyName:)``.
        @usableFromInline var changed = false
        @usableFromInline init(key: ZoneKey, state: Policy.ZoneState) {
            self.key = key
            self.state = state
        }
    }

    @usableFromInline var slots: ContiguousArray<Slot> = []
    @usableFromInline var index: [ZoneKey: Int32] = [:]
    @usableFromInline var topics = TopicTable()
    @usableFromInline var counters = EngineCounters()
    @usableFromInline var rejectCounts = [Int](repeating: 0, count: RejectReason.allCases.count)
    /// Whether zones that change are remembered for ``takeChangedStates(policyName:)``.
    @usableFromInline var tracksChanges = false
    @usableFromInline var changedSlots: [Int32] = []
    private var stateWriter = StateBytesWriter()

    private static var nonCountValue: Int32 { -1 }
    private static var filteredValue: Int32 { -2 }

    public init(policy: Policy, filter: ZoneFilter = .all) {
        self.policy = policy
        self.filter = filter
    }

    /// The number of zones with state.
    public var zoneCount: Int { slots.count }

    /// Current counters (including rejections by reason).
    public var statistics: EngineCounters {
        var c = counters
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
            // Filtered zones still have their payload validated so bad input is always counted.
            if case .failure(let r) = MVSenseDecoder.decodeCounts(payload) { return reject(r) }
            counters.filtered += 1
            return .filtered
        }
        switch MVSenseDecoder.decodeCounts(payload) {
        case .failure(let r):
            return reject(r)
        case .success(let c):
            return feed(slot: Int(slotIndex), ZoneReading(ts: c.ts, people: c.people, vehicles: c.vehicles), emit: emit)
        }
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
            counters.filtered += 1
            return .filtered
        }
        let key = observation.key
        let slot = index[key].map(Int.init) ?? addSlot(key)
        return feed(
            slot: slot, ZoneReading(ts: observation.ts, people: observation.people, vehicles: observation.vehicles),
            emit: emit)
    }

    /// Processes any source message.
    @_specialize(exported: true, where Policy == DwellPolicy)
    @_specialize(exported: true, where Policy == MessageCountPolicy)
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
        slots.filter { $0.lastTs != .min }.map { s in
            ZoneSnapshot(
                camera: s.key.camera, zone: s.key.zone, people: s.people, vehicles: s.vehicles, lastTs: s.lastTs,
                phase: policy.phase(of: s.state), eventID: s.event?.id)
        }.sorted { ($0.camera, $0.zone) < ($1.camera, $1.zone) }
    }

    /// Events that fired and are still open (ongoing crowds).
    public var openEvents: [CrowdEvent] { slots.compactMap(\.event) }

    // MARK: persisted state (SEMANTICS.md §7)

    /// Starts remembering which zones change, for ``takeChangedStates(policyName:)``.
    public mutating func trackChanges() { tracksChanges = true }

    /// The saved form of every zone that changed since the last call (each zone once), or `nil`
    /// when the policy cannot save its state (``DetectionPolicy/encodeState(_:into:)``).
    public mutating func takeChangedStates() -> [SavedZoneState]? {
        guard !changedSlots.isEmpty else { return [] }
        var out: [SavedZoneState] = []
        out.reserveCapacity(changedSlots.count)
        for i in changedSlots {
            slots[Int(i)].changed = false
            guard let data = encode(slot: Int(i)) else {
                changedSlots.removeAll(keepingCapacity: true)
                return nil
            }
            out.append(SavedZoneState(zone: slots[Int(i)].key, policy: policy.name, data: data))
        }
        changedSlots.removeAll(keepingCapacity: true)
        return out
    }

    /// The saved form of every zone with state (for a full save), or `nil` when the policy cannot
    /// save its state.
    public mutating func allStates() -> [SavedZoneState]? {
        var out: [SavedZoneState] = []
        for i in slots.indices where slots[i].lastTs != .min {
            guard let data = encode(slot: i) else { return nil }
            out.append(SavedZoneState(zone: slots[i].key, policy: policy.name, data: data))
        }
        return out
    }

    /// Engine part, version 1: the last reading, the open fired event, then the policy's bytes.
    private mutating func encode(slot i: Int) -> [UInt8]? {
        stateWriter.removeAll()
        let s = slots[i]
        stateWriter.write(UInt8(1))
        stateWriter.write(s.lastTs)
        stateWriter.write(s.people)
        stateWriter.write(s.vehicles)
        if let e = s.event {
            stateWriter.write(true)
            stateWriter.write(e.startedAt)
            stateWriter.write(e.firedAt)
            stateWriter.write(e.peak)
            stateWriter.write(e.lastCount)
            stateWriter.write(e.firedCount ?? -1)
            stateWriter.write(e.lastNotifiedAt)
            stateWriter.write(e.reminders)
            stateWriter.write(e.policy.name)
            let parameters = e.policy.parameters.sorted { $0.key < $1.key }
            stateWriter.write(UInt32(parameters.count))
            for (k, v) in parameters {
                stateWriter.write(k)
                stateWriter.write(v)
            }
        } else {
            stateWriter.write(false)
        }
        guard policy.encodeState(s.state, into: &stateWriter) else { return nil }
        return stateWriter.bytes
    }

    /// Why a saved zone state was not restored.
    public struct SkippedState: Hashable, Sendable {
        public var zone: ZoneKey
        public var reason: String
    }

    /// Restores saved zone states (before any message). Returns those that could not be used:
    /// written by another policy, unreadable (hand-edited, another version), or of a zone the
    /// filter no longer accepts. Those zones start fresh.
    public mutating func restore(_ states: [SavedZoneState]) -> [SkippedState] {
        var skipped: [SkippedState] = []
        for saved in states {
            let key = saved.zone
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
                guard version == 1 else { throw StateBytesError("engine state version \(version) is unknown") }
                let lastTs = try r.readInt64()
                let people = try r.readInt()
                let vehicles = try r.readInt()
                var event: CrowdEvent?
                if try r.readBool() {
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
                    event = e
                }
                let state = try policy.decodeState(from: &r, for: key)
                let i = index[key].map(Int.init) ?? addSlot(key)
                slots[i].state = state
                slots[i].lastTs = lastTs
                slots[i].people = people
                slots[i].vehicles = vehicles
                slots[i].event = event
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
        case .zone(let s, let z):
            let camera = MVSenseDecoder.string(topic, s)
            let zone = MVSenseDecoder.string(topic, z)
            if !filter.accepts(camera: camera, zone: zone) {
                value = Self.filteredValue
            } else {
                let key = ZoneKey(camera: camera, zone: zone)
                value = index[key] ?? Int32(addSlot(key))
            }
        }
        topics.insert(topic, hash: hash, value: value)
        return value
    }

    @usableFromInline
    mutating func addSlot(_ key: ZoneKey) -> Int {
        let i = slots.count
        slots.append(Slot(key: key, state: policy.makeState(for: key)))
        index[key] = Int32(i)
        return i
    }

    @inlinable
    mutating func feed(slot i: Int, _ reading: ZoneReading, emit: (EventChange) -> Void) -> MessageOutcome {
        if slots[i].lastTs != .min && reading.ts < slots[i].lastTs {
            counters.outOfOrder += 1
            return .outOfOrder
        }
        counters.observations += 1
        slots[i].lastTs = reading.ts
        slots[i].people = reading.people
        slots[i].vehicles = reading.vehicles
        let d = policy.process(reading, state: &slots[i].state)
        if !d.isEmpty { apply(d, slot: i, emit: emit) }
        if tracksChanges && !slots[i].changed {
            slots[i].changed = true
            changedSlots.append(Int32(i))
        }
        return .observed
    }

    @usableFromInline
    mutating func apply(_ d: Detection, slot i: Int, emit: (EventChange) -> Void) {
        if let e = d.ended, var event = slots[i].event {
            event.endedAt = e.endedAt
            event.peak = max(event.peak, e.peak)
            event.lastCount = e.count
            event.reminders = e.reminders
            slots[i].event = nil
            counters.ended += 1
            emit(EventChange(kind: .ended, event: event))
        }
        if let f = d.fired {
            let key = slots[i].key
            let event = CrowdEvent(
                camera: key.camera, zone: key.zone, startedAt: f.startedAt, firedAt: f.firedAt, endedAt: f.endedAt,
                peak: f.peak, lastCount: f.count, policy: policy.description(for: key))
            slots[i].event = f.endedAt == nil ? event : nil
            counters.fired += 1
            emit(EventChange(kind: .fired, event: event))
        }
        if let r = d.reminder, var event = slots[i].event {
            event.peak = max(event.peak, r.peak)
            event.lastCount = r.count
            event.lastNotifiedAt = r.at
            event.reminders = r.reminders
            slots[i].event = event
            counters.reminders += 1
            emit(EventChange(kind: .reminder, event: event))
        }
    }
}
