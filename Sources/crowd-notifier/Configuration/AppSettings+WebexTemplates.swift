import CrowdKitCore
import CrowdKitWebex
import Foundation

/// `webex.templates.*`: files replacing the Webex texts and the card, read and checked at start
/// (a bad one is a configuration error naming the key, the file and the problem: exit 78).
extension AppSettings {
    /// The template keys under `webex.templates.`, in the order of the configuration reference.
    static let webexTemplateNames = ["fired", "reminder", "ended", "acknowledged", "card"]

    static func loadWebexTemplates(_ c: ConfigLoader) throws(ConfigurationError) -> WebexTemplates {
        struct File {
            var key: String
            var path: String
            var source: String?
            var text: String
            func error(_ kind: String, _ problem: WebexError) -> ConfigurationError {
                ConfigurationError(key: key, source: source, expected: "\(kind) (file \(path): \(problem.message))", got: path)
            }
        }
        func read(_ name: String) throws(ConfigurationError) -> File? {
            let key = "webex.templates.\(name)"
            let value = try c.value(key)
            guard let path = try c.string(key), !path.isEmpty else { return nil }
            let source = value?.source.description
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError(key: key, source: source, expected: "a readable template file", got: path)
            }
            return File(key: key, path: path, source: source, text: text)
        }
        func pair(_ name: String, extra: Set<String> = []) throws(ConfigurationError) -> WebexMessageTemplate.Pair? {
            guard let file = try read(name) else { return nil }
            do {
                return try WebexMessageTemplate.pair(fromFile: file.text, extra: extra)
            } catch {
                throw file.error("a message template: markdown, optionally a line --- and the plain text", error)
            }
        }
        var templates = WebexTemplates()
        if let p = try pair("fired") { templates.messages.fired = p }
        if let p = try pair("reminder") { templates.messages.reminder = p }
        if let p = try pair("ended") { templates.messages.ended = p }
        if let p = try pair("acknowledged", extra: ["actor"]) { templates.acknowledged = p }
        if let file = try read("card") {
            do {
                templates.card = try WebexCardTemplate(json: file.text)
            } catch {
                throw file.error("an Adaptive Card whose buttons carry the card's actions", error)
            }
        }
        return templates
    }
}
