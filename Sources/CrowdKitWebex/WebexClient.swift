import CrowdKitHTTP
import Foundation
import Logging

/// A Webex messages client: `POST /messages` as JSON, or as `multipart/form-data` when the
/// message carries image bytes. Markdown and text are cut to Webex's 7439-byte limit on a
/// character boundary. Errors are logged with Webex's `TrackingID`; the token never is.
public struct WebexClient: Sendable {
    public let configuration: WebexConfiguration
    private let http: HTTPClient
    private let logger: Logger

    public init(configuration: WebexConfiguration, transport: any HTTPTransport = URLSessionTransport.shared, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        let httpConfiguration = HTTPClientConfiguration(
            timeout: configuration.timeout, retry: configuration.retry,
            credentialHosts: CredentialHosts(domains: ["webexapis.com", "webex.com", "ciscospark.com"]),
            redactor: Redactor(secrets: [configuration.token]), userAgent: "CrowdKit/1 CrowdKitWebex")
        self.http = HTTPClient(transport: transport, configuration: httpConfiguration, logger: logger)
    }

    /// Sends `message` to the configured destination.
    public func send(_ message: WebexMessage) async throws(WebexError) -> WebexMessageReceipt {
        let markdown = WebexMessage.truncated(message.markdown)
        let text = WebexMessage.truncated(message.text)
        guard !markdown.isEmpty || !text.isEmpty else { throw WebexError(.invalidMessage, "empty message") }
        let destination = configuration.destination.field
        var headers: HTTPHeaders = ["Authorization": "Bearer \(configuration.token)", "Accept": "application/json"]
        let body: Data
        switch message.file {
        case .data(let data, let filename, let contentType)?:
            var form = MultipartForm()
            form.add(name: destination.name, value: destination.value)
            if !text.isEmpty { form.add(name: "text", value: text) }
            if !markdown.isEmpty { form.add(name: "markdown", value: markdown) }
            if let parent = message.parentID { form.add(name: "parentId", value: parent) }
            form.add(name: "files", filename: filename, contentType: contentType, data: data)
            headers["Content-Type"] = form.contentType
            body = form.body
        case .url(let url)?:
            headers["Content-Type"] = "application/json"
            body = Self.json(
                [destination.name: destination.value, "text": text, "markdown": markdown, "parentId": message.parentID ?? ""],
                files: [url.absoluteString], card: message.card)
        case nil:
            headers["Content-Type"] = "application/json"
            body = Self.json(
                [destination.name: destination.value, "text": text, "markdown": markdown, "parentId": message.parentID ?? ""],
                files: nil, card: message.card)
        }
        let url = configuration.baseURL.appendingPathComponent("messages")
        let response: HTTPResponse
        do {
            response = try await http.send(HTTPRequest(method: "POST", url: url, headers: headers, body: body))
        } catch {
            throw failure(error)
        }
        // A 2xx answer means Webex accepted the message: never turn it into an error (a retry would
        // post it twice), even when the body is not the JSON we expect.
        if let receipt = try? JSONDecoder().decode(WebexMessageReceipt.self, from: response.body) { return receipt }
        logger.warning(
            "Webex accepted the message but its answer could not be read",
            metadata: ["webex.tracking.id": "\(response.headers["TrackingID"] ?? "-")"])
        return WebexMessageReceipt(id: "")
    }

    /// `GET /people/me`: checks the token; returns the bot's display name.
    public func me() async throws(WebexError) -> String {
        let url = configuration.baseURL.appendingPathComponent("people/me")
        do {
            let response = try await http.send(
                HTTPRequest(url: url, headers: ["Authorization": "Bearer \(configuration.token)", "Accept": "application/json"]))
            struct Me: Decodable { var displayName: String? }
            return (try? JSONDecoder().decode(Me.self, from: response.body))?.displayName ?? ""
        } catch {
            throw failure(error)
        }
    }

    /// Edits a message (`PUT /messages/{id}` with `roomId` and `markdown`): Webex allows 10 edits
    /// of a message without a file or a card.
    public func edit(messageID: String, roomID: String, markdown: String) async throws(WebexError) {
        let body = Self.json(["roomId": roomID, "markdown": WebexMessage.truncated(markdown)], files: nil)
        let url = configuration.baseURL.appendingPathComponent("messages").appendingPathComponent(messageID)
        let headers: HTTPHeaders = [
            "Authorization": "Bearer \(configuration.token)", "Accept": "application/json", "Content-Type": "application/json",
        ]
        do {
            _ = try await http.send(HTTPRequest(method: "PUT", url: url, headers: headers, body: body))
        } catch {
            throw failure(error)
        }
    }

    /// `GET <baseURL>/<path>` with the token; the body of a 2xx answer. Errors carry the status
    /// and the tracking id, never the token.
    func get(_ path: String) async throws(WebexError) -> Data {
        let url = configuration.baseURL.appendingPathComponent(path)
        do {
            let response = try await http.send(
                HTTPRequest(url: url, headers: ["Authorization": "Bearer \(configuration.token)", "Accept": "application/json"]))
            return response.body
        } catch {
            throw WebexError(.http, "GET \(path.split(separator: "/").first ?? "") failed", trackingID: error.requestID, http: error)
        }
    }

    /// `POST`/`PUT <baseURL>/<path>` with a JSON body and the token; the body of a 2xx answer.
    func write(method: String, path: String, body: Data) async throws(WebexError) -> Data {
        let url = configuration.baseURL.appendingPathComponent(path)
        let headers: HTTPHeaders = [
            "Authorization": "Bearer \(configuration.token)", "Accept": "application/json", "Content-Type": "application/json",
        ]
        do {
            return try await http.send(HTTPRequest(method: method, url: url, headers: headers, body: body)).body
        } catch {
            throw WebexError(.http, "\(method) \(path.split(separator: "/").first ?? "") failed", trackingID: error.requestID, http: error)
        }
    }

    private func failure(_ error: HTTPError) -> WebexError {
        struct Body: Decodable {
            struct Item: Decodable { var description: String? }
            var message: String?
            var errors: [Item]?
            var trackingId: String?
        }
        let parsed = error.message.data(using: .utf8).flatMap { try? JSONDecoder().decode(Body.self, from: $0) }
        let trackingID = parsed?.trackingId ?? error.requestID
        var text = parsed?.message ?? parsed?.errors?.compactMap(\.description).first ?? "request failed"
        if text.count > 300 { text = String(text.prefix(300)) + "…" }
        logger.error(
            "Webex message not sent",
            metadata: [
                "http.status": "\(error.status.map(String.init) ?? "-")", "webex.tracking.id": "\(trackingID ?? "-")",
                "error": "\(error)",
            ])
        return WebexError(.http, text, trackingID: trackingID, http: error)
    }

    static func json(_ fields: [String: String], files: [String]?, card: Data? = nil) -> Data {
        var object: [String: Any] = [:]
        for (k, v) in fields where !v.isEmpty { object[k] = v }
        if let files { object["files"] = files }
        if let card, let content = try? JSONSerialization.jsonObject(with: card) {
            object["attachments"] = [["contentType": WebexMessage.adaptiveCardType, "content": content]]
        }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    }
}

/// A `multipart/form-data` body (RFC 7578).
struct MultipartForm {
    let boundary = "crowdkit-" + UUID().uuidString.lowercased()
    private var parts = Data()

    var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    /// The parts followed by the closing delimiter.
    var body: Data { parts + Data("--\(boundary)--\r\n".utf8) }

    mutating func add(name: String, value: String) {
        append("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n")
        append(value)
        append("\r\n")
    }

    mutating func add(name: String, filename: String, contentType: String, data: Data) {
        let safeName = filename.replacingOccurrences(of: "\"", with: "")
        append(
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"; filename=\"\(safeName)\"\r\nContent-Type: \(contentType)\r\n\r\n"
        )
        parts.append(data)
        append("\r\n")
    }

    private mutating func append(_ string: String) { parts.append(Data(string.utf8)) }
}
