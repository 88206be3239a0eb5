import CrowdKitCore
import Foundation

/// The Adaptive Card (1.3) posted in a crowd's thread: what, where, since when, and the buttons
/// whose `Action.Submit` data come back through the webhook (``WebexWebhookReceiver``):
/// `{"action": "ack", "eventId": ...}`, `{"action": "snooze", "eventId": ..., "minutes": 15 | 60 | 480}`
/// (one button each) and `{"action": "not_a_crowd", "eventId": ...}`.
public enum WebexCard {
    /// The card's JSON (`content` of the attachment).
    public static func crowd(_ event: CrowdEvent) -> Data {
        let id = event.id.rawValue
        var facts: [[String: String]] = [
            ["title": "Camera", "value": event.cameraName ?? event.camera],
            ["title": "Zone", "value": event.zoneName ?? event.zone],
            ["title": "Since", "value": TextFormat.readableUTC(event.startedAt)],
            ["title": "People", "value": "\(event.firedCount ?? event.lastCount) (peak \(event.peak))"],
        ]
        if let video = event.videoURL, !video.isEmpty { facts.append(["title": "Video", "value": "[open](\(video))"]) }
        var actions: [[String: Any]] = [submit("Acknowledge", ["action": "ack", "eventId": id])]
        for minutes in WebexCardAction.snoozeMinutes.sorted() {
            let title = minutes < 60 ? "Snooze \(minutes) min" : "Snooze \(minutes / 60) h"
            actions.append(submit(title, ["action": "snooze", "eventId": id, "minutes": minutes]))
        }
        actions.append(submit("Not a crowd", ["action": "not_a_crowd", "eventId": id]))
        let card: [String: Any] = [
            "type": "AdaptiveCard", "version": "1.3", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "body": [
                ["type": "TextBlock", "text": "Crowd detected", "weight": "Bolder", "size": "Medium", "wrap": true],
                ["type": "FactSet", "facts": facts],
            ],
            "actions": actions,
        ]
        return (try? JSONSerialization.data(withJSONObject: card, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    }

    private static func submit(_ title: String, _ data: [String: Any]) -> [String: Any] {
        ["type": "Action.Submit", "title": title, "data": data]
    }
}
