import CrowdKitCore
import Foundation

/// The replaceable parts of Webex notifications: the message texts (fired root, reminder,
/// ended reply and edit), the line an acknowledgement adds under the thread's root, and the
/// card. Each is checked when it is made, so that a bad template stops the app at start rather
/// than a notification later.
///
/// A message template file holds the markdown; a line `---` may follow it, then the plain text
/// (clients that show no markdown). Without that part, the plain text is the markdown template
/// filled with plain values. Placeholders are those of ``WebexMessageTemplate``; the
/// acknowledgement line also has `{actor}` (who pressed).
public struct WebexTemplates: Sendable, Hashable {
    public var messages: WebexMessageTemplate
    /// Added under the thread's root when someone acknowledges the crowd.
    public var acknowledged: WebexMessageTemplate.Pair
    /// The card in the thread; `nil`: the built-in ``WebexCard``.
    public var card: WebexCardTemplate?

    public init(messages: WebexMessageTemplate = .standard, acknowledged: WebexMessageTemplate.Pair = WebexTemplates.standardAcknowledged, card: WebexCardTemplate? = nil) {
        self.messages = messages
        self.acknowledged = acknowledged
        self.card = card
    }

    public static let standardAcknowledged = WebexMessageTemplate.Pair(markdown: "_Acknowledged by {actor}_", text: "Acknowledged by {actor}")

    /// The acknowledgement line (markdown) for `event`, acknowledged by `actor`.
    public func acknowledgement(of event: CrowdEvent, by actor: String) -> String {
        var values = WebexMessageTemplate.values(
            CrowdNotification(kind: event.endedAt == nil ? .fired : .ended, event: event), timeZone: messages.timeZone)
        values["actor"] = (WebexMessageTemplate.escape(actor), actor)
        return WebexMessageTemplate.fill(acknowledged.markdown, values, markdown: true)
    }

    /// The card for `event`.
    public func card(for event: CrowdEvent) -> Data {
        card?.render(event, timeZone: messages.timeZone) ?? WebexCard.crowd(event)
    }
}

extension WebexMessageTemplate {
    /// The placeholders message templates and the card may use.
    public static var placeholders: Set<String> {
        let sample = CrowdEvent(camera: "C", zone: "0", startedAt: 0, firedAt: 0, peak: 0, policy: PolicyDescription(name: "", parameters: [:]))
        return Set(values(CrowdNotification(kind: .fired, event: sample), timeZone: TimeZone(identifier: "UTC")!).keys)
    }

    /// A template file's text: the markdown, then optionally a line `---` and the plain text.
    /// - Parameter extra: placeholders allowed besides ``placeholders``.
    /// - Throws: ``WebexError/Code/invalidTemplate`` naming the problem (empty, an unknown placeholder).
    public static func pair(fromFile text: String, extra: Set<String> = []) throws(WebexError) -> Pair {
        var lines = text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n")
        while lines.last?.isEmpty == true { lines.removeLast() }
        let markdown: String
        var plain: String?
        if let separator = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "---" }) {
            markdown = lines[..<separator].joined(separator: "\n")
            plain = lines[(separator + 1)...].joined(separator: "\n")
        } else {
            markdown = lines.joined(separator: "\n")
        }
        guard !markdown.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw WebexError(.invalidTemplate, "the markdown template is empty")
        }
        if let plain, plain.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw WebexError(.invalidTemplate, "the plain text after the line --- is empty")
        }
        let known = placeholders.union(extra)
        for part in [markdown, plain ?? ""] { try check(part, known: known) }
        return Pair(markdown: markdown, text: plain ?? markdown)
    }

    /// Throws on the first `{name}` that is not a known placeholder.
    static func check(_ template: String, known: Set<String>) throws(WebexError) {
        for name in placeholderNames(in: template) where !known.contains(name) {
            throw WebexError(.invalidTemplate, "unknown placeholder {\(name)} (known: \(known.sorted().map { "{\($0)}" }.joined(separator: ", ")))")
        }
    }

    /// The `{name}`s of a template (names of letters and digits).
    static func placeholderNames(in template: String) -> [String] {
        var names: [String] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(where: { !($0.isLetter || $0.isNumber) }) else { break }
            if after[close] == "}", close > after.startIndex { names.append(String(after[..<close])) }
            rest = after[close...]
        }
        return names
    }
}

/// A replacement for the built-in card (``WebexCard``): an Adaptive Card's JSON with
/// placeholders in its strings (those of ``WebexMessageTemplate``, filled with plain values).
///
/// Checked when made: the JSON is an object with `"type": "AdaptiveCard"`; every
/// `Action.Submit` carries the data the webhook understands (`"action"` one of `ack`, `snooze`,
/// `not_a_crowd`; `"eventId": "{eventId}"`; for snooze `"minutes"` 15, 60 or 480); every
/// placeholder is known.
public struct WebexCardTemplate: Sendable, Hashable {
    /// The card's JSON as given.
    public let json: String

    public init(json: String) throws(WebexError) {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(json.utf8))
        } catch {
            throw WebexError(.invalidTemplate, "not JSON (\((error as NSError).userInfo[NSDebugDescriptionErrorKey] ?? "cannot parse"))")
        }
        guard let card = object as? [String: Any] else { throw WebexError(.invalidTemplate, "not a JSON object") }
        guard card["type"] as? String == "AdaptiveCard" else { throw WebexError(.invalidTemplate, "\"type\" must be \"AdaptiveCard\"") }
        let known = WebexMessageTemplate.placeholders
        var problem: WebexError?
        Self.walk(card) { node in
            guard problem == nil else { return }
            if let text = node as? String {
                do throws(WebexError) { try WebexMessageTemplate.check(text, known: known) } catch { problem = error }
            } else if let object = node as? [String: Any], object["type"] as? String == "Action.Submit" {
                problem = Self.checkSubmit(object)
            }
        }
        if let problem { throw problem }
        self.json = json
    }

    static func checkSubmit(_ action: [String: Any]) -> WebexError? {
        let title = action["title"] as? String ?? "untitled"
        guard let data = action["data"] as? [String: Any] else {
            return WebexError(.invalidTemplate, "the Action.Submit \"\(title)\" has no data object")
        }
        guard data["eventId"] as? String == "{eventId}" else {
            return WebexError(.invalidTemplate, "the Action.Submit \"\(title)\" must carry \"eventId\": \"{eventId}\"")
        }
        var inputs = data
        inputs["eventId"] = "event"
        guard WebexCardAction.parse(inputs: inputs) != nil else {
            return WebexError(
                .invalidTemplate,
                "the Action.Submit \"\(title)\" has data \"action\" \(data["action"].map { "\"\($0)\"" } ?? "missing"); expected ack, not_a_crowd, or snooze with minutes 15, 60 or 480"
            )
        }
        return nil
    }

    static func walk(_ node: Any, _ visit: (Any) -> Void) {
        visit(node)
        if let object = node as? [String: Any] {
            for key in object.keys.sorted() { walk(object[key]!, visit) }
        } else if let array = node as? [Any] {
            for element in array { walk(element, visit) }
        }
    }

    static func map(_ node: Any, _ transform: (String) -> String) -> Any {
        if let text = node as? String { return transform(text) }
        if let object = node as? [String: Any] { return object.mapValues { map($0, transform) } }
        if let array = node as? [Any] { return array.map { map($0, transform) } }
        return node
    }

    /// The card for `event`: each string of the JSON with its placeholders filled.
    public func render(_ event: CrowdEvent, timeZone: TimeZone) -> Data {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) else { return WebexCard.crowd(event) }
        let values = WebexMessageTemplate.values(CrowdNotification(kind: .fired, event: event), timeZone: timeZone)
        let filled = Self.map(object) { WebexMessageTemplate.fill($0, values, markdown: false) }
        return (try? JSONSerialization.data(withJSONObject: filled, options: [.sortedKeys, .withoutEscapingSlashes])) ?? WebexCard.crowd(event)
    }
}
