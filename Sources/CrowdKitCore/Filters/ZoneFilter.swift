/// Which cameras and zones are watched, like the original's `COLLECT_CAMERAS_SERIAL_NUMBERS` and
/// `COLLECT_ZONE_IDS`: `*` (everything) or a list.
public struct ZoneFilter: Hashable, Sendable, Codable {
    /// `*` or a set of values.
    public enum Selection: Hashable, Sendable, Codable {
        case all
        case only(Set<String>)

        @inlinable
        public func contains(_ value: String) -> Bool {
            switch self {
            case .all: true
            case .only(let set): set.contains(value)
            }
        }

        /// Parses `*`, `a,b,c`, `a b c`, or a Python/JSON-style list `["a", "b"]` (as in the
        /// original config.py). An empty text or a list containing `*` means all.
        public init(parsing text: String) {
            let trimmed = text.trimmingSet(" \t\n[]")
            let parts = trimmed.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" || $0 == "\n" })
                .map { String($0).trimmingSet(" \"'") }
                .filter { !$0.isEmpty }
            if parts.isEmpty || parts.contains("*") {
                self = .all
            } else {
                self = .only(Set(parts))
            }
        }

        /// `*` or the sorted values joined by commas.
        public var text: String {
            switch self {
            case .all: "*"
            case .only(let set): set.sorted().joined(separator: ",")
            }
        }
    }

    public var cameras: Selection
    public var zones: Selection

    public init(cameras: Selection = .all, zones: Selection = .all) {
        self.cameras = cameras
        self.zones = zones
    }

    /// Watches everything.
    public static let all = ZoneFilter()

    @inlinable
    public func accepts(camera: String, zone: String) -> Bool {
        cameras.contains(camera) && zones.contains(zone)
    }
}

extension String {
    fileprivate func trimmingSet(_ set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s.removeFirst() }
        while let l = s.last, chars.contains(l) { s.removeLast() }
        return String(s)
    }
}
