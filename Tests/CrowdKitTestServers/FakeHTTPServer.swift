import CrowdKitCore
import Foundation
import Hummingbird
import Logging
import NIOCore

/// One request as the fake server saw it.
public struct RecordedRequest: Sendable, CustomStringConvertible {
    public var method: String
    /// Path without the query.
    public var path: String
    /// The raw query string (without `?`), empty when none.
    public var query: String
    /// Header names in lower case, in arrival order.
    public var headers: [(name: String, value: String)]
    public var body: Data
    /// Server-side arrival time (host monotonic clock).
    public var arrivedAt: ContinuousClock.Instant
    /// The `Host` header.
    public var host: String?
    /// The client's TCP port: requests with the same one came over the same connection.
    public var clientPort: Int?

    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first(where: { $0.name == n })?.value
    }

    public func headerValues(_ name: String) -> [String] {
        let n = name.lowercased()
        return headers.filter { $0.name == n }.map(\.value)
    }

    /// Query items decoded.
    public var queryItems: [String: String] {
        var out: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            let k = String(kv[0]).removingPercentEncoding ?? String(kv[0])
            let v = kv.count > 1 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
            out[k] = v
        }
        return out
    }

    /// The body parsed as a JSON object, if it is one.
    public var jsonObject: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    public var description: String { "\(method) \(path)\(query.isEmpty ? "" : "?" + query)" }
}

/// What the fake server answers.
public struct FakeResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: Data
    /// Wait this long before answering (a slow server).
    public var delay: Duration?

    public init(status: Int = 200, headers: [(String, String)] = [], body: Data = Data(), delay: Duration? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.delay = delay
    }

    public static func json(_ status: Int = 200, _ object: Any, headers: [(String, String)] = [], delay: Duration? = nil) -> FakeResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return FakeResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: data, delay: delay)
    }
}

/// A real HTTP/1.1 server on 127.0.0.1 (Hummingbird), bound to a free port, that records every
/// request and answers with a handler. Stop it with ``stop()`` (or cancel the owning task).
public final class FakeHTTPServer: Sendable {
    public typealias Handler = @Sendable (RecordedRequest) async -> FakeResponse

    private let task: Task<Void, any Error>
    private let log = LockedBox<[RecordedRequest]>([])
    /// The bound port.
    public let port: Int

    /// `http://127.0.0.1:<port>`
    public var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }

    /// Starts a server and waits until it listens.
    public init(handler: @escaping Handler) async throws {
        let log = self.log
        let (portStream, portCont) = AsyncStream.makeStream(of: Int.self)
        let responder = CallbackResponder<PeerContext> { request, context in
            let buffer = try await request.body.collect(upTo: 16 * 1024 * 1024)
            var headers: [(name: String, value: String)] = []
            for field in request.headers {
                headers.append((field.name.canonicalName, field.value))
            }
            let recorded = RecordedRequest(
                method: request.method.rawValue,
                path: request.uri.path,
                query: request.uri.query ?? "",
                headers: headers,
                body: Data(buffer: buffer),
                arrivedAt: .now,
                host: request.head.authority ?? headers.first(where: { $0.name == "host" })?.value,
                clientPort: context.clientPort
            )
            log.withLock { $0.append(recorded) }
            let answer = await handler(recorded)
            if let delay = answer.delay { try? await Task.sleep(for: delay) }
            var fields = HTTPFields()
            for (name, value) in answer.headers {
                if let n = HTTPFields.Element.Name(name) { fields.append(HTTPFields.Element(name: n, value: value)) }
            }
            return Response(
                status: HTTPResponse.Status(code: answer.status),
                headers: fields,
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body))
            )
        }
        var logger = Logger(label: "fake-http-server")
        logger.logLevel = .critical
        let app = Application(
            responder: responder,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portCont.yield(channel.localAddress?.port ?? 0)
                portCont.finish()
            },
            logger: logger
        )
        task = Task { try await app.run() }
        var bound = 0
        for await p in portStream {
            bound = p
            break
        }
        guard bound > 0 else {
            task.cancel()
            throw FakeServerError(message: "fake server did not start")
        }
        port = bound
    }

    /// Every request received so far, in arrival order.
    public var requests: [RecordedRequest] { log.withLock { $0 } }

    /// Forgets the recorded requests.
    public func resetRequests() { log.withLock { $0.removeAll() } }

    /// Stops the server.
    public func stop() async {
        task.cancel()
        _ = await task.result
    }

    deinit { task.cancel() }
}

/// The request context of the fake servers: also keeps the client's port.
struct PeerContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let clientPort: Int?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientPort = source.channel.remoteAddress?.port
    }
}

public struct FakeServerError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
