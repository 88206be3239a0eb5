/// One zone's counts over one minute of camera time: what the occupancy charts draw.
public struct OccupancyMinute: Hashable, Sendable {
    public var zone: ZoneKey
    /// The minute's start, epoch milliseconds (a multiple of 60,000).
    public var minute: Int64
    /// The largest count seen in the minute.
    public var max: Int
    /// The sum of the counts and how many there were (mean = sum / observations).
    public var sum: Int
    public var observations: Int
    /// The minute's last count.
    public var last: Int

    public init(zone: ZoneKey, minute: Int64, max: Int, sum: Int, observations: Int, last: Int) {
        self.zone = zone
        self.minute = minute
        self.max = max
        self.sum = sum
        self.observations = observations
        self.last = last
    }

    public var mean: Double { observations == 0 ? 0 : Double(sum) / Double(observations) }
}

/// One point of a history query: the minutes of one step merged.
public struct OccupancyPoint: Hashable, Sendable {
    /// The step's start, epoch milliseconds.
    public var t: Int64
    public var max: Int
    public var mean: Double
    public var last: Int

    public init(t: Int64, max: Int, mean: Double, last: Int) {
        self.t = t
        self.max = max
        self.mean = mean
        self.last = last
    }

    /// Minutes (of one zone, in time order) merged into points of `step` milliseconds: max of the
    /// maxima, the mean over every observation, the last minute's last count. Steps without a
    /// minute are left out.
    public static func points(_ minutes: [OccupancyMinute], step: Int64) -> [OccupancyPoint] {
        var out: [OccupancyPoint] = []
        var current: (t: Int64, max: Int, sum: Int, n: Int, last: Int)?
        for m in minutes {
            let t = m.minute - ((m.minute % step) + step) % step
            if let c = current, c.t == t {
                current = (t, Swift.max(c.max, m.max), c.sum + m.sum, c.n + m.observations, m.last)
            } else {
                if let c = current { out.append(OccupancyPoint(t: c.t, max: c.max, mean: c.n == 0 ? 0 : Double(c.sum) / Double(c.n), last: c.last)) }
                current = (t, m.max, m.sum, m.observations, m.last)
            }
        }
        if let c = current { out.append(OccupancyPoint(t: c.t, max: c.max, mean: c.n == 0 ? 0 : Double(c.sum) / Double(c.n), last: c.last)) }
        return out
    }
}

/// Keeps each zone's occupancy per minute (max, mean, last count) for the charts and
/// `GET /api/zones/{camera}/{zone}/history`.
///
/// ## Implementation requirements
/// - ``appendOccupancy(_:)`` writes all the minutes in one write; a minute written again for the
///   same zone replaces the earlier one.
/// - ``occupancy(of:from:to:)`` returns the zone's minutes with `from <= minute < to`, oldest first.
/// - ``pruneOccupancy(before:)`` removes minutes before the instant and returns how many.
public protocol OccupancyHistoryStore: Sendable {
    func appendOccupancy(_ minutes: [OccupancyMinute]) async throws
    func occupancy(of zone: ZoneKey, from: Int64, to: Int64) async throws -> [OccupancyMinute]
    func pruneOccupancy(before: Int64) async throws -> Int
    /// The zone's minutes in `[from, to)` merged into points of `step` milliseconds (a multiple
    /// of a minute), as ``OccupancyPoint/points(_:step:)`` merges them. The default reads the
    /// minutes; a store may merge them where they are (fewer rows to move for a chart).
    func occupancyPoints(of zone: ZoneKey, from: Int64, to: Int64, step: Int64) async throws -> [OccupancyPoint]
}

extension OccupancyHistoryStore {
    public func occupancyPoints(of zone: ZoneKey, from: Int64, to: Int64, step: Int64) async throws -> [OccupancyPoint] {
        OccupancyPoint.points(try await occupancy(of: zone, from: from, to: to), step: step)
    }
}
