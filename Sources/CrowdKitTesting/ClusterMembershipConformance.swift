import CrowdKitCore
import Foundation

/// Checks that a ``ClusterMembership`` keeps the contract written on the protocol. Run it from a
/// test of your own membership store:
///
/// ```swift
/// @Test func conforms() async throws {
///     try await ClusterMembershipConformance.run { try await MyMembership(url: testDatabase()) }
/// }
/// ```
///
/// Each check uses member names of its own (a random prefix), and compares only the members with
/// that prefix, so all checks may share one store, and other members may be live in it. Checks of
/// leases wait for them to end (a few seconds in all); a check whose timing a loaded machine
/// spoiled (a sleep that overslept a lease) is tried again, up to three times.
public enum ClusterMembershipConformance {
    public enum Check: String, CaseIterable, Sendable, CustomStringConvertible {
        case heartbeatRegistersAndReturnsLiveMembers
        case membersSortedEachOnce
        case leaseEndsMembership
        case heartbeatRenewsTheLease
        case leaseTimesAreTheHeartbeatsPlusTheLease
        case leaveEndsMembershipAtOnce
        case concurrentHeartbeats

        public var description: String { rawValue }
    }

    static let suite = "ClusterMembership"

    /// Runs every check (``Check``), each on the membership `makeMembership` returns; throws one
    /// ``ConformanceFailure`` listing all that failed.
    public static func run(skipping: Set<Check> = [], makeMembership: () async throws -> any ClusterMembership) async throws {
        try await ConformanceRunner.run(suite, Check.self, skipping: Set(skipping.map(\.rawValue))) { check in
            try await run(check, try await makeMembership())
        }
    }

    /// Runs one check.
    public static func run(_ check: Check, _ membership: any ClusterMembership) async throws {
        func fail(_ m: String) -> ConformanceFailure { ConformanceFailure(suite: suite, check: check.rawValue, message: m) }
        let prefix = "conformance-\(UInt32.random(in: 0...UInt32.max))-"
        func mine(_ members: [ClusterMember]) -> [String] { members.map(\.name).filter { $0.hasPrefix(prefix) } }
        let a = prefix + "a", b = prefix + "b", c = prefix + "c"
        switch check {
        case .heartbeatRegistersAndReturnsLiveMembers:
            guard try await mine(membership.members()).isEmpty else { throw fail("no member is live before its first heartbeat") }
            let first = try await membership.heartbeat(MemberHeartbeat(name: a, lease: .seconds(5)))
            guard mine(first) == [a] else { throw fail("the heartbeat must return the live members, itself included: \(mine(first))") }
            let second = try await membership.heartbeat(MemberHeartbeat(name: b, lease: .seconds(5)))
            guard mine(second) == [a, b] else { throw fail("the second member's heartbeat must return both: \(mine(second))") }
            guard try await mine(membership.members()) == [a, b] else { throw fail("members() must list both") }
        case .membersSortedEachOnce:
            for name in [c, a, b, a, c] { _ = try await membership.heartbeat(MemberHeartbeat(name: name, lease: .seconds(5))) }
            let names = try await mine(membership.members())
            guard names == [a, b, c] else { throw fail("members must be sorted by name, each once: \(names)") }
        case .leaseEndsMembership:
            let start = ContinuousClock.now
            _ = try await membership.heartbeat(MemberHeartbeat(name: a, lease: .seconds(1)))
            _ = try await membership.heartbeat(MemberHeartbeat(name: b, lease: .seconds(30)))
            let first = try await mine(membership.members())
            if ContinuousClock.now - start < .milliseconds(900), first != [a, b] {
                throw fail("both members are live within their leases: \(first)")
            }
            try await Task.sleep(for: .milliseconds(1500))
            let names = try await mine(membership.members())
            guard names == [b] else { throw fail("a member whose 1 s lease ended is not live: \(names)") }
            let beat = try await mine(membership.heartbeat(MemberHeartbeat(name: b, lease: .seconds(10))))
            guard beat == [b] else { throw fail("a heartbeat returns only live members: \(beat)") }
        case .heartbeatRenewsTheLease:
            // live after its first lease ended, thanks to the second heartbeat; tried again when
            // the machine was too slow for the timing to prove it
            for attempt in 1...3 {
                let name = a + "-\(attempt)"
                let first = ContinuousClock.now
                _ = try await membership.heartbeat(MemberHeartbeat(name: name, lease: .milliseconds(1500)))
                try await Task.sleep(for: .milliseconds(1000))
                let renewed = ContinuousClock.now
                _ = try await membership.heartbeat(MemberHeartbeat(name: name, lease: .milliseconds(1500)))
                try await Task.sleep(for: .milliseconds(700))
                let asked = ContinuousClock.now
                let live = try await mine(membership.members()).contains(name)
                let answered = ContinuousClock.now
                guard asked - first > .milliseconds(1500), answered - renewed < .milliseconds(1450) else { continue }
                guard live else { throw fail("a member that heartbeat again within its lease is live after the first lease ended") }
                return
            }
            throw fail("the machine was too slow three times to check renewal (a sleep overslept the lease)")
        case .leaseTimesAreTheHeartbeatsPlusTheLease:
            let before = Int64(Date().timeIntervalSince1970 * 1000)
            let members = try await membership.heartbeat(MemberHeartbeat(name: a, lease: .milliseconds(4_500)))
            guard let m = members.first(where: { $0.name == a }) else { throw fail("the heartbeat must return the member") }
            guard m.leaseUntil - m.heartbeatAt == 4_500 else {
                throw fail("leaseUntil must be heartbeatAt plus the lease (4500 ms): \(m.leaseUntil - m.heartbeatAt)")
            }
            // the store's clock, not the caller's: allow a minute of skew between the two
            guard abs(m.heartbeatAt - before) < 60_000 else { throw fail("heartbeatAt must be epoch milliseconds: \(m.heartbeatAt)") }
        case .leaveEndsMembershipAtOnce:
            _ = try await membership.heartbeat(MemberHeartbeat(name: a, lease: .seconds(10)))
            _ = try await membership.heartbeat(MemberHeartbeat(name: b, lease: .seconds(10)))
            try await membership.leave(a)
            guard try await mine(membership.members()) == [b] else { throw fail("a member that left is not live") }
            try await membership.leave(prefix + "never-joined")
            _ = try await membership.heartbeat(MemberHeartbeat(name: a, lease: .seconds(10)))
            guard try await mine(membership.members()) == [a, b] else { throw fail("a member that left may join again") }
        case .concurrentHeartbeats:
            let names = (0..<16).map { prefix + String(format: "%02d", $0) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for name in names {
                    group.addTask {
                        for _ in 0..<3 { _ = try await membership.heartbeat(MemberHeartbeat(name: name, lease: .seconds(10))) }
                    }
                }
                try await group.waitForAll()
            }
            guard try await mine(membership.members()) == names else { throw fail("16 members heartbeating at once must all be live, each once") }
        }
    }
}
