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

    public static func < (lhs: ZoneKey, rhs: ZoneKey) -> Bool {
        if lhs.camera != rhs.camera { return lhs.camera.utf8.lexicographicallyPrecedes(rhs.camera.utf8) }
        return lhs.zone.utf8.lexicographicallyPrecedes(rhs.zone.utf8)
    }

    public var description: String { "\(camera)/\(zone)" }
}
