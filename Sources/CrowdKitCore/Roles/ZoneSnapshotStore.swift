/// Live zone rows (the page's live view) shared by the instances of a cluster: each instance
/// publishes the zones of the cameras it processes, about once a second, and any instance reads
/// everyone's, so that the page of any instance shows every camera.
///
/// `CrowdKitPostgres`' store implements it (one row per instance).
///
/// ## Implementation requirements
/// - Safe to call from many tasks and processes at once (`Sendable`).
/// - ``publishZoneSnapshots(instance:_:)`` replaces everything `instance` published before
///   with `zones`, stamped with one clock shared by every instance (a database's clock).
/// - ``liveZoneSnapshots(maxAge:except:)`` returns what each instance published last, for the
///   instances whose last publication is at most `maxAge` old by that clock, leaving out
///   `except`; the zones as published (order kept).
/// - Errors thrown are the store's failures; they never contain secrets.
public protocol ZoneSnapshotStore: Sendable {
    /// Replaces the zones `instance` published before.
    func publishZoneSnapshots(instance: String, _ zones: [ZoneSnapshot]) async throws

    /// The zones of every instance that published within `maxAge`, by instance name, without
    /// those of `except`.
    func liveZoneSnapshots(maxAge: Duration, except: String?) async throws -> [String: [ZoneSnapshot]]
}

extension ZoneSnapshot {
    /// The live view of a cluster: one row per camera and zone, from whichever instance read it
    /// last (the highest camera time; `own` on a tie), sorted by camera and zone.
    ///
    /// When a camera moves, its old owner's row stays until the new owner reads the camera,
    /// and then the newer reading wins.
    public static func merged(own: [ZoneSnapshot], others: some Sequence<[ZoneSnapshot]>) -> [ZoneSnapshot] {
        var rows: [ZoneKey: ZoneSnapshot] = [:]
        rows.reserveCapacity(own.count)
        for z in own { rows[ZoneKey(camera: z.camera, zone: z.zone)] = z }
        for list in others {
            for z in list {
                let key = ZoneKey(camera: z.camera, zone: z.zone)
                if let current = rows[key], current.lastTs >= z.lastTs { continue }
                rows[key] = z
            }
        }
        return rows.values.sorted(by: ZoneSnapshot.inZoneOrder)
    }
}
