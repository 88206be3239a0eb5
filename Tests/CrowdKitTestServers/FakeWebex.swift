import CrowdKitCore
import Foundation

/// A message as the fake Webex server parsed it.
public struct WebexPostedMessage: Sendable {
    public var roomId: String?
    public var toPersonId: String?
    public var toPersonEmail: String?
    public var text: String?
    public var markdown: String?
    /// `files` URLs of a JSON message.
    public var fileURLs: [String]
    /// The uploaded file of a multipart message.
    public var upload: MultipartPart?
    public var isMultipart: Bool
    public var request: RecordedRequest

    public var destinationCount: Int { [roomId, toPersonId, toPersonEmail].compactMap { $0 }.count }
}

/// A fake Webex API (`/v1/messages`, `/v1/people/me`) on 127.0.0.1 that follows the documented
/// contract: Bearer token, exactly one destination, 7439-byte limits, JSON or multipart with one
/// file, error bodies with `trackingId` and a `TrackingID` header.
public final class FakeWebex: Sendable {
    public let server: FakeHTTPServer
    public let token: String
    private let state: LockedBox<(script: [FakeResponse], accepted: [WebexPostedMessage], attempts: Int)>
    private let outage: LockedBox<FakeResponse?>

    public var baseURL: URL { server.baseURL.appendingPathComponent("v1") }

    /// - Parameter beforeAnswer: awaited before a message is accepted (to make it slow or hang).
    public init(token: String, beforeAnswer: @escaping @Sendable (WebexPostedMessage) async -> Void = { _ in }) async throws {
        let state = LockedBox<(script: [FakeResponse], accepted: [WebexPostedMessage], attempts: Int)>(([], [], 0))
        self.state = state
        self.token = token
        let outage = LockedBox<FakeResponse?>(nil)
        self.outage = outage
        server = try await FakeHTTPServer { request in
            if let down = outage.withLock({ $0 }), request.method == "POST" {
                state.withLock { $0.attempts += 1 }
                return down
            }
            return await FakeWebex.handle(request, token: token, state: state, beforeAnswer: beforeAnswer)
        }
    }

    /// While set, every POST is answered with this response (an outage: `error(503, ...)`);
    /// `nil` ends it.
    public func setOutage(_ response: FakeResponse?) {
        outage.withLock { $0 = response }
    }

    /// Answers the next POSTs to `/messages` with these responses, in order (after the auth check).
    public func enqueue(_ responses: FakeResponse...) {
        state.withLock { $0.script += responses }
    }

    /// Messages accepted (answered 200).
    public var accepted: [WebexPostedMessage] { state.withLock { $0.accepted } }
    /// POSTs to `/messages`, whatever the answer.
    public var attempts: Int { state.withLock { $0.attempts } }

    public func stop() async { await server.stop() }

    public static func error(_ status: Int, _ message: String) -> FakeResponse {
        let tracking = "ROUTER_FAKE_\(UUID().uuidString.prefix(8))"
        return .json(
            status, ["message": message, "errors": [["description": message]], "trackingId": tracking],
            headers: [("TrackingID", tracking)])
    }

    static func handle(
        _ request: RecordedRequest, token: String,
        state: LockedBox<(script: [FakeResponse], accepted: [WebexPostedMessage], attempts: Int)>,
        beforeAnswer: @Sendable (WebexPostedMessage) async -> Void
    ) async -> FakeResponse {
        guard request.header("authorization") == "Bearer \(token)" else {
            return error(401, "The request requires a valid access token set in the Authorization request header.")
        }
        if request.method == "GET" && request.path == "/v1/people/me" {
            return .json(200, ["id": "bot-1", "displayName": "Crowd Bot"])
        }
        guard request.method == "POST" && request.path == "/v1/messages" else {
            return error(404, "The requested resource could not be found.")
        }
        let scripted: FakeResponse? = state.withLock { s in
            s.attempts += 1
            return s.script.isEmpty ? nil : s.script.removeFirst()
        }
        if let scripted { return scripted }

        let contentType = request.header("content-type") ?? ""
        var message = WebexPostedMessage(
            roomId: nil, toPersonId: nil, toPersonEmail: nil, text: nil, markdown: nil, fileURLs: [], upload: nil,
            isMultipart: false, request: request)
        if contentType.hasPrefix("multipart/form-data") {
            guard let parts = parseMultipart(request.body, contentType: contentType) else {
                return error(400, "Malformed multipart body.")
            }
            message.isMultipart = true
            for part in parts {
                switch part.name {
                case "roomId": message.roomId = part.text
                case "toPersonId": message.toPersonId = part.text
                case "toPersonEmail": message.toPersonEmail = part.text
                case "text": message.text = part.text
                case "markdown": message.markdown = part.text
                case "files":
                    if message.upload != nil { return error(400, "Only one file may be uploaded.") }
                    message.upload = part
                default: break
                }
            }
        } else if contentType.hasPrefix("application/json") {
            guard let object = request.jsonObject else { return error(400, "Malformed JSON body.") }
            message.roomId = object["roomId"] as? String
            message.toPersonId = object["toPersonId"] as? String
            message.toPersonEmail = object["toPersonEmail"] as? String
            message.text = object["text"] as? String
            message.markdown = object["markdown"] as? String
            message.fileURLs = object["files"] as? [String] ?? []
            if message.fileURLs.count > 1 { return error(400, "Only one file may be attached.") }
        } else {
            return error(415, "Unsupported content type.")
        }
        guard message.destinationCount == 1 else {
            return error(400, "Exactly one of roomId, toPersonId or toPersonEmail is required.")
        }
        if (message.text?.utf8.count ?? 0) > 7439 || (message.markdown?.utf8.count ?? 0) > 7439 {
            return error(400, "Message text exceeds the maximum length of 7439 bytes.")
        }
        if message.text == nil && message.markdown == nil && message.upload == nil && message.fileURLs.isEmpty {
            return error(400, "A message needs text, markdown or a file.")
        }
        await beforeAnswer(message)
        let id = state.withLock { s -> String in
            s.accepted.append(message)
            return "msg-\(s.accepted.count)"
        }
        return .json(
            200,
            [
                "id": id, "roomId": message.roomId ?? "direct-room", "created": "2024-05-02T07:10:00.000Z",
                "markdown": message.markdown ?? "", "text": message.text ?? "",
            ])
    }
}
