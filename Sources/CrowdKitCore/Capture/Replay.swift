/// Replays a capture through a policy, synchronously and as fast as the machine allows, and
/// reports the events exactly as SEMANTICS.md §6 orders them. The same ``DetectionEngine`` runs
/// live feeds, so a replay gives the events the live run gave.
public struct Replay<Policy: DetectionPolicy> {
    public var policy: Policy
    public var filter: ZoneFilter
    /// Areas counted from line crossings (SEMANTICS.md §8).
    public var areas: AreaSetup
    /// Which count of each zone the policy sees.
    public var objectTypes: ObjectTypeSelection

    public init(policy: Policy, filter: ZoneFilter = .all, areas: AreaSetup = .none, objectTypes: ObjectTypeSelection = .person) {
        self.policy = policy
        self.filter = filter
        self.areas = areas
        self.objectTypes = objectTypes
    }

    /// A malformed capture line.
    public struct MalformedLine: Hashable, Sendable {
        public var line: Int
        public var reason: String
    }

    /// What a replay found.
    public struct Result: Sendable {
        /// Crowd events, ordered by `firedAt`, then camera, then zone; final `endedAt` and peak
        /// (`endedAt` nil for a crowd still open at the end of the capture).
        public var events: [CrowdEvent]
        /// Every event change in the order it happened (fired, reminder, ended).
        public var changes: Int
        /// Non-empty, non-comment lines.
        public var lines: Int
        /// Malformed lines (the first ``maxReportedLines``, with numbers), and their total.
        public var malformed: [MalformedLine]
        public var malformedCount: Int
        /// Messages rejected by the decoder, with the line numbers of the first few.
        public var rejectedLines: [MalformedLine]
        public var counters: EngineCounters
        /// Zones with state at the end.
        public var zones: Int
        /// Areas configured.
        public var areas: Int = 0
    }

    /// How many malformed or rejected lines are kept with their numbers.
    public static var maxReportedLines: Int { 100 }

    /// Replays the capture at `path`. `progress` is called every 2^16 lines with the line count.
    /// Throws ``CaptureError`` only when the file cannot be read.
    @_specialize(exported: true, where Policy == DwellPolicy)
    @_specialize(exported: true, where Policy == MessageCountPolicy)
    public func run(path: String, progress: ((Int) -> Void)? = nil) throws -> Result {
        var engine = DetectionEngine(policy: policy, filter: filter, areas: areas, objectTypes: objectTypes)
        var parser = CaptureParser()
        var events: [CrowdEventID: CrowdEvent] = [:]
        var order: [CrowdEventID] = []
        var changes = 0
        var lines = 0
        var malformed: [MalformedLine] = []
        var malformedCount = 0
        var rejected: [MalformedLine] = []
        let limit = Self.maxReportedLines
        // one closure for the whole run (made per line it would be allocated per line)
        let emit: (EventChange) -> Void = { change in
            changes += 1
            if events.updateValue(change.event, forKey: change.event.id) == nil { order.append(change.event.id) }
        }
        try CaptureReader(path: path).forEachLine { number, bytes in
            if number & 0xFFFF == 0 { progress?(number) }
            guard let bytes else {
                lines += 1
                malformedCount += 1
                if malformed.count < limit { malformed.append(MalformedLine(line: number, reason: "line too long")) }
                return
            }
            // the form `record` writes, read in place; anything else the general way
            if let fast = CaptureParser.recordCounts(bytes), let outcome = engine.process(topic: fast.topic, counts: fast.counts, emit: emit) {
                lines += 1
                if case .rejected(let reason) = outcome, rejected.count < limit {
                    rejected.append(MalformedLine(line: number, reason: reason.description))
                }
                return
            }
            if let parts = CaptureParser.recordParts(bytes),
                let outcome = engine.processInPlaceOnly(topic: parts.topic, escapedPayload: parts.escapedPayload, emit: emit)
            {
                lines += 1
                if case .rejected(let reason) = outcome, rejected.count < limit {
                    rejected.append(MalformedLine(line: number, reason: reason.description))
                }
                return
            }
            let r = parser.parse(line: bytes, inPlace: true) { topic, payload, escaped, _ in
                escaped
                    ? engine.process(topic: topic, escapedPayload: payload, emit: emit)
                    : engine.process(topic: topic, payload: payload, emit: emit)
            }
            switch r {
            case .skipped: return
            case .malformed(let reason):
                lines += 1
                malformedCount += 1
                if malformed.count < limit { malformed.append(MalformedLine(line: number, reason: reason)) }
            case .message(let outcome):
                lines += 1
                if case .rejected(let reason) = outcome, rejected.count < limit {
                    rejected.append(MalformedLine(line: number, reason: reason.description))
                }
            }
        }
        let sorted = order.compactMap { events[$0] }.sorted(by: ReplayFormat.precedes)
        return Result(
            events: sorted, changes: changes, lines: lines, malformed: malformed, malformedCount: malformedCount,
            rejectedLines: rejected, counters: engine.statistics, zones: engine.zoneCount, areas: areas.areas.count)
    }
}

/// The replay output formats of SEMANTICS.md §6.
public enum ReplayFormat {
    /// The order of SEMANTICS.md §6: `firedAt`, then camera, then zone (bytewise), then `startedAt`.
    public static func precedes(_ a: CrowdEvent, _ b: CrowdEvent) -> Bool {
        if a.firedAt != b.firedAt { return a.firedAt < b.firedAt }
        if a.camera != b.camera { return a.camera.utf8.lexicographicallyPrecedes(b.camera.utf8) }
        if a.zone != b.zone { return a.zone.utf8.lexicographicallyPrecedes(b.zone.utf8) }
        return a.startedAt < b.startedAt
    }

    /// One JSON object per event, in the exact form
    /// `{"camera":"…","zone":"…","startedAt":…,"firedAt":…,"endedAt":…|null,"peak":…}`.
    public static func jsonLine(_ e: CrowdEvent) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(160)
        out.append(contentsOf: #"{"camera":"#.utf8)
        JSONText.appendString(e.camera.utf8, to: &out)
        out.append(contentsOf: #","zone":"#.utf8)
        JSONText.appendString(e.zone.utf8, to: &out)
        out.append(contentsOf: #","startedAt":\#(e.startedAt),"firedAt":\#(e.firedAt),"endedAt":"#.utf8)
        out.append(contentsOf: (e.endedAt.map { String($0) } ?? "null").utf8)
        out.append(contentsOf: #","peak":\#(e.peak)}"#.utf8)
        return String(decoding: out, as: UTF8.self)
    }

    /// All events as JSON Lines (each line ends with a newline).
    public static func jsonLines(_ events: [CrowdEvent]) -> String {
        events.map { jsonLine($0) + "\n" }.joined()
    }
}
