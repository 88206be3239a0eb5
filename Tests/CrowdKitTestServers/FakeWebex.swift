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
    /// `parentId` (a thread reply).
    public var parentId: String? = nil
    /// The `attachments` list as JSON, when given.
    public var attachments: Data? = nil
    /// The id the fake gave the message (`msg-N`).
    public var id: String = ""

    /// The first attachment's `content` (the Adaptive Card) and its `contentType`.
    public var card: (contentType: String, content: [String: Any])? {
        guard let attachments, let list = (try? JSONSerialization.jsonObject(with: attachments)) as? [[String: Any]],
            let first = list.first, let type = first["contentType"] as? String, let content = first["content"] as? [String: Any]
        else { return nil }
        return (type, content)
    }

    /// Whether Webex would refuse to edit it (a file or a card).
    public var hasFileOrCard: Bool { upload != nil || !fileURLs.isEmpty || attachments != nil }

    public var destinationCount: Int { [roomId, toPersonId, toPersonEmail].compactMap { $0 }.count }
}

/// A `PUT /v1/messages/{id}` the fake accepted.
public struct WebexEdit: Sendable {
    public var messageId: String
    public var roomId: String?
    public var markdown: String?
}

/// A fake Webex API (`/v1/messages`, `/v1/people/me`, `/v1/people/{id}`,
/// `/v1/attachment/actions/{id}`) on 127.0.0.1 that follows the documented
/// contract: Bearer token, exactly one destination, 7439-byte limits, JSON or multipart with one
/// file, error bodies with `trackingId` and a `TrackingID` header.
public final class FakeWebex: Sendable {
    public let server: FakeHTTPServer
    public let token: String
    private let state: LockedBox<(script: [FakeResponse], accepted: [WebexPostedMessage], attempts: Int)>
    private let editLog: LockedBox<[WebexEdit]>
    private let hooks: LockedBox<[[String: String]]>
    private let outage: LockedBox<FakeResponse?>
    /// `attachment/actions/{id}` and `people/{id}` answers (JSON bodies by id).
    private let resources: LockedBox<(actions: [String: Data], people: [String: Data])>

    public var baseURL: URL { server.baseURL.appendingPathComponent("v1") }

    /// - Parameter beforeAnswer: awaited before a message is accepted (to make it slow or hang).
    public init(token: String, beforeAnswer: @escaping @Sendable (WebexPostedMessage) async -> Void = { _ in }) async throws {
        let state = LockedBox<(script: [FakeResponse], accepted: [WebexPostedMessage], attempts: Int)>(([], [], 0))
        self.state = state
        self.token = token
        let outage = LockedBox<FakeResponse?>(nil)
        self.outage = outage
        let resources = LockedBox<(actions: [String: Data], people: [String: Data])>(([:], [:]))
        self.resources = resources
        let editLog = LockedBox<[WebexEdit]>([])
        self.editLog = editLog
        let hooks = LockedBox<[[String: String]]>([])
        self.hooks = hooks
        server = try await FakeHTTPServer { request in
            if request.path.hasPrefix("/v1/webhooks"), request.header("authorization") == "Bearer \(token)" {
                return FakeWebex.webhooks(request, hooks)
            }
            if request.method == "PUT", request.header("authorization") == "Bearer \(token)", request.path.hasPrefix("/v1/messages/") {
                return FakeWebex.edit(request, state: state, edits: editLog)
            }
            if request.method == "GET", request.header("authorization") == "Bearer \(token)" {
                let parts = request.path.split(separator: "/").map(String.init)
                if parts.count == 4, parts[0] == "v1", parts[1] == "attachment", parts[2] == "actions" {
                    guard let body = resources.withLock({ $0.actions[parts[3]] }) else { return FakeWebex.error(404, "Not found.") }
                    return FakeResponse(status: 200, headers: [("Content-Type", "application/json")], body: body)
                }
                if parts.count == 3, parts[0] == "v1", parts[1] == "people", parts[2] != "me" {
                    guard let body = resources.withLock({ $0.people[parts[2]] }) else { return FakeWebex.error(404, "Not found.") }
                    return FakeResponse(status: 200, headers: [("Content-Type", "application/json")], body: body)
                }
            }
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

    /// Makes `GET /v1/attachment/actions/{id}` answer an `attachmentActions` object with these
    /// `inputs` (the card's `Action.Submit` data).
    public func addAttachmentAction(id: String, personId: String, roomId: String = "ROOM-1", messageId: String = "msg-2", inputs: [String: Any]) {
        let object: [String: Any] = [
            "id": id, "type": "submit", "messageId": messageId, "personId": personId, "roomId": roomId, "inputs": inputs,
            "created": "2026-12-02T09:30:00.000Z",
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        resources.withLock { $0.actions[id] = data }
    }

    /// Makes `GET /v1/people/{id}` answer a person with these e-mail addresses.
    public func addPerson(id: String, emails: [String], displayName: String = "Someone") {
        let object: [String: Any] = ["id": id, "emails": emails, "displayName": displayName]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        resources.withLock { $0.people[id] = data }
    }

    /// Answers the next POSTs to `/messages` with these responses, in order (after the auth check).
    public func enqueue(_ responses: FakeResponse...) {
        state.withLock { $0.script += responses }
    }

    /// The webhooks registered (`name`, `targetUrl`, `resource`, `event`, `secret`, `id`).
    public var webhooks: [[String: String]] { hooks.withLock { $0 } }

    static func webhooks(_ request: RecordedRequest, _ hooks: LockedBox<[[String: String]]>) -> FakeResponse {
        let object = request.jsonObject as? [String: String]
        switch request.method {
        case "GET":
            let items = hooks.withLock { $0 }.map { $0.filter { $0.key != "secret" } }
            return .json(200, ["items": items])
        case "POST":
            guard var hook = object, hook["name"] != nil, hook["targetUrl"] != nil, hook["resource"] != nil, hook["event"] != nil else {
                return error(400, "name, targetUrl, resource and event are required.")
            }
            hook["id"] = "wh-\(UUID().uuidString.prefix(8))"
            hooks.withLock { $0.append(hook) }
            return .json(200, hook.filter { $0.key != "secret" })
        case "PUT":
            let id = String(request.path.dropFirst("/v1/webhooks/".count))
            guard let changes = object, changes["name"] != nil, changes["targetUrl"] != nil else {
                return error(400, "name and targetUrl are required.")
            }
            let updated: [String: String]? = hooks.withLock { list in
                guard let i = list.firstIndex(where: { $0["id"] == id }) else { return nil }
                for (k, v) in changes where ["name", "targetUrl", "secret"].contains(k) { list[i][k] = v }
                return list[i]
            }
            guard let updated else { return error(404, "Webhook not found.") }
            return .json(200, updated.filter { $0.key != "secret" })
        default:
            return error(405, "Method not allowed.")
        }
    }

    /// Edits accepted (`PUT /v1/messages/{id}`), in order.
    public var edits: [WebexEdit] { editLog.withLock { $0 } }

    static func edit(
        _ request: RecordedRequest, state: LockedBox<(script: [FakeResponse], accepted: [WebexPostedMessage], attempts: Int)>,
        edits: LockedBox<[WebexEdit]>
    ) -> FakeResponse {
        let id = String(request.path.dropFirst("/v1/messages/".count))
        guard let original = state.withLock({ $0.accepted.first { $0.id == id } }) else { return error(404, "Message not found.") }
        guard let object = request.jsonObject, let room = object["roomId"] as? String, room == (original.roomId ?? "direct-room") else {
            return error(400, "roomId is required and must be the message's room.")
        }
        guard !original.hasFileOrCard else { return error(400, "Messages with files or attachments cannot be edited.") }
        let edit = WebexEdit(messageId: id, roomId: room, markdown: object["markdown"] as? String)
        let count = edits.withLock { log -> Int in
            let n = log.filter { $0.messageId == id }.count
            if n < 10 { log.append(edit) }
            return n
        }
        guard count < 10 else { return error(400, "A message can be edited at most 10 times.") }
        return .json(200, ["id": id, "roomId": room, "markdown": edit.markdown ?? ""])
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
                case "parentId": message.parentId = part.text
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
            message.parentId = object["parentId"] as? String
            if let attachments = object["attachments"] {
                message.attachments = try? JSONSerialization.data(withJSONObject: attachments, options: [.sortedKeys])
            }
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
            message.id = "msg-\(s.accepted.count + 1)"
            s.accepted.append(message)
            return message.id
        }
        return .json(
            200,
            [
                "id": id, "roomId": message.roomId ?? "direct-room", "created": "2024-05-02T07:10:00.000Z",
                "markdown": message.markdown ?? "", "text": message.text ?? "",
            ])
    }
}
