import Foundation

/// One Webex message: markdown with a plain-text fallback and at most one file.
public struct WebexMessage: Sendable, Hashable {
    /// A file attached to a message.
    public enum File: Sendable, Hashable {
        /// A public URL that Webex fetches (`files: [url]`).
        case url(URL)
        /// Bytes uploaded as a `multipart/form-data` `files` part.
        case data(Data, filename: String, contentType: String)
    }

    public var markdown: String
    public var text: String
    public var file: File?
    /// The message this one replies to (a thread): `parentId`.
    public var parentID: String?
    /// An Adaptive Card (the card's JSON, `content` of the attachment); Webex allows one per
    /// message, and a message with a card cannot be edited.
    public var card: Data?

    /// The `contentType` of an Adaptive Card attachment.
    public static let adaptiveCardType = "application/vnd.microsoft.card.adaptive"

    /// Webex's limit for `text` and `markdown`, in bytes of UTF-8.
    public static let maxBytes = 7439

    public init(markdown: String, text: String, file: File? = nil) {
        self.markdown = markdown
        self.text = text
        self.file = file
    }

    /// `text` cut on a character boundary so that its UTF-8 form, with a trailing "…", fits in
    /// `maxBytes` bytes; unchanged when it fits already.
    public static func truncated(_ text: String, maxBytes: Int = WebexMessage.maxBytes) -> String {
        guard text.utf8.count > maxBytes else { return text }
        let ellipsis = "…"
        let budget = maxBytes - ellipsis.utf8.count
        var used = 0
        var out = ""
        for character in text {
            let size = character.utf8.count
            if used + size > budget { break }
            used += size
            out.append(character)
        }
        return out + ellipsis
    }
}

/// What Webex answered for a created message.
public struct WebexMessageReceipt: Sendable, Hashable, Decodable {
    /// The message id; empty when the answer did not carry one (the message was still accepted).
    public var id: String
    public var roomId: String?
    public var created: String?

    public init(id: String, roomId: String? = nil, created: String? = nil) {
        self.id = id
        self.roomId = roomId
        self.created = created
    }

    enum CodingKeys: String, CodingKey { case id, roomId, created }

    /// Lenient: only `id` matters, and a field of an unexpected type is ignored rather than
    /// turning an accepted message into an error (which would send it again).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = (try? c.decode(String.self, forKey: .id)) ?? ""
        roomId = try? c.decode(String.self, forKey: .roomId)
        created = (try? c.decode(String.self, forKey: .created)) ?? (try? c.decode(Double.self, forKey: .created)).map { String($0) }
    }
}
