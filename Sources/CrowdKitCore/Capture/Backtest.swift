import Dispatch
import Foundation

/// A capture read once and kept decoded, so that many parameter combinations can be evaluated
/// without parsing it again (SEMANTICS.md §9). Only what detection can use is kept: zone counts
/// and line crossings, each as 24 bytes; other messages, malformed lines and rejected payloads are
/// counted and dropped.
public struct DecodedCapture: Sendable {
    struct Record: Sendable {
        /// Index in `topics`.
        var topic: Int32
        /// Zone counts: people; crossings: 0 in, 1 out, 2 another event.
        var a: Int32
        /// Zone counts: vehicles; crossings: 0 person, 1 vehicle, 2 another type.
        var b: Int32
        var ts: Int64
    }

    /// Distinct topics of counts and crossings, in order of first appearance.
    var topics: [[UInt8]] = []
    var isCrossing: [Bool] = []
    var records: [Record] = []
    /// The same records grouped by topic, each topic's in arrival order (``byTopic()``): the
    /// records of topic `t` are `runStart[t]..<runStart[t + 1]`. Zones without areas do not
    /// depend on each other, so a combination can be evaluated one zone at a time, its state in
    /// registers and its records in one stream.
    var runStart: [Int] = []
    var runTs: [Int64] = []
    var runA: [Int32] = []
    var runB: [Int32] = []
    /// The largest `ts` of any zone count or crossing (epoch ms), `nil` when there is none.
    public private(set) var maxTs: Int64?
    /// Non-empty, non-comment lines.
    public private(set) var lines = 0
    /// Lines that were not capture lines, or messages that did not decode.
    public private(set) var unusable = 0

    /// Zone counts and crossings kept.
    public var messages: Int { records.count }

    /// Reads the capture at `path` once. `progress` is called every 2^16 lines.
    public static func read(path: String, progress: ((Int) -> Void)? = nil) throws -> DecodedCapture {
        var capture = DecodedCapture()
        var parser = CaptureParser()
        var table = TopicTable()
        var scratch: [UInt8] = []
        // topic index, or -1: a valid topic that is neither a count nor a crossing, -2 invalid
        try CaptureReader(path: path).forEachLine { number, bytes in
            if number & 0xFFFF == 0 { progress?(number) }
            guard let bytes else {
                capture.lines += 1
                capture.unusable += 1
                return
            }
            // the form `record` writes, read in place when it can be; anything else the general way
            if let fast = CaptureParser.recordCounts(bytes), capture.add(topic: fast.topic, counts: fast.counts, table: &table) {
                capture.lines += 1
                return
            }
            if let parts = CaptureParser.recordParts(bytes), capture.addInPlace(topic: parts.topic, escapedPayload: parts.escapedPayload, table: &table) {
                capture.lines += 1
                return
            }
            let r = parser.parse(line: bytes, inPlace: true) { topic, payload, escaped, _ in
                capture.add(topic: topic, payload: payload, escaped: escaped, table: &table, scratch: &scratch)
            }
            switch r {
            case .skipped: return
            case .malformed:
                capture.lines += 1
                capture.unusable += 1
            case .message(let usable):
                capture.lines += 1
                if !usable { capture.unusable += 1 }
            }
        }
        capture.groupByTopic()
        return capture
    }

    /// Fills ``runStart``, ``runTs``, ``runA`` and ``runB`` (a stable counting sort by topic).
    private mutating func groupByTopic() {
        var start = [Int](repeating: 0, count: topics.count + 1)
        for r in records { start[Int(r.topic) + 1] += 1 }
        for t in 0..<topics.count { start[t + 1] += start[t] }
        var next = start
        let n = records.count
        var ts = [Int64](repeating: 0, count: n)
        var a = [Int32](repeating: 0, count: n)
        var b = [Int32](repeating: 0, count: n)
        for r in records {
            let k = next[Int(r.topic)]
            next[Int(r.topic)] = k + 1
            ts[k] = r.ts
            a[k] = r.a
            b[k] = r.b
        }
        (runStart, runTs, runA, runB) = (start, ts, a, b)
    }

    /// Adds a zone count read in place (its topic interned if new); `false` (nothing added)
    /// otherwise. `topic` has no escape or control character.
    private mutating func addInPlace(topic: UnsafeRawBufferPointer, escapedPayload: UnsafeRawBufferPointer, table: inout TopicTable) -> Bool {
        let h = TopicTable.hash(topic)
        let known = table.lookup(topic, hash: h)
        if let v = known, v < 0 || isCrossing[Int(v)] { return false }
        guard case .success(let c) = MVSenseDecoder.decodeCountsInPlace(escapedPayload) else { return false }
        return add(topic: topic, hash: h, known: known, counts: c, table: &table)
    }

    /// Adds a zone count decoded already (``CaptureParser/recordCounts(_:)``); `false` (nothing
    /// added) when the topic is not a zone's.
    private mutating func add(topic: UnsafeRawBufferPointer, counts c: MVSenseDecoder.Counts, table: inout TopicTable) -> Bool {
        let h = TopicTable.hash(topic)
        return add(topic: topic, hash: h, known: table.lookup(topic, hash: h), counts: c, table: &table)
    }

    private mutating func add(
        topic: UnsafeRawBufferPointer, hash h: UInt64, known: Int32?, counts c: MVSenseDecoder.Counts, table: inout TopicTable
    ) -> Bool {
        if let v = known, v < 0 || isCrossing[Int(v)] { return false }
        let v = known ?? intern(topic, hash: h, table: &table)
        guard v >= 0, !isCrossing[Int(v)] else { return false }
        append(Record(topic: v, a: Int32(clamping: c.people), b: Int32(clamping: c.vehicles), ts: c.ts))
        return true
    }

    /// The index of a topic not seen before: in `topics` for a zone count or a crossing, -1 for
    /// another valid topic, -2 for an invalid one.
    private mutating func intern(_ topic: UnsafeRawBufferPointer, hash h: UInt64, table: inout TopicTable) -> Int32 {
        let index: Int32
        switch MVSenseDecoder.classifyTopic(topic) {
        case .invalid: index = -2
        case .other: index = -1
        case .zone where otherSpelling(of: topic, table: table) != nil:
            // both spellings (with and without the leading slash) are one zone (SEMANTICS.md
            // §1), one topic here, so that its observations stay in one stream in arrival order
            index = otherSpelling(of: topic, table: table)!
        case .zone, .crossing:
            index = Int32(topics.count)
            topics.append(Array(topic))
            if case .crossing = MVSenseDecoder.classifyTopic(topic) { isCrossing.append(true) } else { isCrossing.append(false) }
        }
        table.insert(topic, hash: h, value: index)
        return index
    }

    /// What `table` holds for `topic` spelled with a leading slash if it has none, or without it
    /// if it has one.
    private func otherSpelling(of topic: UnsafeRawBufferPointer, table: TopicTable) -> Int32? {
        var other: [UInt8] = []
        other.reserveCapacity(topic.count + 1)
        if topic.first == 0x2F {
            other.append(contentsOf: topic.dropFirst())
        } else {
            other.append(0x2F)
            other.append(contentsOf: topic)
        }
        return other.withUnsafeBytes { table.lookup($0, hash: TopicTable.hash($0)) }
    }

    /// Adds a message; `escaped`: `payload` is still the content of a JSON string (unescaped
    /// into `scratch` unless a zone count reads in place).
    private mutating func add(
        topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, escaped: Bool, table: inout TopicTable,
        scratch: inout [UInt8]
    ) -> Bool {
        guard escaped else { return add(topic: topic, payload: payload, table: &table) }
        if addInPlace(topic: topic, escapedPayload: payload, table: &table) { return true }
        guard let base = payload.baseAddress?.assumingMemoryBound(to: UInt8.self),
            let n = JSONScanner.unescape(base: base, from: 0, to: payload.count, into: &scratch)
        else { return false }
        return scratch.withUnsafeBytes { add(topic: topic, payload: UnsafeRawBufferPointer(rebasing: $0[0..<n]), table: &table) }
    }

    private mutating func add(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, table: inout TopicTable) -> Bool {
        let h = TopicTable.hash(topic)
        let index = table.lookup(topic, hash: h) ?? intern(topic, hash: h, table: &table)
        if index == -1 { return true }
        if index < 0 { return false }
        if isCrossing[Int(index)] {
            guard case .success(let c) = MVSenseDecoder.decodeCrossing(payload) else { return false }
            let a: Int32 = switch c.direction {
            case .into: 0
            case .outOf: 1
            case .other: 2
            }
            let b: Int32 = switch c.type {
            case .person: 0
            case .vehicle: 1
            case nil: 2
            }
            append(Record(topic: index, a: a, b: b, ts: c.ts))
        } else {
            guard case .success(let c) = MVSenseDecoder.decodeCounts(payload) else { return false }
            append(Record(topic: index, a: Int32(clamping: c.people), b: Int32(clamping: c.vehicles), ts: c.ts))
        }
        return true
    }

    private mutating func append(_ r: Record) {
        records.append(r)
        if maxTs.map({ r.ts > $0 }) ?? true { maxTs = r.ts }
    }
}

/// What one parameter combination gave over a ``DecodedCapture`` (SEMANTICS.md §9).
public struct BacktestOutcome: Hashable, Sendable {
    /// Events (zones and areas) that `replay` with the same options prints.
    public var events: Int
    /// Sum of `endedAt - startedAt`, an open event counting up to the capture's largest `ts`.
    public var crowdMilliseconds: Int64
    /// Distinct `(camera, zone)` pairs with an event.
    public var zones: Int
    /// With labels: events matching a `crowd` label, events matching a `not_crowd` label, and
    /// `crowd` labels matched by no event.
    public var truePositives: Int?
    public var falsePositives: Int?
    public var missed: Int?
    /// The events themselves, in replay order, when asked for.
    public var eventList: [CrowdEvent]?
}

/// Evaluates detection settings over a capture read once (`crowd-notifier backtest`).
public enum Backtest {
    /// Runs `policy` (with the filter, areas and object types) over `capture`, exactly as
    /// ``Replay`` would over the same file.
    @_specialize(exported: true, where Policy == DwellPolicy)
    @_specialize(exported: true, where Policy == MessageCountPolicy)
    public static func evaluate<Policy: DetectionPolicy>(
        _ capture: DecodedCapture, policy: Policy, filter: ZoneFilter = .all, areas: AreaSetup = .none,
        objectTypes: ObjectTypeSelection = .person, labels: [CrowdLabel]? = nil, keepEvents: Bool = false
    ) -> BacktestOutcome {
        var engine = DetectionEngine(policy: policy, filter: filter, areas: areas, objectTypes: objectTypes)
        var values = [Int32]()
        values.reserveCapacity(capture.topics.count)
        for t in capture.topics {
            values.append(t.withUnsafeBytes { engine.resolveTopic($0, hash: TopicTable.hash($0)) ?? -1 })
        }
        var events: [CrowdEventID: CrowdEvent] = [:]
        var order: [CrowdEventID] = []
        let emit: (EventChange) -> Void = { change in
            if events.updateValue(change.event, forKey: change.event.id) == nil { order.append(change.event.id) }
        }
        if engine.zonesAreIndependent {
            // one zone at a time (SEMANTICS.md §1: zones never share state); only the order in
            // which events are made differs from replay's, and nothing below depends on it
            capture.runTs.withUnsafeBufferPointer { ts in
                capture.runA.withUnsafeBufferPointer { a in
                    capture.runB.withUnsafeBufferPointer { b in
                        for (t, v) in values.enumerated() where v >= 0 {
                            let run = capture.runStart[t]..<capture.runStart[t + 1]
                            engine.feed(
                                slot: Int(v), ts: UnsafeBufferPointer(rebasing: ts[run]), people: UnsafeBufferPointer(rebasing: a[run]),
                                vehicles: UnsafeBufferPointer(rebasing: b[run]), emit: emit)
                        }
                    }
                }
            }
        } else {
            capture.records.withUnsafeBufferPointer { records in
                for r in records {
                    engine.processDecoded(value: values[Int(r.topic)], ts: r.ts, a: r.a, b: r.b, emit: emit)
                }
            }
        }
        return outcome(of: order.compactMap { events[$0] }, end: capture.maxTs ?? 0, labels: labels, keepEvents: keepEvents)
    }

    /// Evaluates every one of `policies` over `capture` as ``evaluate(_:policy:filter:areas:objectTypes:labels:keepEvents:)``
    /// would one by one (without areas), with the same outcomes in the same order, sharing the work
    /// that combinations with the same `minPeople`, gap and stale time have in common (``DwellSweep``):
    /// on up to `jobs` threads (all cores by default); `done` is called (from any thread,
    /// serialised) with the number of policies finished. Policies with per-zone overrides are
    /// evaluated one by one.
    public static func evaluate(
        _ capture: DecodedCapture, dwellPolicies policies: [DwellPolicy], filter: ZoneFilter = .all,
        objectTypes: ObjectTypeSelection = .person, labels: [CrowdLabel]? = nil, keepEvents: Bool = false, jobs: Int? = nil,
        done: (@Sendable (Int) -> Void)? = nil
    ) -> [BacktestOutcome] {
        guard policies.allSatisfy(\.overrides.isEmpty) else {
            return parallelMap(count: policies.count, jobs: jobs, done: done) { i in
                evaluate(capture, policy: policies[i], filter: filter, objectTypes: objectTypes, labels: labels, keepEvents: keepEvents)
            }
        }
        return DwellSweep(capture, filter: filter, objectTypes: objectTypes).evaluate(
            policies, labels: labels, keepEvents: keepEvents, jobs: jobs, done: done)
    }

    /// The outcome of a combination whose events (zones and areas, final state) are `list`;
    /// open events count up to `end`.
    static func outcome(of list: [CrowdEvent], end: Int64, labels: [CrowdLabel]?, keepEvents: Bool) -> BacktestOutcome {
        var list = list
        var outcome = BacktestOutcome(events: list.count, crowdMilliseconds: 0, zones: 0)
        var zones = Set<ZoneKey>()
        for e in list {
            outcome.crowdMilliseconds += max(0, (e.endedAt ?? end) - e.startedAt)
            zones.insert(ZoneKey(camera: e.camera, zone: e.zone))
        }
        outcome.zones = zones.count
        if let labels {
            var tp = 0, fp = 0
            for e in list {
                if labels.contains(where: { $0.label == .crowd && $0.matches(e, end: end) }) { tp += 1 }
                if labels.contains(where: { $0.label == .notCrowd && $0.matches(e, end: end) }) { fp += 1 }
            }
            let missed = labels.filter { l in l.label == .crowd && !list.contains { l.matches($0, end: end) } }.count
            (outcome.truePositives, outcome.falsePositives, outcome.missed) = (tp, fp, missed)
        }
        if keepEvents {
            list.sort(by: ReplayFormat.precedes)
            outcome.eventList = list
        }
        return outcome
    }

    /// Runs `body` on a thread of its own (not one of Swift concurrency's few cooperative
    /// threads, which a long synchronous computation would hold up) and returns its result.
    public static func detached<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (k: CheckedContinuation<T, any Error>) in
            let thread = Thread { k.resume(with: Result { try body() }) }
            thread.name = "crowdkit-backtest"
            thread.start()
        }
    }

    /// Calls `body` for every index in `0..<count` on up to `jobs` threads (all cores by default)
    /// and returns the results in index order. `done` is called (from any thread, serialised) after
    /// each one with the number finished.
    public static func parallelMap<T: Sendable>(
        count: Int, jobs: Int? = nil, done: (@Sendable (Int) -> Void)? = nil, _ body: @Sendable (Int) -> T
    ) -> [T] {
        let results = LockedBox([T?](repeating: nil, count: count))
        let next = LockedBox(0)
        let finishedCount = LockedBox(0)
        let workers = max(1, min(jobs ?? ProcessInfo.processInfo.activeProcessorCount, count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let i = next.withLock { n -> Int in
                    defer { n += 1 }
                    return n
                }
                guard i < count else { return }
                let r = body(i)
                results.withLock { $0[i] = r }
                if let done {
                    finishedCount.withLock { n in
                        n += 1
                        done(n)
                    }
                }
            }
        }
        return results.withLock { $0.map { $0! } }
    }
}

