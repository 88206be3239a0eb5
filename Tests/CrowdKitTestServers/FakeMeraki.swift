import CrowdKitCore
import Foundation

/// A fake Meraki Dashboard API v1 on 127.0.0.1 following the documented contract:
/// Bearer auth (401 `{"errors": ["Invalid API key"]}` otherwise), videoLink, generateSnapshot
/// (202 with an image URL that answers 404 until ready; 400 "No video for specified timestamp"
/// for the serials in ``noVideoSerials`` when a timestamp is given), network devices and
/// camera zones. Scripted answers and redirects can be set per route.
public final class FakeMeraki: Sendable {
    public struct State: Sendable {
        /// `GET /networks/{id}/devices` body, per network id.
        public var devices: [String: Data] = [:]
        /// `GET /devices/{serial}/camera/analytics/zones` body, per serial.
        public var zones: [String: Data] = [:]
        /// `GET /networks/{id}`: the organization of each network.
        public var networkOrganizations: [String: String] = [:]
        /// `GET /organizations/{org}/camera/boundaries/{areas|lines}/byDevice`: per kind, per serial,
        /// the boundaries as `(id, name)`.
        public var boundaries: [String: [String: [(id: String, name: String)]]] = [:]
        public var noVideoSerials: Set<String> = []
        /// 404s each image answers before it is ready.
        public var imageNotReadyPolls = 2
        /// Scripted answers per route name (`videoLink`, `generateSnapshot`, `devices`, `zones`, `image`).
        public var script: [String: [FakeResponse]] = [:]
        /// Routes that answer `307` to this base URL (same path and query).
        public var redirects: [String: URL] = [:]
        var imagePolls: [String: Int] = [:]
        var snapshots = 0
        public init() {}

        /// Sets the devices of a network from `(serial, name)` pairs.
        public mutating func setDevices(network: String, _ list: [(serial: String, name: String)]) {
            let objects = list.map { ["serial": $0.serial, "name": $0.name, "model": "MV12WE"] }
            devices[network] = try? JSONSerialization.data(withJSONObject: objects)
        }

        /// Sets the zones of a camera from raw JSON text (so tests can use either id spelling).
        public mutating func setZones(serial: String, json: String) {
            zones[serial] = Data(json.utf8)
        }
    }

    public static let jpeg = Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46, 0x00, 0x01] + Array(repeating: 0x42, count: 64) + [0xFF, 0xD9])

    public let server: FakeHTTPServer
    public let apiKey: String
    public let state: LockedBox<State>

    /// `http://127.0.0.1:<port>/api/v1`
    public var baseURL: URL { server.baseURL.appendingPathComponent("api/v1") }

    public init(apiKey: String, state initial: State = State()) async throws {
        let state = LockedBox(initial)
        self.state = state
        self.apiKey = apiKey
        let box = LockedBox<URL?>(nil)
        server = try await FakeHTTPServer { request in
            FakeMeraki.handle(request, apiKey: apiKey, state: state, origin: box.withLock { $0 })
        }
        let origin = server.baseURL
        box.withLock { $0 = origin }
    }

    public func update(_ body: (inout State) -> Void) { state.withLock(body) }

    public func stop() async { await server.stop() }

    /// The route name of a path, or nil.
    public static func route(_ path: String) -> String? {
        if path.hasPrefix("/images/") { return "image" }
        if path.hasSuffix("/camera/videoLink") { return "videoLink" }
        if path.hasSuffix("/camera/generateSnapshot") { return "generateSnapshot" }
        if path.hasSuffix("/camera/analytics/zones") { return "zones" }
        if path.hasPrefix("/api/v1/networks/") && path.hasSuffix("/devices") { return "devices" }
        if path == "/api/v1/organizations" { return "organizations" }
        if path.hasPrefix("/api/v1/organizations/") && path.hasSuffix("/byDevice") && path.contains("/camera/boundaries/") { return "boundaries" }
        if path.hasPrefix("/api/v1/networks/") && path.split(separator: "/").count == 4 { return "network" }
        return nil
    }

    /// Requests to a route.
    public func requests(_ route: String) -> [RecordedRequest] {
        server.requests.filter { FakeMeraki.route($0.path) == route }
    }

    static func handle(_ request: RecordedRequest, apiKey: String, state: LockedBox<State>, origin: URL?) -> FakeResponse {
        let path = request.path
        guard let route = route(path) else { return .json(404, ["errors": ["Not found"]]) }
        if route != "image" && request.header("authorization") != "Bearer \(apiKey)" {
            return .json(401, ["errors": ["Invalid API key"]])
        }
        let (scripted, redirect): (FakeResponse?, URL?) = state.withLock { s in
            if var queue = s.script[route], !queue.isEmpty {
                let first = queue.removeFirst()
                s.script[route] = queue
                return (first, nil)
            }
            return (nil, s.redirects[route])
        }
        if let scripted { return scripted }
        if let redirect {
            var target = redirect.absoluteString
            while target.hasSuffix("/") { target.removeLast() }
            target += path + (request.query.isEmpty ? "" : "?" + request.query)
            return FakeResponse(status: 307, headers: [("Location", target)])
        }
        let segments = path.split(separator: "/").map(String.init)
        switch route {
        case "videoLink":
            guard request.method == "GET", segments.count == 6 else { return .json(405, ["errors": ["Method not allowed"]]) }
            let serial = segments[3]
            let ts = request.queryItems["timestamp"] ?? "now"
            return .json(200, ["url": "https://video.example/\(serial)?t=\(ts)", "visionUrl": "https://vision.example/\(serial)?t=\(ts)"])
        case "generateSnapshot":
            guard request.method == "POST" else { return .json(405, ["errors": ["Method not allowed"]]) }
            let serial = segments[3]
            let body = request.jsonObject ?? [:]
            if body["timestamp"] != nil && body["fullframe"] != nil {
                return .json(400, ["errors": ["timestamp and fullframe cannot both be given"]])
            }
            let noVideo = state.withLock { $0.noVideoSerials.contains(serial) }
            if body["timestamp"] != nil && noVideo {
                return .json(400, ["errors": ["No video for specified timestamp"]])
            }
            let n = state.withLock { s -> Int in
                s.snapshots += 1
                return s.snapshots
            }
            let base = origin?.absoluteString ?? ""
            return .json(
                202,
                [
                    "url": "\(base)/images/\(serial)-\(n).jpg",
                    "expiry": "Access to the image will expire at 2024-05-02T07:12:39Z.",
                ])
        case "image":
            let ready = state.withLock { s -> Bool in
                let polls = (s.imagePolls[path] ?? 0) + 1
                s.imagePolls[path] = polls
                return polls > s.imageNotReadyPolls
            }
            return ready
                ? FakeResponse(status: 200, headers: [("Content-Type", "image/jpeg")], body: jpeg)
                : .json(404, ["errors": ["Not found"]])
        case "devices":
            let network = segments[3]
            let body = state.withLock { $0.devices[network] }
            return body.map { FakeResponse(status: 200, headers: [("Content-Type", "application/json")], body: $0) }
                ?? .json(404, ["errors": ["Network not found"]])
        case "organizations":
            return FakeResponse(
                status: 200, headers: [("Content-Type", "application/json")],
                body: Data(#"[{"id":"549236","name":"Test Organization"}]"#.utf8))
        case "network":
            let network = segments[3]
            guard let org = state.withLock({ $0.networkOrganizations[network] }) else { return .json(404, ["errors": ["Network not found"]]) }
            return .json(200, ["id": network, "organizationId": org, "name": "Network \(network)"])
        case "boundaries":
            // /api/v1/organizations/{org}/camera/boundaries/{kind}/byDevice
            let kind = segments[6]
            let serials = request.query.split(separator: "&").compactMap { pair -> String? in
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, parts[0].removingPercentEncoding == "serials[]" else { return nil }
                return parts[1].removingPercentEncoding
            }
            let known = state.withLock { $0.boundaries[kind] ?? [:] }
            let devices: [[String: Any]] = serials.compactMap { serial in
                guard let list = known[serial] else { return nil }
                return [
                    "serial": serial, "networkId": "N_1",
                    "boundaries": list.map { ["id": $0.id, "type": kind == "lines" ? "line" : "area", "name": $0.name, "vertices": [["x": 0.1, "y": 0.2]]] },
                ]
            }
            return FakeResponse(
                status: 200, headers: [("Content-Type", "application/json")], body: (try? JSONSerialization.data(withJSONObject: devices)) ?? Data("[]".utf8))
        case "zones":
            let serial = segments[3]
            let body = state.withLock { $0.zones[serial] }
            return FakeResponse(status: 200, headers: [("Content-Type", "application/json")], body: body ?? Data("[]".utf8))
        default:
            return .json(404, ["errors": ["Not found"]])
        }
    }
}
