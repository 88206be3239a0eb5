import CrowdKitCore
import Foundation

/// A button press on a crowd card, fetched from Webex and checked: what to do, on which event,
/// by whom.
public struct WebexCardAction: Hashable, Sendable {
    /// The card's `Action.Submit` data: `{"action": "ack" | "snooze" | "not_a_crowd", "eventId": ...}`
    /// and, for snooze, `"minutes": 15 | 60 | 480`.
    public enum Kind: Hashable, Sendable {
        case ack
        case snooze(minutes: Int)
        case notACrowd
    }

    /// Snooze lengths the card offers.
    public static let snoozeMinutes: Set<Int> = [15, 60, 480]

    /// The attachment action's id (the same press delivered twice has the same id).
    public var id: String
    public var kind: Kind
    public var eventID: CrowdEventID
    public var personID: String
    /// The person's e-mail address when it was looked up (``WebexWebhookReceiver/Configuration/allowedActors``).
    public var personEmail: String?
    /// The card's message.
    public var messageID: String?
    public var roomID: String?

    public init(
        id: String, kind: Kind, eventID: CrowdEventID, personID: String, personEmail: String? = nil, messageID: String? = nil, roomID: String? = nil
    ) {
        self.id = id
        self.kind = kind
        self.eventID = eventID
        self.personID = personID
        self.personEmail = personEmail
        self.messageID = messageID
        self.roomID = roomID
    }

    /// Who pressed, for audits and the page: the e-mail address, else the person id.
    public var actor: String { personEmail ?? personID }

    /// What the thread's root says after the action: "Acknowledged by ...", "Zone snoozed for
    /// 60 min by ...", "Marked not a crowd by ...".
    public var note: String {
        switch kind {
        case .ack: "Acknowledged by \(actor)"
        case .snooze(let minutes): "Zone snoozed for \(minutes < 60 ? "\(minutes) min" : "\(minutes / 60) h") by \(actor)"
        case .notACrowd: "Marked not a crowd by \(actor)"
        }
    }

    /// Reads the card inputs; `nil` (with the reason) when they are not one of the card's buttons.
    static func parse(inputs: [String: Any]) -> (kind: Kind, eventID: CrowdEventID)? {
        guard let action = inputs["action"] as? String, let event = inputs["eventId"] as? String, !event.isEmpty else { return nil }
        switch action {
        case "ack": return (.ack, CrowdEventID(rawValue: event))
        case "not_a_crowd": return (.notACrowd, CrowdEventID(rawValue: event))
        case "snooze":
            // Webex passes the data as given; accept a number or its text
            let minutes = (inputs["minutes"] as? Int) ?? (inputs["minutes"] as? String).flatMap { Int($0) }
            guard let minutes, snoozeMinutes.contains(minutes) else { return nil }
            return (.snooze(minutes: minutes), CrowdEventID(rawValue: event))
        default: return nil
        }
    }
}

/// Carries out card actions on the stores: ack and not_a_crowd are recorded as
/// ``EventFeedback``; snooze adds a mute of the event's zone (``SettingsStore/addMute(_:audit:)``,
/// audited as made by the person).
///
/// Each action id is claimed in the feedback store first
/// (``CrowdKitCore/EventFeedbackStore/claimAction(id:at:)``): the same press delivered twice,
/// after a restart or to another instance sharing the store, does one thing. The claim comes
/// before the work, so an action whose work fails (the store is down) is not done again on a
/// redelivery: the person presses the button again (a new action id).
public struct WebexCardActionPerformer: Sendable {
    public var events: any EventStore
    public var settings: any SettingsStore
    public var feedback: any EventFeedbackStore
    /// Host time, epoch ms.
    public var now: @Sendable () -> Int64

    public init(
        events: any EventStore, settings: any SettingsStore, feedback: any EventFeedbackStore,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.events = events
        self.settings = settings
        self.feedback = feedback
        self.now = now
    }

    /// What came of an action.
    public enum Outcome: Hashable, Sendable {
        case done
        /// No such event in the store.
        case unknownEvent
        /// The event already had this feedback (or, for snooze, nothing else to say).
        case alreadyDone
        /// This action id was handled before (the same press delivered again).
        case repeated
    }

    /// Does what `action` asks.
    public func perform(_ action: WebexCardAction) async throws -> Outcome {
        guard let event = try await events.record(id: action.eventID)?.event else { return .unknownEvent }
        let at = now()
        guard try await feedback.claimAction(id: action.id, at: at) else { return .repeated }
        switch action.kind {
        case .ack:
            return try await feedback.add(EventFeedback(event: event, kind: .acknowledged, by: action.actor, at: at)) ? .done : .alreadyDone
        case .notACrowd:
            return try await feedback.add(EventFeedback(event: event, kind: .notCrowd, by: action.actor, at: at)) ? .done : .alreadyDone
        case .snooze(let minutes):
            let selector = ZoneSelector.zone(event.key)
            let mute = Mute(
                id: "webex-\(action.id)", selector: selector, from: at, until: at + Int64(minutes) * 60_000,
                reason: "snoozed from Webex for \(minutes) min (event \(event.id))", by: action.actor)
            try await settings.addMute(
                mute, audit: AuditEntry(at: at, by: action.actor, action: "mute", summary: "snooze \(selector) for \(minutes) min from Webex"))
            return .done
        }
    }
}
