import CrowdKitCore
import CrowdKitHTTP
import CrowdKitMeraki
import CrowdKitTestServers
import CrowdKitTesting
import Foundation
import Testing

let apiKey = "meraki-KEY-0123456789abcdef0123456789abcdef"
let serial = "Q2GV-ABCD-1234"
let startedAt: Int64 = 1_714_632_600_000  // 2024-05-02T06:50:00Z

func configuration(_ fake: FakeMeraki, network: String? = "N_1", rps: Int = 10) -> MerakiConfiguration {
    MerakiConfiguration(
        baseURL: fake.baseURL, apiKey: apiKey, networkID: network, requestsPerSecond: rps, timeout: scaled(.seconds(5)),
        retry: RetryPolicy(maxAttempts: 3, maxTotalTime: scaled(.seconds(10)), initialBackoff: .milliseconds(10)),
        snapshotInitialDelay: .milliseconds(10), snapshotPollInterval: .milliseconds(10), snapshotMaxPolls: 5)
}

func event(camera: String = serial, zone: String = "584342051651321858") -> CrowdEvent {
    CrowdEvent(
        camera: camera, zone: zone, startedAt: startedAt, firedAt: startedAt + 60_000, peak: 7,
        policy: .init(name: "dwell", parameters: ["minPeople": 3]))
}

func namedFake() async throws -> FakeMeraki {
    var state = FakeMeraki.State()
    state.setDevices(network: "N_1", [(serial, "Front Desk"), ("Q2GV-EEEE-0002", "Loading Bay")])
    state.setZones(
        serial: serial,
        json: #"[{"zoneId": 584342051651321858, "label": "Lobby", "type": "occupancy"}, {"id": "584342051651321859", "label": "Stairs"}]"#)
    return try await FakeMeraki(apiKey: apiKey, state: state)
}

@Suite("MerakiClient against a fake Dashboard API")
struct MerakiClientTests {
    @Test("videoLink: GET v1 path, ISO 8601 timestamp of the episode start, Bearer key")
    func videoLink() async throws {
        let fake = try await namedFake()
        defer { Task { await fake.stop() } }
        let logs = LogCapture()
        let client = MerakiClient(configuration: configuration(fake), logger: logs.logger())
        let link = try await client.videoLink(serial: serial, at: Date(timeIntervalSince1970: 1_714_632_600))
        #expect(link.url == "https://video.example/\(serial)?t=2024-05-02T06:50:00Z")
        #expect(link.visionUrl == "https://vision.example/\(serial)?t=2024-05-02T06:50:00Z")
        let request = try #require(fake.requests("videoLink").first)
        #expect(request.method == "GET")
        #expect(request.path == "/api/v1/devices/\(serial)/camera/videoLink")
        #expect(request.queryItems["timestamp"] == "2024-05-02T06:50:00Z")
        #expect(request.header("authorization") == "Bearer \(apiKey)")
        #expect(request.header("x-cisco-meraki-api-key") == nil)
        #expect(!logs.allText.contains(apiKey))
    }

    @Test("snapshot: 202, then the image answers 404, 404, 200; the bytes are downloaded without the key")
    func snapshotReadiness() async throws {
        let fake = try await namedFake()
        defer { Task { await fake.stop() } }
        let logs = LogCapture()
        let client = MerakiClient(configuration: configuration(fake), logger: logs.logger())
        let image = try await client.snapshotImage(serial: serial, at: Date(timeIntervalSince1970: 1_714_632_600))
        #expect(image.data == FakeMeraki.jpeg)
        #expect(image.contentType == "image/jpeg")
        #expect(image.snapshot.usedFallbackToNow == false)
        #expect(image.snapshot.expiry?.hasPrefix("Access to the image will expire") == true)
        let post = try #require(fake.requests("generateSnapshot").first)
        #expect(post.method == "POST")
        #expect(post.path == "/api/v1/devices/\(serial)/camera/generateSnapshot")
        #expect(post.jsonObject?["timestamp"] as? String == "2024-05-02T06:50:00Z")
        #expect(post.header("authorization") == "Bearer \(apiKey)")
        let polls = fake.requests("image")
        #expect(polls.count == 3)
        #expect(polls.allSatisfy { $0.header("authorization") == nil })
        #expect(!logs.allText.contains(apiKey))
    }

    @Test("snapshot readiness polling is capped")
    func snapshotCap() async throws {
        let fake = try await namedFake()
        defer { Task { await fake.stop() } }
        fake.update { $0.imageNotReadyPolls = 1000 }
        let client = MerakiClient(configuration: configuration(fake), logger: LogCapture().logger())
        do {
            _ = try await client.snapshotImage(serial: serial, at: nil)
            Issue.record("expected snapshotNotReady")
        } catch {
            #expect(error.code == .snapshotNotReady)
        }
        #expect(fake.requests("image").count == 5)
    }

    @Test("snapshot: 400 'No video for specified timestamp' falls back to no timestamp")
    func snapshotFallback() async throws {
        let fake = try await namedFake()
        defer { Task { await fake.stop() } }
        fake.update { $0.noVideoSerials = [serial] }
        let client = MerakiClient(configuration: configuration(fake), logger: LogCapture().logger())
        let snapshot = try await client.generateSnapshot(serial: serial, at: Date(timeIntervalSince1970: 1_714_632_600))
        #expect(snapshot.usedFallbackToNow)
        let posts = fake.requests("generateSnapshot")
        #expect(posts.count == 2)
        #expect(posts[0].jsonObject?["timestamp"] != nil)
        #expect(posts[1].jsonObject?["timestamp"] == nil)
    }

    @Test("retries after 429 and 503 with Retry-After; no retry after 401, and the key stays secret")
    func retries() async throws {
        let fake = try await namedFake()
        defer { Task { await fake.stop() } }
        fake.update {
            $0.script["videoLink"] = [
                .json(429, ["errors": ["API rate limit exceeded for organization"]], headers: [("Retry-After", "1")]),
                .json(503, ["errors": ["Service unavailable"]], headers: [("Retry-After", "0"), ("X-Request-Id", "req-503")]),
            ]
        }
        let logs = LogCapture()
        var generous = configuration(fake)
        // the total-time budget is not what this test is about (a loaded machine can spend it)
        generous.retry.maxTotalTime = scaled(.seconds(120))
        let client = MerakiClient(configuration: generous, logger: logs.logger())
        _ = try await client.videoLink(serial: serial, at: nil)
        let calls = fake.requests("videoLink")
        #expect(calls.count == 3)
        #expect(calls[1].arrivedAt - calls[0].arrivedAt >= .milliseconds(900))

        let wrong = MerakiClient(
            configuration: MerakiConfiguration(baseURL: fake.baseURL, apiKey: "wrong-key-123456"), logger: logs.logger())
        do {
            _ = try await wrong.videoLink(serial: serial, at: nil)
            Issue.record("expected 401")
        } catch {
            #expect(error.status == 401)
            #expect(error.description.contains("Invalid API key"))
            #expect(!error.description.contains("wrong-key-123456"))
        }
        #expect(fake.requests("videoLink").count == 4)
        #expect(!logs.allText.contains(apiKey))
        #expect(!logs.allText.contains("wrong-key-123456"))
        #expect(logs.allText.contains("req-503"))
    }

    @Test("the rate limit is shared by every call of the client (server-side timestamps)")
    func rateLimit() async throws {
        let fake = try await namedFake()
        defer { Task { await fake.stop() } }
        // Open the connections first (another client, its own limiter), so that connection setup
        // on a busy machine does not push the first window's arrivals into the next one.
        let warm = MerakiClient(configuration: configuration(fake, rps: 100), logger: LogCapture().logger())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 { group.addTask { _ = try await warm.cameraZones(serial: serial) } }
            try await group.waitForAll()
        }
        let problems = try await measureTiming {
            let client = MerakiClient(configuration: configuration(fake, rps: 4), logger: LogCapture().logger())
            fake.server.resetRequests()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<12 {
                    group.addTask {
                        switch i % 3 {
                        case 0: _ = try await client.videoLink(serial: serial, at: nil)
                        case 1: _ = try await client.cameraZones(serial: serial)
                        default: _ = try await client.networkDevices(networkID: "N_1")
                        }
                    }
                }
                try await group.waitForAll()
            }
            let times = fake.server.requests.map(\.arrivedAt).sorted()
            guard times.count == 12 else { return ["\(times.count) requests arrived, not 12"] }
            // 12 starts at 4 per second take at least 2 s; five in one window would be a broken
            // limiter; the slack absorbs arrival jitter
            var problems: [String] = []
            if times[11] - times[0] < atLeast(.seconds(2), jitter: .milliseconds(800)) { problems.append("12 requests in \(times[11] - times[0])") }
            for i in 4..<times.count where times[i] - times[i - 4] < atLeast(.seconds(1), jitter: .milliseconds(650)) {
                problems.append("requests \(i - 4)...\(i) within \(times[i] - times[i - 4])")
            }
            return problems
        }
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test("cross-host redirects keep the key only for Meraki hosts")
    func redirects() async throws {
        let shard = try await namedFake()
        defer { Task { await shard.stop() } }
        let origin = try await namedFake()
        defer { Task { await origin.stop() } }
        let logs = LogCapture()
        // Same host name (another Meraki shard): the key goes along.
        origin.update { $0.redirects["videoLink"] = shard.server.baseURL }
        _ = try await MerakiClient(configuration: configuration(origin), logger: logs.logger()).videoLink(serial: serial, at: nil)
        #expect(shard.requests("videoLink").last?.header("authorization") == "Bearer \(apiKey)")

        // Another host that is not a Meraki host: the key is dropped (and the shard says 401).
        origin.update { $0.redirects["videoLink"] = URL(string: "http://localhost:\(shard.server.port)")! }
        do {
            _ = try await MerakiClient(configuration: configuration(origin), logger: logs.logger()).videoLink(serial: serial, at: nil)
            Issue.record("expected 401 from the untrusted host")
        } catch {
            #expect(error.status == 401)
        }
        #expect(shard.requests("videoLink").last?.header("authorization") == nil)

        // The same host treated as a Meraki domain: kept again.
        var trusting = configuration(origin)
        trusting.credentialDomains = ["localhost"]
        _ = try await MerakiClient(configuration: trusting, logger: logs.logger()).videoLink(serial: serial, at: nil)
        #expect(shard.requests("videoLink").last?.header("authorization") == "Bearer \(apiKey)")
        #expect(shard.requests("videoLink").count == 3)
        #expect(!logs.allText.contains(apiKey))
    }

    @Test("zones decode both id spellings, numbers and strings")
    func zones() async throws {
        let fake = try await namedFake()
        defer { Task { await fake.stop() } }
        let client = MerakiClient(configuration: configuration(fake), logger: LogCapture().logger())
        let zones = try await client.cameraZones(serial: serial)
        #expect(zones.map(\.zoneID) == ["584342051651321858", "584342051651321859"])
        #expect(zones.map(\.label) == ["Lobby", "Stairs"])
    }
}

@Suite("MerakiEnricher")
struct MerakiEnricherTests {
    @Test("fills camera name, zone label, video link, vision link and snapshot URL")
    func fills() async throws {
        let fake = try await namedFake()
        defer { Task { await fake.stop() } }
        let logs = LogCapture()
        let client = MerakiClient(configuration: configuration(fake), logger: logs.logger())
        let enricher = MerakiEnricher(client: client, logger: logs.logger())
        let e = await enricher.enrich(event())
        #expect(e.cameraName == "Front Desk")
        #expect(e.zoneName == "Lobby")
        #expect(e.videoURL == "https://video.example/\(serial)?t=2024-05-02T06:50:00Z")
        #expect(e.visionURL == "https://vision.example/\(serial)?t=2024-05-02T06:50:00Z")
        #expect(e.snapshotURL?.hasPrefix(fake.server.baseURL.absoluteString + "/images/") == true)
        #expect(e.enrichmentNotes.isEmpty)
        #expect(!logs.allText.contains(apiKey))
        #expect(!"\(e)".contains(apiKey))
    }

    @Test("Areas & Lines names: boundaries of the network's organization first, the deprecated zones only for ids they do not name")
    func boundaryNames() async throws {
        let fake = try await namedFake()
        defer { Task { await fake.stop() } }
        fake.update {
            $0.networkOrganizations["N_1"] = "549236"
            $0.boundaries["areas"] = [serial: [("584342051651321858", "Reception area")]]
            $0.boundaries["lines"] = [serial: [("5001", "Main door")]]
        }
        let directory = MerakiNameDirectory(client: MerakiClient(configuration: configuration(fake), logger: LogCapture().logger()), logger: LogCapture().logger())
        #expect(await directory.zoneName(serial: serial, zone: "584342051651321858").name == "Reception area")
        #expect(await directory.zoneName(serial: serial, zone: "584342051651321859").name == "Stairs")  // fallback
        #expect(await directory.lineName(serial: serial, line: "5001").name == "Main door")
        #expect(await directory.lineName(serial: serial, line: "5002").name == nil)
        let areaCalls = fake.requests("boundaries").filter { $0.path.contains("/boundaries/areas/") }
        #expect(areaCalls.count == 1)
        #expect(areaCalls.first?.path == "/api/v1/organizations/549236/camera/boundaries/areas/byDevice")
        #expect(areaCalls.first?.query.removingPercentEncoding == "serials[]=\(serial)")
        #expect(fake.requests("network").count == 1)
        // a configured organization needs no network lookup
        var config = configuration(fake, network: nil)
        config.organizationID = "549236"
        let direct = MerakiNameDirectory(client: MerakiClient(configuration: config, logger: LogCapture().logger()), logger: LogCapture().logger())
        #expect(await direct.lineName(serial: serial, line: "5001").name == "Main door")
        #expect(fake.requests("network").count == 1)
    }

    @Test("names are cached: many events, one devices call and one zones call per camera")
    func cached() async throws {
        let fake = try await namedFake()
        defer { Task { await fake.stop() } }
        let client = MerakiClient(configuration: configuration(fake), logger: LogCapture().logger())
        let enricher = MerakiEnricher(
            client: client, options: .init(videoLink: false, snapshot: .off), logger: LogCapture().logger())
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<6 {
                group.addTask { _ = await enricher.enrich(event(zone: i % 2 == 0 ? "584342051651321858" : "0")) }
            }
        }
        let full = await enricher.enrich(event(zone: "0"))
        #expect(full.zoneName == "Full Frame")
        let stairs = await enricher.enrich(event(zone: "584342051651321859"))
        #expect(stairs.zoneName == "Stairs")
        #expect(fake.requests("devices").count == 1)
        #expect(fake.requests("zones").count == 1)
    }

    @Test("failures degrade gracefully: the event keeps what worked and says what did not")
    func degrades() async throws {
        let fake = try await namedFake()
        defer { Task { await fake.stop() } }
        fake.update {
            $0.script["videoLink"] = Array(repeating: .json(500, ["errors": ["Internal error"]]), count: 3)
            $0.imageNotReadyPolls = 1000
        }
        let client = MerakiClient(configuration: configuration(fake), logger: LogCapture().logger())
        let enricher = MerakiEnricher(client: client, logger: LogCapture().logger())
        let e = await enricher.enrich(event(camera: "Q2GV-EEEE-0002", zone: "0"))
        #expect(e.cameraName == "Loading Bay")
        #expect(e.zoneName == "Full Frame")
        #expect(e.videoURL == nil)
        #expect(e.snapshotURL == nil)
        #expect(e.enrichmentNotes.contains("video link unavailable (HTTP 500)"))
        #expect(e.enrichmentNotes.contains { $0.hasPrefix("snapshot unavailable") })
    }

    @Test("a part that takes too long is reported as timed out; the rest is kept")
    func bounded() async throws {
        let fake = try await namedFake()
        defer { Task { await fake.stop() } }
        let client = MerakiClient(configuration: configuration(fake), logger: LogCapture().logger())
        let names = MerakiNameDirectory(client: client, logger: LogCapture().logger())
        // Warm the name cache, so that only the video link is slow below.
        _ = await MerakiEnricher(client: client, names: names, options: .init(videoLink: false, snapshot: .off), logger: LogCapture().logger())
            .enrich(event())
        fake.update { $0.script["videoLink"] = [.json(200, ["url": "https://late.example"], delay: .seconds(30))] }
        let enricher = MerakiEnricher(
            client: client, names: names, options: .init(snapshot: .off, timeout: .seconds(1)), logger: LogCapture().logger())
        let e = await enricher.enrich(event())
        #expect(e.videoURL == nil)
        #expect(e.enrichmentNotes == ["video link unavailable (timed out)"])
        #expect(e.cameraName == "Front Desk")
        #expect(e.zoneName == "Lobby")
    }

    @Test("zones of a camera that fill up in the same second share one video-link call; a failure is not remembered")
    func sharedVideoLinks() async throws {
        let fake = try await namedFake()
        defer { Task { await fake.stop() } }
        let client = MerakiClient(configuration: configuration(fake, rps: 1000), logger: LogCapture().logger())
        let enricher = MerakiEnricher(client: client, options: .init(snapshot: .off), logger: LogCapture().logger())
        let zones = ["0", "584342051651321858", "584342051651321859", "7"]
        let together = await withTaskGroup(of: CrowdEvent.self) { group in
            for zone in zones { group.addTask { await enricher.enrich(event(zone: zone)) } }
            return await group.reduce(into: [CrowdEvent]()) { $0.append($1) }
        }
        #expect(together.count == 4)
        #expect(together.allSatisfy { $0.videoURL == "https://video.example/\(serial)?t=2024-05-02T06:50:00Z" })
        #expect(fake.requests("videoLink").count == 1)
        // The same second later on: reused. Another second, another camera: their own calls.
        var sameSecond = event(zone: "9")
        sameSecond.startedAt += 999
        _ = await enricher.enrich(sameSecond)
        #expect(fake.requests("videoLink").count == 1)
        var nextSecond = event()
        nextSecond.startedAt += 1_000
        let next = await enricher.enrich(nextSecond)
        #expect(next.videoURL == "https://video.example/\(serial)?t=2024-05-02T06:50:01Z")
        let other = await enricher.enrich(event(camera: "Q2GV-EEEE-0002"))
        #expect(other.videoURL == "https://video.example/Q2GV-EEEE-0002?t=2024-05-02T06:50:00Z")
        #expect(fake.requests("videoLink").count == 3)
        // A failed call is not kept: the next event of that second asks again and gets the link.
        fake.update { $0.script["videoLink"] = [.json(404, ["errors": ["Not found"]])] }
        var failing = event(camera: "Q2GV-EEEE-0002")
        failing.startedAt += 5_000
        let failed = await enricher.enrich(failing)
        #expect(failed.videoURL == nil)
        let retried = await enricher.enrich(failing)
        #expect(retried.videoURL == "https://video.example/Q2GV-EEEE-0002?t=2024-05-02T06:50:05Z")
        #expect(fake.requests("videoLink").count == 5)
    }

    @Test("idempotent: an enriched event is not fetched again")
    func idempotent() async throws {
        let fake = try await namedFake()
        defer { Task { await fake.stop() } }
        let client = MerakiClient(configuration: configuration(fake), logger: LogCapture().logger())
        let enricher = MerakiEnricher(client: client, logger: LogCapture().logger())
        let once = await enricher.enrich(event())
        let count = fake.server.requests.count
        let twice = await enricher.enrich(once)
        #expect(twice == once)
        #expect(fake.server.requests.count == count)
    }
}

@Suite("Meraki timestamps")
struct MerakiTimestampTests {
    @Test("ISO 8601 in UTC with second precision, fractions cut, before and after 1970 and on a leap day")
    func iso8601() {
        #expect(MerakiClient.iso8601(Date(timeIntervalSince1970: 1_714_632_600.999)) == "2024-05-02T06:50:00Z")
        #expect(MerakiClient.iso8601(Date(timeIntervalSince1970: 1_709_164_799)) == "2024-02-28T23:59:59Z")
        #expect(MerakiClient.iso8601(Date(timeIntervalSince1970: 1_709_164_800)) == "2024-02-29T00:00:00Z")
        #expect(MerakiClient.iso8601(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
        #expect(MerakiClient.iso8601(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59Z")
    }
}

@Suite("Meraki enricher: the EventEnricher conformance suite")
struct MerakiEnricherConformanceTests {
    @Test("MerakiEnricher passes against the fake Dashboard API, never carrying the API key")
    func conforms() async throws {
        let fake = try await namedFake()
        let logs = LogCapture()
        try await EventEnricherConformance.run(
            makeEnricher: { MerakiEnricher(client: MerakiClient(configuration: configuration(fake), logger: logs.logger()), logger: logs.logger()) },
            secrets: [apiKey])
        #expect(!logs.allText.contains(apiKey))
        await fake.stop()
    }
}
