import CrowdKitCore
import Foundation

/// Query-string parameters, decoded as an HTML form sends them (`+` is a space).
struct QueryParameters {
    var pairs: [(name: String, value: String)]

    init(_ query: String?) {
        pairs = []
        guard let query, !query.isEmpty else { return }
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.decode(kv[0])
            let value = kv.count > 1 ? Self.decode(kv[1]) : ""
            pairs.append((name, value))
        }
    }

    func all(_ name: String) -> [String] { pairs.filter { $0.name == name }.map(\.value) }
    func first(_ name: String) -> String? { pairs.first { $0.name == name }?.value }

    static func decode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var it = Array(text.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if b == UInt8(ascii: "%"), it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The filters and page position of `/`, `/api/events`, `/api/events.csv` and the event stream.
struct EventFilter: Sendable {
    var cameras: [String] = []
    var zones: [String] = []
    var from: Int64?
    var to: Int64?
    var limit: Int
    var cursor: EventCursor?

    init(defaultLimit: Int) { limit = defaultLimit }

    /// Parses `camera`, `zone` (repeatable or comma-separated), `from`, `to` (epoch ms or ISO 8601;
    /// `to` is exclusive), `limit` and `cursor`.
    init(query: String?, defaultLimit: Int) throws(CrowdWebError) {
        let params = QueryParameters(query)
        func list(_ name: String) -> [String] {
            var seen = Set<String>()
            return params.all(name).flatMap { $0.split(separator: ",") }
                .map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && seen.insert($0).inserted }
        }
        cameras = list("camera")
        zones = list("zone")
        for (name, value) in [("from", params.first("from")), ("to", params.first("to"))] {
            guard let value, !value.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            guard let ms = Format.parseTime(value) else {
                throw CrowdWebError(
                    .badRequest, "parameter \(name): expected epoch milliseconds or an ISO 8601 time, got \"\(value.prefix(40))\"")
            }
            if name == "from" { from = ms } else { to = ms }
        }
        limit = defaultLimit
        if let text = params.first("limit"), !text.isEmpty {
            guard let n = Int(text), (1...1000).contains(n) else {
                throw CrowdWebError(.badRequest, "parameter limit: expected an integer from 1 to 1000")
            }
            limit = n
        }
        if let text = params.first("cursor"), !text.isEmpty {
            guard let c = EventCursor(token: text), c.id.rawValue.count <= 64 else {
                throw CrowdWebError(.badRequest, "parameter cursor: not a cursor from this API")
            }
            cursor = c
        }
    }

    var eventQuery: EventQuery {
        EventQuery(cameras: Set(cameras), zones: Set(zones), startedFrom: from, startedBefore: to, limit: limit, cursor: cursor)
    }

    var isFiltered: Bool { !cameras.isEmpty || !zones.isEmpty || from != nil || to != nil }

    /// The query string of these filters (without `limit` unless `includeLimit`), and `cursor`.
    func queryString(cursor: EventCursor? = nil, includeLimit: Bool = false, defaultLimit: Int = 50) -> String {
        var parts: [String] = []
        parts += cameras.map { "camera=" + Format.query($0) }
        parts += zones.map { "zone=" + Format.query($0) }
        if let from { parts.append("from=" + Format.query(Format.iso(from))) }
        if let to { parts.append("to=" + Format.query(Format.iso(to))) }
        if includeLimit, limit != defaultLimit { parts.append("limit=\(limit)") }
        if let cursor { parts.append("cursor=" + Format.query(cursor.token)) }
        return parts.joined(separator: "&")
    }
}
