import CrowdKitCore
import Foundation

/// The JSON of `/api/events`, `/api/zones` and the event stream, written by hand so that every
/// field is present (`null` when unknown) and every string is escaped the same way.
enum JSONView {
    static func event(_ e: CrowdEvent, deliveries: [Delivery]) -> String {
        var o = "{"
        o += "\"id\":" + Format.json(e.id.rawValue)
        o += ",\"camera\":" + Format.json(e.camera)
        o += ",\"cameraName\":" + Format.json(e.cameraName)
        o += ",\"zone\":" + Format.json(e.zone)
        o += ",\"zoneName\":" + Format.json(e.zoneName)
        o += ",\"startedAt\":\(e.startedAt),\"startedAtISO\":" + Format.json(Format.iso(e.startedAt))
        o += ",\"firedAt\":\(e.firedAt),\"firedAtISO\":" + Format.json(Format.iso(e.firedAt))
        o += ",\"endedAt\":" + Format.json(e.endedAt) + ",\"endedAtISO\":" + Format.json(e.endedAt.map(Format.iso))
        o += ",\"ongoing\":\(e.isOngoing),\"durationMs\":\(e.durationMilliseconds)"
        o += ",\"peak\":\(e.peak),\"lastCount\":\(e.lastCount),\"reminders\":\(e.reminders)"
        o += ",\"policy\":{\"name\":" + Format.json(e.policy.name) + ",\"parameters\":{"
        o += e.policy.parameters.sorted { $0.key < $1.key }.map { Format.json($0.key) + ":" + Format.json($0.value) }
            .joined(separator: ",")
        o += "}}"
        o += ",\"videoUrl\":" + Format.json(e.videoURL)
        o += ",\"visionUrl\":" + Format.json(e.visionURL)
        o += ",\"snapshotUrl\":" + Format.json(e.snapshotURL)
        o += ",\"enrichmentNotes\":[" + e.enrichmentNotes.map { Format.json($0) }.joined(separator: ",") + "]"
        o += ",\"deliveries\":[" + deliveries.map(delivery).joined(separator: ",") + "]"
        return o + "}"
    }

    static func delivery(_ d: Delivery) -> String {
        var o = "{\"id\":" + Format.json(d.id)
        o += ",\"notifier\":" + Format.json(d.notifier)
        o += ",\"kind\":" + Format.json(d.kind.rawValue)
        o += ",\"sequence\":\(d.sequence)"
        o += ",\"status\":" + Format.json(d.status.name)
        var remote: String?
        var reason: String?
        switch d.status {
        case .sent(let id): remote = id
        case .failed(let r): reason = r
        case .pending: break
        }
        o += ",\"remoteId\":" + Format.json(remote) + ",\"reason\":" + Format.json(reason)
        o += ",\"attempts\":\(d.attempts)"
        o += ",\"createdAt\":\(d.createdAt),\"createdAtISO\":" + Format.json(Format.iso(d.createdAt))
        o += ",\"updatedAt\":\(d.updatedAt),\"updatedAtISO\":" + Format.json(Format.iso(d.updatedAt))
        return o + "}"
    }

    static func page(_ page: EventPage, next: String?) -> String {
        var o = "{\"events\":["
        o += page.records.map { event($0.event, deliveries: $0.deliveries) }.joined(separator: ",")
        o += "],\"nextCursor\":" + Format.json(page.nextCursor?.token)
        o += ",\"next\":" + Format.json(next)
        return o + "}"
    }

    static func zones(_ status: LiveStatus, now: Date) -> String {
        var o = "{\"zones\":["
        o += status.zones.sorted { ZoneKey(camera: $0.camera, zone: $0.zone) < ZoneKey(camera: $1.camera, zone: $1.zone) }
            .map { z in
                var s = "{\"camera\":" + Format.json(z.camera)
                s += ",\"cameraName\":" + Format.json(status.cameraNames[z.camera])
                s += ",\"zone\":" + Format.json(z.zone)
                s += ",\"zoneName\":" + Format.json(status.zoneNames[ZoneKey(camera: z.camera, zone: z.zone)])
                s += ",\"people\":\(z.people),\"vehicles\":\(z.vehicles)"
                s += ",\"lastTs\":\(z.lastTs),\"lastTsISO\":" + Format.json(Format.iso(z.lastTs))
                s += ",\"state\":" + Format.json(z.phase.name)
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
                s += ",\"since\":" + Format.json(since) + ",\"sinceISO\":" + Format.json(since.map(Format.iso))
                s += ",\"elapsedMs\":" + Format.json(since.map { max(0, z.lastTs - $0) })
                s += ",\"firedAt\":" + Format.json(firedAt)
                s += ",\"pausedUntil\":" + Format.json(until)
                s += ",\"eventId\":" + Format.json(z.eventID?.rawValue)
                return s + "}"
            }.joined(separator: ",")
        o += "],\"feed\":" + feed(status, now: now)
        return o + "}"
    }

    static func feed(_ status: LiveStatus, now: Date) -> String {
        let f = status.feed
        var o = "{\"state\":" + Format.json(f.state.rawValue)
        o += ",\"connected\":\(f.state == .connected)"
        o += ",\"description\":" + Format.json(f.description)
        let last = f.lastMessageAt.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
        o += ",\"lastMessageAt\":" + Format.json(last) + ",\"lastMessageAtISO\":" + Format.json(last.map(Format.iso))
        o += ",\"lastMessageAgeMs\":" + Format.json(f.lastMessageAt.map { Int64((now.timeIntervalSince($0) * 1000).rounded()) })
        o += ",\"received\":\(f.received),\"dropped\":\(f.dropped),\"reconnects\":\(f.reconnects)"
        o += ",\"lastError\":" + Format.json(f.lastError)
        o += ",\"messagesPerSecond\":" + Format.json(status.messagesPerSecond)
        return o + "}"
    }

    static func error(_ message: String) -> String { "{\"error\":" + Format.json(message) + "}" }
}
