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
            let minutes = try await historyStore.occupancy(of: key, from: from, to: to)
            let points = OccupancyPoint.points(minutes, step: step)
            let page = try await store.events(EventQuery(cameras: [camera], zones: [zone], startedBefore: to, limit: 1000))
            let events = page.records.map(\.event).filter { ($0.endedAt ?? .max) >= from }
            let minPeople = settings?.live.snapshot.settings.value(of: .minPeople, for: key, at: to)
            var object: [String: Any] = [
                "points": points.map { ["t": $0.t, "max": $0.max, "mean": ($0.mean * 100).rounded() / 100, "last": $0.last] },
                "events": events.map { ["id": $0.id.rawValue, "startedAt": $0.startedAt, "endedAt": $0.endedAt.map { $0 as Any } ?? NSNull()] },
            ]
            object["minPeople"] = minPeople.map { Int($0) as Any } ?? NSNull()
            return Self.jsonObject(object)
        } catch {
            return storeUnavailable(error)
        }
    }
}
