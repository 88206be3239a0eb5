import CrowdKitCore
import CrowdKitHTTP
import CrowdKitMeraki
import CrowdKitTestServers
import Foundation
import Logging
import Testing

@Suite("Meraki budget shared by the instances of a cluster")
struct MerakiBudgetTests {
    @Test("each of n members takes total/n requests per second, at least one request per window, never more than the total together")
    func shares() {
        for total in [1, 5, 10, 25] {
            for n in 1...30 {
                let (limit, window) = MerakiBudget.share(of: total, members: n)
                #expect(limit >= 1)
                let perSecond = Double(limit) / (Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18)
                #expect(abs(perSecond * Double(n) - Double(total)) < 1e-6, "\(n) members of \(total)/s: \(limit) per \(window)")
            }
        }
        #expect(MerakiBudget.share(of: 10, members: 1) == (10, .seconds(1)))
        #expect(MerakiBudget.share(of: 10, members: 2) == (5, .seconds(1)))
        #expect(MerakiBudget.share(of: 10, members: 3) == (3, .milliseconds(900)))
        #expect(MerakiBudget.share(of: 10, members: 20) == (1, .seconds(2)))
        #expect(MerakiBudget.share(of: 10, members: 0) == (10, .seconds(1)), "no members known: alone")
    }

    @Test("the Meraki client's limiter follows the live members: halved when a second instance joins, whole again when it leaves")
    func followsMembership() async throws {
        let membership = InMemoryClusterMembership()
        let coordinator = ClusterCoordinator(name: "a", lease: .milliseconds(400), membership: membership, logger: Logger(label: "test"))
        let client = MerakiClient(
            configuration: MerakiConfiguration(baseURL: URL(string: "http://127.0.0.1:9")!, apiKey: "k", requestsPerSecond: 10),
            logger: Logger(label: "test"))
        let beating = Task { await coordinator.run() }
        defer { beating.cancel() }
        let following = Task { await MerakiBudget.follow(coordinator, total: 10, limiter: client.rateLimiter, logger: Logger(label: "test")) }
        defer { following.cancel() }
        #expect(await coordinator.waitForOwnership(within: .seconds(5)))
        #expect(await eventually(timeout: .seconds(10)) { await client.rateLimiter.rate == (10, .seconds(1)) })
        _ = try await membership.heartbeat(MemberHeartbeat(name: "b", lease: .seconds(30)))
        #expect(await eventually(timeout: .seconds(10)) { await client.rateLimiter.rate == (5, .seconds(1)) })
        _ = try await membership.heartbeat(MemberHeartbeat(name: "c", lease: .seconds(30)))
        #expect(await eventually(timeout: .seconds(10)) { await client.rateLimiter.rate == (3, .milliseconds(900)) })
        try await membership.leave("b")
        try await membership.leave("c")
        #expect(await eventually(timeout: .seconds(10)) { await client.rateLimiter.rate == (10, .seconds(1)) })
    }
}
