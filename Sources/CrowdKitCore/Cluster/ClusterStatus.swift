/// What ``ClusterCoordinator/status`` says: the live members and this instance's share.
public struct ClusterStatus: Hashable, Sendable {
    /// This instance's name.
    public var name: String
    /// The live members at the last heartbeat, sorted.
    public var members: [String]
    /// How many of the cameras seen this instance processes.
    public var ownedCameras: Int
    /// Whether the last heartbeat reached the store.
    public var heartbeating: Bool

    public init(name: String, members: [String], ownedCameras: Int, heartbeating: Bool) {
        self.name = name
        self.members = members
        self.ownedCameras = ownedCameras
        self.heartbeating = heartbeating
    }
}
