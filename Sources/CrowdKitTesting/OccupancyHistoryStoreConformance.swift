import CrowdKitCore
import Foundation

/// Checks an ``OccupancyHistoryStore``: minutes read back per zone in `[from, to)`, oldest first;
/// a minute written again replaces the earlier one; a large batch in one call; pruning.
///
/// ```swift
/// try await OccupancyHistoryStoreConformance.run { try MyStore(path: temporaryFile()) }
/// ```
public enum OccupancyHistoryStoreConformance {
    public enum Check: String, CaseIterable, Sendable {
        case emptyStoreHasNoMinutes
        case readsZoneRangeOldestFirst
        case rewrittenMinuteReplaces
        case largeBatchInOneCall
        case pointsMergeLikeTheMinutes
        case pruneRemovesOlderMinutes
    }

    static let suite = "OccupancyHistoryStore"
    static let a = ZoneKey(camera: "Q2GV-OCCU-0001", zone: "0")
    static let b = ZoneKey(camera: "Q2GV-OCCU-0001", zone: "584342051651321858")
    static let t0: Int64 = 1_764_000_000_000 / 60_000 * 60_000

    static func minute(_ zone: ZoneKey, _ i: Int, max: Int) -> OccupancyMinute {
        OccupancyMinute(zone: zone, minute: t0 + Int64(i) * 60_000, max: max, sum: max * 3, observations: 4, last: max - 1)
    }

    public static func run(makeStore: () async throws -> any OccupancyHistoryStore) async throws {
        try await ConformanceRunner.run(suite, Check.self) { check in try await run(check, try await makeStore()) }
    }

    static func run(_ check: Check, _ store: any OccupancyHistoryStore) async throws {
        func fail(_ m: String) -> ConformanceFailure { ConformanceFailure(suite: suite, check: check.rawValue, message: m) }
        switch check {
        case .emptyStoreHasNoMinutes:
            if try await !store.occupancy(of: a, from: 0, to: .max).isEmpty { throw fail("a new store must have no minutes") }
        case .readsZoneRangeOldestFirst:
            // written newest first, two zones interleaved
            var minutes: [OccupancyMinute] = []
            for i in (0..<10).reversed() {
                minutes.append(minute(a, i, max: i + 1))
                minutes.append(minute(b, i, max: 100 + i))
            }
            try await store.appendOccupancy(minutes)
            let got = try await store.occupancy(of: a, from: t0 + 2 * 60_000, to: t0 + 6 * 60_000)
            let want = (2..<6).map { minute(a, $0, max: $0 + 1) }
            if got != want { throw fail("[from, to) of one zone, oldest first: want \(want), got \(got)") }
            if try await store.occupancy(of: b, from: 0, to: .max).count != 10 { throw fail("the other zone keeps its 10 minutes") }
        case .rewrittenMinuteReplaces:
            try await store.appendOccupancy([minute(a, 0, max: 3), minute(a, 1, max: 4)])
            try await store.appendOccupancy([minute(a, 1, max: 9)])
            let got = try await store.occupancy(of: a, from: t0, to: t0 + 120_000)
            if got != [minute(a, 0, max: 3), minute(a, 1, max: 9)] { throw fail("a minute written again replaces the first: got \(got)") }
        case .largeBatchInOneCall:
            let minutes = (0..<12_000).map { minute($0 % 2 == 0 ? a : b, $0 / 2, max: $0 % 50 + 1) }
            try await store.appendOccupancy(minutes)
            let got = try await store.occupancy(of: b, from: t0, to: t0 + 6_000 * 60_000)
            if got.count != 6_000 || got.last != minute(b, 5_999, max: 11_999 % 50 + 1) {
                throw fail("12,000 minutes in one call: read back \(got.count) of zone b's 6,000")
            }
        case .pointsMergeLikeTheMinutes:
            // uneven minutes over a few steps, a gap, counts of 0
            var minutes: [OccupancyMinute] = []
            for i in [0, 1, 2, 4, 7, 8, 15, 16, 31, 44, 45, 59] {
                minutes.append(OccupancyMinute(zone: a, minute: t0 + Int64(i) * 60_000, max: (i * 7) % 11, sum: i * 3, observations: i % 4 + 1, last: i % 5))
            }
            try await store.appendOccupancy(minutes)
            // rewritten minutes count as rewritten in merged points too
            minutes[3] = OccupancyMinute(zone: a, minute: minutes[3].minute, max: 42, sum: 84, observations: 2, last: 41)
            try await store.appendOccupancy([minutes[3]])
            for step: Int64 in [60_000, 300_000, 900_000, 1_800_000, 3_600_000] {
                let want = OccupancyPoint.points(minutes, step: step)
                let got = try await store.occupancyPoints(of: a, from: t0, to: t0 + 3_600_000, step: step)
                if got != want { throw fail("points of \(step) ms: want \(want), got \(got)") }
            }
        case .pruneRemovesOlderMinutes:
            try await store.appendOccupancy((0..<5).map { minute(a, $0, max: 2) } + (0..<5).map { minute(b, $0, max: 2) })
            let removed = try await store.pruneOccupancy(before: t0 + 3 * 60_000)
            if removed != 6 { throw fail("prune before minute 3 of 2 zones removes 6 minutes, said \(removed)") }
            let left = try await store.occupancy(of: a, from: 0, to: .max).map(\.minute)
            if left != [t0 + 3 * 60_000, t0 + 4 * 60_000] { throw fail("minutes left: \(left)") }
            let points = try await store.occupancyPoints(of: a, from: t0 - 3_600_000, to: t0 + 3_600_000, step: 900_000)
            let want = OccupancyPoint.points(try await store.occupancy(of: a, from: 0, to: .max), step: 900_000)
            if points != want { throw fail("after pruning, merged points are those of the minutes left: want \(want), got \(points)") }
        }
    }
}
