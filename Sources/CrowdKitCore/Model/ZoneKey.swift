/// Identifies one MV Sense zone: a camera serial and a zone id.
///
/// Zone `"0"` is the camera's full frame; other zone ids are long decimal strings and are kept as
/// strings (they do not fit every numeric type and must never be rounded).
public struct ZoneKey: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    /// The camera serial, for example `Q2GV-ABCD-1234`.
    public var camera: String
    /// The zone id, for example `"0"` or `"584342051651321858"`.
    public var zone: String

    public init(camera: String, zone: String) {
        self.camera = camera
        self.zone = zone
    }

    public static func < (lhs: ZoneKey, rhs: ZoneKey) -> Bool { precedes(lhs.camera, lhs.zone, rhs.camera, rhs.zone) }

    /// The order of keys (camera, then zone, by their UTF-8 bytes) for zones given by their parts:
    /// rows that carry a camera and a zone are sorted without making a key per comparison.
    @inlinable
    public static func precedes(_ camera: String, _ zone: String, _ otherCamera: String, _ otherZone: String) -> Bool {
        if camera != otherCamera { return camera.utf8.lexicographicallyPrecedes(otherCamera.utf8) }
        return zone.utf8.lexicographicallyPrecedes(otherZone.utf8)
    }

    public var description: String { "\(camera)/\(zone)" }
}
