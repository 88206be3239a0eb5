import CrowdKitCore
import CrowdKitTesting
import Foundation
import Logging
import Testing

@Suite("Cameras shared out: ownership")
struct CameraOwnershipTests {
    static let cameras = (0..<300).map { String(format: "Q2GV-%04d-CAM", $0) }

    @Test("each camera has exactly one owner, a member, whatever order the members come in")
    func exactlyOneOwner() {
        let members = ["a", "b", "c"]
        for camera in Self.cameras {
            let owner = CameraOwnership.owner(of: camera, among: members)
            #expect(owner.map(members.contains) == true)
            #expect(CameraOwnership.owner(of: camera, among: members.reversed()) == owner)
            let owners = members.filter { CameraOwnership(members: members, me: $0).owns(camera) }
            #expect(owners.count == 1, "\(camera): \(owners)")
        }
        #expect(CameraOwnership.owner(of: "Q2", among: []) == nil)
        #expect(!CameraOwnership(members: ["a"], me: "z").owns("Q2"), "an instance that is not a member owns nothing")
        #expect(CameraOwnership.alone("z").owns("Q2"))
    }

    @Test("a member that leaves moves only its own cameras; one that joins takes cameras only from the others")
    func minimalMoves() {
        let before = Dictionary(uniqueKeysWithValues: Self.cameras.map { ($0, CameraOwnership.owner(of: $0, among: ["a", "b", "c"])) })
        var moved = 0
        for camera in Self.cameras {
            let after = CameraOwnership.owner(of: camera, among: ["a", "c"])
            if before[camera] == "b" {
                moved += 1
                #expect(after == "a" || after == "c")
            } else {
                #expect(after == before[camera], "\(camera) moved although its owner stayed")
            }
        }
        #expect(moved > 0)
        var joined = 0
        for camera in Self.cameras {
            let after = CameraOwnership.owner(of: camera, among: ["a", "b", "c", "d"])
            if after != before[camera] {
                #expect(after == "d", "a camera moved between members that stayed")
                joined += 1
            }
        }
        #expect(joined > 40 && joined < 110, "the new member takes about a quarter: \(joined)")
    }

    @Test("300 cameras over 3 members: about 100 each")
    func evenSplit() {
        var counts: [String: Int] = [:]
        for camera in Self.cameras { counts[CameraOwnership.owner(of: camera, among: ["host-1:101", "host-2:102", "host-3:103"])!, default: 0] += 1 }
        #expect(counts.count == 3)
        for (member, n) in counts { #expect(n >= 75 && n <= 125, "\(member) owns \(n) of 300") }
    }

    @Test("scores are stable across processes and builds (no per-process seed)")
    func stableScores() {
        // FNV-1a over (member, 0xFF, camera) through the SplitMix64 finaliser, computed independently
        #expect(CameraOwnership.score(member: "a", camera: "Q2") == 17_612_029_172_180_535_125)
        #expect(CameraOwnership.score(member: "host-1", camera: "Q2GV-0001") == 11_509_020_482_823_818_944)
        #expect(CameraOwnership.score(member: "a", camera: "Q2") != CameraOwnership.score(member: "a", camera: "Q3"))
        #expect(CameraOwnership.score(member: "ab", camera: "c") != CameraOwnership.score(member: "a", camera: "bc"))
    }
}

@Suite("Cameras shared out: membership")
struct ClusterMembershipTests {
    @Test("the merged live view keeps one row per zone, the newest reading's, this instance's on a tie, sorted")
    func mergedZones() {
        func z(_ camera: String, _ zone: String, _ people: Int, _ ts: Int64) -> ZoneSnapshot {
            ZoneSnapshot(camera: camera, zone: zone, people: people, vehicles: 0, lastTs: ts, phase: .idle)
        }
        let own = [z("B", "0", 1, 100), z("A", "1", 2, 50), z("C", "0", 9, 70)]
        let others = [[z("A", "1", 7, 60), z("A", "0", 3, 10)], [z("C", "0", 8, 70), z("D", "0", 4, 5), z("B", "0", 6, 90)]]
        let merged = ZoneSnapshot.merged(own: own, others: others)
        #expect(merged == [z("A", "0", 3, 10), z("A", "1", 7, 60), z("B", "0", 1, 100), z("C", "0", 9, 70), z("D", "0", 4, 5)])
        #expect(ZoneSnapshot.merged(own: own, others: []) == own.sorted { ($0.camera, $0.zone) < ($1.camera, $1.zone) })
    }

    @Test("InMemoryClusterMembership passes the conformance suite")
    func inMemoryConforms() async throws {
        try await ClusterMembershipConformance.run { InMemoryClusterMembership() }
    }

    /// Leases never end: what the suite must catch.
    final class Immortal: ClusterMembership {
        let inner = InMemoryClusterMembership()
        func heartbeat(_ beat: MemberHeartbeat) async throws -> [ClusterMember] {
            try await inner.heartbeat(MemberHeartbeat(name: beat.name, lease: beat.lease * 100))
        }
        func members() async throws -> [ClusterMember] { try await inner.members() }
        func leave(_ name: String) async throws { try await inner.leave(name) }
    }

    @Test("the suite fails a membership whose leases never end")
    func suiteCatchesImmortalMembers() async throws {
        do {
            try await ClusterMembershipConformance.run { Immortal() }
            Issue.record("the suite passed a membership whose leases never end")
        } catch let f as ConformanceFailure {
            #expect(f.includes("leaseEndsMembership"), "\(f)")
            #expect(f.includes("leaseTimesAreTheHeartbeatsPlusTheLease"), "\(f)")
        }
    }

    @Test("the coordinator publishes the live members and a new version when they change")
    func coordinatorFollowsMembers() async throws {
        let membership = InMemoryClusterMembership()
        let a = ClusterCoordinator(name: "a", lease: .milliseconds(400), membership: membership, logger: Logger(label: "test"))
        #expect(a.ownership == nil)
        let task = Task { await a.run() }
        #expect(await a.waitForOwnership(within: .seconds(5)))
        #expect(a.ownership?.ownership.members == ["a"])
        let first = try #require(a.ownership?.version)
        _ = try await membership.heartbeat(MemberHeartbeat(name: "b", lease: .seconds(2)))
        #expect(await eventually { a.ownership?.ownership.members == ["a", "b"] })
        #expect((a.ownership?.version ?? 0) > first)
        // b stops heartbeating: gone when its lease ends
        #expect(await eventually { a.ownership?.ownership.members == ["a"] })
        task.cancel()
        await task.value
        #expect(try await membership.members().isEmpty, "a coordinator leaves when it stops")
    }
}

@Suite("Cameras shared out: engine and monitor")
struct ClusterMonitorTests {
    static let policy = DwellPolicy(DwellParameters(minPeople: 3, dwell: .seconds(10), gap: .seconds(2), cooldown: .seconds(300)))

    static func message(_ camera: String, _ ts: Int64, _ people: Int) -> SourceMessage {
        .raw(RawMessage(topic: "/merakimv/\(camera)/0", payload: #"{"ts":\#(ts),"counts":{"person":\#(people)}}"#))
    }

    @Test("the engine skips cameras it does not own and says which cameras it gained")
    func engineOwnership() {
        var engine = DetectionEngine(policy: Self.policy)
        let cameras = ["C1", "C2", "C3", "C4", "C5", "C6"]
        let both = CameraOwnership(members: ["a", "b"], me: "a")
        let mine = cameras.filter(both.owns)
        #expect(!mine.isEmpty && mine.count < cameras.count, "the test needs cameras on both sides")
        engine.setOwnership(both)
        for c in cameras { _ = engine.process(Self.message(c, 1000, 4)) { _ in } }
        #expect(engine.statistics.observations == mine.count)
        #expect(engine.statistics.notOwned == cameras.count - mine.count)
        #expect(Set(engine.snapshot().map(\.camera)) == Set(mine))
        #expect(engine.ownedCameras == Set(mine))
        let gained = engine.setOwnership(.alone("a"))
        #expect(gained == Set(cameras).subtracting(mine))
        engine.resetZones(ofCameras: gained)
        #expect(engine.ownedCameras == Set(cameras))
    }

    /// A live feed pushed by the test.
    struct PushSource: MessageSource {
        let stream: AsyncStream<SourceMessage>
        let continuation: AsyncStream<SourceMessage>.Continuation
        init() { (stream, continuation) = AsyncStream<SourceMessage>.makeStream() }
        func messages() async throws -> AsyncStream<SourceMessage> { stream }
    }

    /// An in-memory membership whose members can be made to fail (a crashed instance: its
    /// heartbeats stop reaching the store, it never leaves).
    final class Crashable: ClusterMembership {
        let inner: InMemoryClusterMembership
        let dead = LockedBox(Set<String>())
        init(_ inner: InMemoryClusterMembership) { self.inner = inner }
        struct Dead: Error {}
        func heartbeat(_ beat: MemberHeartbeat) async throws -> [ClusterMember] {
            if dead.withLock({ $0.contains(beat.name) }) { throw Dead() }
            return try await inner.heartbeat(beat)
        }
        func members() async throws -> [ClusterMember] { try await inner.members() }
        func leave(_ name: String) async throws {
            if dead.withLock({ $0.contains(name) }) { throw Dead() }
            try await inner.leave(name)
        }
    }

    @Test(
        "an instance stops heartbeating in the middle of a crowd: the other takes its camera with its dwell timer, the crowd fires once, on time",
        arguments: [false, true])
    func handOverKeepsDwellTimer(cameraList: Bool) async throws {
        let store = InMemoryEventStore()
        let membership = Crashable(InMemoryClusterMembership())
        let camera = (0..<50).map { "Q2GV-\($0)" }.first { CameraOwnership.owner(of: $0, among: ["a", "b"]) == "a" }!
        // with a camera list, the states of the cameras that moved are loaded by camera
        let filter = cameraList ? ZoneFilter(cameras: .only([camera, "Q2GV-OTHER"])) : .all
        var monitors: [String: CrowdMonitor<DwellPolicy, PushSource>] = [:]
        var tasks: [String: (monitor: Task<Void, any Error>, cluster: Task<Void, Never>)] = [:]
        var coordinators: [String: ClusterCoordinator] = [:]
        for name in ["a", "b"] {
            let cluster = ClusterCoordinator(name: name, lease: .milliseconds(1500), membership: membership, logger: Logger(label: name))
            let monitor = CrowdMonitor(
                source: PushSource(), policy: Self.policy, filter: filter, store: store, zoneStates: store, cluster: cluster,
                logger: Logger(label: name))
            coordinators[name] = cluster
            monitors[name] = monitor
            tasks[name] = (Task { try await monitor.run() }, Task { await cluster.run() })
        }
        let a = try #require(monitors["a"]), b = try #require(monitors["b"])
        let coordinatorA = try #require(coordinators["a"]), coordinatorB = try #require(coordinators["b"])
        #expect(await eventually { [coordinatorA, coordinatorB].allSatisfy { $0.ownership?.ownership.members == ["a", "b"] } })
        // a crowd from 0 to 6 s of its 10 s dwell, seen by both (a `*` subscription); a owns it
        for ts in 0...6 {
            for m in [a, b] { m.source.continuation.yield(Self.message(camera, Int64(ts) * 1000, 5)) }
            try await Task.sleep(for: .milliseconds(120))
        }
        #expect(await eventually { a.processedMessages == 7 && b.processedMessages == 7 })
        // a saves its state (within a second), then crashes: no more heartbeats, no leave, no messages
        try await Task.sleep(for: .milliseconds(1200))
        membership.dead.withLock { _ = $0.insert("a") }
        tasks["a"]?.cluster.cancel()
        #expect(await eventually { coordinatorB.ownership?.ownership.members == ["b"] })
        // the crowd stays from 7 to 12 s: b resumes the dwell timer that started at 0
        for ts in 7...12 {
            b.source.continuation.yield(Self.message(camera, Int64(ts) * 1000, 5))
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(await eventually { (try? await store.events(EventQuery()).records.count) == 1 })
        a.source.continuation.finish()
        b.source.continuation.finish()
        _ = try await tasks["a"]?.monitor.value
        _ = try await tasks["b"]?.monitor.value
        tasks["b"]?.cluster.cancel()
        let events = try await store.events(EventQuery()).records.map(\.event)
        #expect(events.count == 1, "\(events)")
        #expect(events.first?.startedAt == 0)
        #expect(events.first?.firedAt == 10_000)
        #expect(a.statistics.fired == 0)
        #expect(a.statistics.observations == 7, "a processed its camera")
        #expect(b.statistics.notOwned == 7, "b skipped it while a owned it")
        #expect(b.statistics.observations == 6)
        #expect(b.statistics.fired == 1)
    }
}

/// Polls `condition` every 20 ms for up to 5 s.
func eventually(_ condition: @Sendable () async -> Bool) async -> Bool {
    for _ in 0..<250 {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}
