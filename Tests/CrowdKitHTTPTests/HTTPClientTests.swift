import CrowdKitCore
import CrowdKitHTTP
import CrowdKitTestServers
import Foundation
import Testing

let secretToken = "tok-VERY-SECRET-0123456789abcdef"

/// A server that answers from a script (then 200), recording every request.
func scriptedServer(_ responses: [FakeResponse]) async throws -> FakeHTTPServer {
    let script = LockedBox(responses)
    return try await FakeHTTPServer { _ in
        script.withLock { $0.isEmpty ? FakeResponse.json(200, ["ok": true]) : $0.removeFirst() }
    }
}

func client(_ logs: LogCapture, retry: RetryPolicy = .default, timeout: Duration = .seconds(5)) -> HTTPClient {
    HTTPClient(
        configuration: HTTPClientConfiguration(timeout: scaled(timeout), retry: retry, redactor: Redactor(secrets: [secretToken])),
        logger: logs.logger())
}

/// Sends `count` concurrent requests to `url` (opens the shared transport's connections).
func warmUp(_ url: URL, count: Int) async throws {
    let http = HTTPClient(logger: LogCapture().logger())
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<count { group.addTask { _ = try await http.send(HTTPRequest(url: url)) } }
        try await group.waitForAll()
    }
}

func authorized(_ url: URL, method: String = "GET", body: Data? = nil) -> HTTPRequest {
    HTTPRequest(method: method, url: url, headers: ["Authorization": "Bearer \(secretToken)"], body: body)
}

@Suite("HTTPClient against a real local server")
struct HTTPClientTests {
    @Test("retries after 503 and 429 with Retry-After (seconds and HTTP date), then succeeds")
    func retriesWithRetryAfter() async throws {
        let date = Date().addingTimeInterval(1)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        let server = try await scriptedServer([
            .json(503, ["errors": ["busy"]], headers: [("Retry-After", "1")]),
            .json(429, ["errors": ["too many"]], headers: [("Retry-After", formatter.string(from: date))]),
        ])
        defer { Task { await server.stop() } }
        let logs = LogCapture()
        let response = try await client(logs, retry: RetryPolicy(maxAttempts: 4, initialBackoff: .milliseconds(10)))
            .send(authorized(server.baseURL.appendingPathComponent("x")))
        #expect(response.status == 200)
        let requests = server.requests
        #expect(requests.count == 3)
        #expect(requests.allSatisfy { $0.header("authorization") == "Bearer \(secretToken)" })
        // The server saw the second attempt at least ~1 s after the first (Retry-After honoured).
        #expect(requests[1].arrivedAt - requests[0].arrivedAt >= .milliseconds(900))
        #expect(!logs.allText.contains(secretToken))
        #expect(logs.entries.contains { $0.message.contains("retrying") && $0.metadata["http.status"] == "503" })
    }

    @Test("no retry after 400, 401, 403, 404; the error says which, without secrets")
    func noRetryOnClientErrors() async throws {
        for status in [400, 401, 403, 404] {
            let server = try await scriptedServer([
                .json(status, ["errors": ["rejected Bearer \(secretToken)"]])
            ])
            let logs = LogCapture()
            do {
                _ = try await client(logs).send(authorized(server.baseURL.appendingPathComponent("x")))
                Issue.record("expected an error for \(status)")
            } catch {
                #expect(error.status == status)
                #expect(error.code == .status)
                #expect(!error.isTransient)
                #expect(error.attempts == 1)
                #expect(!"\(error)".contains(secretToken))
                #expect(!error.notificationError.message.contains(secretToken))
                #expect(error.notificationError.code == .permanent)
            }
            #expect(server.requests.count == 1)
            #expect(!logs.allText.contains(secretToken))
            await server.stop()
        }
    }

    @Test("attempts are capped")
    func attemptsCapped() async throws {
        let server = try await scriptedServer(Array(repeating: .json(503, [:], headers: [("Retry-After", "0")]), count: 10))
        defer { Task { await server.stop() } }
        let logs = LogCapture()
        do {
            _ = try await client(logs, retry: RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(1)))
                .send(authorized(server.baseURL))
            Issue.record("expected an error")
        } catch {
            #expect(error.status == 503)
            #expect(error.attempts == 3)
            #expect(error.notificationError.code == .transient)
        }
        #expect(server.requests.count == 3)
    }

    @Test("total time is capped: a Retry-After beyond it ends the retries and is reported")
    func totalTimeCapped() async throws {
        let server = try await scriptedServer([.json(429, [:], headers: [("Retry-After", "30")])])
        defer { Task { await server.stop() } }
        do {
            _ = try await client(LogCapture(), retry: RetryPolicy(maxAttempts: 5, maxTotalTime: .seconds(5)))
                .send(authorized(server.baseURL))
            Issue.record("expected an error")
        } catch {
            #expect(error.status == 429)
            #expect(error.retryAfter == .seconds(30))
            #expect(error.notificationError.retryAfter == .seconds(30))
        }
        #expect(server.requests.count == 1)
    }

    @Test("a request that takes longer than its timeout fails with timedOut")
    func timeout() async throws {
        let server = try await FakeHTTPServer { _ in FakeResponse(status: 200, delay: .seconds(5)) }
        defer { Task { await server.stop() } }
        do {
            _ = try await client(LogCapture(), retry: .none, timeout: .milliseconds(300)).send(authorized(server.baseURL))
            Issue.record("expected a timeout")
        } catch {
            #expect(error.code == .timedOut)
            #expect(error.isTransient)
        }
    }

    @Test("the transport keeps to its connections per host; further requests wait for one", arguments: [3, nil])
    func connectionsPerHost(limit: Int?) async throws {
        let server = try await FakeHTTPServer { _ in FakeResponse.json(200, ["ok": true], delay: .milliseconds(150)) }
        defer { Task { await server.stop() } }
        let transport = limit.map { URLSessionTransport(maxConnectionsPerHost: $0) } ?? URLSessionTransport()
        // no retries: each of the 12 requests is sent once, so the server sees exactly 12
        let http = HTTPClient(
            transport: transport, configuration: HTTPClientConfiguration(timeout: scaled(.seconds(10)), retry: .none),
            logger: LogCapture().logger())
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<12 {
                group.addTask { try await http.send(HTTPRequest(url: server.baseURL.appendingPathComponent("r\(i)"))).status }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 200, count: 12))
        let connections = Set(server.requests.compactMap(\.clientPort))
        #expect(server.requests.count == 12)
        #expect(!connections.isEmpty)
        #expect(connections.count <= (limit ?? 4), "connections: \(connections.count)")
    }

    @Test("connection refused is a transient connection failure")
    func refused() async throws {
        // Port 1 on loopback: nothing listens there (a stopped test server's port could be reused).
        let url = URL(string: "http://127.0.0.1:1/")!
        do {
            _ = try await client(LogCapture(), retry: .none).send(authorized(url))
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .connectionFailed, "\(error)")
            #expect(error.isTransient)
        }
    }

    @Test("the shared rate limiter spaces requests: server-side, no window holds more than the limit")
    func rateLimit() async throws {
        let server = try await scriptedServer([])
        defer { Task { await server.stop() } }
        let url = server.baseURL
        // Open the connections first (without the limiter), so that connection setup on a busy
        // machine does not delay the first window's arrivals into the next one.
        try await warmUp(url, count: 5)
        let problems = try await measureTiming {
            let limiter = RateLimiter(limit: 5, per: .seconds(1))
            let http = HTTPClient(rateLimiter: limiter, logger: LogCapture().logger())
            server.resetRequests()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<15 {
                    group.addTask { _ = try await http.send(HTTPRequest(url: url.appendingPathComponent("r\(i)"))) }
                }
                try await group.waitForAll()
            }
            let times = server.requests.map(\.arrivedAt).sorted()
            guard times.count == 15 else { return ["\(times.count) requests arrived, not 15"] }
            // 15 starts at 5 per second take at least 2 s; any 5 + 1 consecutive arrivals span
            // most of a window. The slack absorbs the transport's jitter between the client's
            // start and the server's arrival. Without the limiter all 15 arrive within a few
            // milliseconds.
            var problems: [String] = []
            if times[14] - times[0] < atLeast(.seconds(2), jitter: .milliseconds(600)) { problems.append("15 requests in \(times[14] - times[0])") }
            for i in 5..<times.count where times[i] - times[i - 5] < atLeast(.seconds(1), jitter: .milliseconds(600)) {
                problems.append("requests \(i - 5)...\(i) within \(times[i] - times[i - 5])")
            }
            return problems
        }
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test("redirects are followed by hand; credentials go only to allowed hosts")
    func redirects() async throws {
        let target = try await scriptedServer([])
        defer { Task { await target.stop() } }
        let port = target.port
        let origin = try await FakeHTTPServer { request in
            let host = request.path == "/to-localhost" ? "localhost" : "127.0.0.1"
            return FakeResponse(status: 307, headers: [("Location", "http://\(host):\(port)/landed")])
        }
        defer { Task { await origin.stop() } }
        let logs = LogCapture()
        // Same host name (another port): credentials kept.
        _ = try await client(logs).send(authorized(origin.baseURL.appendingPathComponent("to-same")))
        // Another host: credentials dropped.
        _ = try await client(logs).send(authorized(origin.baseURL.appendingPathComponent("to-localhost")))
        // Another host that is allowed: credentials kept.
        let trusting = HTTPClient(
            configuration: HTTPClientConfiguration(
                credentialHosts: CredentialHosts(domains: ["localhost"]), redactor: Redactor(secrets: [secretToken])),
            logger: logs.logger())
        _ = try await trusting.send(authorized(origin.baseURL.appendingPathComponent("to-localhost")))
        let landed = target.requests
        #expect(landed.count == 3, "\(logs.allText)")
        #expect(landed.allSatisfy { $0.path == "/landed" })
        #expect(landed.map { $0.header("authorization") != nil } == [true, false, true])
        #expect(logs.entries.filter { $0.message == "HTTP redirect" }.count == 3, "\(logs.allText)")
        #expect(!logs.allText.contains(secretToken))
    }
}

@Suite("WebhookNotifier against a real local server")
struct WebhookNotifierTests {
    static let event = CrowdEvent(
        camera: "Q2GV-ABCD-1234", zone: "584342051651321858", startedAt: 1_714_632_600_000, firedAt: 1_714_632_660_000,
        peak: 7, policy: .init(name: "dwell", parameters: ["minPeople": 3]))

    @Test("POSTs the event as JSON with a verifiable HMAC-SHA256 signature")
    func signed() async throws {
        let server = try await scriptedServer([])
        defer { Task { await server.stop() } }
        let logs = LogCapture()
        let secret = "whsec-TOP-SECRET-42"
        let notifier = WebhookNotifier(
            configuration: .init(url: server.baseURL.appendingPathComponent("hooks/crowd"), secret: secret),
            logger: logs.logger())
        let n = CrowdNotification(kind: .fired, event: Self.event, deliveryID: "evt/webhook/fired")
        _ = try await notifier.send(n)
        let request = try #require(server.requests.first)
        #expect(request.method == "POST")
        #expect(request.path == "/hooks/crowd")
        #expect(request.header("content-type") == "application/json")
        #expect(request.header("x-crowdkit-delivery") == "evt/webhook/fired")
        let expected = "sha256=" + HMACSHA256.hex(for: request.body, key: Array(secret.utf8))
        #expect(request.header("x-crowdkit-signature") == expected)
        let object = try #require(request.jsonObject)
        let event = try #require(object["event"] as? [String: Any])
        #expect(event["zone"] as? String == "584342051651321858")
        #expect(event["peak"] as? Int == 7)
        #expect(!logs.allText.contains(secret))
    }

    @Test("5xx is transient (after HTTP retries), 4xx permanent")
    func errors() async throws {
        let server = try await scriptedServer([
            .json(500, [:]), .json(500, [:]), .json(410, ["error": "gone"]),
        ])
        defer { Task { await server.stop() } }
        var http = HTTPClientConfiguration()
        http.retry = RetryPolicy(maxAttempts: 2, initialBackoff: .milliseconds(1))
        let notifier = WebhookNotifier(
            configuration: .init(url: server.baseURL, http: http), logger: LogCapture().logger())
        let n = CrowdNotification(kind: .fired, event: Self.event)
        await #expect(throws: NotificationError.self) { try await notifier.send(n) }
        do { _ = try await notifier.send(n) } catch let error as NotificationError {
            #expect(error.code == .permanent)
        }
        #expect(server.requests.count == 3)
    }
}
