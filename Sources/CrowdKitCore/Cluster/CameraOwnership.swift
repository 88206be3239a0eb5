/// Which live member owns which camera: rendezvous (highest random weight) hashing over the
/// members' names. A pure function of the camera and the member names, so every instance that
/// sees the same members agrees, without talking to the others.
///
/// Each camera has exactly one owner among the members. When a member leaves, only its cameras
/// move (each to the member that scores next highest for it); when one joins, it takes only the
/// cameras it now scores highest for, about `1/n` of them. The split is even in expectation:
/// about `c/n` cameras each for `c` cameras and `n` members.
public struct CameraOwnership: Hashable, Sendable {
    /// The live members' names, sorted, each once.
    public let members: [String]
    /// This instance's name.
    public let me: String

    /// - Parameters:
    ///   - members: the live members' names (order and repeats do not matter).
    ///   - me: this instance's name; when it is not among `members` it owns nothing.
    public init(members: some Sequence<String>, me: String) {
        self.members = Array(Set(members)).sorted()
        self.me = me
    }

    /// A single instance: it owns every camera.
    public static func alone(_ me: String) -> CameraOwnership { CameraOwnership(members: [me], me: me) }

    /// The member that owns `camera`, or `nil` when there are no members.
    public func owner(of camera: String) -> String? { Self.owner(of: camera, among: members) }

    /// Whether this instance owns `camera`.
    public func owns(_ camera: String) -> Bool { owner(of: camera) == me }

    /// The member of `members` that owns `camera`: the one with the highest score for it (ties,
    /// which need a 64-bit collision, go to the smaller name); `nil` when `members` is empty.
    public static func owner(of camera: String, among members: some Sequence<String>) -> String? {
        var best: (name: String, score: UInt64)?
        for m in members {
            let s = score(member: m, camera: camera)
            if let b = best, s < b.score || (s == b.score && m >= b.name) { continue }
            best = (m, s)
        }
        return best?.name
    }

    /// The weight of `member` for `camera`: FNV-1a over both names (a 0xFF byte, which UTF-8
    /// never contains, between them), then the SplitMix64 finaliser to spread the bits. Stable
    /// across processes, builds and platforms (unlike `Hasher`, which is seeded per process).
    public static func score(member: String, camera: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in member.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        h ^= 0xFF
        h = h &* 0x0000_0100_0000_01b3
        for b in camera.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        h = (h ^ (h >> 30)) &* 0xbf58_476d_1ce4_e5b9
        h = (h ^ (h >> 27)) &* 0x94d0_49bb_1331_11eb
        return h ^ (h >> 31)
    }
}
