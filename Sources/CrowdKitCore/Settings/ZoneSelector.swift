/// Which zones a schedule, a quiet-hours entry or a mute covers (SEMANTICS.md §7): `"*"` (every
/// zone), `"<camera>/*"` (every zone of a camera) or `"<camera>/<zone>"` (one zone). Areas are
/// selected as the camera `area` (`"area/<name>"`, `"area/*"`).
public enum ZoneSelector: Hashable, Sendable, CustomStringConvertible {
    case all
    case camera(String)
    case zone(ZoneKey)

    /// Parses the text form; `nil` when malformed (empty parts, more than one `/`, spaces or
    /// control characters, a camera `*` with a zone).
    public init?(parsing text: String) {
        if text == "*" {
            self = .all
            return
        }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, parts[0] != "*" else { return nil }
        guard text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F }) else { return nil }
        self = parts[1] == "*" ? .camera(String(parts[0])) : .zone(ZoneKey(camera: String(parts[0]), zone: String(parts[1])))
    }

    /// Whether `key` is covered.
    @inlinable
    public func covers(_ key: ZoneKey) -> Bool {
        switch self {
        case .all: true
        case .camera(let c): key.camera == c
        case .zone(let z): key == z
        }
    }

    /// 0 for one zone, 1 for a camera, 2 for every zone: the order of precedence of §7.
    public var breadth: Int {
        switch self {
        case .zone: 0
        case .camera: 1
        case .all: 2
        }
    }

    public var description: String {
        switch self {
        case .all: "*"
        case .camera(let c): "\(c)/*"
        case .zone(let z): "\(z.camera)/\(z.zone)"
        }
    }
}
