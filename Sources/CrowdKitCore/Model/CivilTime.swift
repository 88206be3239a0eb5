/// A UTC calendar date and time of day from epoch milliseconds, computed in integers
/// (proleptic Gregorian, H. Hinnant's days-to-civil), so no millisecond is ever rounded away.
/// Shared by every formatter of camera times (messages, replay, the page, the API).
public struct CivilTime: Hashable, Sendable {
    public var year: Int64
    public var month: Int64
    public var day: Int64
    public var hour: Int64
    public var minute: Int64
    public var second: Int64
    public var millisecond: Int64

    @inlinable
    public init(epochMilliseconds ms: Int64) {
        var days = ms / 86_400_000
        var rem = ms % 86_400_000
        if rem < 0 {
            rem += 86_400_000
            days -= 1
        }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        hour = rem / 3_600_000
        minute = rem / 60_000 % 60
        second = rem / 1000 % 60
        millisecond = rem % 1000
    }
}
