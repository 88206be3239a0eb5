import CrowdKitCore
import Foundation

/// The JSON of `/api/events`, `/api/zones` and the event stream, written by hand so that every
/// field is present (`null` when unknown) and every string is escaped the same way.
enum JSONView {
    static func event(_ e: CrowdEvent, deliveries: [Delivery]) -> String {
        var w = ByteWriter(capacity: 1536)
        event(e, deliveries: deliveries, into: &w)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// What people said about one event and where its conversation is, for `/api/events`.
    struct Extras {
        var feedback: [EventFeedback] = []
        var conversationURL: String?
    }

    static func event(_ e: CrowdEvent, deliveries: [Delivery], extras: Extras? = nil, into w: inout ByteWriter) {
        w.raw("{\"id\":")
        w.json(e.id.rawValue)
        w.raw(",\"camera\":")
        w.json(e.camera)
        w.raw(",\"cameraName\":")
        w.json(e.cameraName)
        w.raw(",\"zone\":")
        w.json(e.zone)
        w.raw(",\"zoneName\":")
        w.json(e.zoneName)
        w.raw(",\"startedAt\":")
        w.int(e.startedAt)
        w.raw(",\"startedAtISO\":")
        w.jsonISO(e.startedAt)
        w.raw(",\"firedAt\":")
        w.int(e.firedAt)
        w.raw(",\"firedAtISO\":")
        w.jsonISO(e.firedAt)
        w.raw(",\"endedAt\":")
        w.json(e.endedAt)
        w.raw(",\"endedAtISO\":")
        w.jsonISO(e.endedAt)
        w.raw(e.isOngoing ? ",\"ongoing\":true" : ",\"ongoing\":false")
        w.raw(",\"durationMs\":")
        w.int(e.durationMilliseconds)
        w.raw(",\"peak\":")
        w.int(e.peak)
        w.raw(",\"lastCount\":")
        w.int(e.lastCount)
        w.raw(",\"reminders\":")
        w.int(e.reminders)
        w.raw(",\"policy\":{\"name\":")
        w.json(e.policy.name)
        w.raw(",\"parameters\":{")
        for (i, (key, value)) in e.policy.parameters.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { w.raw(",") }
            w.json(key)
            w.raw(":")
            w.raw(Format.json(value))
        }
        w.raw("}}")
        w.raw(",\"videoUrl\":")
        w.json(e.videoURL)
        w.raw(",\"visionUrl\":")
        w.json(e.visionURL)
        w.raw(",\"snapshotUrl\":")
        w.json(e.snapshotURL)
        w.raw(",\"enrichmentNotes\":[")
        for (i, note) in e.enrichmentNotes.enumerated() {
            if i > 0 { w.raw(",") }
            w.json(note)
        }
        w.raw("],\"deliveries\":[")
        for (i, d) in deliveries.enumerated() {
            if i > 0 { w.raw(",") }
            delivery(d, into: &w)
        }
        w.raw("]")
        if let extras { feedback(extras, into: &w) }
        w.raw("}")
    }

    /// `"acknowledgedBy"`, `"acknowledgedAt"` (and ISO), `"labels": [{"label","by","at","atISO"}]`
    /// and `"conversationUrl"`.
    static func feedback(_ extras: Extras, into w: inout ByteWriter) {
        let ack = extras.feedback.acknowledgement
        w.raw(",\"acknowledgedBy\":")
        w.json(ack?.by)
        w.raw(",\"acknowledgedAt\":")
        w.json(ack?.at)
        w.raw(",\"acknowledgedAtISO\":")
        w.jsonISO(ack?.at)
        w.raw(",\"labels\":[")
        for (i, label) in extras.feedback.labels.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"label\":")
            w.json(label.kind.rawValue)
            w.raw(",\"by\":")
            w.json(label.by)
            w.raw(",\"at\":")
            w.int(label.at)
            w.raw(",\"atISO\":")
            w.jsonISO(label.at)
            w.raw("}")
        }
        w.raw("],\"conversationUrl\":")
        w.json(extras.conversationURL)
    }

    static func delivery(_ d: Delivery, into w: inout ByteWriter) {
        w.raw("{\"id\":")
        w.json(d.id)
        w.raw(",\"notifier\":")
        w.json(d.notifier)
        w.raw(",\"kind\":")
        w.json(d.kind.rawValue)
        w.raw(",\"sequence\":")
        w.int(d.sequence)
        w.raw(",\"status\":")
        w.json(d.status.name)
        var remote: String?
        var reason: String?
        switch d.status {
        case .sent(let id): remote = id
        case .failed(let r), .expired(let r), .suppressed(let r): reason = r
        case .pending: break
        }
        w.raw(",\"remoteId\":")
        w.json(remote)
        w.raw(",\"reason\":")
        w.json(reason)
        w.raw(",\"attempts\":")
        w.int(d.attempts)
        w.raw(",\"lastError\":")
        w.json(d.lastError)
        w.raw(",\"createdAt\":")
        w.int(d.createdAt)
        w.raw(",\"createdAtISO\":")
        w.jsonISO(d.createdAt)
        w.raw(",\"updatedAt\":")
        w.int(d.updatedAt)
        w.raw(",\"updatedAtISO\":")
        w.jsonISO(d.updatedAt)
        w.raw("}")
    }

    /// The page of events; `extras` (what people said, the conversation link) is written for
    /// every event when given, `null`/`[]` for events it does not name.
    static func page(_ page: EventPage, next: String?, extras: [CrowdEventID: Extras]? = nil) -> [UInt8] {
        var w = ByteWriter(capacity: 1400 * page.records.count + 128)
        w.raw("{\"events\":[")
        for (i, r) in page.records.enumerated() {
            if i > 0 { w.raw(",") }
            event(r.event, deliveries: r.deliveries, extras: extras.map { $0[r.event.id] ?? Extras() }, into: &w)
        }
        w.raw("],\"nextCursor\":")
        w.json(page.nextCursor?.token)
        w.raw(",\"next\":")
        w.json(next)
        w.raw("}")
        return w.bytes
    }

    static func zones(_ status: LiveStatus, now: Date) -> [UInt8] {
        var w = ByteWriter(capacity: 400 * status.zones.count + 512)
        w.raw("{\"zones\":[")
        let zones = status.zonesInOrder
        for (i, z) in zones.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"camera\":")
            w.json(z.camera)
            w.raw(",\"cameraName\":")
            w.json(status.cameraNames[z.camera])
            w.raw(",\"zone\":")
            w.json(z.zone)
            w.raw(",\"zoneName\":")
            w.json(status.zoneNames[ZoneKey(camera: z.camera, zone: z.zone)])
            w.raw(",\"people\":")
            w.int(z.people)
            w.raw(",\"vehicles\":")
            w.int(z.vehicles)
            w.raw(",\"lastTs\":")
            w.int(z.lastTs)
            w.raw(",\"lastTsISO\":")
            w.jsonISO(z.lastTs)
            w.raw(",\"state\":")
            w.json(z.phase.name)
            var since: Int64?
            var firedAt: Int64?
            var until: Int64?
            switch z.phase {
            case .idle: break
            case .pending(let t): since = t
            case .crowd(let t, let f):
                since = t
                firedAt = f
            case .paused(let u): until = u
            }
            w.raw(",\"since\":")
            w.json(since)
            w.raw(",\"sinceISO\":")
            w.jsonISO(since)
            w.raw(",\"elapsedMs\":")
            w.json(since.map { max(0, z.lastTs - $0) })
            w.raw(",\"firedAt\":")
            w.json(firedAt)
            w.raw(",\"pausedUntil\":")
            w.json(until)
            w.raw(",\"eventId\":")
            w.json(z.eventID?.rawValue)
            w.raw("}")
        }
        w.raw("],\"feed\":")
        feed(status, now: now, into: &w)
        w.raw("}")
        return w.bytes
    }

    /// `/api/areas`: every area with its occupancy and state, every line with its crossings.
    static func areas(_ status: LiveStatus) -> [UInt8] {
        var w = ByteWriter(capacity: 300 * (status.areas.count + status.lines.count) + 64)
        w.raw("{\"areas\":[")
        for (i, a) in status.areas.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"name\":")
            w.json(a.name)
            w.raw(",\"objectType\":")
            w.json(a.objectType.rawValue)
            w.raw(",\"occupancy\":")
            w.int(a.occupancy)
            w.raw(",\"lastTs\":")
            w.json(a.lastTs)
            w.raw(",\"state\":")
            w.json(a.phase.name)
            var since: Int64?
            if case .pending(let t) = a.phase { since = t }
            if case .crowd(let t, _) = a.phase { since = t }
            w.raw(",\"since\":")
            w.json(since)
            w.raw(",\"eventId\":")
            w.json(a.eventID?.rawValue)
            w.raw(",\"lines\":[")
            for (k, l) in a.lines.enumerated() {
                if k > 0 { w.raw(",") }
                w.json(l)
            }
            w.raw("],\"resetDaily\":")
            w.json(a.resetDaily)
            w.raw(",\"timeZone\":")
            w.json(a.timeZone)
            w.raw("}")
        }
        w.raw("],\"lines\":[")
        for (i, l) in status.lines.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"camera\":")
            w.json(l.camera)
            w.raw(",\"line\":")
            w.json(l.line)
            w.raw(",\"label\":")
            w.json(l.label)
            w.raw(",\"areas\":[")
            for (k, a) in l.areas.enumerated() {
                if k > 0 { w.raw(",") }
                w.json(a)
            }
            w.raw("],\"inToday\":")
            w.int(l.inToday)
            w.raw(",\"outToday\":")
            w.int(l.outToday)
            w.raw(",\"inTotal\":")
            w.int(l.inTotal)
            w.raw(",\"outTotal\":")
            w.int(l.outTotal)
            w.raw(",\"lastTs\":")
            w.json(l.lastTs)
            w.raw("}")
        }
        w.raw("]}")
        return w.bytes
    }

    static func feed(_ status: LiveStatus, now: Date, into w: inout ByteWriter) {
        let f = status.feed
        w.raw("{\"state\":")
        w.json(f.state.rawValue)
        w.raw(f.state == .connected ? ",\"connected\":true" : ",\"connected\":false")
        w.raw(",\"description\":")
        w.json(f.description)
        let last = f.lastMessageAt.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
        w.raw(",\"lastMessageAt\":")
        w.json(last)
        w.raw(",\"lastMessageAtISO\":")
        w.jsonISO(last)
        w.raw(",\"lastMessageAgeMs\":")
        w.json(f.lastMessageAt.map { Int64((now.timeIntervalSince($0) * 1000).rounded()) })
        w.raw(",\"received\":")
        w.int(f.received)
        w.raw(",\"dropped\":")
        w.int(f.dropped)
        w.raw(",\"reconnects\":")
        w.int(f.reconnects)
        w.raw(",\"lastError\":")
        w.json(f.lastError)
        w.raw(",\"messagesPerSecond\":")
        w.raw(Format.json(status.messagesPerSecond))
        w.raw("}")
    }

    static func error(_ message: String) -> String { "{\"error\":" + Format.json(message) + "}" }
}
