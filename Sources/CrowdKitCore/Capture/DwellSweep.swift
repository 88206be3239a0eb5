/// Many combinations of ``DwellPolicy`` parameters evaluated over one ``DecodedCapture`` at once,
/// each with exactly the events that ``Backtest/evaluate(_:policy:filter:areas:objectTypes:labels:keepEvents:)``
/// (and so `replay`) gives it, sharing the work that does not depend on every parameter.
///
/// Under SEMANTICS.md §2 an episode opens, grows and closes by N, G and S alone: D, C and R only
/// decide whether and when it fires and reminds. So each zone's observations are walked once per
/// distinct (N, G, S), giving its episodes (first and last observation at or above N, the one that
/// closed it) and the running peak; each combination then only finds, per episode, the first
/// observation at or above N that is D after the start and C after the zone's last firing (the
/// camera times of a zone's observations never decrease: a binary search), and its reminders.
/// Zones do not share state (§1), so zones without areas are evaluated one at a time.
struct DwellSweep: Sendable {
    /// In-order observations (out-of-order ones dropped, §1) of each zone, zone `z`'s are
    /// `start[z]..<start[z + 1]`: camera time and the count the policy sees.
    let ts: [Int64]
    let counts: [Int32]
    let start: [Int]
    let keys: [ZoneKey]
    /// The capture's largest `ts`, where open events end for `crowdMilliseconds`.
    let end: Int64

    /// One episode of a zone: indices of its first and last observation at or above N, and of the
    /// observation that closed it (-1: still open at the end).
    struct Episode {
        var first: Int
        var lastAbove: Int
        var close: Int
    }

    /// The resolved parameters of one combination (``DwellPolicy/ZoneState``, in milliseconds).
    struct Parameters: Hashable {
        var n: Int
        var d: Int64
        var g: Int64
        var c: Int64
        var s: Int64
        var r: Int64

        init(_ z: DwellPolicy.ZoneState) {
            (n, d, g, c, s, r) = (z.n, z.d, z.g, z.c, z.s, z.r)
        }

        /// What the episodes depend on.
        var episodeKey: [Int64] { [Int64(n), g, s] }
    }

    /// The zones of `capture` as replay makes them with `filter` and `objectTypes` (no areas), and
    /// their observations.
    init(_ capture: DecodedCapture, filter: ZoneFilter, objectTypes: ObjectTypeSelection) {
        var engine = DetectionEngine(policy: DwellPolicy(), filter: filter, objectTypes: objectTypes)
        var values = [Int32]()
        values.reserveCapacity(capture.topics.count)
        for t in capture.topics {
            values.append(t.withUnsafeBytes { engine.resolveTopic($0, hash: TopicTable.hash($0)) ?? -1 })
        }
        let zones = engine.zoneCount
        var start = [Int](repeating: 0, count: zones + 1)
        for r in capture.records {
            let v = values[Int(r.topic)]
            if v >= 0 { start[Int(v) + 1] += 1 }
        }
        for z in 0..<zones { start[z + 1] += start[z] }
        var fill = start
        var lastTs = [Int64](repeating: .min, count: zones)
        var ts = [Int64](repeating: 0, count: start[zones])
        var counts = [Int32](repeating: 0, count: start[zones])
        let vehicles = engine.slots.map(\.countsVehicles)
        for r in capture.records {
            let v = Int(values[Int(r.topic)])
            guard v >= 0, lastTs[v] == .min || r.ts >= lastTs[v] else { continue }
            lastTs[v] = r.ts
            ts[fill[v]] = r.ts
            counts[fill[v]] = vehicles[v] ? r.b : r.a
            fill[v] += 1
        }
        // close the gaps the dropped observations left
        var compact = 0
        var newStart = [Int](repeating: 0, count: zones + 1)
        for z in 0..<zones {
            newStart[z] = compact
            for k in start[z]..<fill[z] {
                ts[compact] = ts[k]
                counts[compact] = counts[k]
                compact += 1
            }
        }
        newStart[zones] = compact
        ts.removeLast(ts.count - compact)
        counts.removeLast(counts.count - compact)
        self.ts = ts
        self.counts = counts
        self.start = newStart
        self.keys = engine.slots.map(\.key)
        self.end = capture.maxTs ?? 0
    }

    /// The episodes of the observations `range` under N `n`, gap `g`, stale `s` (milliseconds),
    /// into `episodes`; `peak[k]` is the open episode's peak after observation `k`.
    func episodes(
        _ range: Range<Int>, n: Int, g: Int64, s: Int64, into episodes: inout [Episode], peak: UnsafeMutableBufferPointer<Int32>
    ) {
        episodes.removeAll(keepingCapacity: true)
        ts.withUnsafeBufferPointer { ts in
            counts.withUnsafeBufferPointer { counts in
                var open = false
                var first = 0
                var lastAbove = 0
                var lastAboveTs: Int64 = 0
                var lastTs = Int64.min
                var runningPeak: Int32 = 0
                for k in range {
                    let t = ts[k]
                    let p = counts[k]
                    // §2 step 2: stale
                    if open && lastTs != .min && t - lastTs > s {
                        episodes.append(Episode(first: first, lastAbove: lastAbove, close: k))
                        open = false
                    }
                    // steps 3 and 4
                    if Int(p) >= n {
                        if !open {
                            open = true
                            first = k
                            runningPeak = p
                        } else if p > runningPeak {
                            runningPeak = p
                        }
                        lastAbove = k
                        lastAboveTs = t
                    } else if open && t - lastAboveTs > g {
                        episodes.append(Episode(first: first, lastAbove: lastAbove, close: k))
                        open = false
                    }
                    peak[k] = runningPeak
                    lastTs = t
                }
                if open { episodes.append(Episode(first: first, lastAbove: lastAbove, close: -1)) }
            }
        }
    }

    /// What one combination's policy reports for a zone's episodes, in the order it reports
    /// them: firings (step 5), reminders and ends.
    func detections(_ episodes: [Episode], _ p: Parameters, peak: UnsafeMutableBufferPointer<Int32>, _ report: (Detection) -> Void) {
        var hasFired = false
        var lastFiredAt = Int64.min
        for e in episodes {
            let startedAt = ts[e.first]
            // the first observation at which step 5's times are met (they stay met: ts never
            // decreases), then the first at or above N from there
            var lo = e.first
            var hi = e.lastAbove + 1
            while lo < hi {
                let mid = (lo + hi) >> 1
                let t = ts[mid]
                if t - startedAt >= p.d && (!hasFired || t - lastFiredAt >= p.c) { hi = mid } else { lo = mid + 1 }
            }
            var k = lo
            while k <= e.lastAbove && Int(counts[k]) < p.n { k += 1 }
            guard k <= e.lastAbove else { continue }  // closed or still open without firing
            let firedAt = ts[k]
            hasFired = true
            lastFiredAt = firedAt
            report(Detection(fired: EpisodeReport(startedAt: startedAt, firedAt: firedAt, endedAt: nil, peak: Int(peak[k]), count: Int(counts[k]), at: firedAt)))
            var reminders = 0
            if p.r > 0 {
                var lastNotifiedAt = firedAt
                var j = k + 1
                while j <= e.lastAbove {
                    if Int(counts[j]) >= p.n && ts[j] - lastNotifiedAt >= p.r {
                        lastNotifiedAt = ts[j]
                        reminders += 1
                        report(
                            Detection(
                                reminder: EpisodeReport(
                                    startedAt: startedAt, firedAt: firedAt, endedAt: nil, peak: Int(peak[j]), count: Int(counts[j]), at: ts[j],
                                    reminders: reminders)))
                    }
                    j += 1
                }
            }
            if e.close >= 0 {
                report(
                    Detection(
                        ended: EpisodeReport(
                            startedAt: startedAt, firedAt: firedAt, endedAt: ts[e.lastAbove], peak: Int(peak[e.lastAbove]),
                            count: Int(counts[e.close]), at: ts[e.close], reminders: reminders)))
            }
        }
    }

    /// The outcomes of `policies` (each without per-zone overrides), in their order: every group
    /// of policies with the same N, G and S is one piece of work, on up to `jobs` threads; `done`
    /// is called with the number of policies finished.
    func evaluate(
        _ policies: [DwellPolicy], labels: [CrowdLabel]?, keepEvents: Bool, jobs: Int?, done: (@Sendable (Int) -> Void)?
    ) -> [BacktestOutcome] {
        let anyKey = ZoneKey(camera: "", zone: "")
        let parameters = policies.map { Parameters($0.makeState(for: anyKey)) }
        var groupIndex: [[Int64]: Int] = [:]
        var grouping: [[Int]] = []
        for (i, p) in parameters.enumerated() {
            if let g = groupIndex[p.episodeKey] {
                grouping[g].append(i)
            } else {
                groupIndex[p.episodeKey] = grouping.count
                grouping.append([i])
            }
        }
        let groups = grouping
        let finished = LockedBox(0)
        let full = keepEvents || labels != nil
        let results = Backtest.parallelMap(count: groups.count, jobs: jobs) { (g: Int) -> [BacktestOutcome] in
            let members = groups[g]
            let outcomes = evaluate(members.map { (policy: policies[$0], parameters: parameters[$0]) }, full: full, labels: labels, keepEvents: keepEvents)
            if let done {
                finished.withLock { n in
                    n += members.count
                    done(n)
                }
            }
            return outcomes
        }
        var out = [BacktestOutcome?](repeating: nil, count: policies.count)
        for (g, members) in groups.enumerated() {
            for (m, i) in members.enumerated() { out[i] = results[g][m] }
        }
        return out.map { $0! }
    }

    /// Combinations with the same N, G and S over every zone. With `full`, the events themselves
    /// (made as the engine makes them) for labels and the event list.
    private func evaluate(
        _ combinations: [(policy: DwellPolicy, parameters: Parameters)], full: Bool, labels: [CrowdLabel]?, keepEvents: Bool
    ) -> [BacktestOutcome] {
        guard let shared = combinations.first?.parameters else { return [] }
        var totals = [BacktestOutcome](repeating: BacktestOutcome(events: 0, crowdMilliseconds: 0, zones: 0), count: combinations.count)
        var events = [[CrowdEvent]](repeating: [], count: combinations.count)
        var episodes: [Episode] = []
        let peakStorage = UnsafeMutableBufferPointer<Int32>.allocate(capacity: Swift.max(1, ts.count))
        defer { peakStorage.deallocate() }
        var counters = EngineCounters()
        for z in keys.indices where start[z] < start[z + 1] {
            self.episodes(start[z]..<start[z + 1], n: shared.n, g: shared.g, s: shared.s, into: &episodes, peak: peakStorage)
            if episodes.isEmpty { continue }
            for (c, combination) in combinations.enumerated() {
                if full {
                    // the engine's own event making (DetectionEngine.apply)
                    let key = keys[z]
                    let policy = combination.policy
                    var open: CrowdEvent?
                    var zoneEvents: [CrowdEvent] = []
                    detections(episodes, combination.parameters, peak: peakStorage) { d in
                        EventTracking.apply(
                            d, key: key, event: &open, counters: &counters,
                            describe: { EventTracking.description(policy.description(for: key), runtime: nil, key: key, at: 0) }
                        ) { change in
                            if change.kind == .fired { zoneEvents.append(change.event) } else { zoneEvents[zoneEvents.count - 1] = change.event }
                        }
                    }
                    events[c] += zoneEvents
                } else {
                    // only what the outcome counts: each event's start and end
                    var fired = 0
                    var milliseconds: Int64 = 0
                    var openSince: Int64?
                    detections(episodes, combination.parameters, peak: peakStorage) { d in
                        if let e = d.ended, let since = openSince, let endedAt = e.endedAt {
                            milliseconds += Swift.max(0, endedAt - since)
                            openSince = nil
                        }
                        if let f = d.fired {
                            fired += 1
                            if let endedAt = f.endedAt {
                                milliseconds += Swift.max(0, endedAt - f.startedAt)
                            } else {
                                openSince = f.startedAt
                            }
                        }
                    }
                    if let since = openSince { milliseconds += Swift.max(0, end - since) }
                    if fired > 0 {
                        totals[c].events += fired
                        totals[c].crowdMilliseconds += milliseconds
                        totals[c].zones += 1
                    }
                }
            }
        }
        guard full else { return totals }
        return events.map { Backtest.outcome(of: $0, end: end, labels: labels, keepEvents: keepEvents) }
    }
}
