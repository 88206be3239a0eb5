import CrowdKitCore

/// The CSV export: the original notifier's columns (camera, zone, time in, time out, count, video
/// link) first, then what CrowdKit adds. Times are ISO 8601 UTC.
enum CSVView {
    static let header =
        "camera,zone,time_in,time_out,count,video_link,camera_name,zone_name,fired_at,duration_seconds,snapshot_link,notifications,event_id\r\n"

    static func row(_ record: EventRecord) -> String {
        let e = record.event
        let cells: [String] = [
            e.camera, e.zone, Format.iso(e.startedAt), e.endedAt.map(Format.iso) ?? "", String(e.peak),
            e.videoURL ?? "", e.cameraName ?? "", e.zoneName ?? "", Format.iso(e.firedAt),
            String(Double(e.durationMilliseconds) / 1000), e.snapshotURL ?? "",
            record.deliveries.map { "\($0.notifier) \($0.kind.rawValue) \($0.status.name)" }.joined(separator: "; "),
            e.id.rawValue,
        ]
        return cells.map(Format.csv).joined(separator: ",") + "\r\n"
    }
}
