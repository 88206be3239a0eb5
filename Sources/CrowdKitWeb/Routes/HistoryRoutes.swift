import CrowdKitCore
import Foundation
import Hummingbird

/// `GET /api/zones/{camera}/{zone}/history?from=&to=&step=`: a zone's occupancy (the store's
/// ``OccupancyHistoryStore``), its threshold and its crowd events in the range.
extension CrowdWeb {
    func history(_ request: Request, camera: String, zone: String) async -> Response {
        guard let historyStore = store as? any OccupancyHistoryStore else {
            return Self.errors(.notFound, [("", "this store keeps no occupancy history")])
        }
        let q = request.uri.queryParameters
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var problems: [(String, String)] = []
        func instant(_ name: String, _ fallback: Int64) -> Int64 {
            guard let text = q.get(name) else { return fallback }
            if let ms = Int64(text) { return ms }
            if let date = try? Date(text, strategy: .iso8601) { return Int64(date.timeIntervalSince1970 * 1000) }
            problems.append((name, "expected epoch milliseconds or an ISO-8601 time"))
            return fallback
        }
        let to = instant("to", now)
        let from = instant("from", to - 86_400_000)
        var step: Int64 = 60_000
        if let text = q.get("step") {
            if let seconds = Int64(text), (60...86_400).contains(seconds) { step = seconds * 1000 } else { problems.append(("step", "expected seconds from 60 to 86400")) }
        }
        if problems.isEmpty, from >= to { problems.append(("from", "must be before to")) }
        if problems.isEmpty, to - from > 400 * 86_400_000 { problems.append(("from", "the range is at most 400 days")) }
        guard problems.isEmpty else { return Self.errors(.badRequest, problems) }
        let key = ZoneKey(camera: camera, zone: zone)
        do {
            let points = try await historyStore.occupancyPoints(of: key, from: from, to: to, step: step)
            let page = try await store.events(
                EventQuery(cameras: [camera], zones: [zone], startedFrom: from - 86_400_000, startedBefore: to, limit: 1000))
            let events = page.records.map(\.event).filter { ($0.endedAt ?? .max) >= from }
            let minPeople = settings?.live.snapshot.settings.value(of: .minPeople, for: key, at: to)
            return Self.json(bytes: Self.historyJSON(points: points, minPeople: minPeople, events: events))
        } catch {
            return storeUnavailable(error)
        }
    }

    /// `{"events": [...], "minPeople": N, "points": [...]}`, written directly (a day is 1,440
    /// points: no dictionary per point).
    static func historyJSON(points: [OccupancyPoint], minPeople: Double?, events: [CrowdEvent]) -> [UInt8] {
        var w = ByteWriter(capacity: 64 + points.count * 56 + events.count * 96)
        w.raw("{\"events\":[")
        for (i, e) in events.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"endedAt\":")
            w.json(e.endedAt)
            w.raw(",\"id\":")
            w.json(e.id.rawValue)
            w.raw(",\"startedAt\":")
            w.int(e.startedAt)
            w.raw("}")
        }
        w.raw("],\"minPeople\":")
        if let minPeople { w.int(Int64(minPeople)) } else { w.raw("null") }
        w.raw(",\"points\":[")
        for (i, p) in points.enumerated() {
            w.raw(i == 0 ? "{\"last\":" : ",{\"last\":")
            w.int(p.last)
            w.raw(",\"max\":")
            w.int(p.max)
            w.raw(",\"mean\":")
            w.raw(meanText(p.mean))
            w.raw(",\"t\":")
            w.int(p.t)
            w.raw("}")
        }
        w.raw("]}")
        return w.bytes
    }

    /// The mean to two decimals, without trailing zeros.
    static func meanText(_ mean: Double) -> String {
        let hundredths = Int64((mean * 100).rounded())
        let whole = hundredths / 100
        let fraction = hundredths % 100
        if fraction == 0 { return String(whole) }
        return fraction % 10 == 0 ? "\(whole).\(fraction / 10)" : "\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
