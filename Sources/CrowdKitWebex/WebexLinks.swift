import Foundation

/// Links into the Webex app for what the API names by id.
///
/// Webex API ids are base64url text such as `ciscospark://us/ROOM/<uuid>`; the app's
/// `webexteams:` links name the space by that UUID (`webexteams://im?space=<uuid>`, Webex's
/// documented protocol handler) and a message in it with `&message=<uuid>` (the form of the
/// app's own "copy message link").
public enum WebexLinks {
    /// The UUID inside a Webex API id of `type` (`ROOM`, `MESSAGE`), or `nil` when `id` is not one.
    public static func uuid(of id: String, type: String) -> String? {
        var text = id.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        text += String(repeating: "=", count: (4 - text.count % 4) % 4)
        guard let data = Data(base64Encoded: text), let decoded = String(data: data, encoding: .utf8),
            decoded.hasPrefix("ciscospark://")
        else { return nil }
        let parts = decoded.split(separator: "/")
        guard parts.count >= 2, parts[parts.count - 2] == Substring(type), let uuid = UUID(uuidString: String(parts[parts.count - 1])) else {
            return nil
        }
        return uuid.uuidString.lowercased()
    }

    /// `webexteams://im?space=<room>&message=<message>` for a message of a room, or `nil` when
    /// either id is not a Webex API id.
    public static func message(_ messageID: String, inRoom roomID: String) -> String? {
        guard let room = uuid(of: roomID, type: "ROOM"), let message = uuid(of: messageID, type: "MESSAGE") else { return nil }
        return "webexteams://im?space=\(room)&message=\(message)"
    }
}
